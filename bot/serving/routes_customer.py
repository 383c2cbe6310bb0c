"""The customers' REST endpoints: a chat turn, the conversation's live updates, the CSAT rating, classify, and
health; also the widget script and its demo page. Open to anyone, within the abuse limits."""
from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from bot.redact import redact
from bot.serving.api_deps import Serving, address, require_id_shape, serving
from bot.serving.api_models import MAX_BATCH, ChatIn, ChatOut, ClassifyIn, CsatIn
from bot.serving.workers import NoWorkers
from bot.store.database import MAX_ID
from bot.store.ratings import AlreadyRated

STATIC = Path(__file__).resolve().parent / "static"
router = APIRouter(prefix="/api")
widget = APIRouter(include_in_schema=False)


def chat_json(turn: dict) -> dict:
    return {k: v for k, v in turn.items() if k in ChatOut.model_fields}


def run_turn(state: Serving, body: ChatIn, options: dict) -> dict:
    return chat_json(state.helpline().handle(body.message, body.conversation_id, "api", **options).to_dict())


@router.post("/chat", summary="Send a customer message; get the bot's reply and the message's analysis",
          response_model=ChatOut, responses={
              404: {"description": "no such conversation (ids are made by the server: leave it out to start)"},
              429: {"description": "too many messages; Retry-After says when to send again"},
              503: {"description": "the message was not stored (busy database, or the worker holding it "
                                   "stopped); send it again with the same Idempotency-Key"}})
async def chat(body: ChatIn, request: Request, idempotency_key: str | None = Header(
        default=None, max_length=64, description="a new random key per message (e.g. a UUID): a resend with "
                                                 "the same key returns the first reply and stores nothing")):
    state: Serving = request.app.state.serving   # read directly: the hot path skips dependency resolution
    sender = address(request)
    state.limits.chat(sender, body.conversation_id)
    options = {"source": state.helpline().store.source_of(sender), "idempotency_key": idempotency_key}
    pool = state.workers()
    if pool is not None and pool.alive:
        try:
            return JSONResponse(chat_json(await pool.turn(body.message, body.conversation_id, "api", **options)))
        except NoWorkers:  # not sent anywhere (every worker stopped): run it here
            pass
    return JSONResponse(await asyncio.get_running_loop().run_in_executor(state.turns, run_turn, state, body, options))


@router.get("/health", summary="For load balancers and monitors: the serving model and the chat-turn workers")
async def health(request: Request, state: Serving = Depends(serving)) -> dict:
    """Always 200 while the process serves; "degraded" when fewer turn workers run than were started (their
    turns then run in the app process, slower, while the missing ones restart) or when a new model failed
    to load (``model_error`` says why; the previous model keeps serving). Each worker reports the model
    version it serves (all agree a few seconds after a promotion)."""
    state.limits.hit("read_address", address(request))
    running = state.workers()
    pool = None if running is None else {"configured": running.count, "running": running.alive,
                                         "restarts": running.restarts, "workers": await running.status()}
    extra = state.status()
    degraded = (pool is not None and pool["running"] < pool["configured"]) or bool(extra.get("model_error"))
    return {"status": "degraded" if degraded else "ok", "model_version": state.helpline().classifier.version,
            "turn_workers": pool, **extra}


@router.get("/chat/{conversation_id}/messages", summary="The customer's view of a conversation (for live updates)")
def customer_messages(conversation_id: str, request: Request, after: int = Query(0, ge=0, le=MAX_ID),
                      state: Serving = Depends(serving)) -> dict:
    state.limits.hit("read_address", address(request))
    require_id_shape(conversation_id)
    store = state.helpline().store
    conversation = store.conversation(conversation_id)
    if conversation is None:
        raise HTTPException(404, "no such conversation")
    return {"status": conversation.status, "rated": conversation.csat is not None,
            "messages": [{"id": m.id, "role": m.role, "text": m.text}
                         for m in store.messages(conversation_id, after_id=after)]}


@router.post("/chat/{conversation_id}/csat", summary="The customer's rating of the conversation (1-5, once)",
          responses={404: {"description": "no such conversation"},
                     409: {"description": "the conversation was already rated"}})
def csat(conversation_id: str, body: CsatIn, request: Request, state: Serving = Depends(serving)) -> dict:
    state.limits.hit("chat_address", address(request))
    require_id_shape(conversation_id)
    try:
        rated = state.helpline().store.rate(conversation_id, body.rating, body.comment)
    except KeyError:
        raise HTTPException(404, "no such conversation") from None
    except AlreadyRated as exc:
        raise HTTPException(409, f"{exc}; thank you, we have your rating") from None
    return {"conversation_id": conversation_id, "rating": rated.csat}


@router.post("/classify", summary=f"Classify one text or a list (up to {MAX_BATCH}); nothing is stored")
def classify(body: ClassifyIn, request: Request, state: Serving = Depends(serving)) -> dict:
    state.limits.hit("classify_address", address(request))
    classifier = state.helpline().classifier  # PII is redacted first here too: the model never sees it
    if body.text is not None:
        return classifier.predict(redact(body.text)).summary()
    return {"predictions": [p.summary() for p in classifier.predict([redact(t) for t in body.texts])]}


@widget.get("/widget.js", include_in_schema=False)
def widget_js():
    return FileResponse(STATIC / "widget.js", media_type="application/javascript")


@widget.get("/widget-demo", include_in_schema=False, response_class=HTMLResponse)
def widget_demo():
    return HTMLResponse((STATIC / "widget-demo.html").read_text(encoding="utf-8"))

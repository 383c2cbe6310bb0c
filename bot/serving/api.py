"""The REST API (FastAPI, mounted beside the Gradio UI in one process). OpenAPI docs at /docs.

Customer endpoints are open: POST /api/chat, POST /api/classify, GET /api/chat/{id}/messages (the widget's
live updates; a conversation id is an unguessable capability made by the server). Agent endpoints need a
bearer token: a session token from POST /api/login, or HELPLINE_AGENT_TOKEN for automation. Client errors are
4xx with a message, never a 500; a busy database is a 503 with Retry-After; too many requests a 429 with
Retry-After (see SECURITY.md for the limits).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import DataError, DBAPIError

from bot.assist.summary import handoff_summary
from bot.conversation.redact import redact
from bot.conversation.service import CONVERSATION_ID, Helpline
from bot.conversation.state import Status
from bot.conversation.triage import order_queue
from bot.serving.api_models import (
    MAX_BATCH,
    ChatIn,
    ChatOut,
    ClassifyIn,
    CsatIn,
    LabelIn,
    LoginIn,
    TextIn,
    conversation_json,
    message_json,
)
from bot.serving.login import LoginFailed, checked_login
from bot.serving.ratelimit import RateLimited, RateLimits
from bot.serving.workers import NoWorkers, TurnWorkers, WorkerUnavailable
from bot.store.conversations import UnknownConversation
from bot.store.database import MAX_ID, RETRY_AFTER_SECONDS, StoreUnavailable, is_unavailable
from bot.store.ratings import AlreadyRated

log = logging.getLogger("helpline.api")
STATIC = Path(__file__).resolve().parent / "static"
MAX_QUEUE_PAGE = 200
TURN_THREADS = 32  # turns in progress at once; more wait in the event loop (the batcher pools their messages)


def create_api(helpline: Callable[[], Helpline], agent_token: Callable[[], str | None],
               workers: TurnWorkers | Callable[[], TurnWorkers | None] | None = None, limits: RateLimits | None = None,
               serving_status: Callable[[], dict] = dict) -> FastAPI:
    """The API app; ``helpline`` returns the serving stack (it may be swapped while running). ``workers``: the
    turn worker processes (bot/serving/workers.py), or a callable returning them once they run: chat turns run
    there, else in this process. ``limits``: the abuse limits (none when not given). ``serving_status``: extra
    /api/health fields (the model that failed to load)."""
    app = FastAPI(title="Helpline API", description=__doc__, version="1")
    bearer = HTTPBearer(auto_error=False)
    limits = limits or RateLimits("off")
    workers = workers if callable(workers) else (lambda pool=workers: pool)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"detail": f"invalid request: {problems}"}, status_code=422)

    @app.exception_handler(ValueError)
    async def _bad_value(_request: Request, exc: ValueError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(WorkerUnavailable)
    async def _worker_lost(_request: Request, exc: WorkerUnavailable):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(LoginFailed)
    async def _login_failed(_request: Request, exc: LoginFailed):
        return JSONResponse({"detail": str(exc)}, status_code=401)

    @app.exception_handler(UnknownConversation)
    async def _unknown(_request: Request, exc: UnknownConversation):
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(RateLimited)
    async def _limited(_request: Request, exc: RateLimited):
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)})

    async def _busy(_request: Request, exc: Exception):
        if isinstance(exc, DataError):  # e.g. a character PostgreSQL does not store: the request's fault
            return JSONResponse({"detail": "the request holds text or numbers the database cannot store"},
                                status_code=400)
        if not is_unavailable(exc):
            raise exc
        log.warning("database unavailable: %s", exc)
        detail = str(exc) if isinstance(exc, StoreUnavailable) else str(StoreUnavailable())
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    app.add_exception_handler(StoreUnavailable, _busy)
    app.add_exception_handler(DBAPIError, _busy)

    def address(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def agent(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)):
        """The agent behind the bearer token (None for the automation token); 401 otherwise."""
        token = credentials.credentials if credentials else ""
        automation = agent_token()
        if token and automation and hmac.compare_digest(token.encode(), automation.encode()):
            return None
        found = helpline().store.agent_for_token(token)
        if found is None:
            raise HTTPException(401, "a valid agent token is needed: POST /api/login, or HELPLINE_AGENT_TOKEN",
                                headers={"WWW-Authenticate": "Bearer"})
        return found

    api = APIRouter(prefix="/api")

    # A turn blocks (model, database), so it runs on a thread; a pool of our own, awaited from an async endpoint,
    # instead of FastAPI's sync-endpoint path (anyio's thread limiter and cancel scopes, then the return value
    # validated and serialized through pydantic): both cost Python time under the GIL on every turn, and the
    # GIL is what limits turns/s on two cores (see benchmarks/RESULTS.md, Load).
    turns = ThreadPoolExecutor(TURN_THREADS, thread_name_prefix="helpline-turn")

    def require_id_shape(conversation_id: str) -> None:
        """A customer endpoint's conversation id: one the server could have made, else 404 before any lookup."""
        if not CONVERSATION_ID.fullmatch(conversation_id):
            raise HTTPException(404, "no such conversation")

    def chat_json(turn: dict) -> dict:
        return {k: v for k, v in turn.items() if k in ChatOut.model_fields}

    def run_turn(body: ChatIn, options: dict) -> dict:
        return chat_json(helpline().handle(body.message, body.conversation_id, "api", **options).to_dict())

    @api.post("/chat", summary="Send a customer message; get the bot's reply and the message's analysis",
              response_model=ChatOut, responses={
                  404: {"description": "no such conversation (ids are made by the server: leave it out to start)"},
                  429: {"description": "too many messages; Retry-After says when to send again"},
                  503: {"description": "the message was not stored (busy database, or the worker holding it "
                                       "stopped); send it again with the same Idempotency-Key"}})
    async def chat(body: ChatIn, request: Request, idempotency_key: str | None = Header(
            default=None, max_length=64, description="a new random key per message (e.g. a UUID): a resend with "
                                                     "the same key returns the first reply and stores nothing")):
        sender = address(request)
        limits.chat(sender, body.conversation_id)
        options = {"source": helpline().store.source_of(sender), "idempotency_key": idempotency_key}
        pool = workers()
        if pool is not None and pool.alive:
            try:
                return JSONResponse(chat_json(await pool.turn(body.message, body.conversation_id, "api", **options)))
            except NoWorkers:  # not sent anywhere (every worker stopped): run it here
                pass
        return JSONResponse(await asyncio.get_running_loop().run_in_executor(turns, run_turn, body, options))

    @api.get("/health", summary="For load balancers and monitors: the serving model and the chat-turn workers")
    async def health(request: Request) -> dict:
        """Always 200 while the process serves; "degraded" when fewer turn workers run than were started (their
        turns then run in the app process, slower, while the missing ones restart) or when a new model failed
        to load (``model_error`` says why; the previous model keeps serving). Each worker reports the model
        version it serves (all agree a few seconds after a promotion)."""
        limits.hit("read_address", address(request))
        running = workers()
        pool = None if running is None else {"configured": running.count, "running": running.alive,
                                             "restarts": running.restarts, "workers": await running.status()}
        extra = serving_status()
        degraded = (pool is not None and pool["running"] < pool["configured"]) or bool(extra.get("model_error"))
        return {"status": "degraded" if degraded else "ok", "model_version": helpline().classifier.version,
                "turn_workers": pool, **extra}

    @api.get("/chat/{conversation_id}/messages", summary="The customer's view of a conversation (for live updates)")
    def customer_messages(conversation_id: str, request: Request, after: int = Query(0, ge=0, le=MAX_ID)) -> dict:
        limits.hit("read_address", address(request))
        require_id_shape(conversation_id)
        store = helpline().store
        conversation = store.conversation(conversation_id)
        if conversation is None:
            raise HTTPException(404, "no such conversation")
        return {"status": conversation.status, "rated": conversation.csat is not None,
                "messages": [{"id": m.id, "role": m.role, "text": m.text}
                             for m in store.messages(conversation_id, after_id=after)]}

    @api.post("/chat/{conversation_id}/csat", summary="The customer's rating of the conversation (1-5, once)",
              responses={404: {"description": "no such conversation"},
                         409: {"description": "the conversation was already rated"}})
    def csat(conversation_id: str, body: CsatIn, request: Request) -> dict:
        limits.hit("chat_address", address(request))
        require_id_shape(conversation_id)
        try:
            rated = helpline().store.rate(conversation_id, body.rating, body.comment)
        except KeyError:
            raise HTTPException(404, "no such conversation") from None
        except AlreadyRated as exc:
            raise HTTPException(409, f"{exc}; thank you, we have your rating") from None
        return {"conversation_id": conversation_id, "rating": rated.csat}

    @api.post("/classify", summary=f"Classify one text or a list (up to {MAX_BATCH}); nothing is stored")
    def classify(body: ClassifyIn, request: Request) -> dict:
        limits.hit("classify_address", address(request))
        classifier = helpline().classifier  # PII is redacted first here too: the model never sees it
        if body.text is not None:
            return classifier.predict(redact(body.text)).summary()
        return {"predictions": [p.summary() for p in classifier.predict([redact(t) for t in body.texts])]}

    @api.post("/login", summary="Agent login: returns a bearer token for the agent endpoints",
              responses={429: {"description": "too many attempts for this name or from this address"}})
    def login(body: LoginIn, request: Request) -> dict:
        found, token = checked_login(helpline().store, limits, body.name, body.password, address(request))
        return {"token": token, "agent": found.name}

    @api.post("/logout", summary="End the session of the bearer token")
    def logout(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> dict:
        ended = helpline().store.logout(credentials.credentials if credentials else None)
        return {"logged_out": ended}

    @api.get("/conversations", summary="The triage queue: open conversations, most urgent first (paged)")
    def queue(limit: int = Query(50, ge=1, le=MAX_QUEUE_PAGE), offset: int = Query(0, ge=0, le=MAX_ID),
              _agent=Depends(agent)) -> list[dict]:
        now = dt.datetime.now(dt.timezone.utc)
        ranked = order_queue(helpline().store.open_conversations(), now)[offset:offset + limit]
        return [conversation_json(c, score, reason) for c, score, reason in ranked]

    @api.get("/conversations/{conversation_id}",
             summary="A conversation with every message and its prediction, and the handoff summary")
    def conversation(conversation_id: str, _agent=Depends(agent)) -> dict:
        found = helpline().store.conversation(conversation_id)
        if found is None:
            raise HTTPException(404, f"no conversation {conversation_id}")
        summary = handoff_summary(found.messages, (found.state or {}).get("handoff_reason"))
        return {**conversation_json(found), "summary": summary, "messages": [message_json(m) for m in found.messages]}

    @api.post("/conversations/{conversation_id}/reply", summary="Reply as an agent (the customer sees it live)")
    def reply(conversation_id: str, body: TextIn, who=Depends(agent)) -> dict:
        try:
            message = helpline().desk.reply(conversation_id, body.text, who.id if who else None)
        except KeyError:
            raise HTTPException(404, f"no conversation {conversation_id}") from None
        return message_json(message)

    @api.post("/conversations/{conversation_id}/resolve", summary="Close a conversation")
    def resolve(conversation_id: str, _agent=Depends(agent)) -> dict:
        try:
            helpline().desk.resolve(conversation_id)
        except KeyError:
            raise HTTPException(404, f"no conversation {conversation_id}") from None
        return {"id": conversation_id, "status": Status.RESOLVED.value}

    @api.post("/messages/{message_id}/label", summary="Correct a customer message's intent (kept for retraining)")
    def label(body: LabelIn, message_id: int = PathParam(ge=1, le=MAX_ID), who=Depends(agent)) -> dict:
        try:   # an unknown intent is a ValueError: 400 with its sentence
            correction = helpline().desk.correct_label(message_id, body.intent, who.id if who else None)
        except KeyError:
            raise HTTPException(404, f"no customer message {message_id}") from None
        return {"message_id": message_id, "intent": correction.intent, "previous_intent": correction.previous_intent}

    app.include_router(api)

    @app.get("/widget.js", include_in_schema=False)
    def widget_js():
        return FileResponse(STATIC / "widget.js", media_type="application/javascript")

    @app.get("/widget-demo", include_in_schema=False, response_class=HTMLResponse)
    def widget_demo():
        return HTMLResponse((STATIC / "widget-demo.html").read_text(encoding="utf-8"))

    return app

"""The REST API (FastAPI, mounted beside the Gradio UI in one process). OpenAPI docs at /docs.

Customer endpoints are open: POST /api/chat, POST /api/classify, GET /api/chat/{id}/messages (the widget's
live updates; a conversation id is an unguessable capability). Agent endpoints need a bearer token: a session
token from POST /api/login, or HELPLINE_AGENT_TOKEN for automation. Client errors are 4xx with a message,
never a 500.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hmac
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, model_validator

from .service import CONVERSATION_ID, MAX_MESSAGE_CHARS, Helpline
from .triage import order_queue
from .workers import NoWorkers, TurnWorkers, WorkerUnavailable

STATIC = Path(__file__).resolve().parent / "static"
MAX_BATCH = 256
TURN_THREADS = 32  # turns in progress at once; more wait in the event loop (the batcher pools their messages)


class ChatIn(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    conversation_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,36}$")


class ChatOut(BaseModel):
    """The reply to POST /api/chat (documented here; the endpoint returns it as built)."""
    conversation_id: str
    message_id: int
    reply_message_id: int | None = Field(description="the bot's reply message (None when a person has it)")
    reply: str
    action: str = Field(description="what the bot did: answer, clarify, fallback, handoff, triage or with_agent")
    intent: str = Field(description="an intent of the catalogue, or 'oos' (out of scope)")
    confidence: float
    emotions: dict[str, float] = Field(description="the strongest detected emotions, with their scores")
    sentiment: str
    frustration: float
    handoff: bool = Field(description="true once the conversation is with (or waiting for) a person")
    priority: float
    quick_replies: list[str]


class ClassifyIn(BaseModel):
    text: str | None = Field(default=None, min_length=1, max_length=MAX_MESSAGE_CHARS)
    texts: list[str] | None = Field(default=None, min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def one_of(self):
        if (self.text is None) == (self.texts is None):
            raise ValueError("give either 'text' or 'texts'")
        for i, text in enumerate(self.texts or []):
            if not text.strip() or len(text) > MAX_MESSAGE_CHARS:
                raise ValueError(f"texts[{i}] must be 1-{MAX_MESSAGE_CHARS} characters and not blank")
        return self


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class LabelIn(BaseModel):
    intent: str = Field(min_length=1, max_length=120)


class LoginIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=200)


def prediction_json(p) -> dict:
    return {"intent": p.intent, "confidence": p.confidence,
            "alternatives": [{"intent": i, "confidence": c} for i, c in p.alternatives],
            "emotions": {e: p.emotions[e] for e in p.detected_emotions}, "sentiment": p.sentiment,
            "frustration": p.frustration}


def message_json(m) -> dict:
    return {"id": m.id, "role": m.role, "text": m.text, "created": m.created.isoformat(), "intent": m.intent,
            "confidence": m.confidence, "sentiment": m.sentiment, "frustration": m.frustration,
            "prediction": m.prediction, "model_version": m.model_version}


def conversation_json(c, score: float | None = None, reason: str | None = None) -> dict:
    return {"id": c.id, "status": c.status, "created": c.created.isoformat(), "updated": c.updated.isoformat(),
            "last_intent": c.last_intent, "priority": c.priority if score is None else score,
            "priority_reason": c.priority_reason if reason is None else reason,
            "handoff_reason": (c.state or {}).get("handoff_reason")}


def create_api(helpline: Callable[[], Helpline], agent_token: Callable[[], str | None],
               workers: TurnWorkers | None = None) -> FastAPI:
    """The API app; ``helpline`` returns the serving stack (it may be swapped while running). With ``workers``,
    chat turns run in worker processes (bot/workers.py); without, or while none is running, in this one."""
    app = FastAPI(title="Helpline API", description=__doc__, version="1")
    bearer = HTTPBearer(auto_error=False)

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

    def chat_json(turn: dict) -> dict:
        return {k: v for k, v in turn.items() if k in ChatOut.model_fields}

    def run_turn(body: ChatIn) -> dict:
        return chat_json(helpline().handle(body.message, body.conversation_id, channel="api").to_dict())

    @api.post("/chat", summary="Send a customer message; get the bot's reply and the message's analysis",
              response_model=ChatOut, responses={503: {"description": "the worker process holding the turn "
                                                                      "stopped; send the message again"}})
    async def chat(body: ChatIn) -> JSONResponse:
        if workers is not None and workers.alive:
            try:
                return JSONResponse(chat_json(await workers.turn(body.message, body.conversation_id, "api")))
            except NoWorkers:  # not sent anywhere (every worker stopped): run it here
                pass
        return JSONResponse(await asyncio.get_running_loop().run_in_executor(turns, run_turn, body))

    @api.get("/health", summary="For load balancers and monitors: the serving model and the chat-turn workers")
    async def health() -> dict:
        """Always 200 while the process serves; "degraded" when fewer turn workers run than were started (their
        turns then run in the app process, slower, while the missing ones restart). Each worker reports the model
        version it serves (all agree a few seconds after a promotion)."""
        pool = None if workers is None else {"configured": workers.count, "running": workers.alive,
                                             "restarts": workers.restarts, "workers": await workers.status()}
        degraded = pool is not None and pool["running"] < pool["configured"]
        return {"status": "degraded" if degraded else "ok", "model_version": helpline().classifier.version,
                "turn_workers": pool}

    @api.get("/chat/{conversation_id}/messages", summary="The customer's view of a conversation (for live updates)")
    def customer_messages(conversation_id: str, after: int = 0) -> dict:
        if not CONVERSATION_ID.fullmatch(conversation_id):
            raise HTTPException(404, "no such conversation")
        store = helpline().store
        conversation = store.conversation(conversation_id)
        if conversation is None:
            raise HTTPException(404, "no such conversation")
        return {"status": conversation.status,
                "messages": [{"id": m.id, "role": m.role, "text": m.text}
                             for m in store.messages(conversation_id, after_id=max(0, after))]}

    @api.post("/classify", summary="Classify one text or a list (up to 256); nothing is stored")
    def classify(body: ClassifyIn) -> dict:
        classifier = helpline().classifier
        if body.text is not None:
            return prediction_json(classifier.predict(body.text))
        return {"predictions": [prediction_json(p) for p in classifier.predict(body.texts)]}

    @api.post("/login", summary="Agent login: returns a bearer token for the agent endpoints")
    def login(body: LoginIn) -> dict:
        result = helpline().store.login(body.name, body.password)
        if result is None:
            raise HTTPException(401, "wrong name or password")
        return {"token": result[1], "agent": result[0].name}

    @api.get("/conversations", summary="The triage queue: open conversations, most urgent first")
    def queue(_agent=Depends(agent)) -> list[dict]:
        now = dt.datetime.now(dt.timezone.utc)
        return [conversation_json(c, score, reason)
                for c, score, reason in order_queue(helpline().store.open_conversations(), now)]

    @api.get("/conversations/{conversation_id}", summary="A conversation with every message and its prediction")
    def conversation(conversation_id: str, _agent=Depends(agent)) -> dict:
        found = helpline().store.conversation(conversation_id)
        if found is None:
            raise HTTPException(404, f"no conversation {conversation_id}")
        return {**conversation_json(found), "messages": [message_json(m) for m in found.messages]}

    @api.post("/conversations/{conversation_id}/reply", summary="Reply as an agent (the customer sees it live)")
    def reply(conversation_id: str, body: TextIn, who=Depends(agent)) -> dict:
        try:
            message = helpline().store.agent_reply(conversation_id, body.text.strip(), who.id if who else None)
        except KeyError:
            raise HTTPException(404, f"no conversation {conversation_id}") from None
        return message_json(message)

    @api.post("/conversations/{conversation_id}/resolve", summary="Close a conversation")
    def resolve(conversation_id: str, _agent=Depends(agent)) -> dict:
        try:
            helpline().store.resolve(conversation_id)
        except KeyError:
            raise HTTPException(404, f"no conversation {conversation_id}") from None
        return {"id": conversation_id, "status": "resolved"}

    @api.post("/messages/{message_id}/label", summary="Correct a customer message's intent (kept for retraining)")
    def label(message_id: int, body: LabelIn, who=Depends(agent)) -> dict:
        service = helpline()
        known = set(service.classifier.intent_labels) | set(service.catalogue.intents)
        if body.intent not in known:
            raise HTTPException(400, f"unknown intent {body.intent!r}; use one the model or the catalogue knows")
        try:
            correction = service.store.correct_label(message_id, body.intent, who.id if who else None)
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

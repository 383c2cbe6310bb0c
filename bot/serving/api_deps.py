"""What the REST API's routes depend on (FastAPI dependencies): the serving stack, the abuse limits, the chat-turn
workers, the caller's address and the agent behind a bearer token. `create_api` (bot/serving/api.py) puts one
`Serving` in ``app.state.serving``; each route asks for what it needs with ``Depends``."""
from __future__ import annotations

import hmac
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.conversation.service import CONVERSATION_ID, Helpline
from bot.serving.ratelimit import RateLimits

TURN_THREADS = 32  # turns in progress at once; more wait in the event loop (the batcher pools their messages)
bearer = HTTPBearer(auto_error=False)


@dataclass
class Serving:
    helpline: Callable[[], Helpline]           # the serving stack (its model may be swapped while running)
    agent_token: Callable[[], str | None]      # HELPLINE_AGENT_TOKEN, for automation
    workers: Callable[[], object | None]       # the turn worker processes (TurnWorkers), once they run
    limits: RateLimits
    status: Callable[[], dict]                 # extra /api/health fields (a model that failed to load)
    # A turn blocks (model, database), so it runs on a thread; a pool of our own, awaited from an async endpoint,
    # instead of FastAPI's sync-endpoint path (anyio's thread limiter and cancel scopes, then the return value
    # validated and serialized through pydantic): both cost Python time under the GIL on every turn, and the GIL
    # is what limits turns/s on two cores (see benchmarks/RESULTS.md, Load).
    turns: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(TURN_THREADS,
                                                                                 thread_name_prefix="helpline-turn"))


def serving(request: Request) -> Serving:
    return request.app.state.serving


def stack(state: Serving = Depends(serving)) -> Helpline:
    return state.helpline()


def limits(state: Serving = Depends(serving)) -> RateLimits:
    return state.limits


def address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def agent(credentials: HTTPAuthorizationCredentials | None = Depends(bearer), state: Serving = Depends(serving)):
    """The agent behind the bearer token (None for the automation token); 401 otherwise."""
    token = credentials.credentials if credentials else ""
    automation = state.agent_token()
    if token and automation and hmac.compare_digest(token.encode(), automation.encode()):
        return None
    found = state.helpline().store.agent_for_token(token)
    if found is None:
        raise HTTPException(401, "a valid agent token is needed: POST /api/login, or HELPLINE_AGENT_TOKEN",
                            headers={"WWW-Authenticate": "Bearer"})
    return found


def require_id_shape(conversation_id: str) -> None:
    """A customer endpoint's conversation id: one the server could have made, else 404 before any lookup."""
    if not CONVERSATION_ID.fullmatch(conversation_id):
        raise HTTPException(404, "no such conversation")

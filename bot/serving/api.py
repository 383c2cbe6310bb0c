"""The REST API (FastAPI, mounted beside the Gradio UI in one process). OpenAPI docs at /docs. This module makes
the app and its error answers; the routes are in routes_customer.py and routes_agent.py, what they depend on
(the serving stack, limits, the agent behind a token) in api_deps.py.

Customer endpoints are open: POST /api/chat, POST /api/classify, GET /api/chat/{id}/messages (the widget's
live updates; a conversation id is an unguessable capability made by the server). Agent endpoints need a
bearer token: a session token from POST /api/login, or HELPLINE_AGENT_TOKEN for automation. Client errors are
4xx with a message, never a 500; a busy database is a 503 with Retry-After; too many requests a 429 with
Retry-After (see SECURITY.md for the limits).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError

from bot.conversation.service import Helpline
from bot.serving import routes_agent, routes_customer
from bot.serving.api_deps import Serving
from bot.serving.login import LoginFailed
from bot.serving.ratelimit import RateLimited, RateLimits
from bot.serving.workers import TurnWorkers, WorkerUnavailable
from bot.store.conversations import UnknownConversation
from bot.store.database import RETRY_AFTER_SECONDS, StoreUnavailable, is_unavailable

log = logging.getLogger("helpline.api")


def create_api(helpline: Callable[[], Helpline], agent_token: Callable[[], str | None],
               workers: TurnWorkers | Callable[[], TurnWorkers | None] | None = None, limits: RateLimits | None = None,
               serving_status: Callable[[], dict] = dict) -> FastAPI:
    """The API app; ``helpline`` returns the serving stack (it may be swapped while running). ``workers``: the
    turn worker processes (bot/serving/workers.py), or a callable returning them once they run: chat turns run
    there, else in this process. ``limits``: the abuse limits (none when not given). ``serving_status``: extra
    /api/health fields (the model that failed to load)."""
    app = FastAPI(title="Helpline API", description=__doc__, version="1")
    app.state.serving = Serving(helpline, agent_token, workers if callable(workers) else (lambda pool=workers: pool),
                                limits or RateLimits("off"), serving_status)

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

    app.include_router(routes_customer.router)
    app.include_router(routes_agent.router)
    app.include_router(routes_customer.widget)
    return app

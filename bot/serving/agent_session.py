"""The agents' login for the UI: a session token in an HttpOnly cookie, made by the /login page and checked by
Gradio itself on every route of the agent app (mounted at /agent with ``auth_dependency``: its page, queue,
upload and file routes answer 401 without a live session), and again by every handler that shows stored data.

The REST API keeps bearer tokens (POST /api/login); both kinds are the same server-side sessions
(bot/store/accounts.py), so logout, expiry, the idle timeout and disabling an account end either.
"""
from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from string import Template

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.serving.login import LoginFailed, checked_login
from bot.serving.ratelimit import RateLimited, RateLimits

COOKIE = "helpline_session"
AGENT_PATH = "/agent"      # where the agent app is mounted
LOGIN_PATH = "/login"
PAGE = Template((Path(__file__).resolve().parent / "static" / "login.html").read_text(encoding="utf-8"))


def session_token(request) -> str | None:
    """The session token of a request's cookie (a Starlette or a gr.Request), or None."""
    cookies = getattr(request, "cookies", None) or {}
    token = cookies.get(COOKIE)
    return token if isinstance(token, str) and token else None


def client_address(request) -> str:
    return getattr(getattr(request, "client", None), "host", None) or "unknown"


def agent_name(store, request) -> str | None:
    """For Gradio's ``auth_dependency``: the logged-in agent's name, or None (Gradio answers 401). Not counted as
    activity: Gradio asks on every poll of an open page, which must not keep an idle session alive."""
    agent = store.agent_for_token(session_token(request), touch=False)
    return agent.name if agent is not None else None


def login_routes(helpline: Callable, limits: RateLimits) -> APIRouter:
    """GET/POST /login (the form) and /logout, on the app's FastAPI app beside the REST API."""
    router = APIRouter(include_in_schema=False)

    def page(error: str = "", name: str = "", status: int = 200) -> HTMLResponse:
        shown = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        return HTMLResponse(PAGE.substitute(error=shown, name=html.escape(name, quote=True)), status_code=status,
                            headers={"Cache-Control": "no-store"})

    @router.get(LOGIN_PATH)
    def login_page(request: Request):
        if helpline().store.agent_for_token(session_token(request), touch=False) is not None:
            return RedirectResponse(f"{AGENT_PATH}/", status_code=303)
        return page()

    @router.post(LOGIN_PATH)
    def login(request: Request, name: str = Form("", max_length=200), password: str = Form("", max_length=500)):
        try:
            _agent, token = checked_login(helpline().store, limits, name.strip()[:80], password[:200],
                                          client_address(request))
        except LoginFailed:
            return page("Wrong name or password.", name, 401)
        except RateLimited as exc:
            return page(str(exc), name, 429)
        response = RedirectResponse(f"{AGENT_PATH}/", status_code=303)
        # HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it; Secure behind https
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https", max_age=12 * 3600)
        return response

    @router.api_route("/logout", methods=["GET", "POST"])
    def logout(request: Request):
        helpline().store.logout(session_token(request))
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return router

"""The Gradio UI, one module per tab; each `build(ctx)` adds its tab to the current gr.Blocks and wires it.
UI wiring only: what is shown comes from bot/ (console, insights, model_page, registry, jobs)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from bot.serving.agent_session import LOGIN_PATH, client_address, session_token


@dataclass
class Context:
    helpline: Callable          # -> bot.conversation.service.Helpline (the serving stack; its model may be swapped)
    settings: object            # bot.serving.settings.Settings
    watcher: Callable           # -> bot.serving.reloader.ModelWatcher | None
    limits: Callable            # -> bot.serving.ratelimit.RateLimits


def logged_in(ctx: Context, request: gr.Request | None, touch: bool = True):
    """The agent whose session cookie came with the request, or None (no, expired or idle session).
    ``touch=False`` for timers: a poll is not the agent's activity."""
    return ctx.helpline().store.agent_for_token(session_token(request), touch=touch)


def require_agent(ctx: Context, request: gr.Request | None, admin: bool = False):
    """The logged-in agent behind the request's session cookie, else a message telling them to log in. Gradio
    already refuses the agent app's routes without a session (bot/serving/agent_session.py); every handler that
    shows or changes stored data checks again, so a mistake in the mount cannot open stored data.
    ``admin``: only an admin."""
    agent = logged_in(ctx, request)
    if agent is None:
        raise gr.Error(f"Log in first at {LOGIN_PATH} (your session may have expired).")
    if admin and agent.role != "admin":
        raise gr.Error("Only an admin may do this (retrain, promote, force, roll back); ask one, or have one run "
                       "`python -m bot agents add NAME --role admin`.")
    return agent


__all__ = ["Context", "client_address", "logged_in", "require_agent"]

"""The Gradio UI, one module per tab; each `build(ctx)` adds its tab to the current gr.Blocks and wires it.
UI wiring only: what is shown comes from bot/ (console, insights, model_page, registry, jobs)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gradio as gr


@dataclass
class Context:
    helpline: Callable          # -> bot.conversation.service.Helpline (the serving stack; its model may be swapped)
    settings: object            # bot.serving.settings.Settings
    watcher: Callable           # -> bot.serving.reloader.ModelWatcher | None
    limits: Callable            # -> bot.serving.ratelimit.RateLimits


def logged_in(ctx: Context, token):
    """The agent a console session token belongs to, or None (no, expired or idle session; not a string)."""
    return ctx.helpline().store.agent_for_token(token)


def require_agent(ctx: Context, token: str | None, where: str = "", admin: bool = False):
    """The logged-in agent behind a console session token, else a message telling them to log in. Every
    handler that shows or changes stored data calls it first: an event can be called without the page (through
    the queue's HTTP API), so hiding a control or an endpoint protects nothing. ``admin``: only an admin."""
    agent = logged_in(ctx, token)
    if agent is None:
        raise gr.Error(f"Log in {where}first (your session may have expired).")
    if admin and agent.role != "admin":
        raise gr.Error("Only an admin may do this (retrain, promote, force, roll back); ask one, or have one run "
                       "`python -m bot agents add NAME --role admin`.")
    return agent


def client_address(request: gr.Request | None) -> str:
    return getattr(getattr(request, "client", None), "host", None) or "unknown"

"""The Gradio UI, one module per tab; each `build(ctx)` adds its tab to the current gr.Blocks and wires it.
UI wiring only: what is shown comes from bot/ (console, insights, model_page, registry, jobs)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gradio as gr


@dataclass
class Context:
    helpline: Callable          # -> bot.service.Helpline (the serving stack; its model may be swapped)
    settings: object            # bot.settings.Settings
    watcher: Callable           # -> bot.reloader.ModelWatcher | None


def require_agent(ctx: Context, token: str | None, where: str = ""):
    """The logged-in agent behind a console session token, else a message telling them to log in."""
    agent = ctx.helpline().store.agent_for_token(token)
    if agent is None:
        raise gr.Error(f"Log in {where}first (your session may have expired).")
    return agent

"""Helpline's front end: one process serving the Gradio UI (customer chat, agent console, insights, model),
the REST API (/api, docs at /docs) and the embeddable web chat widget (/widget.js, demo at /widget-demo).
UI wiring only: the tabs are in ui/, the logic in bot/.

    python app.py [--model DIR] [--db URL] [--agent-token TOKEN] [--port N] [--host ADDR] [--workers N]
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
if not os.environ.get("HELPLINE_ONLINE"):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from bot.api import create_api  # noqa: E402
from bot.bootstrap import ensure_model  # noqa: E402
from bot.reloader import ModelWatcher  # noqa: E402
from bot.service import Helpline  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.workers import TurnWorkers  # noqa: E402
from ui import Context, chat, console, insights, model  # noqa: E402

try:
    settings = Settings.from_env()
except ValueError as exc:  # a malformed environment variable: say which, not a traceback
    raise SystemExit(f"Cannot start: {exc}") from None
_serving: dict[tuple[str, str], tuple[Helpline, ModelWatcher]] = {}


def _stack() -> tuple[Helpline, ModelWatcher]:
    """The serving stack (model, catalogue, policy, store) and the thread that swaps in a newly promoted model
    (bot/reloader.py), built on first use so importing app.py stays cheap, rebuilt when the settings change."""
    key = (settings.model_dir, settings.db)
    if key not in _serving:
        for _, old in _serving.values():
            old.stop()
        _serving.clear()
        service = Helpline.from_settings(settings)
        _serving[key] = (service, ModelWatcher(service, settings.model_dir, settings.load_classifier,
                                               catalogue=settings.catalogue).start())
    return _serving[key]


def helpline() -> Helpline:
    return _stack()[0]


def watcher() -> ModelWatcher:
    return _stack()[1]


with gr.Blocks(title="Helpline") as demo:
    gr.Markdown("# Helpline")
    ctx = Context(helpline=helpline, settings=settings, watcher=watcher)
    chat.build(ctx)
    token = console.build(ctx)
    insights.build(ctx, token)
    model.build(ctx, token)


def build_app(workers: TurnWorkers | None = None):
    """The one ASGI app: REST API and widget routes first, the Gradio UI mounted at /. With ``workers``, the
    API's chat turns run in those processes."""
    api = create_api(helpline, lambda: settings.agent_token, workers)
    return gr.mount_gradio_app(api, demo, path="/")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Helpline app (UI, REST API and widget).")
    parser.add_argument("--model", default=settings.model_dir, help="model directory or registry (env HELPLINE_MODEL)")
    parser.add_argument("--db", default=settings.db, help="SQLAlchemy URL (env HELPLINE_DB)")
    parser.add_argument("--agent-token", default=settings.agent_token, help="API token (env HELPLINE_AGENT_TOKEN)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
                        help="port (env GRADIO_SERVER_PORT; default 7860)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (env GRADIO_SERVER_NAME; 0.0.0.0 for all)")
    parser.add_argument("--workers", type=int, default=settings.turn_workers,
                        help="processes for the REST API's chat turns (env HELPLINE_WORKERS; default: one per "
                             "core; 0 runs them in the app process)")
    args = parser.parse_args(argv)
    if args.workers < 0:
        parser.error("--workers must be 0 or more")
    settings.model_dir, settings.db, settings.agent_token = args.model, args.db, args.agent_token
    ensure_model(settings)
    try:
        helpline()
        workers = TurnWorkers(settings, args.workers).start() if args.workers else None
    except ValueError as exc:
        raise SystemExit(f"Cannot start: {exc}") from None
    import uvicorn

    print(f"Helpline on http://{args.host}:{args.port} (API docs /docs, widget demo /widget-demo; chat turns in "
          f"{f'{args.workers} worker processes' if workers else 'this process'})", flush=True)
    try:
        uvicorn.run(build_app(workers), host=args.host, port=args.port, log_level="warning")
    finally:
        if workers is not None:
            workers.stop()


if __name__ == "__main__":
    main()

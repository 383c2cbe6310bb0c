"""Helpline's front end: one process serving the Gradio UI (customer chat, agent console, insights, model),
the REST API (/api, docs at /docs) and the embeddable web chat widget (/widget.js, demo at /widget-demo).
UI wiring only: the tabs are in ui/, the logic in bot/.

    python app.py [--model DIR] [--port N] [--host ADDR] [--workers N]

Secrets (the database URL, the automation token) come from the environment (HELPLINE_DB, HELPLINE_AGENT_TOKEN):
the --db and --agent-token flags still work but show in `ps` to every user of the machine.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
if not os.environ.get("HELPLINE_ONLINE"):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from bot.conversation.service import Helpline  # noqa: E402
from bot.serving.api import create_api  # noqa: E402
from bot.serving.bootstrap import check_can_build  # noqa: E402
from bot.serving.first_start import FirstStart, StartingGate  # noqa: E402
from bot.serving.http_guards import guarded  # noqa: E402
from bot.serving.ratelimit import RateLimits  # noqa: E402
from bot.serving.reloader import ModelWatcher  # noqa: E402
from bot.serving.settings import Settings, check_agent_token  # noqa: E402
from bot.serving.workers import TurnWorkers  # noqa: E402
from bot.store.retention import start_daily_purge  # noqa: E402
from ui import Context, analyze, chat, console, insights, model  # noqa: E402

UPLOAD_LIMIT = "5mb"              # Gradio uploads (the catalogue, transcripts); larger files are refused
UPLOAD_CACHE = (3600, 24 * 3600)  # uploaded files are deleted a day after upload, checked every hour

try:
    settings = Settings.from_env()
except ValueError as exc:  # a malformed environment variable: say which, not a traceback
    raise SystemExit(f"Cannot start: {exc}") from None
_serving: dict[tuple[str, str], tuple[Helpline, ModelWatcher]] = {}
_limits: dict[tuple[str, str], RateLimits] = {}


def _stack() -> tuple[Helpline, ModelWatcher]:
    """The serving stack (model, catalogue, policy, store) and the thread that swaps in a newly promoted model
    (bot/serving/reloader.py), built on first use so importing app.py stays cheap, rebuilt when the settings change."""
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


def rate_limits() -> RateLimits:
    """The abuse limits for the current settings (one set per process; HELPLINE_RATE_LIMIT_STORAGE shares them)."""
    key = (settings.rate_limits, settings.rate_limit_storage)
    if key not in _limits:
        _limits.clear()
        _limits[key] = RateLimits(*key)
    return _limits[key]


def serving_status() -> dict:
    """/api/health's word on the model: the error of a new model that failed to load (the old one serves)."""
    return {"model_error": watcher().last_error}


with gr.Blocks(title="Helpline", delete_cache=UPLOAD_CACHE) as demo:
    gr.Markdown("# Helpline")
    ctx = Context(helpline=helpline, settings=settings, watcher=watcher, limits=rate_limits)
    chat.build(ctx)
    token = console.build(ctx)
    insights.build(ctx, token)
    model.build(ctx, token)
    analyze.build(ctx, token, UPLOAD_LIMIT)


def build_app(workers=None, first_start: FirstStart | None = None):
    """The one ASGI app: REST API and widget routes first, the Gradio UI mounted at /, inside the guards (body
    cap, security headers, the widget's CORS). ``workers`` (TurnWorkers, or a callable returning them once
    started): the API's chat turns run in those processes. ``first_start``: a progress page until the model
    is built."""
    api = create_api(helpline, lambda: settings.agent_token, workers, limits=rate_limits(),
                     serving_status=serving_status)
    app = guarded(gr.mount_gradio_app(api, demo, path="/", max_file_size=UPLOAD_LIMIT), settings.widget_origins)
    return app if first_start is None else StartingGate(app, first_start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Helpline app (UI, REST API and widget).")
    parser.add_argument("--model", default=settings.model_dir, help="model directory or registry (env HELPLINE_MODEL)")
    parser.add_argument("--db", default=settings.db,
                        help="SQLAlchemy URL (prefer env HELPLINE_DB: a flag shows in `ps`)")
    parser.add_argument("--agent-token", default=settings.agent_token,
                        help="automation token (prefer env HELPLINE_AGENT_TOKEN: a flag shows in `ps`)")
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
    for flag, value, variable in (("--db", args.db, "HELPLINE_DB"), ("--agent-token", args.agent_token,
                                                                     "HELPLINE_AGENT_TOKEN")):
        if value is not None and any(a == flag or a.startswith(flag + "=") for a in (argv or sys.argv[1:])):
            print(f"warning: {flag} shows in `ps` to every user of this machine; set {variable} instead",
                  file=sys.stderr)
    try:
        check_agent_token(args.agent_token)
    except ValueError as exc:
        raise SystemExit(f"Cannot start: {exc}") from None
    settings.model_dir, settings.db, settings.agent_token = args.model, args.db, args.agent_token
    check_can_build(settings)
    workers: list[TurnWorkers] = []

    def serve() -> None:
        """Once a model exists: load the stack, start the turn workers and the daily retention purge."""
        helpline().suggestions.warm()   # the console's suggestions train in the background from the start
        if args.workers:
            workers.append(TurnWorkers(settings, args.workers).start())
        start_daily_purge(helpline().store, settings.retention_days)

    first_start = FirstStart(settings, serve)
    try:
        first_start.start()  # with a model: serve() now; without: it builds behind a progress page first
    except ValueError as exc:
        raise SystemExit(f"Cannot start: {exc}") from None
    import uvicorn

    print(f"Helpline on http://{args.host}:{args.port} (API docs /docs, widget demo /widget-demo; chat turns in "
          f"{f'{args.workers} worker processes' if args.workers else 'this process'})"
          + ("" if first_start.ready else "; building the default model first, progress on that page"), flush=True)
    try:
        uvicorn.run(build_app(lambda: workers[0] if workers else None, first_start), host=args.host,
                    port=args.port, log_level="warning")
    finally:
        for pool in workers:
            pool.stop()


if __name__ == "__main__":
    main()

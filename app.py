"""Helpline's front end: one process serving two Gradio apps, the customers' chat at / and the agents' app
(console, insights, model, analyze) at /agent behind the login at /login, plus the REST API (/api, docs at
/docs) and the embeddable web chat widget (/widget.js, demo at /widget-demo).
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
if not os.environ.get("HELPLINE_ONLINE"):   # (bot.config's is_set, before anything imports the Hub client)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402
from gradio.utils import get_upload_folder  # noqa: E402
from starlette.requests import Request  # noqa: E402
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware  # noqa: E402

from bot.conversation.service import Helpline  # noqa: E402
from bot.serving.agent_session import AGENT_PATH, LOGIN_PATH, agent_name, login_routes  # noqa: E402
from bot.serving.api import create_api  # noqa: E402
from bot.serving.bootstrap import check_can_build  # noqa: E402
from bot.serving.first_start import FirstStart, StartingGate  # noqa: E402
from bot.serving.gradio_guards import GradioGuards  # noqa: E402
from bot.serving.http_guards import guarded  # noqa: E402
from bot.serving.ratelimit import RateLimits  # noqa: E402
from bot.serving.reloader import ModelWatcher  # noqa: E402
from bot.serving.settings import Settings, check_agent_token, check_proxy  # noqa: E402
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


ctx = Context(helpline=helpline, settings=settings, watcher=watcher, limits=rate_limits)

with gr.Blocks(title="Helpline") as demo:       # the customers' app: open to anyone, takes no uploads
    gr.Markdown("# Helpline")
    chat.build(ctx)
    gr.Markdown(f"Support agents: [log in]({LOGIN_PATH}) to the console.", elem_id="agent-login-link")



def agents_app() -> gr.Blocks:
    """The agents' app (console, insights, model, analyze): mounted behind the login by build_app."""
    with gr.Blocks(title="Helpline: agents", delete_cache=UPLOAD_CACHE) as blocks:
        gr.Markdown("# Helpline: agents")
        console.build(ctx, blocks)
        insights.build(ctx)
        model.build(ctx)
        analyze.build(ctx, UPLOAD_LIMIT)
    return blocks


desk = agents_app()


def build_app(workers=None, first_start: FirstStart | None = None):
    """The one ASGI app: REST API, login and widget routes first, the agents' Gradio app at /agent (Gradio
    itself refuses its page, queue, upload and file routes without an agent session cookie), the customers'
    app at /, all inside the guards (body caps, uploads, security headers, the widget's CORS). ``workers``
    (TurnWorkers, or a callable returning them once started): the API's chat turns run in those processes.
    ``first_start``: a progress page until the model is built."""
    api = create_api(helpline, lambda: settings.agent_token, workers, limits=rate_limits(),
                     serving_status=serving_status)
    api.include_router(login_routes(helpline, rate_limits()))
    gr.mount_gradio_app(api, desk, path=AGENT_PATH, max_file_size=UPLOAD_LIMIT,
                        auth_dependency=lambda request: agent_name(helpline().store, request))
    gr.mount_gradio_app(api, demo, path="/")

    def gradio_guards(inner):
        return GradioGuards(inner, lambda scope: agent_name(helpline().store, Request(scope)) is not None,
                            rate_limits(), get_upload_folder(), settings.upload_cache_mb * 1024 * 1024)

    # outermost: the client's address from a trusted proxy's X-Forwarded-For, before any limit counts it
    app = ProxyHeadersMiddleware(guarded(api, settings.widget_origins, gradio_guards),
                                 trusted_hosts=list(settings.trusted_proxies))
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
    parser.add_argument("--forwarded-allow-ips", default=",".join(settings.trusted_proxies), metavar="PROXIES",
                        help="addresses or networks of your reverse proxies, e.g. 10.0.0.0/8, whose X-Forwarded-For "
                             "names the client (env HELPLINE_TRUSTED_PROXIES; default none: the header is ignored)")
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
    try:
        proxies = tuple(check_proxy(p.strip()) for p in args.forwarded_allow_ips.split(",") if p.strip())
    except ValueError as exc:
        raise SystemExit(f"Cannot start: {exc}") from None
    settings.model_dir, settings.db, settings.agent_token = args.model, args.db, args.agent_token
    settings.trusted_proxies = proxies
    check_can_build(settings)
    workers: list[TurnWorkers] = []

    def serve() -> None:
        """Once a model exists: load the stack, start the turn workers and the daily retention purge."""
        if warning := helpline().catalogue_fit().warning():
            print(f"\nWARNING: {warning}\n", file=sys.stderr, flush=True)
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
        # proxy headers are read by build_app's own middleware, from the configured proxies only
        uvicorn.run(build_app(lambda: workers[0] if workers else None, first_start), host=args.host,
                    port=args.port, log_level="warning", proxy_headers=False)
    finally:
        for pool in workers:
            pool.stop()


if __name__ == "__main__":
    main()

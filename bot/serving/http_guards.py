"""ASGI middleware around the whole app (API, widget and Gradio UI): body caps read before any parsing,
security headers, and CORS for the widget's endpoints only (Gradio's own routes: bot/serving/gradio_guards.py).

Plain ASGI rather than Starlette's BaseHTTPMiddleware: they wrap every request, including the Gradio UI's
streaming responses, and must not buffer them.
"""
from __future__ import annotations

import json
import re

from starlette.middleware.cors import CORSMiddleware

MAX_API_BODY = 64 * 1024   # bytes: a chat message is at most 2,000 characters; a classify batch 64 of them
MAX_UI_BODY = 256 * 1024   # Gradio's queue and call routes (a chat history, the canned responses' YAML)
UPLOADS = re.compile(r"/gradio_api/upload/?$")   # capped per file by Gradio's max_file_size instead
WIDGET_PATHS = ("/api/chat", "/widget.js")  # what a shop's page calls from its own origin
# The UI renders customer text as text, and this is the second line: no image, frame or script from
# elsewhere even if some text did reach the page as HTML. Gradio needs its inline scripts and styles.
UI_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; connect-src 'self'; "
          "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DEMO_CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'self'")


async def send_json(send, status: int, detail: str, headers: list | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def body_limit(path: str) -> int | None:
    """The most bytes a request body to ``path`` may have (None: an upload, which Gradio caps per file)."""
    if UPLOADS.search(path):
        return None
    return MAX_API_BODY if path.startswith("/api/") else MAX_UI_BODY


class BodyLimit:
    """413 for a request body over its path's `body_limit`: by its Content-Length before reading, and while
    reading for a chunked body, so a 20 MB body is never read whole (the REST API and Gradio's queue and call
    routes alike: those read JSON of any size, without a login on the customers' app)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        limit = body_limit(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            return await self.app(scope, receive, send)
        message = (f"the request body is over {limit // 1024} KiB; send less (a message is at most 2,000 "
                   "characters)")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await send_json(send, 413, message)
        seen = 0

        async def limited_receive():
            nonlocal seen
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return event

        started = False

        async def tracking_send(event):
            nonlocal started
            started = started or event["type"] == "http.response.start"
            await send(event)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await send_json(send, 413, message)


class _TooLarge(Exception):
    pass


_COMMON = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"strict-origin-when-cross-origin")]
# built once: every response of every kind gets one of these lists
_HEADERS = {
    "widget": [(b"cross-origin-resource-policy", b"cross-origin"), *_COMMON],
    "demo": [(b"content-security-policy", DEMO_CSP.encode()), (b"x-frame-options", b"SAMEORIGIN"), *_COMMON],
    "api": [(b"content-security-policy", API_CSP.encode()), (b"x-frame-options", b"DENY"),
            (b"cache-control", b"no-store"), *_COMMON],
    "docs": [(b"x-frame-options", b"DENY"), *_COMMON],  # FastAPI's docs load their scripts from a CDN (online)
    "ui": [(b"content-security-policy", UI_CSP.encode()), (b"x-frame-options", b"DENY"), *_COMMON],
}


def _header_kind(path: str) -> str:
    if path == "/widget.js":
        return "widget"
    if path == "/widget-demo":
        return "demo"
    if path.startswith("/api/"):
        return "api"
    return "docs" if path in ("/docs", "/redoc") else "ui"


class SecurityHeaders:
    """nosniff everywhere; a CSP and no framing for the UI and the API; the widget script may be loaded by any
    page (that is its purpose), the demo page may not be framed by others."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = _HEADERS[_header_kind(scope["path"])]

        async def with_headers(event):
            if event["type"] == "http.response.start":
                names = {name.lower() for name, _ in event.get("headers", [])}
                event = {**event, "headers": [*event.get("headers", []), *(h for h in extra if h[0] not in names)]}
            await send(event)

        await self.app(scope, receive, with_headers)


class WidgetCORS:
    """CORS for the widget's endpoints only (the agent API and the UI stay same-origin): the configured
    origins may POST a message and poll for replies, without cookies or credentials."""

    def __init__(self, app, origins: tuple[str, ...]):
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=list(origins), allow_methods=["GET", "POST"],
                                   allow_headers=["Content-Type", "Idempotency-Key"], allow_credentials=False,
                                   expose_headers=["Retry-After"], max_age=600) if origins else None

    async def __call__(self, scope, receive, send):
        if self.cors is not None and scope["type"] == "http" and scope["path"].startswith(WIDGET_PATHS):
            return await self.cors(scope, receive, send)
        return await self.app(scope, receive, send)


def guarded(app, widget_origins: tuple[str, ...] = (), inner=None):
    """The app inside every guard. CORS is outermost, so every answer to an allowed site carries its headers
    (a 413 or 429 the widget cannot read would look like a network failure). ``inner(app)``: guards that
    read bodies (bot/serving/gradio_guards.py), placed inside the body cap."""
    return WidgetCORS(SecurityHeaders(BodyLimit(inner(app) if inner else app)), widget_origins)

"""ASGI guards in front of Gradio's own routes, which a handler never sees (Gradio reads bodies, stores
uploads and downloads file URLs before calling it):

- uploads: the customers' app has no file input, so its upload route is closed; the agents' app takes uploads
  from a logged-in agent only, at most ``upload_address`` per address (bot/serving/ratelimit.py), and none while
  Gradio's upload cache holds more than its cap (a full disk would stop the SQLite store);
- file URLs: a file input given as an http(s) URL would make Gradio download it, with no size cap, before the
  handler runs: refused on every queue and call route of both apps;
- the agents' page without a session goes to the login form instead of Gradio's bare 401.
Bodies are capped before they reach here (bot/serving/http_guards.py, BodyLimit), so reading one whole is safe.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

from bot.serving.agent_session import AGENT_PATH, LOGIN_PATH
from bot.serving.http_guards import UPLOADS, send_json
from bot.serving.ratelimit import RateLimited, RateLimits

CALLS = re.compile(r"/gradio_api/(?:queue/join|call/|run/|api/)")  # the routes whose bodies carry inputs
URL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)   # http://, https://, //host, ftp://...


def folder_bytes(folder: str | Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass   # deleted meanwhile (Gradio's cache cleanup)
    return total


def has_file_url(value) -> bool:
    """True if a request's inputs hold a file whose "path" is a URL: Gradio fetches such a path into its cache.
    (A file's "url" is where the page shows it from, an address on this server: Gradio does not fetch it.)"""
    if isinstance(value, dict):
        if isinstance(value.get("path"), str) and URL.match(value["path"]):
            return True
        return any(has_file_url(v) for v in value.values())
    if isinstance(value, list):
        return any(has_file_url(v) for v in value)
    return False


class GradioGuards:
    def __init__(self, app, is_agent: Callable[[dict], bool], limits: RateLimits | None = None,
                 cache_dir: str | None = None, cache_bytes: int = 512 * 1024 * 1024):
        """``is_agent(scope)``: whether the request carries a live agent session (it blocks: run on a thread)."""
        self.app, self.is_agent, self.limits = app, is_agent, limits or RateLimits("off")
        self.cache_dir, self.cache_bytes = cache_dir, cache_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        if method == "GET" and path in (AGENT_PATH, AGENT_PATH + "/") and not await self._agent(scope):
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", LOGIN_PATH.encode()), (b"content-length", b"0")]})
            return await send({"type": "http.response.body", "body": b""})
        if UPLOADS.search(path):
            refusal = await self._refuse_upload(scope)
            if refusal:
                return await send_json(send, *refusal)
        elif method == "POST" and CALLS.search(path):
            body, more = b"", True
            while more:
                event = await receive()
                if event["type"] == "http.disconnect":
                    return
                body, more = body + event.get("body", b""), event.get("more_body", False)
            if has_file_url(_json(body)):
                return await send_json(send, 400, "a file must be uploaded, not given as a link to another server")
            replayed = False

            async def replay():
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            return await self.app(scope, replay, send)
        return await self.app(scope, receive, send)

    async def _agent(self, scope) -> bool:
        return await asyncio.to_thread(self.is_agent, scope)

    async def _refuse_upload(self, scope) -> tuple[int, str, list] | None:
        """(status, message, headers) when an upload is refused, else None."""
        if not scope["path"].startswith(AGENT_PATH + "/"):
            return 403, "uploads are for logged-in agents (the agents' app at /agent)", []
        if not await self._agent(scope):
            return 401, f"log in first at {LOGIN_PATH}", []
        address = (scope.get("client") or ("unknown",))[0]
        try:
            self.limits.hit("upload_address", address,
                            message="Too many uploads from this address; please wait {} seconds.")
        except RateLimited as exc:
            return 429, str(exc), [(b"retry-after", str(exc.retry_after).encode())]
        if self.cache_dir and await asyncio.to_thread(folder_bytes, self.cache_dir) > self.cache_bytes:
            return 507, ("the upload space is full; uploads are deleted a day after they were made, so try again "
                         "later, or ask the operator to raise HELPLINE_UPLOAD_CACHE_MB"), []
        return None


def _json(body: bytes):
    try:
        return json.loads(body or b"null")
    except ValueError:
        return None   # not JSON: Gradio answers it with its own 422

"""The first start without a closed port: the app listens at once and shows a progress page (with an ETA) while
the starter model builds in a child process; /api/health says "starting". When it is ready the same process
starts serving the full app, no restart, and the full model trains in the background as a registry job (the
Model page shows it), promoted through the gate when it is no worse; hot reload then serves it. A build that
fails stays on the page with its error. Where there is no evaluation set, the full model is built first.
"""
from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.registry import jobs
from bot.serving.bootstrap import (
    FIRST_START_OPTIONS,
    STARTER_NAME,
    STARTER_OPTIONS,
    evaluation_set,
    first_start_estimate,
    model_exists,
    register_command,
    serves_starter,
    train_command,
)
from bot.serving.settings import Settings

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Helpline is starting</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="refresh" content="5">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}}
progress{{width:100%;height:1.2em}}</style></head><body><h1>Helpline is starting</h1><p>{message}</p>
<progress max="100" value="{percent}">{percent}%</progress><p>{detail}</p></body></html>"""


class FirstStart:
    """Builds the default model in the background; ``ready`` once the model is there and ``on_ready`` ran."""

    def __init__(self, settings: Settings, on_ready: Callable[[], None] = lambda: None):
        self.settings, self.on_ready = settings, on_ready
        self.ready = model_exists(settings.model_dir)
        self.error: str | None = None
        self.started = time.time()
        self.progress_file = Path(tempfile.mkdtemp(prefix="helpline-first-start-")) / "progress.json"
        self._first_step: tuple[float, int] | None = None  # (time, step) when progress was first seen
        # a starter first where there is an evaluation set to gate the full model on (decided once, so the build
        # and the progress page agree)
        self.starter = evaluation_set(settings) is not None

    def start(self) -> FirstStart:
        if self.ready:
            self.on_ready()
            if serves_starter(self.settings):
                self.start_full_build()   # a restart while the full model trained: train it again
        else:
            threading.Thread(target=self.build, name="helpline-first-start", daemon=True).start()
        return self

    def build(self) -> None:
        """Build the model in this thread (what start() runs in its own); `ready` when done, `error` if not."""
        if self.starter:   # the starter, registered as the registry's first version (which then serves)
            staging = str(Path(self.settings.model_dir) / "candidates" / STARTER_NAME)
            steps = [train_command(self.settings, staging, STARTER_OPTIONS), register_command(self.settings, staging)]
        else:
            steps = [train_command(self.settings, options=FIRST_START_OPTIONS)]
        steps[0] = steps[0] + ["--progress-file", str(self.progress_file)]
        for command in steps:
            result = subprocess.run(command)
            if result.returncode != 0:
                break
        if result.returncode != 0 or not model_exists(self.settings.model_dir):
            self.error = (f"building the default model failed (exit code {result.returncode}); see the app's "
                          "terminal for the messages, fix the cause and start the app again")
            return
        if self.starter:
            shutil.rmtree(staging, ignore_errors=True)   # the registry keeps its own copy
        try:
            self.on_ready()
        except Exception as exc:  # noqa: BLE001 - shown on the page instead of a dead thread
            self.error = f"the model was built but could not be loaded: {exc}"
            return
        self.ready = True
        if self.starter:
            self.start_full_build()

    def start_full_build(self) -> str:
        """The full first-start model as a background registry job: train, register, promote if no worse.
        Returns the job's id ("" when a job of this registry runs already)."""
        def steps(job_id: str, folder: Path) -> list[tuple[str, list[str]]]:
            output = str(Path(self.settings.model_dir) / "candidates" / job_id)
            return [("training the full model", train_command(self.settings, output) + [
                        "--progress-file", str(folder / f"{job_id}.progress.json")]),
                    ("evaluating and promoting", register_command(self.settings, output, promote=True))]

        try:
            job = jobs.start_job(self.settings.model_dir, steps, started_by="first start")
        except ValueError as exc:   # another process of this deployment started it first
            print(f"The full model is not started here: {exc}", file=sys.stderr, flush=True)
            return ""
        print("Serving the starter model; the full model trains in the background (the Model page shows its "
              "progress) and replaces it when it is no worse.", file=sys.stderr, flush=True)
        return job

    def status(self) -> dict:
        """For /api/health and the page: {"status": "starting", "progress": {...}} (or "failed")."""
        progress = {"phase": "preparing data", "percent": 0, "eta_seconds": None,
                    "estimate": first_start_estimate(starter=self.starter)}
        try:
            data = json.loads(self.progress_file.read_text())
            step, total = int(data["step"]), max(1, int(data["total"]))
            progress.update(phase=data.get("phase", "training") if step < total else "saving and exporting the model",
                            percent=round(100 * step / total))
            now = time.time()
            if self._first_step is None:
                self._first_step = (now, step)
            elif step > self._first_step[1]:
                rate = (step - self._first_step[1]) / (now - self._first_step[0])
                progress["eta_seconds"] = round((total - step) / rate)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # not started training yet, or the file is being replaced
        return {"status": "failed" if self.error else "starting", "error": self.error, "progress": progress}

    def page(self) -> str:
        state = self.status()
        progress = state["progress"]
        if state["error"]:
            message, detail = "The first start failed.", html.escape(state["error"])
        else:
            message = (f"No model was found, so {'a starter' if self.starter else 'the default'} model is being built "
                       f"({html.escape(progress['estimate'])}). This page refreshes itself and the app appears here "
                       "when it is ready" + ("; the full model then trains in the background and replaces it."
                                             if self.starter else "."))
            eta = progress["eta_seconds"]
            detail = (f"{html.escape(progress['phase'])}: {progress['percent']}%"
                      + (f", about {max(1, round(eta / 60))} min left" if eta is not None else ""))
        return PAGE.format(message=message, percent=progress["percent"], detail=detail)


class StartingGate:
    """ASGI: while the first start builds, /api/health answers {"status": "starting", ...}, every other API
    path a 503 with Retry-After, and every page is the progress page; then everything passes through."""

    def __init__(self, app, first_start: FirstStart):
        self.app, self.first_start = app, first_start

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.first_start.ready:
            return await self.app(scope, receive, send)
        path = scope["path"]
        status = self.first_start.status()
        if path == "/api/health":
            code, kind, body = 200, b"application/json", json.dumps(status).encode()
        elif path.startswith("/api/") or path.startswith("/gradio_api/"):
            code, kind = 503, b"application/json"
            body = json.dumps({"detail": "Helpline is starting (building its model); try again in a minute"}).encode()
        else:  # 200: a working page (a Space or a load balancer would take a 503 for a dead app)
            code, kind, body = 200, b"text/html; charset=utf-8", self.first_start.page().encode()
        await send({"type": "http.response.start", "status": code,
                    "headers": [(b"content-type", kind), (b"retry-after", b"30"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

"""Background retraining for the console: "retrain from stored conversations" without blocking the app.

A job runs `python -m finetune retrain --from-store` (replaying the catalogue's examples, GoEmotions for the
emotion head) into the registry's candidates folder, then `python -m finetune register` to score it on the
registry's evaluation set. Training runs in child processes (serving never imports training code); the job's
state and progress live in a JSON file under the registry, so every app process can show it.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def jobs_dir(registry_root: str | os.PathLike) -> Path:
    return Path(registry_root) / "jobs"


def write_status(path: Path, **status) -> None:
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.update(status)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def status(registry_root: str | os.PathLike, job_id: str | None = None) -> dict | None:
    """A job's state (the newest job when ``job_id`` is None), with its training progress."""
    folder = jobs_dir(registry_root)
    files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    files = [f for f in files if not f.name.endswith(".progress.json")]
    path = folder / f"{job_id}.json" if job_id else (files[-1] if files else None)
    if path is None or not path.is_file():
        return None
    data = json.loads(path.read_text())
    progress = folder / f"{data['id']}.progress.json"
    if progress.is_file():
        try:
            data["progress"] = json.loads(progress.read_text())
        except json.JSONDecodeError:  # being replaced right now
            pass
    return data


def start_retrain(registry_root: str, db: str, catalogue: str, extra_args: list[str] | None = None,
                  started_by: str = "") -> str:
    """Start a retrain job in a background thread; returns its id."""
    running = status(registry_root)
    if running and running.get("state") == "running":
        raise ValueError(f"a retrain job ({running['id']}) is already running")
    job_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = jobs_dir(registry_root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job_id}.json"
    write_status(path, id=job_id, state="running", started=time.strftime("%Y-%m-%d %H:%M:%S"),
                 started_by=started_by, message="starting")
    output = Path(registry_root) / "candidates" / job_id
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "HELPLINE_DB": db, "HELPLINE_MODEL": registry_root}
    retrain = [sys.executable, "-m", "finetune", "retrain", "--from_store", "--intent_data", catalogue,
               "--output", str(output), "--progress_file", str(folder / f"{job_id}.progress.json"),
               *(extra_args or [])]
    register = [sys.executable, "-m", "finetune", "register", "--model", str(output), "--registry", registry_root]

    def run():
        for step, command in (("training", retrain), ("evaluating", register)):
            write_status(path, message=step)
            result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            if result.returncode != 0:
                write_status(path, state="failed", message=f"{step} failed", log=result.stderr[-3000:])
                return
        version = result.stdout.split("registered ", 1)[-1].split(":", 1)[0].strip()
        write_status(path, state="done", message=f"candidate {version} registered", version=version,
                     finished=time.strftime("%Y-%m-%d %H:%M:%S"))

    threading.Thread(target=run, name=f"retrain-{job_id}", daemon=True).start()
    return job_id

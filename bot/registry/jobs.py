"""Background retraining for the console: "retrain from stored conversations" without blocking the app.

A job runs `python -m finetune retrain --from-store` (replaying the catalogue's examples, GoEmotions for the
emotion head) into the registry's candidates folder, then `python -m finetune register` to score it on the
registry's evaluation set. Training runs in child processes (serving never imports training code); the job's
state and progress live in a JSON file under the registry, so every app process can show it.

A job runs in a thread of the app process that started it, which writes a heartbeat into the job file; a job
whose process is gone (same machine) or whose heartbeat stopped (another machine) was killed by a restart: it
is marked failed, so it never blocks the next retrain.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 120.0  # a heartbeat older than this means the job's process is gone


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
    if is_dead(data):  # shown as what it is; the next start_retrain writes it down
        data.update(state="failed", dead=True, message="stopped: the app restarted while this job ran; start it again")
    progress = folder / f"{data['id']}.progress.json"
    if progress.is_file():
        try:
            data["progress"] = json.loads(progress.read_text())
        except json.JSONDecodeError:  # being replaced right now
            pass
    return data


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def is_dead(job: dict, now: float | None = None) -> bool:
    """A "running" job whose app process is gone: the pid is not alive on this host, or the heartbeat is stale."""
    if job.get("state") != "running":
        return False
    if job.get("host") == socket.gethostname() and isinstance(job.get("pid"), int):
        return not _alive(job["pid"])
    return (now or time.time()) - float(job.get("heartbeat", 0)) > STALE_SECONDS


def start_retrain(registry_root: str, db: str, catalogue: str, extra_args: list[str] | None = None,
                  started_by: str = "") -> str:
    """Start a retrain job in a background thread; returns its id."""
    def steps(job_id: str, folder: Path) -> list[tuple[str, list[str]]]:
        output = Path(registry_root) / "candidates" / job_id
        return [("training", [sys.executable, "-m", "finetune", "retrain", "--from-store", "--intent-data", catalogue,
                              "--output", str(output), "--progress-file", str(folder / f"{job_id}.progress.json"),
                              *(extra_args or [])]),
                ("evaluating", [sys.executable, "-m", "finetune", "register", "--model", str(output),
                                "--registry", registry_root])]

    return start_job(registry_root, steps, {"HELPLINE_DB": db}, started_by)


def start_job(registry_root: str, steps, env: dict | None = None, started_by: str = "") -> str:
    """Run ``steps(job_id, jobs folder) -> [(name, command), ...]`` one after another in a background thread, with
    the job's state, heartbeat and progress in the registry's jobs folder (the console shows them); the last
    step's "registered vN" names the job's version. Refused while another job runs. Returns the job's id."""
    running = status(registry_root)
    if running and running.get("dead"):
        write_status(jobs_dir(registry_root) / f"{running['id']}.json", state="failed",
                     message="stopped: the app restarted while this job ran; start it again")
    elif running and running.get("state") == "running":
        raise ValueError(f"a job of this registry ({running['id']}) is already running")
    job_id = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    folder = jobs_dir(registry_root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job_id}.json"
    write_status(path, id=job_id, state="running", started=time.strftime("%Y-%m-%d %H:%M:%S"),
                 started_by=started_by, message="starting", pid=os.getpid(), host=socket.gethostname(),
                 heartbeat=time.time())
    env = {**os.environ, "HELPLINE_MODEL": registry_root, **(env or {})}
    commands = steps(job_id, folder)

    def run():
        stdout = ""
        for step, command in commands:
            write_status(path, message=step, heartbeat=time.time())
            with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
                process = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True)
                while True:
                    try:
                        process.wait(timeout=HEARTBEAT_SECONDS)
                        break
                    except subprocess.TimeoutExpired:
                        write_status(path, heartbeat=time.time())
                out.seek(0), err.seek(0)
                stdout, stderr = out.read(), err.read()
            if process.returncode != 0:
                write_status(path, state="failed", message=f"{step} failed", log=stderr[-3000:])
                return
        version = stdout.split("registered ", 1)[-1].split(":", 1)[0].strip()
        serving = stdout.rsplit("serving: ", 1)[-1].strip() if "serving: " in stdout else ""
        write_status(path, state="done", version=version, finished=time.strftime("%Y-%m-%d %H:%M:%S"),
                     message=f"candidate {version} registered" + (f"; {serving} serves" if serving else ""))

    threading.Thread(target=run, name=f"job-{job_id}", daemon=True).start()
    return job_id

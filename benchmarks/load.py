"""Load test: the real server under N concurrent chat clients, then a check that nothing was lost.

    python benchmarks/load.py --model models/default [--clients 8] [--seconds 30] [--db URL]

Starts `python app.py` on a free port with a fresh SQLite database (or --db), runs N concurrent clients for
T seconds against POST /api/chat (each client holds one conversation at a time, 10 turns each; localhost only),
reports turns/s, p50/p99 latency and errors, then checks that every acknowledged customer message is in the
database. The baseline in the same run is a bare FastAPI endpoint that only classifies (no policy, no
database), so the cost of storing every turn shows as a ratio. Writes benchmarks/results/load.json and the
table in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import command_line, publish  # noqa: E402

MESSAGES = ["where is my order", "I was charged twice for the same thing!!", "how do I return these shoes",
            "can I pause my subscription next month", "my parcel arrived damaged", "hello", "thanks a lot",
            "I can't log into my account", "what's the weather tomorrow", "I want to speak to a person"]
BASELINE_APP = """
import sys
from fastapi import FastAPI
from pydantic import BaseModel
import uvicorn
from bot import Classifier
classifier = Classifier.load(sys.argv[1])
app = FastAPI()
class ChatIn(BaseModel):
    message: str
@app.post("/api/chat")
def chat(body: ChatIn):
    p = classifier.predict(body.message)
    return {"intent": p.intent, "confidence": p.confidence, "message_id": 0}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int, env: dict) -> subprocess.Popen:
    import httpx

    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.stderr.read()[-2000:]}")
        try:
            httpx.post(f"http://127.0.0.1:{port}/api/chat", json={"message": "warm up"}, timeout=2)
            return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("server did not start in 120 s")


async def run_clients(url: str, clients: int, seconds: float) -> dict:
    import httpx

    latencies, errors, acknowledged = [], [], []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(n: int, http: httpx.AsyncClient):
        conversation, turn = None, 0
        while time.perf_counter() < stop:
            body = {"message": f"{MESSAGES[(n + turn) % len(MESSAGES)]} ({n}-{turn})"}
            if conversation:
                body["conversation_id"] = conversation
            started = time.perf_counter()
            try:
                r = await http.post(f"{url}/api/chat", json=body)
                latencies.append(time.perf_counter() - started)
                if r.status_code != 200:
                    errors.append(f"{r.status_code}: {r.text[:200]}")
                else:
                    data = r.json()
                    conversation = data.get("conversation_id")
                    acknowledged.append(data["message_id"])
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            turn += 1
            if turn % 10 == 0:
                conversation = None  # a new customer

    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(n, http) for n in range(clients)))
        wall = time.perf_counter() - started
    ms = sorted(x * 1000 for x in latencies)
    return {"turns": len(latencies), "turns_per_s": round(len(latencies) / wall, 1),
            "p50_ms": round(statistics.median(ms), 2) if ms else None,
            "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 2) if ms else None,
            "errors": len(errors), "error_examples": errors[:5], "acknowledged": acknowledged}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("HELPLINE_MODEL", "models/default"))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--db", help="SQLAlchemy URL (default: a fresh SQLite file)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="helpline-load-"))
    db = args.db or f"sqlite:///{work / 'helpline.db'}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT)}
    results = {}
    for name, cmd in (("bare classify endpoint (baseline)", [sys.executable, "-c", BASELINE_APP, args.model]),
                      ("Helpline /api/chat", [sys.executable, "app.py", "--model", args.model, "--db", db])):
        port = free_port()
        cmd = cmd + ([str(port)] if "baseline" in name else ["--port", str(port)])
        server = start(cmd, port, env)
        try:
            results[name] = asyncio.run(run_clients(f"http://127.0.0.1:{port}", args.clients, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(name, {k: v for k, v in results[name].items() if k != "acknowledged"}, flush=True)
    helpline = results["Helpline /api/chat"]
    from bot.store import Store

    stored = {m.id for m in Store(db).messages_by_id(helpline["acknowledged"])}
    lost = len(set(helpline["acknowledged"]) - stored)
    for row in results.values():
        row.pop("acknowledged")
    base = results["bare classify endpoint (baseline)"]
    record = {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}",
              "model": args.model, "db": "sqlite (fresh file)" if not args.db else args.db.split(":")[0],
              "clients": args.clients, "seconds": args.seconds, "results": results,
              "acknowledged_messages": helpline["turns"] - helpline["errors"], "lost_messages": lost,
              "throughput_ratio_vs_baseline": round(helpline["turns_per_s"] / base["turns_per_s"], 3),
              "command": command_line("load.py", argv)}
    lines = [f"`{record['command']}` on {record['date']}, {record['machine']}, {args.clients} concurrent clients "
             f"for {args.seconds:.0f} s, {record['db']}.", "",
             "| server | turns/s | p50 ms | p99 ms | errors |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {r['turns_per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} |"
              for name, r in results.items()]
    lines += ["", f"Every acknowledged message checked in the database afterwards: {record['acknowledged_messages']} "
              f"acknowledged, {lost} lost. Helpline (classify + policy + store) runs at "
              f"{record['throughput_ratio_vs_baseline']:.2f}x the throughput of the bare classify endpoint."]
    publish("load", "Load (REST API)", record, lines)
    return record


if __name__ == "__main__":
    main()

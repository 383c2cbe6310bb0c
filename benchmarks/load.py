"""Load test: the real server under N concurrent chat clients, then a check that nothing was lost.

    python benchmarks/load.py --model models/default [--clients 8] [--seconds 20] [--rates 0 300] [--rounds 3]

Starts `python app.py` on a free port with a fresh SQLite database (or --db), runs N concurrent clients for
T seconds against POST /api/chat (each client holds one conversation at a time, 10 turns each, a new connection
per conversation as a new customer would; localhost only),
reports turns/s, p50/p99 latency and errors, then checks that every acknowledged customer message is in the
database. Each rate is one measurement: 0 = every client sends its next turn as soon as it has its reply (the
most the server can do; latency is then mostly queueing, ~ clients / throughput); R > 0 = the clients together
send R turns/s on a fixed schedule (each turn's latency counts from its scheduled time, so a server that falls
behind is charged for the wait: no coordinated omission), the latency a customer sees at that load. The baseline
in the same run is a bare FastAPI endpoint that only classifies (no policy, no
database), so the cost of storing every turn shows as a ratio. Writes benchmarks/results/load.json and the
table in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from benchmarks.report import command_line, machine, markdown_table, publish

ROOT = Path(__file__).resolve().parent.parent

MESSAGES = ["where is my order", "I was charged twice for the same thing!!", "how do I return these shoes",
            "can I pause my subscription next month", "my parcel arrived damaged", "hello", "thanks a lot",
            "I can't log into my account", "what's the weather tomorrow", "I want to speak to a person"]
CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)
BASELINE_APP = """
import sys
from fastapi import FastAPI
from pydantic import BaseModel
import uvicorn
from bot import HelplineModel
classifier = HelplineModel.from_pretrained(sys.argv[1])
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


class Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams. httpx spent ~0.5 ms of CPU per request, and the
    load generator shares the server's two cores: a heavy client would measure itself more than the server."""

    def __init__(self, host: str, port: int):
        self.host, self.port, self.reader, self.writer = host, port, None, None

    async def post(self, path: str, payload: dict) -> tuple[int, dict | str]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        body = json.dumps(payload).encode()
        self.writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (path.encode(), self.host.encode(), len(body), body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = CONTENT_LENGTH.search(head)
        if length is None:  # every response of this server has one; anything else is an error to report
            raise ConnectionError(f"response without Content-Length: {head[:200]!r}")
        data = await self.reader.readexactly(int(length[1]))
        status = int(head[9:12])
        return status, json.loads(data) if status == 200 else data.decode(errors="replace")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run_clients(port: int, clients: int, seconds: float, rate: float = 0.0) -> dict:
    """``clients`` concurrent customers for ``seconds``: as fast as replies come (rate 0) or together sending
    ``rate`` turns/s, client n's k-th turn due at (k + n / clients) * clients / rate."""
    latencies, errors, acknowledged = [], [], []
    begin = time.perf_counter()
    stop = begin + seconds
    interval = clients / rate if rate else 0.0

    async def client(n: int):
        conversation, turn, connection = None, 0, Connection("127.0.0.1", port)
        while time.perf_counter() < stop:
            body = {"message": f"{MESSAGES[(n + turn) % len(MESSAGES)]} ({n}-{turn})"}
            if conversation:
                body["conversation_id"] = conversation
            started = time.perf_counter()
            if interval:
                due = begin + (turn + n / clients) * interval
                if due >= stop:
                    break
                if due > started:
                    await asyncio.sleep(due - started)
                started = due  # a late send is the server's backlog: it counts in the latency
            try:
                status, data = await connection.post("/api/chat", body)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    errors.append(f"{status}: {data[:200]}")
                else:
                    conversation = data.get("conversation_id")
                    acknowledged.append(data["message_id"])
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                errors.append(repr(exc))
                connection.close()
            turn += 1
            if turn % 10 == 0:  # a new customer, on a connection of their own (so that with several server
                conversation = None  # processes each new customer lands on whichever accepts first)
                connection.close()
        connection.close()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(n) for n in range(clients)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    ms = sorted(x * 1000 for x in latencies)
    return {"rate": rate, "turns": len(latencies), "turns_per_s": round(len(latencies) / wall, 1),
            "p50_ms": round(statistics.median(ms), 2) if ms else None,
            "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 2) if ms else None,
            "errors": len(errors), "error_examples": errors[:5], "acknowledged": acknowledged,
            "client_cpu_ms_per_turn": round(1000 * cpu / max(len(latencies), 1), 3)}


def combine(rows: list[dict]) -> dict:
    """One server's rounds as one row: counts summed, rates and latencies as medians."""
    def median(key):
        return round(statistics.median(row[key] for row in rows), 2)

    return {"turns": sum(row["turns"] for row in rows), "turns_per_s": median("turns_per_s"),
            "p50_ms": median("p50_ms"), "p99_ms": median("p99_ms"), "errors": sum(row["errors"] for row in rows),
            "error_examples": [e for row in rows for e in row["error_examples"]][:5],
            "client_cpu_ms_per_turn": median("client_cpu_ms_per_turn")}


def offered(rate: float) -> str:
    return f"{rate:g} turns/s" if rate else "as fast as replies come"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("HELPLINE_MODEL", "models/default"))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rates", type=float, nargs="+", default=[0, 300],
                        help="offered loads in turns/s, all clients together; 0 = as fast as replies come")
    parser.add_argument("--db", help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--rounds", type=int, default=3, help="times each server is measured, taking turns")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or any(rate < 0 for rate in args.rates):
        parser.error("--clients must be 1 or more, --seconds above 0 and every --rates value 0 or more")
    work = Path(tempfile.mkdtemp(prefix="helpline-load-"))
    db = args.db or f"sqlite:///{work / 'helpline.db'}"
    # the abuse limits are off: the clients all come from one address, on purpose
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "HELPLINE_RATE_LIMITS": "off",
           "HELPLINE_DB": db}
    servers = {"bare classify endpoint (baseline)": [sys.executable, "-c", BASELINE_APP, args.model],
               "Helpline /api/chat": [sys.executable, "app.py", "--model", args.model]}
    # the servers take turns, round after round: this VM's speed drifts over minutes (see RESULTS.md)
    rounds: list[dict] = []
    acknowledged: list[int] = []
    for r in range(args.rounds):
        rounds.append({})
        for name, cmd in servers.items():
            port = free_port()
            server = start(cmd + ([str(port)] if "baseline" in name else ["--port", str(port)]), port, env)
            try:
                for rate in args.rates:  # the lighter event loop for the clients
                    row = rounds[r].setdefault(name, {})[offered(rate)] = uvloop.run(
                        run_clients(port, args.clients, args.seconds, rate))
                    ids = row.pop("acknowledged")
                    acknowledged += ids if "Helpline" in name else []
                    print(f"round {r + 1}", name, offered(rate), row, flush=True)
            finally:
                server.terminate()
                server.wait(timeout=30)
    from bot.store.conversations import Store

    stored = {m.id for m in Store(db).messages_by_id(acknowledged)}
    lost = len(set(acknowledged) - stored)
    loads = [offered(rate) for rate in args.rates]
    results = {name: {load: combine([one[name][load] for one in rounds]) for load in loads} for name in servers}
    baseline, helpline = servers  # in the order of the dict above
    ratio = {load: round(statistics.median(one[helpline][load]["turns_per_s"] / one[baseline][load]["turns_per_s"]
                                           for one in rounds), 3) for load in loads}
    record = {"date": time.strftime("%Y-%m-%d"), "machine": machine(),
              "model": args.model, "db": "sqlite (fresh file)" if not args.db else args.db.split(":")[0],
              "clients": args.clients, "seconds": args.seconds, "rates": args.rates, "rounds": rounds,
              "results": results, "acknowledged_messages": len(acknowledged), "lost_messages": lost,
              "throughput_ratio_vs_baseline": ratio, "command": command_line("load.py", argv)}
    lines = [f"`{record['command']}` on {record['date']}, {record['machine']}, {args.clients} concurrent clients "
             f"for {args.seconds:.0f} s per load, {record['db']}; medians of {args.rounds} rounds in which the "
             "servers take turns. A fixed offered load counts each turn's latency from its scheduled send time.", ""]
    lines += markdown_table(["server", "offered load", "turns/s", "p50 ms", "p99 ms", "errors"],
                            [[name, load, r["turns_per_s"], r["p50_ms"], r["p99_ms"], r["errors"]]
                             for name, by_load in results.items() for load, r in by_load.items()])
    lines += ["", f"Every acknowledged message checked in the database afterwards: {record['acknowledged_messages']} "
              f"acknowledged, {lost} lost. Helpline (classify + policy + store) against the bare classify endpoint, "
              "throughput: " + ", ".join(f"{x:.2f}x ({load})" for load, x in ratio.items()) + "."]
    publish("load", "Load (REST API)", record, lines)
    return record


if __name__ == "__main__":
    main()

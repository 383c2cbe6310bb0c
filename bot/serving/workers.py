"""`TurnWorkers`: customer turns of the REST API run in worker processes, so they use every core.

One Python process runs one thread of Python at a time (the GIL). A turn holds it for about as long as the model
takes (HTTP, redaction, policy, the database), so on two cores one process tops out well below what the
cores can do, and its latency climbs first (benchmarks/RESULTS.md, Load). The app process keeps the HTTP side
(it owns the port, the Gradio UI and its in-memory queue) and hands each `POST /api/chat` turn to a worker
over a socket pair; a worker runs `Helpline.handle` on its own serving stack (model, catalogue, policy, store) and
sends the turn back. Nothing lives only in a worker: every turn is committed to the database before its reply,
as in the app process.

The standard alternative is several whole server processes on one port (`uvicorn --workers N`, gunicorn). That
duplicates the Gradio UI, whose event queue and sessions live in one process, so a browser would need sticky
routing to one of them; here one process keeps the UI and only the chat turns fan out. Behind a load balancer
with sticky sessions, several app processes (each with its workers) are the way to grow past one machine.

- Each worker watches the model and the catalogue file like the app process does (bot/serving/reloader.py), so a
  promotion or an edit (an intent added on the Insights tab) reaches every process.
- A worker that dies fails only the turns it held (503, "send it again": whether such a turn was stored is not
  known, so it is not retried behind the customer's back) and is restarted; a turn that could not be sent goes
  to another worker, and with no worker running, turns run in the app process.
- A worker holds at most ``MAX_IN_FLIGHT`` turns; more wait in the app's event loop. That bound keeps both
  directions of the socket far from full, so neither side can block writing to the other.
"""
from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
from multiprocessing.connection import Connection

from bot.model.batch_plan import usable_cores
from bot.store.conversations import UnknownConversation
from bot.store.database import StoreUnavailable, is_unavailable

log = logging.getLogger("helpline.workers")
MAX_IN_FLIGHT = 8
START_TIMEOUT = 120.0  # seconds for a worker to load its stack (imports and model take a few)
# what the customer reads (the widget shows it): no internals, and what to do
LOST_TURN = "the server restarted while answering this message; please send it again"
STATUS = "status"  # the channel of a status request (a turn's channel is "api", "chat", ...)


class WorkerUnavailable(RuntimeError):
    """The worker holding a turn stopped before answering: the turn may or may not be stored."""


class NoWorkers(RuntimeError):
    """No worker could take the turn; it was not sent anywhere, so it can safely run elsewhere."""


def _serve(conn: Connection) -> None:
    """A worker process: build the serving stack, then answer turns until the app closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the app process, which stops its workers
    settings = conn.recv()
    from bot.conversation.service import Helpline
    from bot.serving.reloader import ModelWatcher
    from bot.serving.settings import Settings

    try:
        config = Settings(**settings)
        helpline = Helpline.from_settings(config)  # (its ONNX threads: the worker's share of the cores)
    except Exception as exc:  # noqa: BLE001 - reported to the app, which refuses to start with the message
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    ModelWatcher(helpline, config.model_dir, config.load_classifier, catalogue=config.catalogue).start()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            request_id, message, conversation_id, channel, options = conn.recv()  # channel STATUS: a status request
        except (EOFError, OSError):  # the app closed the pipe or died: nothing left to answer
            return
        if channel == STATUS:
            conn.send((request_id, "ok", {"pid": os.getpid(), "model_version": helpline.classifier.version,
                                          "intents": len(helpline.catalogue.intents)}))
            continue
        try:
            reply = (request_id, "ok", helpline.handle(message, conversation_id, channel, **options).to_dict())
        except Exception as exc:  # noqa: BLE001 - reported to the app, which answers as for its own turns
            reply = (request_id, *wire_error(exc))
        conn.send(reply)


# how a turn's failure crosses the socket: (kind, message), turned back into the same exception by the app
ERRORS = {"unknown": lambda message: UnknownConversation("", message), "invalid": ValueError,
          "busy": StoreUnavailable}


def wire_error(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, UnknownConversation):
        return "unknown", str(exc)
    if isinstance(exc, ValueError):  # the client's fault (bad conversation id, empty message): a 400
        return "invalid", str(exc)
    if is_unavailable(exc):          # the database is busy: a 503 with Retry-After
        return "busy", ""
    log.exception("turn failed", exc_info=exc)
    return "error", f"{type(exc).__name__}: {exc}"


def error_from_wire(kind: str, payload: str) -> BaseException:
    if kind in ERRORS:
        return ERRORS[kind](payload)
    return RuntimeError(payload)


class _Worker:
    def __init__(self, process, conn: Connection):
        self.process, self.conn = process, conn
        self.pending: dict[int, asyncio.Future] = {}


class TurnWorkers:
    """``await workers.turn(message, conversation_id, channel)`` -> the turn as `Turn.to_dict()` returns it."""

    def __init__(self, settings, count: int):
        if count < 1:
            raise ValueError(f"count must be at least 1 worker, not {count}")
        self.settings = dataclasses.asdict(settings)
        if settings.onnx_threads is None:  # one turn at a time per worker: the cores are shared out, not each one's
            self.settings["onnx_threads"] = max(1, usable_cores() // count)
        self.count = count
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._restarting: set[asyncio.Task] = set()
        self.restarts = 0

    # ------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> TurnWorkers:
        """Start the workers and wait until each has loaded its stack; ValueError (with the worker's own
        message) if one cannot, e.g. a model that does not load."""
        started = [self._spawn() for _ in range(self.count)]  # all load at once, then each is waited for
        try:
            self._workers = [self._wait_ready(*one) for one in started]
        except ValueError:
            for one in started:  # the ones already up, and the ones not yet waited for
                _discard(*one)
            raise
        return self

    def _spawn(self):
        """A fresh interpreter running this module (not multiprocessing's spawn: that re-imports the app's main
        script in the child, here the whole Gradio UI, doubling a worker's memory), joined by a socket pair."""
        ours, theirs = socket.socketpair()
        process = subprocess.Popen([sys.executable, "-m", "bot.serving.workers", str(theirs.fileno())],
                                   pass_fds=[theirs.fileno()])  # the installed package: `pip install -e .`
        theirs.close()
        conn = Connection(ours.detach())
        conn.send(self.settings)
        return process, conn

    def _wait_ready(self, process, conn: Connection) -> _Worker:
        """The worker once it has loaded its stack; on any failure nothing is left behind (no process, no
        open socket) and ValueError says why."""
        try:
            if not conn.poll(START_TIMEOUT):
                raise ValueError(f"a turn worker did not start in {START_TIMEOUT:.0f} s")
            try:
                status, detail = conn.recv()
            except (EOFError, OSError):  # it died while starting (reset, if it died with bytes unread)
                raise ValueError(f"a turn worker exited while starting (exit code {_exit_code(process)})") from None
            if status != "ready":
                raise ValueError(f"a turn worker could not start: {detail}")
        except BaseException:
            _discard(process, conn)
            raise
        return _Worker(process, conn)

    def stop(self) -> None:
        for worker in self._workers:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(worker.conn.fileno())
            worker.conn.close()  # the worker sees the pipe close and returns
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.process.kill()
        self._workers = []

    @property
    def alive(self) -> int:
        return len(self._workers)

    @property
    def pids(self) -> list[int]:
        """The running workers' process ids (for monitoring, and the tests that stop one)."""
        return [worker.process.pid for worker in self._workers]

    # ------------------------------------------------------------------------------------------ turns
    def _attach(self) -> None:
        """Bind to the running event loop on first use: replies are read by the loop, not by threads."""
        self._loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT * self.count)
        for worker in self._workers:
            self._loop.add_reader(worker.conn.fileno(), self._readable, worker)

    async def status(self, timeout: float = 2.0) -> list[dict]:
        """Each running worker's pid, serving model version and catalogue size (answered between its turns);
        a worker that does not answer in ``timeout`` seconds is listed as {"pid", "error"}."""
        if self._loop is None:
            self._attach()

        async def ask(worker: _Worker) -> dict:
            request_id = next(self._ids)
            future = worker.pending[request_id] = self._loop.create_future()
            try:
                worker.conn.send((request_id, None, None, STATUS, {}))
                return await asyncio.wait_for(future, timeout)
            except (TimeoutError, OSError, WorkerUnavailable) as exc:
                worker.pending.pop(request_id, None)
                return {"pid": worker.process.pid, "error": type(exc).__name__}

        return list(await asyncio.gather(*(ask(worker) for worker in self._workers)))

    async def turn(self, message: str, conversation_id: str | None, channel: str = "api", **options) -> dict:
        """``options``: Helpline.handle's keyword arguments (source, idempotency_key)."""
        if self._loop is None:
            self._attach()
        elif asyncio.get_running_loop() is not self._loop:
            raise RuntimeError("TurnWorkers is bound to the event loop it was first used on")
        async with self._slots:
            while self._workers:
                worker = min(self._workers, key=lambda w: len(w.pending))
                request_id = next(self._ids)
                try:
                    worker.conn.send((request_id, message, conversation_id, channel, options))
                except OSError:  # it died before its reader saw it: the turn never left, try another
                    self._lost(worker)
                    continue
                future = worker.pending[request_id] = self._loop.create_future()
                return await future
        raise NoWorkers("no turn worker is running")

    def _readable(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                request_id, status, payload = worker.conn.recv()
                future = worker.pending.pop(request_id, None)
                if future is None or future.done():  # given up on (a status past its timeout; a cancelled
                    continue                         # request, whose turn was still stored)
                if status == "ok":
                    future.set_result(payload)
                else:
                    future.set_exception(error_from_wire(status, payload))
        except (EOFError, OSError):
            self._lost(worker)

    def _lost(self, worker: _Worker) -> None:
        """A worker died: fail the turns it held, start a new one in the background."""
        if worker not in self._workers:
            return
        self._workers.remove(worker)
        self._loop.remove_reader(worker.conn.fileno())
        worker.conn.close()
        log.error("turn worker %s stopped (exit code %s); %d turns lost in flight, restarting it",
                  worker.process.pid, worker.process.poll(), len(worker.pending))  # (poll: never block the loop)
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(WorkerUnavailable(LOST_TURN))
        restart = self._loop.create_task(self._restart())
        self._restarting.add(restart)  # the loop keeps only a weak reference to a task
        restart.add_done_callback(self._restarting.discard)

    async def _restart(self) -> None:
        delay = 1.0
        while True:
            try:
                new = await self._loop.run_in_executor(None, lambda: self._wait_ready(*self._spawn()))
                break
            except Exception as exc:  # noqa: BLE001 - e.g. the model being replaced: never give up the slot
                log.error("could not restart a turn worker (%s); next try in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, 60.0)
        self.restarts += 1
        self._workers.append(new)
        self._loop.add_reader(new.conn.fileno(), self._readable, new)


def _discard(process: subprocess.Popen, conn: Connection) -> None:
    """A worker that did not come up: close its socket, stop it, reap it (each step is safe to repeat)."""
    conn.close()
    process.kill()
    process.wait()


def _exit_code(process: subprocess.Popen) -> int | None:
    try:
        return process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        return None


if __name__ == "__main__":  # a worker: python -m bot.serving.workers FD (started by TurnWorkers, not by hand)
    _serve(Connection(int(sys.argv[1])))

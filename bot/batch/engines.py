"""Where `python -m bot analyze` runs the model: engines beyond this process.

Every engine takes the stream of conversations and yields (conversation, rows) in input order, and every one
hands its workers the same unit, a chunk of whole conversations (`bot.batch.analyze.analyze_chunk`): a conversation's
context never crosses workers, and each worker batches exactly what this process would, so the output is the
same byte for byte whichever engine wrote it.

- `ProcessPool`: one process per core on this machine (the standard library's process pool), each with its own
  single-threaded classifier. Chunks in flight are bounded, so memory stays flat.
- `ray_job`: a Ray Data job, local Ray when no address is given or a cluster otherwise; one classifier per
  actor. Ray is an optional extra (requirements-ray.txt), imported only here.
"""
from __future__ import annotations

import json
import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import islice
from pathlib import Path

from bot.batch.analyze import analyze_chunk, chunks_of

_worker = None   # the classifier of a pool process (set by its initializer)
RAY_WINDOW = 256  # chunks handed to Ray at a time (of CHUNK conversations each)


def _load_worker(model_dir: str, backend: str, threads: int) -> None:
    global _worker
    from bot.model.helpline_model import HelplineModel

    _worker = HelplineModel.from_pretrained(model_dir, backend=backend, threads=threads)


def _read_chunk(chunk: list[dict], batch_size: int) -> list[list[dict]]:
    return analyze_chunk(_worker, chunk, batch_size)


class ProcessPool:
    """An engine running ``processes`` worker processes on this machine. Used in a ``with`` block the processes
    (and their models) stay up between calls; otherwise each call starts and stops them."""

    def __init__(self, model_dir: str, processes: int, backend: str = "auto", batch_size: int = 64,
                 threads: int = 1):
        self.processes, self.batch_size = processes, batch_size
        self._start = lambda: ProcessPoolExecutor(processes, initializer=_load_worker,
                                                  initargs=(model_dir, backend, threads))
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessPool:
        self._pool = self._pool or self._start()
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __call__(self, conversations: Iterable[dict]) -> Iterator[tuple[dict, list[dict]]]:
        if self._pool is not None:
            yield from self._run(self._pool, conversations)
        else:
            with self:
                yield from self._run(self._pool, conversations)

    def _run(self, pool: ProcessPoolExecutor, conversations: Iterable[dict]) -> Iterator[tuple[dict, list[dict]]]:
        pending: deque = deque()
        for chunk in chunks_of(conversations):
            pending.append((chunk, pool.submit(_read_chunk, chunk, self.batch_size)))
            if len(pending) > 2 * self.processes:   # keep every worker busy, hold no more than that
                chunk, future = pending.popleft()
                yield from zip(chunk, future.result())
        while pending:
            chunk, future = pending.popleft()
            yield from zip(chunk, future.result())


class _RayChunkReader:
    """A Ray Data actor: one classifier, loaded once, reads chunks (one JSON line of conversations each)."""

    def __init__(self, model_dir: str, backend: str, batch_size: int, threads: int):
        from bot.model.helpline_model import HelplineModel

        self.classifier = HelplineModel.from_pretrained(model_dir, backend=backend, threads=threads)
        self.batch_size = batch_size

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        rows = [json.dumps(analyze_chunk(self.classifier, json.loads(line), self.batch_size), ensure_ascii=False)
                for line in batch["text"]]
        return {"rows": np.array(rows, dtype=object)}


def ray_job(model_dir: str, address: str | None = None, workers: int | None = None, backend: str = "auto",
            batch_size: int = 64, threads: int = 1):
    """An engine running the analysis as a Ray Data job: ``address`` None starts Ray on this machine, else it
    joins that cluster ("auto", "ray://head:10001", ...). ``workers``: actors (default: the cluster's CPUs
    divided by ``threads``). The model directory must be at the same path on every node."""
    try:
        import ray
    except ImportError as exc:
        raise ValueError("--ray needs Ray: pip install -r requirements-ray.txt") from exc
    model_dir = str(Path(model_dir).resolve())

    def run(conversations: Iterable[dict]) -> Iterator[tuple[dict, list[dict]]]:
        env = {name: os.environ[name] for name in ("HF_HUB_OFFLINE", "HELPLINE_ONLINE") if name in os.environ}
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": env}, **({"num_cpus": os.cpu_count()} if address is None else {}))
        try:
            context = ray.data.DataContext.get_current()
            context.execution_options.preserve_order = True   # results come back in input order
            context.enable_progress_bars = False              # ours (tqdm, in messages) is the one shown
            logging.getLogger("ray.data").setLevel(logging.WARNING)
            size = workers or max(1, int(ray.cluster_resources().get("CPU", 1) // threads))
            # The driver hands Ray whole-conversation chunks, one JSON line each, a window at a time
            # (`from_items` puts them in Ray's object store, which ships them to the actors wherever they run
            # and spills to disk when full); a window bounds what the driver holds at once.
            chunks = (json.dumps(chunk, ensure_ascii=False) for chunk in chunks_of(conversations))
            while window := list(islice(chunks, RAY_WINDOW)):
                dataset = ray.data.from_items([{"text": line} for line in window]).map_batches(
                    _RayChunkReader, batch_size=1, num_cpus=threads,
                    compute=ray.data.ActorPoolStrategy(size=size),
                    fn_constructor_kwargs={"model_dir": model_dir, "backend": backend, "batch_size": batch_size,
                                           "threads": threads})
                for line, row in zip(window, dataset.iter_rows()):
                    yield from zip(json.loads(line), json.loads(row["rows"]))
        finally:
            if started_here:
                ray.shutdown()
    return run

"""`MicroBatcher`: the messages of concurrent turns classified together, in one model call.

Under load several request threads want the model at the same moment. Run side by side, their calls fight over
two cores (and each pays ONNX Runtime's per-call overhead); pooled, one call at a time gets every core, and a
batch costs a little less per message than single calls (RESULTS.md, Load). There is no timer
and no extra thread: whichever thread finds the model idle becomes the leader, classifies everything that is
waiting (its own message included) as one batch, and hands the model to the next waiting thread. A lone
message on an idle server is classified at once, as without the batcher; under load a batch holds what arrived
while the previous one ran, and the other request threads do their Python work (parsing, policy, database)
meanwhile. Load benchmark: benchmarks/RESULTS.md, Load.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence


class _Request:
    __slots__ = ("text", "result", "error", "done", "wake")

    def __init__(self, text: str):
        self.text, self.result, self.error, self.done = text, None, None, False
        self.wake = threading.Event()  # set when the result is in, or when this thread is to lead


class MicroBatcher:
    """``batcher(text)`` returns what ``predict_many([text])[0]`` would, batched with concurrent callers."""

    def __init__(self, predict_many: Callable[[list[str]], Sequence], max_batch: int = 32):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self._predict_many, self.max_batch = predict_many, max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Request] = []
        self._busy = False  # a leader is classifying
        self.batches = self.messages = 0  # counters (messages / batches = mean batch size), for tests and diagnostics

    def __call__(self, text: str):
        request = _Request(text)
        with self._lock:
            self._waiting.append(request)
            follower, self._busy = self._busy, True
        if follower:
            request.wake.wait()  # until a leader classified our message, or handed the model to us
        if not request.done:  # we lead: our message is in the next batch (or the one after, in a long queue)
            try:
                while not request.done:
                    self._classify_waiting()
            finally:
                self._hand_over()
        if request.error is not None:
            raise request.error
        return request.result

    def _classify_waiting(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
        try:
            results = self._predict_many([request.text for request in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"the model returned {len(results)} predictions for {len(batch)} messages")
        except BaseException as exc:  # every caller in the batch gets the error (and raises it); none waits forever
            for request in batch:
                request.error = exc
        else:
            for request, result in zip(batch, results):
                request.result = result
        self.batches, self.messages = self.batches + 1, self.messages + len(batch)
        for request in batch:
            request.done = True
            request.wake.set()

    def _hand_over(self) -> None:
        """Wake the first waiting thread to lead the next batch, or mark the model idle."""
        with self._lock:
            if self._waiting:
                self._waiting[0].wake.set()
            else:
                self._busy = False

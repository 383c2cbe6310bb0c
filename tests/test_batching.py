import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bot import HelplineModel
from bot.model.batching import MicroBatcher
from tests.conftest import TINY_INTENTS

TEXTS = [text for texts in TINY_INTENTS.values() for text in texts]


class SlowModel:
    """predict_many that takes 50 ms a call (the GIL released, as ONNX Runtime does) and records its batches."""

    def __init__(self, fail_on: str | None = None):
        self.batches, self.fail_on = [], fail_on

    def __call__(self, texts):
        self.batches.append(list(texts))
        time.sleep(0.05)
        if self.fail_on in texts:
            raise RuntimeError("model broke")
        return [f"prediction of {text}" for text in texts]


def call_together(batcher, texts):
    start = threading.Barrier(len(texts))

    def one(text):
        start.wait()
        return batcher(text)

    with ThreadPoolExecutor(len(texts)) as pool:
        return list(pool.map(one, texts))


def test_a_lone_message_is_classified_at_once_in_a_batch_of_one():
    model = SlowModel()
    assert MicroBatcher(model)("hello") == "prediction of hello"
    assert model.batches == [["hello"]]


def test_concurrent_messages_share_batches_and_each_caller_gets_its_own_result():
    model = SlowModel()
    texts = [f"message {i}" for i in range(12)]
    results = call_together(MicroBatcher(model, max_batch=8), texts)
    assert results == [f"prediction of {text}" for text in texts]
    assert sorted(t for batch in model.batches for t in batch) == sorted(texts)  # each classified once
    assert len(model.batches) < len(texts) and max(map(len, model.batches)) <= 8


def test_an_error_reaches_every_caller_of_its_batch_and_the_next_batch_still_runs():
    model = SlowModel(fail_on="bad")
    batcher = MicroBatcher(model)
    texts = ["bad"] + [f"ok {i}" for i in range(5)]
    outcomes = []

    def one(text):
        try:
            outcomes.append((text, batcher(text)))
        except RuntimeError as exc:
            outcomes.append((text, str(exc)))

    call_together(one, texts)
    failed = {text for text, outcome in outcomes if outcome == "model broke"}
    assert "bad" in failed and len(outcomes) == len(texts)
    assert all(outcome == f"prediction of {text}" for text, outcome in outcomes if text not in failed)
    assert batcher("after") == "prediction of after"  # the model was handed back, nobody hangs


def test_max_batch_must_be_positive():
    with pytest.raises(ValueError, match="max_batch must be at least 1"):
        MicroBatcher(SlowModel(), max_batch=0)


def test_batched_predictions_match_one_by_one(tiny_model_dir):
    classifier = HelplineModel.from_pretrained(tiny_model_dir)
    batcher = MicroBatcher(classifier.predict)
    together = call_together(batcher, TEXTS)
    alone = [classifier.predict(text) for text in TEXTS]
    assert batcher.messages == len(TEXTS)
    assert [p.intent for p in together] == [p.intent for p in alone]
    for a, b in zip(together, alone):  # int8 activations are scaled per batch: close, not always identical
        assert np.allclose(list(a.emotions.values()), list(b.emotions.values()), atol=0.05)

"""Integration: fine-tune the real bundled all-MiniLM-L6-v2 for a few steps on slices of the shared data."""
import csv
import random

import pytest
from conftest import DATA

from bot import HelplineModel
from finetune.__main__ import main as cli

pytestmark = pytest.mark.skipif(not (DATA / "banking77" / "train.csv").exists(),
                                reason=f"shared datasets not found at {DATA} (set HELPLINE_DATA)")
INTENTS = ["card_arrival", "lost_or_stolen_card", "exchange_rate", "top_up_failed", "pin_blocked",
           "refund_not_showing_up"]


@pytest.fixture(scope="module")
def slices(tmp_path_factory):
    """60 Banking77 messages of 6 intents for training, 60 others for testing, 400 GoEmotions comments."""
    path = tmp_path_factory.mktemp("slices")
    with open(DATA / "banking77" / "train.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["category"] in INTENTS]
    random.Random(0).shuffle(rows)
    for name, part in (("train.csv", rows[:240]), ("test.csv", rows[240:300])):
        with open(path / name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "intent"])
            writer.writerows((r["text"], r["category"]) for r in part)
    emotions = path / "goemotions"
    emotions.mkdir()
    source = DATA / "goemotions" / "original"
    (emotions / "labels.txt").write_text((source / "labels.txt").read_text())
    (emotions / "train.tsv").write_text("".join((source / "train.tsv").open().readlines()[:400]))
    (emotions / "dev.tsv").write_text("".join((source / "dev.tsv").open().readlines()[:200]))
    return path


def test_real_encoder_fine_tunes_saves_loads_and_predicts(slices, tmp_path):
    out = tmp_path / "model"
    assert cli(["train", "--intent-data", str(slices / "train.csv"), "--emotion-data", str(slices / "goemotions"),
                "--output", str(out), "--max-steps", "60", "--batch-size", "16", "--min-task-examples", "200"]) == 0
    model = HelplineModel.from_pretrained(out, backend="torch")
    assert model.metadata["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert model.network.encoder.config.hidden_size == 384
    result = cli(["evaluate", "--model", str(out), "--intent-test", str(slices / "test.csv"),
                  "--output", str(tmp_path / "eval.json")])
    assert result == 0
    import json
    metrics = json.loads((tmp_path / "eval.json").read_text())
    assert metrics["intent_accuracy"] > 0.6, metrics  # chance is 1/6; 60 steps of real fine-tuning do far better
    p = model.predict("I lost my card, someone might have stolen it")
    assert p.intent in ("lost_or_stolen_card", "oos") and p.alternatives[0][0] == "lost_or_stolen_card"

import json
from pathlib import Path

import pytest

from bot import HelplineModel, Prediction
from bot.model.emotions import GOEMOTIONS_LABELS, SENTIMENTS
from bot.model.format import METADATA_FILE


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return HelplineModel.from_pretrained(tiny_model_dir, backend="torch")


def test_model_directory_holds_the_contract(tiny_model_dir):
    meta = json.loads((Path(tiny_model_dir) / METADATA_FILE).read_text())
    assert meta["format_version"] == 1
    assert meta["intent_labels"] == ["cancel", "greeting", "order_status", "refund"]
    assert meta["emotion_labels"] == list(GOEMOTIONS_LABELS)
    assert set(meta["emotion_thresholds"]) == set(GOEMOTIONS_LABELS)
    assert 0.0 <= meta["oos_threshold"] < 1.0
    assert meta["training"]["data"][0]["sha256"] and meta["training"]["steps"] == 30
    # trained on every example by default (no out-of-scope examples to hold out): emotion validation scores only
    validation = meta["metrics"]["validation"]
    assert "emotion_macro_f1" in validation and "intent_accuracy" not in validation
    card = (Path(tiny_model_dir) / "README.md").read_text()
    assert "order_status" in card and "Validation metrics" in card and "trained on every example" in card


def test_predict_one_text_and_a_list(model):
    one = model.predict("where is my order")
    assert isinstance(one, Prediction)
    assert one.intent in model.intent_labels + ["oos"]
    assert set(one.emotions) == set(GOEMOTIONS_LABELS)
    assert one.sentiment in SENTIMENTS and 0.0 <= one.frustration <= 1.0
    many = model.predict(["hello", "cancel my order", "where is my order"])
    assert [p.text for p in many] == ["hello", "cancel my order", "where is my order"]
    # batching and length-sorting do not change a prediction
    assert many[2].emotions == pytest.approx(one.emotions, abs=1e-4)


def test_optional_components_load_in_one_loop_and_a_save_without_one_removes_its_files(model, tmp_path):
    import json
    import shutil

    target = tmp_path / "copy"
    model.save_pretrained(target)
    (target / "upset").mkdir()
    (target / "upset" / "upset.json").write_text("{}")               # a stale head of another encoder
    metadata = json.loads((target / "helpline.json").read_text())
    listed = metadata["components"]
    assert listed == [name for name in ("lexical", "oos", "upset", "mood", "spelling")
                      if getattr(model, name) is not None]
    with pytest.raises(ValueError, match="refit it"):                # the loop reads every component it finds
        HelplineModel.from_pretrained(target, backend="torch")
    model.save_pretrained(target)                                     # saving again cleans up what it has not
    assert not (target / "upset").exists()
    for reader in (HelplineModel.from_pretrained(target), HelplineModel.from_pretrained(target, backend="torch")):
        assert [name for name in ("lexical", "oos", "upset", "mood", "spelling")
                if getattr(reader, name) is not None] == listed
    shutil.rmtree(target)


def test_save_and_load_round_trip(model, tmp_path):
    model.save_pretrained(tmp_path / "copy")
    again = HelplineModel.from_pretrained(tmp_path / "copy", backend="torch")
    a, b = model.predict("refund please"), again.predict("refund please")
    assert (a.intent, a.alternatives) == (b.intent, b.alternatives)
    assert a.emotions == b.emotions


@pytest.mark.parametrize("bad, message", [
    ("", r"text 0 is empty"),
    (["fine", "   "], r"text 1 is empty"),
    ([1], r"text 0 is a int, not a string"),
    (42, r"predict takes a string or a list of strings, not int"),
])
def test_predict_rejects_bad_input(model, bad, message):
    with pytest.raises(ValueError, match=message):
        model.predict(bad)


def test_loading_errors_say_what_to_do(tmp_path, tiny_model_dir):
    with pytest.raises(ValueError, match=r"the directory does not exist. Train one"):
        HelplineModel.from_pretrained(tmp_path / "nothing", backend="torch")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"not a Helpline model directory: helpline.json is missing"):
        HelplineModel.from_pretrained(tmp_path / "empty", backend="torch")
    import shutil
    shutil.copytree(tiny_model_dir, tmp_path / "future")
    meta_path = tmp_path / "future" / METADATA_FILE
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps(meta | {"format_version": 99}))
    with pytest.raises(ValueError, match=r"format_version 99 is not supported"):
        HelplineModel.from_pretrained(tmp_path / "future", backend="torch")
    meta_path.write_text("{broken")
    with pytest.raises(ValueError, match=r"is not valid JSON"):
        HelplineModel.from_pretrained(tmp_path / "future", backend="torch")


def test_from_base_rejects_bad_labels(tiny_base):
    with pytest.raises(ValueError, match=r"at least two distinct labels"):
        HelplineModel.from_base(tiny_base, ["a", "a"])

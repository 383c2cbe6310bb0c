"""The spelling corrector (bot/model/spelling.py): one typing slip put right before the encoder reads a message,
everything the model knows or cannot place left as written."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.model.spelling import SPELLING_FILE, Spelling, tokenizer_words

TRAINING = ["I want to activate my card", "my transfer was declined", "activate the new card please",
            "why was my transfer declined", "where is my refund"]


@pytest.fixture
def spelling():
    return Spelling.build(TRAINING, ["the", "cart", "##ing", "hi", "this", "is", "[CLS]", "42"])


def test_a_slip_is_put_right_in_the_words_case(spelling):
    assert spelling.correct("I want to actiavte my crad") == "I want to activate my card"     # swap, drop
    assert spelling.correct("Why was my transferr declnied?") == "Why was my transfer declined?"  # double, swap
    assert spelling.correct("ACTIVATR my Cqrd!") == "ACTIVATE my Card!"                          # neighbour keys


def test_known_words_names_numbers_and_other_scripts_are_left_as_written(spelling):
    assert spelling.correct("my cart") == "my cart"                     # a tokenizer word one edit from "card"
    assert spelling.correct("hi this is Lakisha") == "hi this is Lakisha"  # nothing one edit away: unchanged
    assert spelling.correct("card 1234, ab, xz") == "card 1234, ab, xz"   # numbers and words under 3 letters
    assert spelling.correct("карта café") == "карта café"               # other scripts, accented words
    assert tokenizer_words(["##ing", "▁hola", "Ġworld", "[SEP]", "42", "Card"]) == {"hola", "world", "card"}


def test_words_the_emotion_texts_use_more_than_once_are_read_as_written():
    other = ["cardi is on again", "love cardi", "one crd only"]     # "crd" once: it may be a slip itself
    spelling = Spelling.build(TRAINING, ["the"], other)
    assert spelling.correct("cardi and my crd") == "cardi and my card"
    assert "cardi" in spelling.known and "cardi" not in spelling.counts   # known, never what a slip becomes
    assert Spelling.build(TRAINING, ["the"]).correct("cardi") == "card"    # without them: read as an intent word


def test_the_corrector_survives_save_and_load_and_a_bad_file_says_what_to_do(spelling, tmp_path):
    spelling.save(tmp_path)
    again = Spelling.load(tmp_path)
    assert again.counts == spelling.counts and again.known == spelling.known
    assert again.correct("actiavte my crad") == "activate my card"
    assert Spelling.load(tmp_path / "missing") is None                  # a model without one reads as written
    (tmp_path / SPELLING_FILE).write_text(json.dumps({"format_version": 9, "words": {}, "known": []}))
    with pytest.raises(ValueError, match="format_version must be 1; refit it with `python -m finetune spelling"):
        Spelling.load(tmp_path)
    (tmp_path / SPELLING_FILE).write_text(json.dumps({"format_version": 1, "words": ["card"]}))
    with pytest.raises(ValueError, match="needs 'words' .word -> count. and 'known'"):
        Spelling.load(tmp_path)


def test_a_trained_model_reads_a_slipped_message_as_the_message(tiny_model_dir):
    from bot import HelplineModel

    model = HelplineModel.from_pretrained(tiny_model_dir)
    assert (Path(tiny_model_dir) / SPELLING_FILE).is_file() and "spelling" in model.metadata["components"]
    clean, slipped = model.predict(["where is my refund", "where is my refnud"])
    assert slipped.text == "where is my refnud"                         # the customer's words are kept
    assert slipped.intent == clean.intent and slipped.confidence == pytest.approx(clean.confidence)
    model.spelling = None                                               # without it, the encoder reads the slip
    assert not np.allclose(model.outputs(["where is my refnud"]).intent, model.outputs(["where is my refund"]).intent)


def test_the_spelling_command_fits_an_existing_model(tiny_model_dir, tiny_data, tmp_path):
    from bot import HelplineModel
    from finetune.__main__ import main

    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    (copy / SPELLING_FILE).unlink()
    assert HelplineModel.from_pretrained(copy).spelling is None
    assert main(["spelling", "--model", str(copy), "--intent-data", tiny_data["intents"]]) in (0, None)
    model = HelplineModel.from_pretrained(copy)
    assert model.spelling.counts["refund"] == 7 and "order" in model.spelling.counts
    assert json.loads((copy / "helpline.json").read_text())["spelling"]["words"] == len(model.spelling.counts)

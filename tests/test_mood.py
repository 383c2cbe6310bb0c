"""The mood head (frustration and sentiment in context), `python -m bot analyze`, and the live bot reading the
same in-context scores."""
import datetime as dt
import json

import numpy as np
import pytest

from bot import HelplineModel
from bot.batch.analyze import analyze_lines
from bot.conversation.service import Helpline
from bot.model.mood import CONTEXT_FEATURES, MoodContext, MoodHead, context_features, read_conversations
from bot.model.prediction import Prediction
from bot.store.conversations import Store
from intents import load_catalogue
from tests.conftest import run_bot


def prediction(text, intent="refund_status"):
    return Prediction(text=text, intent=intent, confidence=0.9, emotions={"neutral": 0.9})


def test_context_features_see_repeats_unhelpful_replies_and_waiting():
    context = MoodContext()
    first = context_features(0.2, prediction("where is my refund"), context, time=1000.0)
    context.add_customer("where is my refund", "refund_status", 0.2, time=1000.0)
    context.add_reply("Sorry, I didn't understand that. Could you rephrase?", time=1010.0)
    again = context_features(0.2, prediction("where is my refund??"), context, time=1610.0)
    named = dict(zip(CONTEXT_FEATURES, again))
    assert dict(zip(CONTEXT_FEATURES, first))["repeated_intent"] == 0.0
    assert named["repeated_intent"] == 1.0 and named["repeated_words"] == 1.0
    assert named["after_unhelpful_reply"] == 1.0 and named["again_without_reply"] == 0.0
    assert abs(named["minutes_waited"] - np.log1p(10.0)) < 1e-9    # 600 s since the bot's reply
    context.add_customer("where is my refund??", "refund_status", 0.6, time=1610.0)
    named = dict(zip(CONTEXT_FEATURES, context_features(0.2, prediction("hello?", "oos"), context, time=1700.0)))
    assert named["again_without_reply"] == 1.0 and named["repeated_intent"] == 0.0   # oos never "repeats"


def test_the_tiny_model_has_a_mood_head_that_survives_save_and_load(tiny_model_dir, tmp_path):
    classifier = HelplineModel.from_pretrained(tiny_model_dir)
    assert isinstance(classifier.mood, MoodHead) and classifier.metadata["mood"]["support_messages"] > 100
    classifier.mood.save(tmp_path)
    again = MoodHead.load(tmp_path)
    p = classifier.predict("this is the third time I ask, still no refund")
    assert again.read(p, MoodContext()) == classifier.mood.read(p, MoodContext())
    meta = json.loads((tmp_path / "mood" / "mood.json").read_text())
    meta["context_features"] = meta["context_features"][:-1]
    (tmp_path / "mood" / "mood.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="fitted on other features; refit it"):
        MoodHead.load(tmp_path)


def test_context_changes_the_score_of_a_repeated_complaint(tiny_model_dir):
    classifier = HelplineModel.from_pretrained(tiny_model_dir)
    complaint = "where is my refund"
    turns = [{"role": "customer", "text": complaint}]
    for _ in range(3):
        turns += [{"role": "bot", "text": "Sorry, I didn't understand that. Could you rephrase?"},
                  {"role": "customer", "text": complaint}]
    (read,) = read_conversations(classifier.predict, classifier.mood, [turns])
    scores = [p.frustration for _, p, _ in read]
    assert [i for i, _, _ in read] == [0, 2, 4, 6]
    assert scores[-1] > scores[0]                # the same words, read after three failed answers
    (alone,) = read_conversations(classifier.predict, classifier.mood, [turns[:1]])
    assert alone[0][1].frustration == scores[0]   # a single message is just that message




def test_analyze_writes_one_line_per_customer_message_in_input_order(tiny_model_dir, tmp_path):
    conversations = [{"id": f"c{i}", "messages": [{"role": "customer", "text": f"where is order {i}"},
                                                  {"role": "agent", "text": "Let me check."},
                                                  {"role": "customer", "text": "still nothing??"}]}
                     for i in range(700)]   # more than one chunk of conversations
    jsonl = tmp_path / "export.jsonl"
    jsonl.write_text("".join(json.dumps(c) + "\n" for c in conversations))
    csv = tmp_path / "export.csv"
    csv.write_text("conversation_id,role,text\nx,customer,hello\nx,bot,Hi! How can I help?\nx,customer,refund\n")
    out = tmp_path / "out.jsonl"
    result = run_bot("analyze", "--model", tiny_model_dir, "--transcripts", str(jsonl), str(csv), "--output", str(out))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1402 and "msg" in result.stderr
    assert [(r["conversation_id"], r["index"]) for r in rows[:4]] == [("c0", 0), ("c0", 2), ("c1", 0), ("c1", 2)]
    assert [(r["conversation_id"], r["index"], r["text"]) for r in rows[-2:]] == [("x", 0, "hello"),
                                                                                   ("x", 2, "refund")]
    assert set(rows[0]) == {"conversation_id", "index", "text", "intent", "confidence", "emotions", "sentiment",
                            "frustration"}


@pytest.mark.parametrize("content, error", [
    ('{"id": "a", "messages": [{"role": "customer", "text": "hi"}]}\nnot json\n', "export.jsonl:2: not valid JSON"),
    ('{"id": "a", "messages": [{"role": "robot", "text": "hi"}]}\n', "export.jsonl:1: message 0 has role 'robot'"),
    ("", "export.jsonl: no conversations found"),
])
def test_analyze_names_the_file_and_line_of_a_bad_transcript(tiny_model_dir, tmp_path, content, error):
    (tmp_path / "export.jsonl").write_text(content)
    out = tmp_path / "out.jsonl"
    result = run_bot("analyze", "--model", tiny_model_dir, "--transcripts", str(tmp_path / "export.jsonl"),
                 "--output", str(out))
    assert result.returncode == 2 and error in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and not (tmp_path / "out.jsonl.part").exists()


def test_the_live_bot_stores_what_analyze_prints(tiny_model_dir, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    helpline = Helpline(HelplineModel.from_pretrained(tiny_model_dir), load_catalogue(), store)
    conversation_id = None
    for text in ("where is my order", "where is my order??", "this is the third time I ask"):
        conversation_id = helpline.handle(text, conversation_id).conversation_id
    stored = store.conversation(conversation_id).messages
    transcript = {"id": conversation_id, "messages": [
        {"role": m.role, "text": m.text, "time": m.created.replace(tzinfo=dt.UTC).timestamp()}
        for m in stored]}   # SQLite hands back naive UTC times
    rows = list(analyze_lines(helpline.classifier, [transcript]))
    customer = [m for m in stored if m.role == "customer"]
    # the same scores, up to the int8 encoder's rounding: dynamic quantization scales a batch's activations
    # together, so analyze's batches and the live bot's single messages can differ in the fourth decimal
    assert [r["frustration"] for r in rows] == pytest.approx([m.frustration for m in customer], abs=2e-3)
    assert [r["sentiment"] for r in rows] == [m.sentiment for m in customer]

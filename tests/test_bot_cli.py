"""`python -m bot classify | chat | agents` and the Helpline service on the tiny real model."""
import json
from functools import partial

import pytest

from bot import HelplineModel
from bot.conversation.service import Helpline
from bot.store.conversations import Store
from intents import load_catalogue
from tests.conftest import run_bot

run = partial(run_bot, timeout=120)


def test_classify_texts_prints_one_json_line_each(tiny_model_dir):
    result = run("classify", "--model", tiny_model_dir, "where is my order", "hello")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["where is my order", "hello"]
    # the same fields as POST /api/classify (one serialisation: Prediction.summary), with the text
    assert set(rows[0]) == {"text", "intent", "confidence", "alternatives", "emotions", "sentiment", "frustration"}


def test_classify_file_keeps_order_and_flags_blank_lines(tiny_model_dir, tmp_path):
    lines = [f"where is order {i}" for i in range(1500)] + ["", "hello"]
    path = tmp_path / "messages.txt"
    path.write_text("\n".join(lines) + "\n")
    result = run("classify", "--model", tiny_model_dir, "--file", str(path), "--chunk", "500")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == lines
    assert rows[1500] == {"text": "", "error": "empty message"}
    assert "msg" in result.stderr   # the progress bar


@pytest.mark.parametrize("args, error", [
    (["classify", "--model", "/no/such/model", "hi"], "no model at /no/such/model"),
    (["classify"], "nothing to classify"),
])
def test_bad_input_is_one_clear_line(tiny_model_dir, args, error):
    result = run(*args)
    assert result.returncode == 2 and error in result.stderr and "Traceback" not in result.stderr


def test_chat_in_the_terminal(tiny_model_dir, tmp_path):
    result = run("chat", "--model", tiny_model_dir, "--db", f"sqlite:///{tmp_path / 'c.db'}",
                 stdin="where is my order\nI want a human\n\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("intent ") == 2 and "HANDOFF" in result.stdout


def test_agents_add(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    result = run("agents", "add", "ana", "--db", url, "--password-stdin", stdin="a long password\n")
    assert result.returncode == 0 and "agent ana added" in result.stdout
    assert Store(url).check_agent("ana", "a long password") is not None
    again = run("agents", "add", "ana", "--db", url, "--password-stdin", stdin="a long password\n")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_agents_admin_passwd_disable_and_purge(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert run("agents", "add", "boss", "--role", "admin", "--db", url, "--password-stdin",
               stdin="correct horse battery\n").returncode == 0
    store = Store(url)
    assert store.check_agent("boss", "correct horse battery").role == "admin"
    weak = run("agents", "passwd", "boss", "--db", url, "--password-stdin", stdin="password1\n")
    assert weak.returncode == 2 and "at least 12 characters" in weak.stderr
    changed = run("agents", "passwd", "boss", "--db", url, "--password-stdin", stdin="staple battery horse\n")
    assert changed.returncode == 0
    assert store.check_agent("boss", "staple battery horse") is not None
    assert run("agents", "disable", "boss", "--db", url).returncode == 0
    assert store.check_agent("boss", "staple battery horse") is None
    listed = run("agents", "list", "--db", url)
    assert "boss\tadmin\tdisabled" in listed.stdout
    missing = run("agents", "disable", "nobody", "--db", url)
    assert missing.returncode == 2 and "no agent named 'nobody'" in missing.stderr
    purged = run("purge", "--days", "30", "--db", url)
    assert purged.returncode == 0 and "deleted 0 conversations" in purged.stdout


def test_service_on_the_real_classifier(tiny_model_dir, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    helpline = Helpline(HelplineModel.from_pretrained(tiny_model_dir), load_catalogue(), store)
    turn = helpline.handle("my card 4111 1111 1111 1111 was charged, call +44 7700 900123")
    message = store.conversation(turn.conversation_id).messages[0]
    assert message.text == "my card [CARD] was charged, call [PHONE]"
    assert message.model_version == helpline.classifier.version
    for bad, error in [("", "message is empty"), ("x" * 2001, "2001 characters"), (42, "must be a string")]:
        with pytest.raises(ValueError, match=error):
            helpline.handle(bad)
    with pytest.raises(ValueError, match="conversation_id must be"):
        helpline.handle("hi", "<script>")

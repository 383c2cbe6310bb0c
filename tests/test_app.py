"""The Gradio app, driven through gradio_client as a user's script would."""
from types import SimpleNamespace

import pytest

import app


@pytest.fixture(scope="module")
def client(tiny_model_dir, tmp_path_factory):
    from gradio_client import Client

    app.settings.model_dir = tiny_model_dir
    app.settings.db = f"sqlite:///{tmp_path_factory.mktemp('app-db') / 'helpline.db'}"
    app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    yield Client(app.demo.local_url, verbose=False)
    app.demo.close()


def test_chat_answers_with_intent_and_emotion(client):
    box, history, details, emotions = client.predict("where is my order?", [], None, api_name="/chat")
    assert box == ""
    # Gradio 6 returns message content as a list of typed parts
    assert history[0]["role"] == "user" and history[0]["content"][0]["text"] == "where is my order?"
    assert history[1]["role"] == "assistant" and history[1]["content"][0]["text"]
    assert "**Intent:**" in details and "**Sentiment:**" in details
    assert emotions["label"]
    assert app.helpline().store.count_messages() == 2   # the turn is in the database


def test_chat_rejects_an_empty_message(client):
    with pytest.raises(Exception, match="message is empty"):
        client.predict("   ", [], None, api_name="/chat")


def test_first_start_builds_a_model_only_when_missing(tiny_model_dir, tmp_path, monkeypatch):
    from bot import bootstrap
    from bot.settings import Settings

    calls = []
    def fake_run(cmd, env):
        calls.append(cmd)
        return SimpleNamespace(returncode=1)

    monkeypatch.setattr(bootstrap.subprocess, "run", fake_run)
    bootstrap.ensure_model(Settings(model_dir=tiny_model_dir))
    assert calls == []
    with pytest.raises(SystemExit, match="no GoEmotions data to build one: set HELPLINE_DATA"):
        bootstrap.ensure_model(Settings(model_dir=str(tmp_path / "new"), data_dir=str(tmp_path)))
    (tmp_path / "goemotions" / "original").mkdir(parents=True)
    with pytest.raises(SystemExit, match="Building the default model failed"):
        bootstrap.ensure_model(Settings(model_dir=str(tmp_path / "new"), data_dir=str(tmp_path)))
    assert calls[0][1:4] == ["-m", "finetune", "train"] and calls[0][-1] == str(tmp_path / "new")


def test_first_start_command_is_a_valid_train_command(tiny_data):
    from bot.bootstrap import train_command
    from bot.settings import Settings
    from finetune.train import parse

    cmd = train_command(Settings(model_dir="models/x"))
    assert cmd[1:4] == ["-m", "finetune", "train"]
    args = parse(cmd[4:])
    assert args.output == "models/x" and args.epochs == 3 and args.emotion_examples_per_epoch == 12000
    assert args.intent_data[0].endswith("retail.yaml")

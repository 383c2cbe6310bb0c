"""Shared fixtures: a tiny random-weight encoder (seconds, no downloads) and tiny data files."""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("HELPLINE_DATA", ROOT.parent / "shared" / "datasets"))

TINY_INTENTS = {
    "order_status": ["where is my order", "when will my parcel arrive", "track my package", "order status please",
                     "has my order shipped", "my order hasn't come", "where's my delivery", "is my order on the way"],
    "refund": ["i want my money back", "refund please", "where is my refund", "how do i get a refund",
               "refund my order", "give me a refund now", "refund status", "did you refund me"],
    "greeting": ["hi", "hello", "hey there", "good morning", "hiya", "hello there", "good evening", "hey"],
    "cancel": ["cancel my order", "i want to cancel", "stop my order", "cancel the subscription",
               "please cancel", "cancel it", "how do i cancel", "cancel my plan"],
}
TINY_EMOTION_ROWS = [("this is great, thank you so much", "15"), ("I am so angry right now", "2"),
                     ("why is this so slow, annoying", "3"), ("ok", "27"), ("I love it", "18"),
                     ("this makes me sad", "25"), ("wow I did not expect that", "26"), ("fine", "27"),
                     ("that's disappointing", "9"), ("thanks, really helpful", "15,4")]


def run_bot(*args, stdin=None, timeout=300):
    """`python -m bot ARGS` in a child process, as a user runs it (stdout, stderr and the exit code captured)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True,
                          input=stdin, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> str:
    """A 2-layer, 32-wide BERT with random weights and the bundled MiniLM tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from bot.model.base_models import bundled_minilm_path

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-base")
    tokenizer = AutoTokenizer.from_pretrained(bundled_minilm_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> dict[str, str]:
    """A tiny intent CSV, an intent test CSV with an oos row, and a tiny GoEmotions folder."""
    from bot.model.emotions import GOEMOTIONS_LABELS

    path = tmp_path_factory.mktemp("tiny-data")
    rows = [(text, intent) for intent, texts in TINY_INTENTS.items() for text in texts]
    (path / "intents.csv").write_text("text,intent\n" + "".join(f"{t},{i}\n" for t, i in rows))
    (path / "test.csv").write_text("text,intent\n" + "".join(f"{t},{i}\n" for t, i in rows[::3])
                                   + "what is the weather on mars,oos\n")
    emotions = path / "goemotions"
    emotions.mkdir()
    (emotions / "labels.txt").write_text("\n".join(GOEMOTIONS_LABELS) + "\n")
    rng = random.Random(0)
    lines = [f"{t}\t{labels}\tid{i}" for i, (t, labels) in enumerate(TINY_EMOTION_ROWS * 3)]
    rng.shuffle(lines)
    (emotions / "train.tsv").write_text("\n".join(lines) + "\n")
    (emotions / "dev.tsv").write_text("\n".join(lines[:10]) + "\n")
    return {"intents": str(path / "intents.csv"), "test": str(path / "test.csv"), "emotions": str(emotions),
            "emotion_test": str(emotions / "dev.tsv"), "dir": str(path)}


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_base, tiny_data, tmp_path_factory) -> str:
    """A trained (a few steps) tiny Helpline model directory."""
    from finetune.train import main

    out = tmp_path_factory.mktemp("tiny-model") / "model"
    main(["--intent-data", tiny_data["intents"], "--emotion-data", tiny_data["emotions"], "--base-model",
          tiny_base, "--output", str(out), "--max-steps", "30", "--min-task-examples", "32", "--batch-size", "8",
          "--mood-head", "--no-upset-head"])   # the upset head's own tests fit it on tiny data (test_upset.py)
    return str(out)


# ------------------------------------------------------------------------------------------ the store
POSTGRES_URL = os.environ.get("HELPLINE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh database URL: a SQLite file, and a new PostgreSQL database on the local server.

    Without a reachable PostgreSQL the postgresql cases are skipped, unless HELPLINE_REQUIRE_POSTGRES=1
    (set by .ci/run, which installs and starts it): then they fail.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'helpline.db'}"
        return
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"helpline_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        if os.environ.get("HELPLINE_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}: {str(exc).splitlines()[0]}")
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class StubClassifier:
    """Predictions chosen by keywords, so tests of the conversation logic are exact and instant."""
    version = "stub-1"
    RULES = {"refund": "refund_status", "where": "order_status", "human": "speak_to_human",
             "charged twice": "double_charge", "hello": "greeting", "bye": "goodbye"}
    intent_labels = sorted(set(RULES.values()))
    mood = None   # no in-context mood head: frustration is the prediction's own

    def predict(self, text):
        """One text -> a Prediction, a list -> a list (as `HelplineModel.predict`; the service batches)."""
        from bot.model.prediction import OOS, Prediction

        if isinstance(text, list):
            return [self.predict(one) for one in text]
        intent = next((i for k, i in self.RULES.items() if k in text.lower()), OOS)
        angry = "!!" in text
        emotions = {"anger": 0.9 if angry else 0.01, "neutral": 0.1 if angry else 0.8}
        return Prediction(text=text, intent=intent, confidence=0.95 if intent != OOS else 0.7,
                          alternatives=[(intent if intent != OOS else "greeting", 0.95), ("goodbye", 0.01)],
                          emotions=emotions, detected_emotions=["anger"] if angry else ["neutral"],
                          sentiment="negative" if angry else "neutral", frustration=0.8 if angry else 0.0)


# ------------------------------------------------------------------------------------------- the app
AGENT = ("ana", "correct horse battery")
AUTOMATION_TOKEN = "automation-token-for-tests"


@pytest.fixture(scope="session")
def served(tiny_model_dir, tmp_path_factory):
    """The whole app (UI + REST API + widget) on a free port, on the tiny model and a fresh SQLite file."""
    import app
    from tests.server import Server

    app.settings.model_dir = tiny_model_dir
    app.settings.db = f"sqlite:///{tmp_path_factory.mktemp('app-db') / 'helpline.db'}"
    app.settings.agent_token = AUTOMATION_TOKEN
    app.settings.rate_limits = "off"  # many tests chat from one address; the limits have their own tests
    app.helpline().store.add_agent(*AGENT, role="admin")
    with Server(app.build_app()) as server:
        yield server


@pytest.fixture
def keyword_model(served):
    """The served app on the keyword stub classifier for one test: the tiny model routes at random, and the
    handoff path should run for real (the policy hands off, the conversation waits in the queue)."""
    import app

    original = app.helpline().classifier
    app.helpline().swap_classifier(StubClassifier())
    yield
    app.helpline().swap_classifier(original)


def agent_cookie(url: str, name: str = AGENT[0], password: str = AGENT[1]) -> dict:
    """The Cookie header of an agent session, made by the /login form as a browser would."""
    import httpx

    from bot.serving.agent_session import COOKIE

    answer = httpx.post(f"{url}/login", data={"name": name, "password": password})
    assert answer.status_code == 303, answer.text[:300]
    return {"Cookie": f"{COOKIE}={answer.cookies[COOKIE]}"}


def agent_client(url: str, name: str = AGENT[0], password: str = AGENT[1]):
    """A gradio_client on the agents' app (/agent), logged in as ``name``."""
    from gradio_client import Client

    return Client(f"{url}/agent/", headers=agent_cookie(url, name, password), verbose=False)

"""Learning from new transcripts: label sources, conflicts, the registry's promotion gate, rollback, hot reload,
active learning and intent discovery."""
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from bot import HelplineModel
from bot.conversation.service import Helpline
from bot.registry.versions import Registry, RegistryError, resolve_model_dir
from bot.serving.reloader import ModelWatcher
from bot.store.conversations import Store
from finetune import retrain
from finetune.discover import choose_k, discover, key_terms
from intents import load_catalogue
from tests.conftest import StubClassifier


def write_transcripts(path: Path) -> Path:
    conversations = [
        {"id": "c1", "tags": ["refund_request"], "messages": [
            {"role": "customer", "text": "I want my money back for the blender"},
            {"role": "agent", "text": "Sure."}, {"role": "customer", "text": "thanks"}]},
        {"id": "c2", "messages": [{"role": "customer", "text": "where is my parcel", "intent": "order_status"},
                                  {"role": "customer", "text": "Where is my parcel", "intent": "order_status"}]},
        {"id": "c3", "tags": ["billing"], "messages": [{"role": "customer", "text": "where is my parcel"}]},
        {"id": "c4", "tags": ["ignored_tag"], "messages": [{"role": "customer", "text": "jo@example.com"}]},
        {"id": "c5", "messages": [{"role": "customer", "text": "cancel my plan", "intent": "cancel"},
                                  {"role": "customer", "text": "cancel my plan", "intent": "pause"}]},
    ]
    path.write_text("\n".join(json.dumps(c) for c in conversations) + "\n")
    return path


def test_label_sources_priority_conflicts_and_drops(tmp_path):
    transcripts = write_transcripts(tmp_path / "t.jsonl")
    examples, unlabelled = retrain.transcript_examples([str(transcripts)], {"refund_request": "refund",
                                                                           "ignored_tag": None})
    assert ("I want my money back for the blender", "refund", "tag") in examples   # tag via the map
    assert ("where is my parcel", "billing", "tag") in examples                    # unmapped tag: itself
    assert "thanks" in unlabelled and "jo@example.com" in unlabelled               # ignored tag: unlabelled
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    turn = Helpline(StubClassifier(), load_catalogue(), store).handle("where is my parcel")
    store.correct_label(turn.message_id, "delivery_problem")
    corrections, stored = retrain.store_examples(store.url)
    examples = corrections + examples + [("jo@example.com", "contact", "message_intent")]
    collected = retrain.resolve(examples, min_examples=1)
    pairs = dict(collected.pairs)
    report = collected.report
    assert pairs["where is my parcel"] == "delivery_problem"    # an agent correction beats every other source
    assert "cancel my plan" not in pairs                        # a tie at the same trust: dropped
    assert report["dropped_duplicates"] >= 2 and report["dropped_empty_after_redaction"] == 1
    assert report["conflicts"] == 2 and report["dropped_unresolved_conflicts"] == 1
    assert report["examples_by_source"]["correction"] == 1


def test_pseudo_labels_only_above_the_threshold(tiny_model_dir):
    texts = ["where is my order", "hello", "cancel my order"]
    predictions = {p.text: p for p in HelplineModel.from_pretrained(tiny_model_dir).predict(texts)}
    labelled = retrain.pseudo_labels(tiny_model_dir, texts, 0.0)
    assert labelled and all(source == "pseudo" and intent == predictions[text].intent != "oos"
                            for text, intent, source in labelled)
    middle = sorted(p.confidence for p in predictions.values())[1]  # a threshold between the confidences
    assert {t for t, _, _ in retrain.pseudo_labels(tiny_model_dir, texts, middle)} == \
        {t for t, p in predictions.items() if p.confidence >= middle and p.intent != "oos"}
    assert retrain.pseudo_labels(tiny_model_dir, texts, 1.01) == []


def test_retrain_extends_the_labels_and_keeps_the_emotion_head(tiny_model_dir, tiny_data, tmp_path):
    transcripts = tmp_path / "t.jsonl"
    lines = [{"id": f"c{i}", "tags": ["warranty_claim" if i % 2 else "order_status"], "messages": [
        {"role": "customer", "text": f"{'my kettle broke, is it under warranty' if i % 2 else 'where is my order'} "
                                     f"{i}"}]} for i in range(24)]
    transcripts.write_text("\n".join(json.dumps(c) for c in lines))
    out = tmp_path / "retrained"
    model = retrain.main(["--transcripts", str(transcripts), "--init_from", tiny_model_dir, "--emotion_data",
                          tiny_data["emotions"], "--output", str(out), "--max_steps", "10", "--batch_size", "8",
                          "--min_task_examples", "16", "--no_upset_head"])
    assert "warranty_claim" in model.intent_labels and "greeting" in model.intent_labels  # old + new intents
    report = json.loads((out / "retrain_report.json").read_text())
    assert report["examples_by_intent"] == {"warranty_claim": 12, "order_status": 12}
    assert HelplineModel.from_pretrained(out).backend == "onnx"


def test_retrain_learns_from_csat_ratings_in_the_store(tiny_model_dir, tiny_data, tmp_path):
    from bot.store.conversations import Store
    from finetune.mood_fit import csat_labelled

    db = f"sqlite:///{tmp_path / 'rated.db'}"
    helpline = Helpline(HelplineModel.from_pretrained(tiny_model_dir), load_catalogue(), Store(db))
    for i in range(6):
        first = helpline.handle("where is my order")
        helpline.handle("still nothing, third time I ask" if i % 2 else "great, thanks", first.conversation_id)
        helpline.store.rate(first.conversation_id, 1 if i % 2 else 5)
    rated = helpline.store.rated_conversations()
    assert sorted(csat for _, csat in rated) == [1, 1, 1, 5, 5, 5]
    weak = csat_labelled(helpline.classifier.predict, helpline.classifier.mood, rated)
    labels = [[m.get("emotions") for m in c["messages"] if m["role"] == "customer"] for c in weak]
    for (_, csat), found in zip(rated, labels):   # low: exactly one message marked upset; high: all calm
        assert found.count(["annoyance"]) == 1 and found.count(None) == 1 if csat == 1 else \
            found == [["neutral"], ["neutral"]]
    out = tmp_path / "retrained"
    retrain.main(["--from_store", "--db", db, "--intent_data", tiny_data["intents"], "--init_from", tiny_model_dir,
                  "--emotion_data", tiny_data["emotions"], "--output", str(out), "--max_steps", "5",
                  "--batch_size", "8", "--min_task_examples", "16", "--mood_head", "--no_upset_head"])
    mood = HelplineModel.from_pretrained(out).metadata["mood"]
    assert mood["rated_conversations"] - mood["star_conversations"] == 6   # the store's, beside STAR's reports


def test_retrain_without_data_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="nothing to learn from"):
        retrain.main(["--output", str(tmp_path / "x")])


# ------------------------------------------------------------------------------------------- registry
@pytest.fixture
def registry(tiny_model_dir, tmp_path):
    registry = Registry(tmp_path / "registry")
    for version in ("v1", "v2"):
        shutil.copytree(tiny_model_dir, registry.path_of(version))
    registry.add("v1", {"intent_accuracy": 0.90, "oos_recall": 0.80, "emotion_macro_f1": 0.50}, produced_by="test")
    registry.add("v2", {"intent_accuracy": 0.85, "oos_recall": 0.85, "emotion_macro_f1": 0.50}, produced_by="test")
    return registry


def test_promotion_gate_both_ways_and_rollback(registry):
    assert registry.serving == "v1"                                   # the first version serves
    with pytest.raises(RegistryError, match=r"intent_accuracy 0.8500 vs 0.9000"):
        registry.promote("v2")
    with pytest.raises(RegistryError, match="needs a --reason"):
        registry.promote("v2", force=True)
    event = registry.promote("v2", force=True, reason="new intents matter more", by="ana")
    assert registry.serving == "v2" and event["forced"] and event["reason"] == "new intents matter more"
    registry.rollback()
    assert registry.serving == "v1"
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        registry.rollback()
    registry.add("v2", {"intent_accuracy": 0.895, "oos_recall": 0.80, "emotion_macro_f1": 0.50})
    assert registry.compare("v2") == [] and registry.promote("v2")["forced"] is False   # within tolerance


def test_the_gate_refuses_a_candidate_that_is_less_fair_and_the_register_command_audits(registry, tiny_model_dir,
                                                                                        tiny_data, tmp_path):
    fair = {"intent_accuracy": 0.90, "oos_recall": 0.80, "emotion_macro_f1": 0.50, "audit_flip_rate": 0.01,
            "audit_frustration_gap": 0.02, "audit_negative_gap": 0.03}
    registry.add("v1", fair)
    registry.add("v2", {**fair, "audit_frustration_gap": 0.17})                 # as accurate, reads names apart
    with pytest.raises(RegistryError, match=r"audit_frustration_gap 0.1700 vs 0.0200 .*less fair"):
        registry.promote("v2")
    registry.add("v2", {**fair, "audit_flip_rate": 0.015})                      # within the margin
    assert registry.compare("v2") == []

    from finetune.registry_cli import register

    audited = Registry(tmp_path / "audited")
    version = register(audited, tiny_model_dir, tiny_data["test"], None, audit_data=tiny_data["intents"])
    metrics = audited.versions()[version]["metrics"]
    assert {"audit_flip_rate", "audit_frustration_gap", "audit_negative_gap"} <= set(metrics)
    assert audited.read()["evaluation"]["audit_data"] == tiny_data["intents"]   # kept for the next version


def test_register_and_promote_commands(tiny_model_dir, tiny_data, tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    def run(*args):
        return subprocess.run([sys.executable, "-m", "finetune", *args, "--registry", str(tmp_path / "r")],
                              cwd=ROOT, capture_output=True, text=True)

    first = run("register", "--model", tiny_model_dir, "--intent-test", tiny_data["test"])
    assert first.returncode == 0 and "registered v1" in first.stdout, first.stderr
    second = run("register", "--model", tiny_model_dir)                  # the evaluation set is kept
    assert second.returncode == 0 and "registered v2" in second.stdout, second.stderr
    assert "v2 now serves" in run("promote", "v2").stdout                # same model: no regression
    assert "v1 serves again" in run("rollback").stdout
    listing = run("versions").stdout
    assert "* v1" in listing and "  v2" in listing
    bad = run("promote", "v9")
    assert bad.returncode == 2 and "no version v9" in bad.stderr


def test_hot_reload_swaps_models_without_failing_requests(registry, tmp_path):
    helpline = Helpline(HelplineModel.from_pretrained(resolve_model_dir(registry.root)), load_catalogue(),
                        Store(f"sqlite:///{tmp_path / 'h.db'}"))
    watcher = ModelWatcher(helpline, str(registry.root), HelplineModel.from_pretrained)
    first = helpline.classifier
    errors, stop = [], threading.Event()

    def customer():
        while not stop.is_set():
            try:
                helpline.handle("where is my order")
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=customer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        registry.promote("v2", force=True, reason="test")
        assert watcher.check() and helpline.classifier is not first        # the new model serves
        meta = registry.path_of("v1") / "helpline.json"
        meta.write_text("{broken")                                          # a model that fails to load
        registry.rollback()
        serving = helpline.classifier
        assert not watcher.check()
        assert helpline.classifier is serving and "could not load" in watcher.last_error   # old one keeps serving
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []


def test_the_watcher_serves_an_edited_catalogue_and_keeps_the_last_good_one(tmp_path):
    from intents import DEFAULT_CATALOGUE
    from intents.editing import add_intent

    path = tmp_path / "catalogue.yaml"
    shutil.copy(DEFAULT_CATALOGUE, path)
    helpline = Helpline(StubClassifier(), load_catalogue(path), Store(f"sqlite:///{tmp_path / 'h.db'}"))
    watcher = ModelWatcher(helpline, str(tmp_path / "no-model"), HelplineModel.from_pretrained, catalogue=str(path))
    assert not watcher.check_catalogue()                                    # unchanged
    add_intent(path, "gift_wrapping", [f"can you gift wrap {thing}" for thing in
                                       ("it", "my order", "the shoes", "a present", "two items", "this",
                                        "the parcel", "my gift", "the box", "everything")])
    assert watcher.check_catalogue() and "gift_wrapping" in helpline.catalogue
    path.write_text("version: [broken")                                     # a broken edit
    assert not watcher.check_catalogue() and "gift_wrapping" in helpline.catalogue


# ------------------------------------------------------------------------------- active learning, discovery
def test_review_queue_puts_the_least_sure_first(tmp_path):
    class Unsure(StubClassifier):
        def predict(self, text):
            if isinstance(text, list):  # the stub calls this method for each text
                return super().predict(text)
            p = super().predict(text)
            margin = 0.05 if "maybe" in text else 0.8
            p.alternatives = [("order_status", 0.85), ("refund_status", 0.85 - margin)]
            return p

    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    helpline = Helpline(Unsure(), load_catalogue(), store)
    sure = helpline.handle("where is my order")
    unsure = helpline.handle("maybe my refund or my order")
    queue = store.review_queue()
    assert [m.id for m, _ in queue][:2] == [unsure.message_id, sure.message_id]
    store.correct_label(unsure.message_id, "refund_status")
    assert unsure.message_id not in [m.id for m, _ in store.review_queue()]   # labelled: off the queue


def test_discovery_finds_synthetic_clusters_and_names_them():
    rng = np.random.default_rng(0)
    topics = {"gift": "gift wrapping for my present", "loyalty": "loyalty points balance missing",
              "store": "opening hours of the store near me"}
    texts, vectors = [], []
    for k, (name, phrase) in enumerate(topics.items()):
        center = np.zeros(16)
        center[k] = 1.0
        for i in range(12):
            texts.append(f"{phrase} {i}")
            vectors.append(center + rng.normal(0, 0.05, 16))
    vectors = np.array(vectors) / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert choose_k(vectors, 2, 6) == 3
    candidates = discover(texts, vectors)
    assert sorted(c["size"] for c in candidates) == [12, 12, 12]
    names = " ".join(c["name"] for c in candidates)
    assert "gift" in names and "loyalty" in names and ("hours" in names or "store" in names)
    assert key_terms(["a b", "c d"], np.array([0, 1]))   # tiny inputs do not crash
    with pytest.raises(ValueError, match="at least 4 messages"):
        discover(texts[:3], vectors[:3])


def test_background_retrain_job_registers_a_candidate(tiny_model_dir, tiny_data, tmp_path):
    import time

    from bot.registry import jobs
    from finetune.registry_cli import register
    from intents import DEFAULT_CATALOGUE

    registry = Registry(tmp_path / "registry")
    register(registry, tiny_model_dir, tiny_data["test"], None)
    store = Store(f"sqlite:///{tmp_path / 'j.db'}")
    turn = Helpline(StubClassifier(), load_catalogue(), store).handle("where is my parcel")
    store.correct_label(turn.message_id, "order_status")
    job = jobs.start_retrain(str(registry.root), store.url, str(DEFAULT_CATALOGUE), started_by="ana",
                             extra_args=["--emotion_data", tiny_data["emotions"], "--max_steps", "5",
                                         "--batch_size", "8", "--min_task_examples", "16"])
    with pytest.raises(ValueError, match="already running"):
        jobs.start_retrain(str(registry.root), store.url, str(DEFAULT_CATALOGUE))
    deadline = time.time() + 300
    while jobs.status(str(registry.root), job)["state"] == "running" and time.time() < deadline:
        time.sleep(1)
    state = jobs.status(str(registry.root), job)
    assert state["state"] == "done", state.get("log")
    assert state["version"] == "v2" and "v2" in registry.versions() and registry.serving == "v1"
    assert state["progress"]["step"] == state["progress"]["total"] == 5
    from ui.model_data import comparison, history_table

    summary, deltas, _ = comparison(registry, "v2")
    assert "against serving **v1**" in summary and len(deltas)
    assert list(history_table(registry)["version"]) == ["v2", "▶ v1"]


@pytest.mark.parametrize("text, small", [("Hello", True), ("hi there!", True), ("Hey you", True), ("help", True),
                                         ("hi, my card was stolen", False), ("where is my order", False)])
def test_small_talk_is_not_an_opening(text, small):
    from bot.batch.transcripts import is_small_talk

    assert is_small_talk(text) == small


def test_tags_label_the_first_message_that_is_not_a_greeting(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"id": "c", "tags": ["ride_booking"], "messages": [
        {"role": "customer", "text": "Hello"}, {"role": "agent", "text": "Hi, how can I help?"},
        {"role": "customer", "text": "I need a ride to the airport"}]}) + "\n")
    labelled, unlabelled = retrain.transcript_examples([str(path)], {})
    assert labelled == [("I need a ride to the airport", "ride_booking", "tag")] and unlabelled == ["Hello"]

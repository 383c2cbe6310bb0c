"""The accuracy benchmark's baselines and report, on tiny data (the benchmark itself runs outside the tests)."""
import pytest

from benchmarks.baselines import tfidf_svc_intents
from benchmarks.report import table, update_results_md


def test_tfidf_baseline_learns_a_lexical_task():
    train_x = ["refund please", "i want a refund", "my refund", "cancel it", "cancel my order", "please cancel"]
    train_y = ["refund"] * 3 + ["cancel"] * 3
    assert tfidf_svc_intents(train_x, train_y, ["refund now", "cancel now"]) == ["refund", "cancel"]


def test_report_shows_ratios_against_both_baselines(tmp_path):
    record = {"mode": "validation", "date": "2026-11-25", "machine": "2 cores", "command": "accuracy.py",
              "results": {"banking77": {"tfidf_svc": {"intent_accuracy": 0.8}, "frozen_lr": {"intent_accuracy": 0.9},
                                        "helpline": {"intent_accuracy": 0.936, "train_seconds": 600,
                                                     "peak_rss_mb": 1200}}}}
    text = table(record)
    assert "| banking77 | Helpline | accuracy | 0.9360 | 1.170x | 1.040x | - | 600 s | 1200 MB |" in text
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\nintro\n")
    update_results_md(record, path)
    update_results_md(record, path)  # a second run replaces its section instead of appending
    assert path.read_text().count("accuracy-validation:start") == 1 and "intro" in path.read_text()


def test_report_shows_the_paired_intervals_of_helpline_rows():
    vs = {"frozen_lr": {"intent_accuracy": {"difference": 0.012, "ci95": [0.004, 0.0205]}}}
    record = {"mode": "validation", "date": "2026-11-26", "machine": "2 cores", "command": "accuracy.py",
              "results": {"banking77": {"frozen_lr": {"intent_accuracy": 0.93},
                                        "helpline": {"intent_accuracy": 0.942, "vs": vs}}}}
    assert "| 1.013x | frozen +1.2 (+0.4 to +2.1) |" in table(record)


def test_paired_interval_is_narrow_when_methods_differ_on_few_messages():
    import numpy as np

    from benchmarks.significance import compare

    rng = np.random.default_rng(1)
    truth = list(rng.choice(["a", "b", "c"], size=1000))
    baseline = [t if i % 10 else "wrong" for i, t in enumerate(truth)]          # 90% right
    ours = [t if i % 10 or i % 20 == 0 else "wrong" for i, t in enumerate(truth)]  # the same, plus 50 more right
    result = compare("intent", truth, {"helpline": ours, "frozen_lr": baseline})["frozen_lr"]["intent_accuracy"]
    assert result["difference"] == 0.05
    low, high = result["ci95"]
    # each accuracy alone has a standard error of ~0.8 points; the paired difference is surely above zero
    assert 0.03 < low < 0.05 < high < 0.07
    tie = compare("intent", truth, {"helpline": baseline, "frozen_lr": baseline})["frozen_lr"]["intent_accuracy"]
    assert tie == {"difference": 0.0, "ci95": [0.0, 0.0]}


def test_emotion_intervals_match_scikit_learn_on_the_full_sample():
    import numpy as np
    from sklearn.metrics import f1_score

    from benchmarks.significance import emotion_scores

    rng = np.random.default_rng(0)
    truth = (rng.random((300, 5)) < 0.3).astype(np.float32)
    predicted = np.where(rng.random((300, 5)) < 0.8, truth, 1 - truth)
    everything_once = np.ones((1, 300))
    scores = emotion_scores(truth, predicted, everything_once)
    assert np.isclose(scores["emotion_macro_f1"][0], f1_score(truth, predicted, average="macro"))
    assert np.isclose(scores["emotion_micro_f1"][0], f1_score(truth, predicted, average="micro"))


def test_oos_rows_get_their_own_intervals():
    from benchmarks.significance import compare

    truth = ["a", "b", "oos", "oos"] * 50
    ours = ["a", "b", "oos", "a"] * 50
    theirs = ["a", "a", "a", "a"] * 50
    result = compare("intent", truth, {"helpline": ours, "tfidf_svc": theirs})["tfidf_svc"]
    assert result["oos_recall"]["difference"] == 0.5 and result["in_scope_accuracy"]["difference"] == 0.5


def test_hungarian_accuracy_matches_clusters_to_labels():
    import numpy as np

    from benchmarks.discovery import hungarian_accuracy, scores

    truth = ["a", "a", "b", "b", "c", "c"]
    assert hungarian_accuracy(truth, np.array([2, 2, 0, 0, 1, 1])) == 1.0      # names do not matter
    assert hungarian_accuracy(truth, np.array([0, 0, 0, 0, 1, 1])) == 4 / 6
    assert scores(truth, [1, 1, 2, 2, 0, 0])["nmi"] == 1.0


def test_retrain_benchmark_uses_single_tag_openings_and_a_stratified_split():
    from benchmarks.retrain import openings, split

    conversations = [{"tags": ["a"], "messages": [{"role": "agent", "text": "hi"},
                                                  {"role": "customer", "text": "Hello!"},
                                                  {"role": "customer", "text": "x"}]},
                     {"tags": ["a", "b"], "messages": [{"role": "customer", "text": "y"}]},
                     {"tags": [], "messages": [{"role": "customer", "text": "z"}]}]
    assert [(text, tag) for _, text, tag in openings(conversations)] == [("x", "a")]
    rows = [(None, f"t{i}", "a" if i < 10 else "b") for i in range(20)]
    train, test = split(rows, 0.2, 42)
    assert sorted(tag for _, _, tag in test) == ["a", "a", "b", "b"] and len(train) == 16


def test_explain_weights_every_word(tiny_model_dir):
    from bot import HelplineModel
    from bot.model.explain import explain

    classifier = HelplineModel.from_pretrained(tiny_model_dir)
    explanation = explain(classifier, "where is my order please")
    assert explanation.words == ["where", "is", "my", "order", "please"]
    assert len(explanation.intent_weights) == len(explanation.emotion_weights) == 5
    # a word's weight is the drop in the intent's probability when that word is left out
    intent = classifier.intent_labels.index(explanation.intent if explanation.intent != "oos"
                                            else classifier.predict("where is my order please").alternatives[0][0])
    probs, _ = classifier.probabilities(["where is my order please", "where is my please"])
    # (int8 activations are quantized per batch, so a different batch moves the numbers a little)
    assert explanation.intent_weights[3] == pytest.approx(float(probs[0, intent] - probs[1, intent]), abs=0.02)
    assert explanation.to_dict()["words"][0]["word"] == "where"

    with pytest.raises(ValueError, match="non-empty"):
        explain(HelplineModel.from_pretrained(tiny_model_dir), "  ")


def _fake_chat_server(delay: float):
    """The connection handler of a stand-in for the app: answers every POST after ``delay`` seconds, one at a time."""
    import asyncio
    import json

    lock = asyncio.Lock()
    turns = 0

    async def handle(reader, writer):
        nonlocal turns
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            async with lock:  # one turn at a time, like a server with one busy core
                await asyncio.sleep(delay)
            turns += 1
            body = json.dumps({"conversation_id": "c" * 12, "message_id": turns}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        writer.close()

    return handle


def _paced_run(delay: float, clients: int, seconds: float, rate: float) -> dict:
    import asyncio

    from benchmarks.load import run_clients

    async def go():
        server = await asyncio.start_server(_fake_chat_server(delay), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await run_clients(port, clients, seconds, rate)

    return asyncio.run(go())


def test_load_clients_send_the_offered_rate_and_charge_a_slow_server_for_its_backlog():
    # a quick server: the paced clients send ~rate * seconds turns, each answered in about the service time
    quick = _paced_run(delay=0.002, clients=4, seconds=1.0, rate=40)
    assert 36 <= quick["turns"] <= 40 and quick["errors"] == 0
    assert quick["p50_ms"] < 20
    # a server that needs 50 ms a turn cannot keep up with 40 turns/s: late sends count from their due time,
    # so latency grows with the backlog instead of hiding in the clients' schedule (coordinated omission)
    slow = _paced_run(delay=0.05, clients=4, seconds=1.0, rate=40)
    assert slow["turns"] < 25 and slow["p99_ms"] > 200
    # rate 0: as fast as replies come, so the slow server's throughput is its own, ~20 turns/s
    closed = _paced_run(delay=0.05, clients=4, seconds=1.0, rate=0)
    assert 15 <= closed["turns_per_s"] <= 21 and closed["p50_ms"] >= 150  # 4 clients queue on one server


def test_accuracy_benchmark_compares_saved_predictions(tmp_path):
    import json

    from benchmarks.accuracy import comparisons, save_predictions

    (tmp_path / "goemotions.splits.json").write_text(json.dumps(
        {"labels": ["joy", "anger"], "test_y": [[0], [1], [0, 1], []] * 25}))
    save_predictions(tmp_path, "helpline", "goemotions", [[0], [1], [0, 1], []] * 25)
    save_predictions(tmp_path, "frozen_lr", "goemotions", [[0], [0], [0], []] * 25)
    versus = comparisons(tmp_path, "goemotions", ["frozen_lr", "helpline"])
    macro = versus["frozen_lr"]["emotion_macro_f1"]
    assert macro["difference"] > 0 and macro["ci95"][0] > 0
    save_predictions(tmp_path, "frozen_lr", "goemotions", [[0]] * 3)  # a row lost: no interval, no crash
    assert comparisons(tmp_path, "goemotions", ["frozen_lr", "helpline"]) is None


def test_the_label_audit_benchmark_plants_flips_to_other_labels_and_scores_flags():
    from benchmarks.label_audit import planted, scored

    labels = ["a", "b", "c", "d"] * 25
    noisy, rows = planted(labels, 0.04)
    assert len(rows) == 4 and all(noisy[i] != labels[i] for i in rows)
    assert [i for i in range(100) if noisy[i] != labels[i]] == sorted(rows)
    flagged = [*sorted(rows)[:3], 50, sorted(rows)[3]]        # three hits, a miss, then the fourth
    assert scored(flagged, rows) == {"flagged": 5, "precision": 0.8, "recall": 1.0, "precision_at_k": 0.75}


def test_oos_transfer_scores_each_half_with_the_threshold_set_on_the_other(tmp_path, monkeypatch):
    """benchmarks/oos_transfer.py: a threshold that saw the messages it scores would flatter them; here each
    half's out-of-scope messages sit where only the other half's threshold tells them apart."""
    import csv
    import json

    import numpy as np

    from benchmarks import oos_transfer
    from bot.model.helpline_model import HelplineModel
    from bot.model.prediction import ModelOutputs

    class Stub:   # a message "a 0.95" gets probability 0.95 for intent a, the rest for b
        intent_labels, metadata = ["a", "b"], {}

        def sentence_vectors(self, texts):
            return np.random.default_rng(len(texts)).normal(size=(len(texts), 8)).astype(np.float32)

        def outputs(self, texts):
            top = np.array([float(t.split()[1]) for t in texts])
            first = np.array([t.split()[0] != "b" for t in texts])
            probs = np.where(first[:, None], np.c_[top, 1 - top], np.c_[1 - top, top])
            return ModelOutputs(probs, np.zeros((len(texts), 1)), sentence=self.sentence_vectors(texts))

    monkeypatch.setattr(HelplineModel, "from_pretrained", classmethod(lambda cls, directory: Stub()))
    in_scope = [("a 0.95", "a"), ("b 0.9", "b")] * 5
    # max-softmax scores (1 - top): the calibration half's out-of-scope 0.1-0.4, the other half's 0.31-0.34
    calibration = [(f"x {1 - s:.2f}", "oos") for s in (0.1, 0.2, 0.3, 0.4)]
    other = [(f"x {1 - s:.2f}", "oos") for s in (0.31, 0.32, 0.33, 0.34)]
    (tmp_path / "clinc150.json").write_text(json.dumps({
        "train": [list(p) for p in in_scope], "oos_train": [["x 0.5", "oos"]] * 2,
        "val": [list(p) for p in in_scope], "oos_val": [list(p) for p in calibration]}))
    with (tmp_path / "clinc150_test.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "intent"), *in_scope, *other])
    report = oos_transfer.main(["--work", str(tmp_path), "--model", "m", "--targets", "0.5",
                                "--output", str(tmp_path / "out.json")])
    row = report["models"]["m"]["scores"]["msp"]["0.5"]
    # set on the calibration half, the threshold (0.3) flags all four of the other half's; set on the other
    # half (0.33), it flags one of the calibration half's four: (1 + 0.25) / 2
    assert row["oos_recall"] == 0.625 and row["in_scope_accuracy"] == 1.0
    assert report["out_of_scope"] == [4, 4] and json.loads((tmp_path / "out.json").read_text()) == report

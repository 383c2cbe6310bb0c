"""The accuracy benchmark's baselines and report, on tiny data (the benchmark itself runs outside the tests)."""
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
    assert "| banking77 | Helpline | accuracy | 0.9360 | 1.170x | 1.040x | 600 s | 1200 MB |" in text
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\nintro\n")
    update_results_md(record, path)
    update_results_md(record, path)  # a second run replaces its section instead of appending
    assert path.read_text().count("accuracy-validation:start") == 1 and "intro" in path.read_text()


def test_hungarian_accuracy_matches_clusters_to_labels():
    import numpy as np

    from benchmarks.discovery import hungarian_accuracy, scores

    truth = ["a", "a", "b", "b", "c", "c"]
    assert hungarian_accuracy(truth, np.array([2, 2, 0, 0, 1, 1])) == 1.0      # names do not matter
    assert hungarian_accuracy(truth, np.array([0, 0, 0, 0, 1, 1])) == 4 / 6
    assert scores(truth, [1, 1, 2, 2, 0, 0])["nmi"] == 1.0


def test_retrain_benchmark_uses_single_tag_openings_and_a_stratified_split():
    from benchmarks.retrain import openings, split

    conversations = [{"tags": ["a"], "messages": [{"role": "agent", "text": "hi"}, {"role": "customer", "text": "Hello!"}, {"role": "customer", "text": "x"}]},
                     {"tags": ["a", "b"], "messages": [{"role": "customer", "text": "y"}]},
                     {"tags": [], "messages": [{"role": "customer", "text": "z"}]}]
    assert [(text, tag) for _, text, tag in openings(conversations)] == [("x", "a")]
    rows = [(None, f"t{i}", "a" if i < 10 else "b") for i in range(20)]
    train, test = split(rows, 0.2, 42)
    assert sorted(tag for _, _, tag in test) == ["a", "a", "b", "b"] and len(train) == 16


def test_explain_weights_every_word(tiny_model_dir):
    from bot import Classifier
    from bot.explain import explain

    explanation = explain(Classifier.load(tiny_model_dir), "where is my order please")
    assert explanation.words == ["where", "is", "my", "order", "please"]
    assert len(explanation.intent_weights) == len(explanation.emotion_weights) == 5
    assert explanation.to_dict()["words"][0]["word"] == "where"
    import pytest

    with pytest.raises(ValueError, match="non-empty"):
        explain(Classifier.load(tiny_model_dir), "  ")

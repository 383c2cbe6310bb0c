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

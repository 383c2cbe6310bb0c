"""Out-of-scope detection: the scores (bot/model/oos.py), their cross-validated choice (finetune/oos_fit.py),
and the decoder and evaluate using the chosen one."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bot.model.oos import OosDetector
from bot.model.prediction import OOS, Decoder
from finetune.oos_fit import choose_threshold, cross_validated, threshold_free
from tests.conftest import TINY_INTENTS


def test_knn_and_mahalanobis_score_far_vectors_higher():
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)[:3] * 5
    train = np.concatenate([c + rng.normal(0, 0.3, (40, 8)) for c in centres]).astype(np.float32)
    labels = [f"i{j}" for j in range(3) for _ in range(40)]
    near = centres + rng.normal(0, 0.3, (3, 8))
    far = np.eye(8, dtype=np.float32)[5:8] * 5
    for method in ("knn", "mahalanobis"):
        detector = OosDetector.fit(method, train, labels, k=3)
        assert detector.scores(far).min() > detector.scores(near).max(), method
    unknown = OosDetector.fit("knn_negatives", train, labels, negatives=far[:2])
    assert unknown.scores(far[:2] + 0.1).min() > 0 > unknown.scores(near).max()   # like the negatives: out
    with pytest.raises(ValueError, match="knn_negatives needs at least k=1 out-of-scope training vectors"):
        OosDetector.fit("knn_negatives", train, labels)
    with pytest.raises(ValueError, match="OOS method must be one of"):
        OosDetector.fit("energy", train, labels)
    with pytest.raises(ValueError, match="k must be between 1 and the 120 training vectors"):
        OosDetector.fit("knn", train, labels, k=500)


def test_the_detector_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(30, 6)).astype(np.float32)
    detector = OosDetector.fit("knn", vectors, ["a"] * 30, k=2)
    entry = detector.save(tmp_path)
    again = OosDetector.load(tmp_path, {"oos_detector": entry})
    assert np.allclose(again.scores(vectors[:5]), detector.scores(vectors[:5]), atol=1e-3)
    assert OosDetector.load(tmp_path, {}) is None
    (tmp_path / "oos.npz").unlink()
    with pytest.raises(ValueError, match="oos.npz is missing"):
        OosDetector.load(tmp_path, {"oos_detector": entry})


def test_threshold_free_metrics_match_hand_counts():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.9, 0.35])
    is_oos = np.array([False, False, False, False, True, True])
    got = threshold_free(scores, is_oos)
    assert got["auroc"] == pytest.approx(7 / 8)     # 7 of the 8 (oos, in-scope) pairs ranked right
    assert got["fpr95"] == pytest.approx(0.5)       # 0.35 is below the in-scope 95th percentile (0.385)
    assert choose_threshold(scores, is_oos, 1.0) == pytest.approx(0.35)
    assert choose_threshold(scores, is_oos, 0.5) == pytest.approx(0.9)


def test_cross_validation_scores_each_fold_with_a_threshold_from_the_others():
    rng = np.random.default_rng(2)
    truth = np.array(["a"] * 200 + [OOS] * 50)
    scores = np.concatenate([rng.uniform(0, 0.6, 200), rng.uniform(0.4, 1.0, 50)])
    result = cross_validated(scores, truth, np.zeros(250, bool), np.array(["a"] * 250), target_recall=0.9)
    assert 0.75 <= result["oos_recall"]["mean"] <= 1.0 and result["oos_recall"]["std"] > 0
    assert 0.6 < result["in_scope_accuracy"]["mean"] < 1.0


def test_the_best_candidate_reaches_the_wanted_recall_first_then_in_scope_accuracy():
    from finetune.oos_fit import best_candidate

    def row(accuracy, recall, auroc=0.9):
        return {"in_scope_accuracy": {"mean": accuracy}, "oos_recall": {"mean": recall}, "auroc": auroc}

    assert best_candidate({"a": row(0.97, 0.80), "b": row(0.95, 0.90), "c": row(0.96, 0.86)}) == "c"
    assert best_candidate({"a": row(0.97, 0.80), "b": row(0.95, 0.82)}) == "b"   # none reaches it: best recall
    assert best_candidate({"a": row(0.96, 0.9, 0.95), "b": row(0.96, 0.9, 0.97)}) == "b"


def test_the_combined_score_adds_the_percentiles_of_both_views():
    rng = np.random.default_rng(3)
    train = rng.normal(size=(60, 5)).astype(np.float32)
    mahalanobis = OosDetector.fit("mahalanobis", train, ["a"] * 30 + ["b"] * 30)
    reference = rng.normal(size=(40, 5)).astype(np.float32)
    msp = rng.uniform(size=40).astype(np.float32)
    both = OosDetector.combined(mahalanobis, msp, reference)
    scores = both.scores(reference, msp)
    distance_rank = (np.argsort(np.argsort(mahalanobis.scores(reference))) + 1) / 40
    msp_rank = (np.argsort(np.argsort(msp)) + 1) / 40
    assert np.allclose(scores, distance_rank + msp_rank, atol=1e-6)
    with pytest.raises(ValueError, match="need the messages' max-softmax scores"):
        both.scores(reference)


def test_the_decoder_uses_the_detector_score_when_the_model_has_one():
    decoder = Decoder(intent_labels=["a", "b"], emotion_labels=["joy"], oos_threshold=0.99, oos_score_threshold=0.5)
    probs = np.array([0.9, 0.1])
    assert decoder.intent_decision(probs, oos_score=0.2)[0] == "a"      # near the training messages: answered
    assert decoder.intent_decision(probs, oos_score=0.7)[0] == OOS      # far from them: out of scope
    assert decoder.intent_decision(probs)[0] == OOS                     # no score: the top-probability rule


def test_training_with_out_of_scope_validation_chooses_a_score_by_cross_validation(tiny_base, tiny_data, tmp_path):
    from bot import HelplineModel
    from finetune.evaluate import evaluate
    from finetune.oos_fit import best_candidate
    from finetune.train import main

    pairs = [[text, intent] for intent, texts in TINY_INTENTS.items() for text in texts]
    oos = ["what is the weather on mars", "play some jazz", "who won the match", "tell me a joke", "how tall is k2",
           "recipe for pancakes", "translate hello to french", "what time is it in tokyo", "set an alarm",
           "who wrote hamlet"]
    (tmp_path / "clinc.json").write_text(json.dumps({"train": pairs, "val": pairs[::2],
                                                     "oos_train": [[t, "oos"] for t in oos[:4]],
                                                     "oos_val": [[t, "oos"] for t in oos[4:] * 2]}))
    out = tmp_path / "model"
    main(["--intent-data", str(tmp_path / "clinc.json"), "--emotion-data", tiny_data["emotions"], "--base-model",
          tiny_base, "--output", str(out), "--max-steps", "20", "--min-task-examples", "32", "--batch-size", "8",
          "--no-upset-head"])
    model = HelplineModel.from_pretrained(out, backend="torch")
    selection = model.metadata["oos_selection"]
    assert set(selection["candidates"]) == {"msp", "knn1", "knn10", "mahalanobis", "knn_negatives",
                                            "msp_mahalanobis"}
    for row in selection["candidates"].values():
        assert {"auroc", "fpr95", "in_scope_accuracy", "oos_recall", "oos_f1"} <= set(row)
    chosen = selection["chosen"]
    assert chosen == best_candidate(selection["candidates"])
    assert (model.oos is None) == (chosen == "msp")
    served = HelplineModel.from_pretrained(out)   # the ONNX graph gives the sentence vectors the detector reads
    texts = [p[0] for p in pairs[:6]] + oos[:4]
    assert [p.intent for p in served.predict(texts)] == [p.intent for p in model.predict(texts)]
    (tmp_path / "test.csv").write_text("text,intent\n" + "".join(f"{t},{i}\n" for t, i in pairs[1::3])
                                       + "".join(f"{t},oos\n" for t in oos))
    result = evaluate(model, intent_test=str(tmp_path / "test.csv"))
    assert {"oos_auroc", "oos_fpr95", "oos_f1"} <= set(result) and result["oos_method"] == chosen

"""The two baselines every accuracy claim is measured against, trained on exactly the same data as Helpline.

1. TF-IDF (word 1-2 grams) + LinearSVC: the classic strong lexical baseline.
2. Frozen encoder embeddings (mean pooled, never fine-tuned) + logistic regression: what the base encoder gives
   without fine-tuning. Helpline must beat both.
Out-of-scope: an `oos` class where the training data has one, and for baseline 2 also a probability threshold
tuned on the calibration split (the same rule Helpline uses). Emotions: one classifier per label, each with an
F1-tuned threshold on the calibration split.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import LinearSVC

from bot.model.base_models import resolve_base_model
from bot.model.network import mean_pool
from finetune.calibrate import emotion_thresholds, oos_threshold


def _tfidf() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)

class FrozenEncoder:
    def __init__(self, base_model: str = "sentence-transformers/all-MiniLM-L6-v2", max_length: int = 64):
        from transformers import AutoModel, AutoTokenizer

        path = resolve_base_model(base_model)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.encoder = AutoModel.from_pretrained(path).eval()
        self.max_length = max_length

    @torch.inference_mode()
    def embed(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.encoder.config.hidden_size), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt")
            hidden = self.encoder(**batch).last_hidden_state
            out[idx] = torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1).numpy()
        return out

def tfidf_svc_intents(train_x, train_y, test_x) -> list[str]:
    vec = _tfidf()
    clf = LinearSVC(C=1.0).fit(vec.fit_transform(train_x), train_y)
    return list(clf.predict(vec.transform(test_x)))

def frozen_lr_intents(encoder: FrozenEncoder, train_x, train_y, calib_x, calib_y, test_x) -> list[str]:
    clf = LogisticRegression(C=10.0, max_iter=2000).fit(encoder.embed(train_x), train_y)
    labels = list(clf.classes_)
    # same rule as Helpline; nothing to calibrate on (Banking77: `train` holds nothing out) means no threshold
    threshold = oos_threshold(clf.predict_proba(encoder.embed(calib_x)), calib_y, labels) if calib_x else 0.0
    probs = clf.predict_proba(encoder.embed(test_x))
    scoped = np.where(np.asarray([label != "oos" for label in labels])[None, :], probs, -1.0)
    best = np.asarray(labels)[scoped.argmax(1)]
    top_oos = np.asarray(labels)[probs.argmax(1)] == "oos"
    return list(np.where(top_oos | (scoped.max(1) < threshold), "oos", best))

def _per_label(scores_calib, y_calib, scores_test, labels) -> np.ndarray:
    """Threshold each label's score (mapped into [0, 1]) at its F1-best value on the calibration split."""
    lo, hi = scores_calib.min(0), scores_calib.max(0)
    scale = lambda s: (s - lo) / np.where(hi - lo > 0, hi - lo, 1.0)  # noqa: E731
    cuts = emotion_thresholds(scale(scores_calib), y_calib, labels)
    return (scale(scores_test) >= np.asarray([cuts[label] for label in labels])).astype(np.float32)

def tfidf_svc_emotions(train_x, train_y, calib_x, calib_y, test_x, labels) -> np.ndarray:
    vec = _tfidf()
    clf = OneVsRestClassifier(LinearSVC(C=0.5), n_jobs=1).fit(vec.fit_transform(train_x), train_y)
    return _per_label(clf.decision_function(vec.transform(calib_x)), calib_y,
                      clf.decision_function(vec.transform(test_x)), labels)

def frozen_lr_emotions(encoder: FrozenEncoder, train_x, train_y, calib_x, calib_y, test_x, labels) -> np.ndarray:
    clf = OneVsRestClassifier(LogisticRegression(C=1.0, max_iter=1000), n_jobs=1).fit(encoder.embed(train_x), train_y)
    calib = clf.predict_proba(encoder.embed(calib_x))
    cuts = emotion_thresholds(calib, calib_y, labels)
    cut_row = np.asarray([cuts[label] for label in labels])
    return (clf.predict_proba(encoder.embed(test_x)) >= cut_row).astype(np.float32)

"""Fitting the lexical head (bot/lexical.py) on the training data and choosing its blend weight on validation."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from bot.lexical import ANALYZERS, LexicalHead, blend, vectorizers

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def fit_lexical(texts: list[str], intents: list[str], labels: list[str], C: float = 20.0) -> LexicalHead | None:
    """A lexical head over ``labels`` (the model's order); None when the data does not cover every label."""
    if set(labels) - set(intents):
        return None  # e.g. --init-from with intents missing from this data: the encoder alone decides
    from scipy.sparse import hstack

    vecs = vectorizers()
    features = hstack([vecs[name].fit_transform(texts) for name in ANALYZERS]).tocsr()
    clf = LogisticRegression(C=C, max_iter=3000).fit(features, intents)
    order = [list(clf.classes_).index(label) for label in labels]
    return LexicalHead(vecs, clf.coef_[order].astype(np.float32), clf.intercept_[order].astype(np.float32), labels)


def choose_weight(encoder_probs: np.ndarray, lexical_probs: np.ndarray, truth: list[str], labels: list[str]) -> float:
    """The blend weight with the best validation accuracy (ties: the smaller weight)."""
    names = np.asarray(labels)
    truth = np.asarray(truth)
    scores = [(float(np.mean(names[blend(encoder_probs, lexical_probs, w).argmax(1)] == truth)), -w) for w in WEIGHTS]
    return -max(scores)[1]

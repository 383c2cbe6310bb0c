"""Fitting the lexical head (bot/lexical.py) on the training data and choosing its blend weight on validation."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from bot.lexical import ANALYZERS, LexicalHead, blend

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
    return LexicalHead({name: dict(vecs[name].vocabulary_) for name in ANALYZERS},
                       {name: vecs[name].idf_.astype(np.float32) for name in ANALYZERS},
                       clf.coef_[order], clf.intercept_[order], labels)


def vectorizers():
    """The scikit-learn vectorizers the serving code (bot/lexical.py) reproduces without scikit-learn."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return {name: TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32, **kw) for name, kw in ANALYZERS.items()}


def choose_weight(encoder_probs: np.ndarray, lexical_probs: np.ndarray, truth: list[str], labels: list[str]) -> float:
    """The blend weight with the best validation accuracy (ties: the smaller weight)."""
    names = np.asarray(labels)
    truth = np.asarray(truth)
    scores = [(float(np.mean(names[blend(encoder_probs, lexical_probs, w).argmax(1)] == truth)), -w) for w in WEIGHTS]
    return -max(scores)[1]

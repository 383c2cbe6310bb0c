"""Fitting the lexical head (bot/model/lexical.py) on the training data and choosing its blend weight on validation."""
from __future__ import annotations

import time

import numpy as np
from sklearn.linear_model import LogisticRegression

from bot.model.lexical import ANALYZERS, LEXICAL_FILE, LexicalHead, blend

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
# With no validation data to choose on, the encoder alone: on held-out Banking77 splits weight 0.1 against 0 was
# +2 messages in all over nine models (-3 to +4 each), and -3 and -1 for the two trained on every example
# (benchmarks/RESULTS.md). A component nobody can check is left out.
NO_VALIDATION_LEXICAL_WEIGHT = 0.0


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
    """The scikit-learn vectorizers the serving code (bot/model/lexical.py) reproduces without scikit-learn."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return {name: TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32, **kw)
            for name, kw in ANALYZERS.items()}


def choose_weight(encoder_probs: np.ndarray, lexical_probs: np.ndarray, truth: list[str], labels: list[str]) -> float:
    """The blend weight with the best validation accuracy (ties: the smaller weight)."""
    names = np.asarray(labels)
    truth = np.asarray(truth)
    scores = [(float(np.mean(names[blend(encoder_probs, lexical_probs, w).argmax(1)] == truth)), -w) for w in WEIGHTS]
    return -max(scores)[1]


def fit_lexical_head(model, train, validation, weight: float | None = None) -> str:
    """Fit the lexical head on the training data; its blend weight is ``weight`` if given, else chosen on
    validation, else (no validation data) NO_VALIDATION_LEXICAL_WEIGHT. Weight 0 = not used. Returns what it did,
    for the training log."""
    started = time.time()
    how = "given"
    if weight is None and validation is None:
        weight, how = NO_VALIDATION_LEXICAL_WEIGHT, "the default without validation data"
    if weight == 0:
        model.update_metadata(lexical=None)
        return f"lexical head not used (blend weight 0, {how})"
    head = fit_lexical(list(train["text"]), list(train["intent"]), model.intent_labels)
    if head is None:
        return "lexical head skipped: the training data does not cover every intent of the model"
    if weight is None:
        texts, truth = list(validation["text"]), list(validation["intent"])
        encoder_probs, _ = model.probabilities(texts)
        weight = choose_weight(encoder_probs, head.probabilities(texts), truth, model.intent_labels)
        how = "chosen on validation"
    model.lexical = head if weight > 0 else None
    model.update_metadata(lexical={"file": LEXICAL_FILE, "weight": weight} if weight > 0 else None)
    return f"lexical head: blend weight {weight}, {how} ({time.time() - started:.0f} s)"

"""The lexical head: TF-IDF (word 1-2-grams + character 2-5-grams) and a linear classifier over intents,
blended with the encoder's intent probabilities (log-linear: (1 - w) log p_encoder + w log p_lexical).

Why: the fine-tuned encoder and a lexical model make different mistakes (product names, rare keywords and
typos are where n-grams are strong), and the blend costs ~0.1 ms per message. `finetune train` fits it and
chooses w on validation data; w = 0 (or no lexical.npz) means the encoder alone. Stored in the model
directory as lexical.npz (format_version 1): vocabularies, idf weights and the classifier's weights.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

LEXICAL_FILE = "lexical.npz"
LEXICAL_FORMAT_VERSION = 1
ANALYZERS = {"word": {"analyzer": "word", "ngram_range": (1, 2)}, "char": {"analyzer": "char_wb", "ngram_range": (2, 5)}}


def vectorizers():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return {name: TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32, **kw) for name, kw in ANALYZERS.items()}


class LexicalHead:
    def __init__(self, vecs: dict, coef: np.ndarray, intercept: np.ndarray, labels: list[str]):
        self.vecs, self.coef, self.intercept, self.labels = vecs, coef, intercept, labels

    def features(self, texts: list[str]):
        from scipy.sparse import hstack

        return hstack([self.vecs[name].transform(texts) for name in ANALYZERS]).tocsr()

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Softmax probabilities over ``labels`` (the model's intent labels, same order)."""
        logits = self.features(texts) @ self.coef.T + self.intercept
        logits = logits - logits.max(1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(1, keepdims=True)).astype(np.float32)

    def save(self, directory: Path) -> None:
        arrays = {"coef": self.coef, "intercept": self.intercept}
        for name in ANALYZERS:
            vocabulary = self.vecs[name].vocabulary_
            arrays[f"{name}_terms"] = np.array(sorted(vocabulary, key=vocabulary.get))
            arrays[f"{name}_idf"] = self.vecs[name].idf_.astype(np.float32)
        arrays["meta"] = np.array(json.dumps({"format_version": LEXICAL_FORMAT_VERSION, "labels": self.labels}))
        np.savez_compressed(directory / LEXICAL_FILE, **arrays)

    @classmethod
    def load(cls, directory: Path) -> "LexicalHead":
        data = np.load(directory / LEXICAL_FILE, allow_pickle=False)
        meta = json.loads(str(data["meta"]))
        if meta.get("format_version") != LEXICAL_FORMAT_VERSION:
            raise ValueError(f"{directory / LEXICAL_FILE}: unsupported format_version {meta.get('format_version')}")
        vecs = vectorizers()
        for name, vec in vecs.items():
            vec.vocabulary_ = {term: i for i, term in enumerate(data[f"{name}_terms"].tolist())}
            vec.idf_ = data[f"{name}_idf"]
        return cls(vecs, data["coef"], data["intercept"], meta["labels"])


def blend(encoder_probs: np.ndarray, lexical_probs: np.ndarray, weight: float) -> np.ndarray:
    if weight <= 0:
        return encoder_probs
    logits = (1 - weight) * np.log(encoder_probs + 1e-9) + weight * np.log(lexical_probs + 1e-9)
    logits -= logits.max(1, keepdims=True)
    p = np.exp(logits)
    return (p / p.sum(1, keepdims=True)).astype(np.float32)


def attach(directory: Path, metadata: dict):
    """The lexical head of a model directory when its metadata turns it on, else None."""
    info = metadata.get("lexical") or {}
    if info.get("weight", 0) <= 0 or not (directory / LEXICAL_FILE).is_file():
        return None
    head = LexicalHead.load(directory)
    if head.labels != metadata["intent_labels"]:
        raise ValueError(f"{directory / LEXICAL_FILE} does not match the model's intent labels; retrain the model")
    return head


def apply(head, metadata: dict, texts: list[str], intent_probs: np.ndarray) -> np.ndarray:
    """The intent probabilities a model serves: the encoder's, blended with the lexical head's when present."""
    if head is None:
        return intent_probs
    return blend(intent_probs, head.probabilities(texts), metadata["lexical"]["weight"])

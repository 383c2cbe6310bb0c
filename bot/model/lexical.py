"""The lexical head: TF-IDF (word 1-2-grams + character 2-5-grams) and a linear classifier over intents,
blended with the encoder's intent probabilities (log-linear: (1 - w) log p_encoder + w log p_lexical).

Why: the fine-tuned encoder and a lexical model make different mistakes (product names, rare keywords and
typos are where n-grams are strong), and the blend costs little next to the encoder. `finetune train` fits it and
chooses w on validation data; w = 0 (or no lexical.npz) means the encoder alone. Stored in the model
directory as lexical.npz (format_version 1): vocabularies, idf weights and the classifier's weights.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

LEXICAL_FILE = "lexical.npz"
LEXICAL_FORMAT_VERSION = 1
ANALYZERS = {"word": {"analyzer": "word", "ngram_range": (1, 2)},
             "char": {"analyzer": "char_wb", "ngram_range": (2, 5)}}

_TOKEN = re.compile(r"(?u)\b\w\w+\b")      # scikit-learn's default token_pattern
_SPACES = re.compile(r"\s\s+")


def word_ngrams(text: str) -> list[str]:
    """Word 1- and 2-grams exactly as scikit-learn's TfidfVectorizer(analyzer="word", ngram_range=(1, 2))."""
    tokens = _TOKEN.findall(text.lower())
    return tokens + [" ".join(tokens[i:i + 2]) for i in range(len(tokens) - 1)]


def word_char_ngrams(word: str) -> list[str]:
    """One word's character 2-5-grams, exactly as scikit-learn's analyzer="char_wb" makes them (it splits the
    lowercased text on whitespace and pads each word with a space on both sides)."""
    grams = []
    word = f" {word} "
    for n in range(2, 6):
        offset = 0
        grams.append(word[offset:offset + n])
        while offset + n < len(word):
            offset += 1
            grams.append(word[offset:offset + n])
        if offset == 0:  # the word is shorter than n: one window only
            break
    return grams


WORD_CACHE_SIZE = 100_000  # words whose character n-gram columns a head keeps


class LexicalHead:
    """Serving needs no scikit-learn: n-grams are looked up in the stored vocabularies and weighted as
    TfidfVectorizer(sublinear_tf=True) does (1 + log tf, times idf, L2-normalised per analyzer). Tens of
    microseconds per message instead of milliseconds for scikit-learn's transform on one text."""

    def __init__(self, vocabularies: dict[str, dict[str, int]], idf: dict[str, np.ndarray], coef: np.ndarray,
                 intercept: np.ndarray, labels: list[str]):
        self.vocabularies, self.idf, self.labels = vocabularies, idf, labels
        self.intercept = intercept.astype(np.float32)
        # kept as one row per feature (scikit-learn's coef_ transposed): a message's few features are then a
        # few contiguous rows to gather (~4 us) instead of a strided gather across every intent's row (~10 us)
        self.feature_weights = np.ascontiguousarray(coef.T, dtype=np.float32)
        self.offsets = {"word": 0, "char": len(vocabularies["word"])}  # columns: word features, then char
        self._word_columns: dict[str, list[int]] = {}

    def _char_columns(self, text: str) -> list[int]:
        """Columns of the text's character n-grams. A word's columns are computed once and cached: customer
        messages reuse a small vocabulary, and the n-grams were most of the lexical head's time."""
        vocabulary, cache, columns = self.vocabularies["char"], self._word_columns, []
        for word in _SPACES.sub(" ", text.lower()).split():
            found = cache.get(word)
            if found is None:
                if len(cache) >= WORD_CACHE_SIZE:  # bounded: a stream of junk words cannot grow it forever
                    cache.clear()
                found = cache[word] = [j for g in word_char_ngrams(word) if (j := vocabulary.get(g)) is not None]
            columns += found
        return columns

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, tf-idf values) of one text."""
        words = self.vocabularies["word"]
        found = {"word": [j for g in word_ngrams(text) if (j := words.get(g)) is not None],
                 "char": self._char_columns(text)}
        columns, values = [], []
        for name in ANALYZERS:
            if not found[name]:
                continue
            counts = Counter(found[name])
            idx = np.fromiter(counts, dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            weights = (1.0 + np.log(tf)) * self.idf[name][idx]
            columns.append(idx + self.offsets[name])
            values.append(weights / np.sqrt(weights @ weights))
        if not columns:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(columns), np.concatenate(values)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Softmax probabilities over ``labels`` (the model's intent labels, same order)."""
        logits = np.tile(self.intercept, (len(texts), 1))
        for row, text in enumerate(texts):
            idx, vals = self.features(text)
            if len(idx):
                logits[row] += vals @ self.feature_weights[idx]
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(1, keepdims=True)).astype(np.float32)

    def save(self, directory: Path) -> None:
        arrays = {"coef": self.feature_weights.T, "intercept": self.intercept}
        for name in ANALYZERS:
            vocabulary = self.vocabularies[name]
            arrays[f"{name}_terms"] = np.array(sorted(vocabulary, key=vocabulary.get))
            arrays[f"{name}_idf"] = self.idf[name].astype(np.float32)
        arrays["meta"] = np.array(json.dumps({"format_version": LEXICAL_FORMAT_VERSION, "labels": self.labels}))
        np.savez_compressed(directory / LEXICAL_FILE, **arrays)

    @classmethod
    def load(cls, directory: Path) -> LexicalHead:
        data = np.load(directory / LEXICAL_FILE, allow_pickle=False)
        meta = json.loads(str(data["meta"]))
        if meta.get("format_version") != LEXICAL_FORMAT_VERSION:
            raise ValueError(f"{directory / LEXICAL_FILE}: unsupported format_version {meta.get('format_version')}")
        vocabularies = {name: {t: i for i, t in enumerate(data[f"{name}_terms"].tolist())} for name in ANALYZERS}
        return cls(vocabularies, {name: data[f"{name}_idf"] for name in ANALYZERS}, data["coef"], data["intercept"],
                   meta["labels"])


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

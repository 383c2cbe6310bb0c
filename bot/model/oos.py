"""Out-of-scope scores from the encoder's sentence vectors (the same pass that gives intent and emotion).

The intent head's top probability (max-softmax, "MSP") is the classifier's opinion of itself, and a classifier
is often sure of itself on a message unlike anything it trained on: it has to pick one of its intents. A
message's distance from the intents' training messages asks the question directly:
- ``knn``: 1 - the cosine similarity to the k-th nearest in-scope training message (Sun et al., ICML 2022);
- ``mahalanobis``: the distance to the nearest intent's mean under one covariance shared by all intents
  (Lee et al., NeurIPS 2018), on length-normalised vectors;
- ``knn_negatives``: with out-of-scope training examples (CLINC150's oos_train, a catalogue's
  out_of_scope_examples), the k-NN similarity to them minus the k-NN similarity to the in-scope ones;
- ``msp_mahalanobis``: the two views together, max-softmax (what the classifier makes of the message) and the
  Mahalanobis distance (where the message lies): each turned into its percentile among reference messages
  (the validation messages it was chosen on), and the percentiles added. They err on different messages, so
  the sum ranks better than either.
Higher is more out of scope. `finetune/oos_fit.py` fits them, compares them with MSP by cross-validation on
the validation data and keeps the best; the decoder then calls a message out of scope from the kept score and
its threshold (`oos_score_threshold` in helpline.json) instead of from the top probability.

Stored in the model directory as oos.npz with helpline.json's ``oos_detector``: {"format_version": 1,
"method", "k"}. A model without it decides out-of-scope from the top probability (``oos_threshold``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

OOS_FILE = "oos.npz"
OOS_FORMAT_VERSION = 1
METHODS = ("knn", "mahalanobis", "knn_negatives", "msp_mahalanobis")


def normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


@dataclass
class OosDetector:
    method: str
    arrays: dict[str, np.ndarray]   # knn: "bank" (normalised training vectors), knn_negatives: also "negatives"
    k: int = 1                      # (out-of-scope training vectors); mahalanobis: "means", "precision"

    @classmethod
    def fit(cls, method: str, vectors: np.ndarray, labels: list[str], k: int = 1,
            negatives: np.ndarray | None = None) -> OosDetector:
        """From the sentence vectors of in-scope training messages and their intents (and, for knn_negatives,
        the vectors of out-of-scope training messages)."""
        if method not in METHODS:
            raise ValueError(f"OOS method must be one of {METHODS}, not {method!r}")
        vectors = normalised(vectors)
        if method in ("knn", "knn_negatives"):
            if not 1 <= k <= len(vectors):
                raise ValueError(f"k must be between 1 and the {len(vectors)} training vectors, not {k}")
            arrays = {"bank": vectors.astype(np.float16)}
            if method == "knn_negatives":
                if negatives is None or len(negatives) < k:
                    raise ValueError(f"knn_negatives needs at least k={k} out-of-scope training vectors")
                arrays["negatives"] = normalised(negatives).astype(np.float16)
            return cls(method, arrays, k)
        if method == "msp_mahalanobis":
            raise ValueError("msp_mahalanobis is made from a fitted mahalanobis detector: OosDetector.combined")
        labels = np.asarray(labels)
        intents = sorted(set(labels))
        means = np.stack([vectors[labels == intent].mean(0) for intent in intents])
        centred = vectors - means[np.searchsorted(intents, labels)]
        covariance = centred.T @ centred / len(vectors)
        # a little ridge: a few hundred dimensions from a few thousand messages make a near-singular covariance
        covariance += np.eye(len(covariance), dtype=np.float32) * 1e-3 * np.trace(covariance) / len(covariance)
        return cls(method, {"means": means.astype(np.float32),
                            "precision": np.linalg.inv(covariance).astype(np.float32)})

    @classmethod
    def combined(cls, mahalanobis: OosDetector, reference_msp: np.ndarray,
                 reference_vectors: np.ndarray) -> OosDetector:
        """max-softmax and ``mahalanobis`` as percentiles among the reference messages, added."""
        arrays = dict(mahalanobis.arrays)
        arrays["reference_msp"] = np.sort(np.asarray(reference_msp, dtype=np.float32))
        arrays["reference_distance"] = np.sort(mahalanobis.scores(reference_vectors))
        return cls("msp_mahalanobis", arrays)

    def scores(self, vectors: np.ndarray, msp: np.ndarray | None = None) -> np.ndarray:
        """One out-of-scope score per sentence vector (higher: further from every intent). ``msp``: each
        message's 1 - best in-scope probability, which msp_mahalanobis reads too."""
        if self.method == "msp_mahalanobis":
            if msp is None:
                raise ValueError("msp_mahalanobis scores need the messages' max-softmax scores too")
            distance = OosDetector("mahalanobis", self.arrays).scores(vectors)
            return (_percentile(self.arrays["reference_msp"], msp)
                    + _percentile(self.arrays["reference_distance"], distance)).astype(np.float32)
        vectors = normalised(vectors)
        if self.method == "knn":
            return (1.0 - self._kth_similarity(vectors, self.arrays["bank"])).astype(np.float32)
        if self.method == "knn_negatives":
            return (self._kth_similarity(vectors, self.arrays["negatives"])
                    - self._kth_similarity(vectors, self.arrays["bank"])).astype(np.float32)
        means, precision = self.arrays["means"], self.arrays["precision"]
        # (x - m)' P (x - m) for every mean at once: x'Px - 2 x'Pm + m'Pm
        xp = vectors @ precision
        distances = ((xp * vectors).sum(1)[:, None] - 2 * xp @ means.T
                     + ((means @ precision) * means).sum(1)[None, :])
        return distances.min(1).astype(np.float32)

    @property
    def needs_msp(self) -> bool:
        return self.method == "msp_mahalanobis"

    def _kth_similarity(self, vectors: np.ndarray, bank: np.ndarray) -> np.ndarray:
        similarity = vectors @ bank.T.astype(np.float32)
        k = min(self.k, similarity.shape[1])
        return -np.partition(-similarity, k - 1, axis=1)[:, k - 1]

    def save(self, directory: Path) -> dict:
        """Write oos.npz; returns the metadata entry."""
        np.savez_compressed(Path(directory) / OOS_FILE, **self.arrays)
        return {"format_version": OOS_FORMAT_VERSION, "method": self.method, "k": self.k, "file": OOS_FILE}

    @classmethod
    def load(cls, directory: Path, metadata: dict) -> OosDetector | None:
        """The model directory's detector, or None when it has none."""
        entry = metadata.get("oos_detector")
        if not entry:
            return None
        if entry.get("format_version") != OOS_FORMAT_VERSION or entry.get("method") not in METHODS:
            raise ValueError(f"{directory}: helpline.json's oos_detector {entry} is not one this Helpline reads "
                             f"(format_version {OOS_FORMAT_VERSION}, method one of {METHODS}); retrain the model")
        path = Path(directory) / entry.get("file", OOS_FILE)
        if not path.is_file():
            raise ValueError(f"{directory}: helpline.json names an OOS detector but {path.name} is missing; "
                             "the model directory is damaged: copy it again or retrain")
        with np.load(path) as stored:
            return cls(entry["method"], {name: stored[name] for name in stored.files}, int(entry.get("k", 1)))


def _percentile(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The share of the (sorted) reference values at or below each value."""
    return np.searchsorted(reference, np.asarray(values, dtype=np.float32), side="right") / max(len(reference), 1)

"""`python -m finetune discover`: group out-of-scope and uncertain messages into candidate new intents.

Messages are embedded with the model's encoder (mean-pooled, L2-normalised), clustered with k-means (k given,
or the k in a range with the best silhouette), and each cluster gets a suggested name from its key terms
(class-based TF-IDF: words frequent in this cluster and rare in the others) and its most central examples.
An agent reviews the candidates in the console and can add one to the catalogue.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import silhouette_score

from bot.cli import parse_one
from bot.model.format import read_metadata
from bot.model.prediction import OOS
from finetune import PROG

STOP = {"i", "my", "me", "the", "a", "an", "to", "is", "it", "do", "can", "you", "what", "how", "and", "of", "for",
        "in", "on", "this", "that", "be", "have", "with", "are", "was", "please", "there", "your", "am", "why", "not"}


def embed(model_dir: str | None, texts: list[str], batch_size: int = 64, base_model: str | None = None) -> np.ndarray:
    """Mean-pooled, normalised embeddings from a Helpline model's fine-tuned encoder (``model_dir``) or, by
    default, from a base encoder. The base encoder clusters unseen intents better: fine-tuning pulls the space
    towards the known intents (measured in benchmarks/RESULTS.md)."""
    import torch

    from bot import HelplineModel
    from bot.model.base_models import DEFAULT_BASE_MODEL

    model = (HelplineModel.from_pretrained(model_dir, backend="torch") if model_dir else
             HelplineModel.from_base(base_model or DEFAULT_BASE_MODEL, ["a", "b"]))
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = model.tokenize(texts[start:start + batch_size])
            out.append(model.network.embed(batch["input_ids"], batch["attention_mask"]).numpy())
    vectors = np.concatenate(out) if out else np.zeros((0, 1))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-9)


def choose_k(vectors: np.ndarray, k_min: int = 2, k_max: int = 30, seed: int = 0) -> int:
    """The k with the best cosine silhouette (vectors are normalised, so Euclidean k-means is cosine-like)."""
    best, best_score = k_min, -1.0
    for k in range(k_min, min(k_max, len(vectors) - 1) + 1):
        labels = KMeans(k, n_init=4, random_state=seed).fit_predict(vectors)
        score = silhouette_score(vectors, labels, metric="cosine")
        if score > best_score:
            best, best_score = k, score
    return best


def cluster(vectors: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    km = KMeans(k, n_init=10, random_state=seed).fit(vectors)
    return km.labels_, km.cluster_centers_


def key_terms(texts: list[str], labels: np.ndarray, top: int = 3) -> dict[int, list[str]]:
    """Class-based TF-IDF: per cluster, the words most specific to it."""
    clusters = sorted(set(labels.tolist()))
    docs = [" ".join(t for t, label in zip(texts, labels) if label == c) for c in clusters]
    vectorizer = CountVectorizer(token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b", stop_words=sorted(STOP))
    try:
        counts = vectorizer.fit_transform(docs).toarray().astype(float)
    except ValueError:  # no words at all
        return {c: [] for c in clusters}
    tf = counts / counts.sum(1, keepdims=True).clip(min=1)
    idf = np.log(1 + counts.sum() / counts.sum(0).clip(min=1))
    words = vectorizer.get_feature_names_out()
    return {c: [words[i] for i in np.argsort(-(tf[j] * idf))[:top] if tf[j, i] > 0] for j, c in enumerate(clusters)}


def discover(texts: list[str], vectors: np.ndarray, k: int | None = None, examples: int = 5) -> list[dict]:
    """Candidate intents, largest first: suggested name, key terms, size and the most central examples."""
    if len(texts) < 4:
        raise ValueError(f"need at least 4 messages to discover intents, got {len(texts)}")
    k = k or choose_k(vectors, 2, max(2, min(30, len(texts) // 5)))
    labels, centers = cluster(vectors, k)
    terms = key_terms(texts, labels)
    candidates = []
    for c in range(k):
        idx = np.where(labels == c)[0]
        if not len(idx):
            continue
        central = idx[np.argsort(-(vectors[idx] @ centers[c]))]
        name = "_".join(terms.get(c, [])[:3]) or f"cluster_{c}"
        candidates.append({"name": re.sub(r"[^a-z0-9_]", "", name.lower()), "key_terms": terms.get(c, []),
                           "size": int(len(idx)), "examples": [texts[i] for i in central[:examples]],
                           "all_examples": [texts[i] for i in central]})
    return sorted(candidates, key=lambda c: -c["size"])


def store_texts(db: str, min_confidence: float) -> list[str]:
    """Out-of-scope and low-confidence customer messages from the store, without duplicates."""
    from bot.store.conversations import Store

    seen, texts = set(), []
    for m in Store(db).all_customer_messages():
        if (m.intent == OOS or (m.confidence or 0) < min_confidence) and m.text.lower() not in seen:
            seen.add(m.text.lower())
            texts.append(m.text)
    return texts


def add_parser(subparsers, name: str, help: str | None):
    parser = subparsers.add_parser(name, help=help, description=__doc__.splitlines()[0])
    parser.add_argument("--from-store", action="store_true", help="use out-of-scope/uncertain stored messages")
    parser.add_argument("--db", help="SQLAlchemy URL (default HELPLINE_DB)")
    parser.add_argument("--texts", help="a text file, one message a line (instead of or besides the store)")
    parser.add_argument("--model", help="embed with this Helpline model's fine-tuned encoder (default: the base "
                        "encoder the serving model was trained from, which separates unseen intents better)")
    parser.add_argument("--min-confidence", type=float, default=0.5, help="below this a message counts as uncertain")
    parser.add_argument("--k", type=int, help="number of clusters (default: chosen by silhouette)")
    parser.add_argument("--output", help="write the candidates as JSON here")
    parser.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> list[dict]:
    return run(parse_one(add_parser, "discover", argv, PROG))


def run(args) -> list[dict]:
    texts: list[str] = []
    if args.texts:
        texts += [line.strip() for line in Path(args.texts).read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.from_store:
        from .environment import database

        texts += store_texts(args.db or database(), args.min_confidence)
    if not texts:
        raise ValueError("no messages to cluster: give --texts FILE and/or --from-store")
    from .retrain import serving_model

    serving = None if args.model else serving_model()
    base = read_metadata(Path(serving)).get("base_model") if serving else None
    candidates = discover(texts, embed(args.model, texts, base_model=base), args.k)
    for c in candidates:
        print(f"{c['size']:5d}  {c['name']:<36} e.g. {c['examples'][0]!r}", file=sys.stderr)
    if args.output:
        Path(args.output).write_text(json.dumps(candidates, indent=2), encoding="utf-8")
    return candidates

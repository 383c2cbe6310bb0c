"""Intent discovery benchmark: cluster messages whose intents are hidden, score against the hidden labels.

    python benchmarks/discovery.py [--model MODEL_DIR] [--intents 30] [--test FILE.json]

Takes CLINC150 validation messages of N intents chosen at random (seed 42) from the domains outside banking and
credit cards (so a model trained on retail or banking intents has not seen them), hides the labels, clusters with
Helpline's discovery (encoder embeddings + k-means) and with the baseline k-means on TF-IDF in the same run, both
with k = N, and reports NMI, ARI and Hungarian-matched accuracy (plus Helpline with k chosen by silhouette).
`--test` takes another CLINC-format JSON (its "test" or "val" list). Writes benchmarks/results/discovery.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from benchmarks.report import command_line, markdown_table, publish

ROOT = Path(__file__).resolve().parent.parent

SEEN_DOMAINS = ("banking", "credit_cards")


def hungarian_accuracy(truth: list[str], clusters: np.ndarray) -> float:
    labels = sorted(set(truth))
    index = {label: i for i, label in enumerate(labels)}
    k = max(len(labels), int(clusters.max()) + 1)
    counts = np.zeros((k, k), dtype=int)
    for t, c in zip(truth, clusters):
        counts[c, index[t]] += 1
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(truth))


def scores(truth, clusters) -> dict:
    return {"nmi": round(normalized_mutual_info_score(truth, clusters), 4),
            "ari": round(adjusted_rand_score(truth, clusters), 4),
            "hungarian_accuracy": round(hungarian_accuracy(truth, np.asarray(clusters)), 4)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("HELPLINE_DATA", str(ROOT.parent / "shared" / "datasets")))
    parser.add_argument("--model", help="Helpline model whose encoder embeds (default: the base encoder)")
    parser.add_argument("--intents", type=int, default=30, help="how many hidden intents to cluster")
    parser.add_argument("--test", help="CLINC-format JSON with a 'test' (or 'val') list to use instead")
    args = parser.parse_args(argv)
    from finetune.discover import choose_k, cluster, embed

    clinc = Path(args.data) / "clinc150"
    source = json.loads((Path(args.test) if args.test else clinc / "train_val.json").read_text())
    rows = source.get("test") or source["val"]
    domains = json.loads((clinc / "domains.json").read_text())
    seen = {i for d in SEEN_DOMAINS for i in domains.get(d, [])}
    pool = sorted({label for _, label in rows} - seen)
    chosen = set(random.Random(42).sample(pool, min(args.intents, len(pool))))
    texts = [t for t, label in rows if label in chosen]
    truth = [label for _, label in rows if label in chosen]
    k = len(chosen)
    results = {}
    started = time.time()
    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
    results["k-means on TF-IDF (baseline)"] = scores(truth, KMeans(k, n_init=10, random_state=0).fit_predict(tfidf))
    results["k-means on TF-IDF (baseline)"]["seconds"] = round(time.time() - started, 1)
    started = time.time()
    vectors = embed(args.model, texts)
    results["Helpline discovery"] = scores(truth, cluster(vectors, k)[0])
    results["Helpline discovery"]["seconds"] = round(time.time() - started, 1)
    auto_k = choose_k(vectors, max(2, k // 2), k * 2)
    results["Helpline discovery, k by silhouette"] = scores(truth, cluster(vectors, auto_k)[0]) | {"k": auto_k}
    base = results["k-means on TF-IDF (baseline)"]
    for row in results.values():
        row["nmi_vs_baseline"] = round(row["nmi"] / base["nmi"], 3)
    record = {"date": time.strftime("%Y-%m-%d"), "messages": len(texts), "hidden_intents": k,
              "encoder": args.model or "all-MiniLM-L6-v2 (base)", "results": results,
              "command": command_line("discovery.py", argv)}
    lines = [f"`{record['command']}` on {record['date']}: {len(texts)} CLINC150 validation messages of {k} intents "
             f"outside banking/credit cards, labels hidden; encoder {record['encoder']}.", ""]
    lines += markdown_table(["method", "NMI", "ARI", "Hungarian accuracy", "NMI vs baseline"], [
        [f"{name}{' (k=' + str(r['k']) + ')' if 'k' in r else ''}", f"{r['nmi']:.4f}", f"{r['ari']:.4f}",
         f"{r['hungarian_accuracy']:.4f}", f"{r['nmi_vs_baseline']:.3f}x"] for name, r in results.items()])
    publish("discovery", "Intent discovery", record, lines)
    return record


if __name__ == "__main__":
    main()

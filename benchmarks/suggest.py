"""Suggested replies on held-out STAR conversations: recall@1 and @3 of the reply the agent really sent.

    python benchmarks/suggest.py --model models/b77 [--transcripts star.jsonl] [--test HELD_OUT.jsonl]

Without --test the shared STAR transcripts are split by conversation (every fifth held out, seed-free); with it,
the index is built from --transcripts and scored on the --test conversations. For every agent message of a
held-out conversation each method sees only the messages before it; a suggestion counts when it equals the real
reply after normalisation (bot/assist/templates.py: placeholders for references, case and final punctuation;
numbers and names that vary between otherwise identical replies of the history as {number} / {name} slots, or as
written with --literal).
In the same run: TF-IDF retrieval (the replies after the nearest earlier contexts, the conversation so far as
one text) and the most frequent replies. Writes benchmarks/results/suggest.json and the RESULTS.md table.
"""
from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from benchmarks.report import command_line, machine, markdown_table, publish

ROOT = Path(__file__).resolve().parent.parent


def history_text(context) -> str:
    return " ".join(t["text"] for t in context.turns)


def tfidf_baseline(train: list[dict], test_cases: list, key, k: int = 3) -> list[list[str]]:
    """The replies after the k nearest earlier contexts with distinct replies (``key``: how replies compare;
    the whole conversation so far as one text, TF-IDF)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from bot.assist.suggest import agent_turns

    rows = [(history_text(context), reply) for c in train for _, context, reply in agent_turns(c)]
    row_keys = [key(reply) for _, reply in rows]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    matrix = vectorizer.fit_transform([text for text, _ in rows])
    out = []
    for start in range(0, len(test_cases), 512):
        similarity = (vectorizer.transform([history_text(c) for c, _ in test_cases[start:start + 512]])
                      @ matrix.T).toarray()
        for row in similarity:
            picked: list[str] = []
            picked_keys: set[str] = set()
            for j in np.argsort(-row)[:200]:
                if row_keys[j] not in picked_keys:
                    picked.append(rows[j][1])
                    picked_keys.add(row_keys[j])
                if len(picked) == k:
                    break
            out.append(picked)
    return out


def recall(suggestions: list[list[str]], truths: list[str], at: int, key) -> float:
    return float(np.mean([key(t) in {key(s) for s in got[:at]} for got, t in zip(suggestions, truths)]))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a Helpline model directory (its encoder embeds contexts)")
    parser.add_argument("--data", default=os.environ.get("HELPLINE_DATA", str(ROOT.parent / "shared" / "datasets")))
    parser.add_argument("--transcripts", help="history transcripts (default: STAR under --data)")
    parser.add_argument("--test", help="held-out transcripts to score (default: every fifth STAR conversation)")
    parser.add_argument("--literal", action="store_true",
                        help="compare replies with every number and name as written (no {number} / {name} slots "
                             "learnt from the history)")
    args = parser.parse_args(argv)

    from bot.assist.suggest import SuggestionIndex, agent_turns
    from bot.batch.transcripts import read_transcripts
    from bot.model.helpline_model import HelplineModel

    history = read_transcripts(args.transcripts or Path(args.data) / "transcripts" / "star.jsonl")
    if args.test:
        train, test = history, read_transcripts(args.test)
    else:
        train = [c for i, c in enumerate(history) if i % 5]
        test = [c for i, c in enumerate(history) if i % 5 == 0]
    cases = [(context, reply) for c in test for _, context, reply in agent_turns(c)]
    truths = [reply for _, reply in cases]
    classifier = HelplineModel.from_pretrained(args.model)
    results, seconds = {}, {}
    started = time.perf_counter()
    index = SuggestionIndex.build(train, encode=classifier.sentence_vectors, progress=True,
                                  slots=not args.literal)
    key = index.keys.key    # every method's suggestions are compared as the index compares replies
    built = time.perf_counter() - started
    started = time.perf_counter()
    ours = []
    for start in range(0, len(cases), 512):
        ours += index.suggest([c for c, _ in cases[start:start + 512]], k=3)
    seconds["Helpline (reply ranker)"] = time.perf_counter() - started
    results["Helpline (reply ranker)"] = ours
    started = time.perf_counter()
    results["TF-IDF nearest contexts"] = tfidf_baseline(train, cases, key)
    seconds["TF-IDF nearest contexts"] = time.perf_counter() - started
    counts = Counter(key(r) for c in train for _, _, r in agent_turns(c))
    frequent = [reply for reply, _ in counts.most_common(3)]
    results["most frequent replies"] = [frequent] * len(cases)
    seconds["most frequent replies"] = 0.0
    rows = {name: {"recall@1": round(recall(s, truths, 1, key), 4), "recall@3": round(recall(s, truths, 3, key), 4),
                   "seconds": round(seconds[name], 1)} for name, s in results.items()}
    base = rows["TF-IDF nearest contexts"]
    record = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "model": args.model,
              "history_conversations": len(train), "test_conversations": len(test), "agent_messages": len(cases),
              "index_entries": index.examples, "reply_templates": len(index.templates),
              "index_seconds": round(built, 1), "slots": not args.literal, "methods": rows,
              "command": command_line("suggest.py", argv)}
    lines = [f"`{record['command']}` on {record['date']}, {record['machine']}.", "",
             f"{len(test)} held-out conversations, {len(cases)} agent messages; index from {len(train)} "
             f"conversations ({index.examples} agent messages, {len(index.templates)} reusable reply templates, "
             f"ranker trained in {built:.0f} s); replies compared "
             + ("with every number and name as written." if args.literal else
                f"with the numbers and names that vary between otherwise identical replies as {{number}} / "
                f"{{name}} slots ({len(index.keys.varying)} such replies in the history)."), ""]
    lines += markdown_table(["method", "recall@1", "recall@3", "vs TF-IDF (@3)", "seconds"], [
        [name, f"{row['recall@1']:.4f}", f"{row['recall@3']:.4f}", f"{row['recall@3'] / base['recall@3']:.2f}x",
         f"{row['seconds']:.1f}"] for name, row in rows.items()])
    publish("suggest", "Suggested replies", record, lines)
    return record


if __name__ == "__main__":
    main()

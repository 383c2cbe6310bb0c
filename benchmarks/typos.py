"""Typo benchmark: how much intent accuracy one typing slip per message costs, Helpline against TF-IDF + LinearSVC.

    python benchmarks/typos.py --model DIR [DIR ...] --train TRAIN.csv --test TEST.csv

Every held-back test message (CSV text,intent) is read as written and with one edit in one word of 3+ letters,
made two ways: the audit's slip (two neighbouring letters swapped: `finetune audit`'s `typo`), and a random edit
(a letter dropped, a random letter put in or put in place of one, or two neighbours swapped). The random letters
are not the keyboard neighbours training's slip copies use (finetune/counterfactual_augment.py), so the score is
not read off training's own generator. Each model is read as served (int8 ONNX where exported, out-of-scope
guard included: a message turned away counts as wrong); the baseline is trained on TRAIN in the same run. Writes
benchmarks/results/typos.json and the "Typos" section of benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import random
import string
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd

from benchmarks.baselines import tfidf_svc_intents
from benchmarks.report import command_line, machine, markdown_table, publish
from finetune.counterfactual_augment import with_word_edited


def random_edit(text: str, rng: random.Random) -> str:
    """One edit in one word of 3+ letters: a letter dropped, a random letter inserted or substituted, a swap."""
    return with_word_edited(text, rng, edited)


def edited(word: str, rng: random.Random) -> str:
    j, letter = rng.randrange(len(word) - 1), rng.choice(string.ascii_lowercase)
    edits = [word[:j] + word[j + 1:], word[:j] + letter + word[j:], word[:j] + letter + word[j + 1:],
             word[:j] + word[j + 1] + word[j] + word[j + 2:]]
    return rng.choice([edit for edit in edits if edit != word])   # a swap of two equal letters is no edit


def variants(texts: list[str], seed: int) -> dict[str, list[str]]:
    from finetune.counterfactual_audit import typo

    swap, edit = random.Random(seed), random.Random(seed + 1)
    return {"as written": texts, "one swap (audit)": [typo(t, swap) for t in texts],
            "one random edit": [random_edit(t, edit) for t in texts]}


def accuracy(predicted: list[str], truth: list[str]) -> float:
    return round(sum(p == t for p, t in zip(predicted, truth)) / len(truth), 4)


def main(argv: list[str] | None = None) -> dict:
    from bot import HelplineModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", required=True, help="Helpline model directories to compare")
    parser.add_argument("--train", required=True, help="the CSV (text,intent) the models were trained on")
    parser.add_argument("--test", required=True, help="held-back test CSV (text,intent)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    train, test = pd.read_csv(args.train), pd.read_csv(args.test)
    truth = list(test["intent"])
    sets = variants(list(test["text"]), args.seed)
    # the baseline is fitted once and reads every variant in one call, cut back into the variants after
    read = tfidf_svc_intents(list(train["text"]), list(train["intent"]), [t for texts in sets.values() for t in texts])
    results = {"tfidf_linearsvc": {name: accuracy(read[k * len(truth):(k + 1) * len(truth)], truth)
                                   for k, name in enumerate(sets)}}
    for directory in args.model:
        model = HelplineModel.from_pretrained(directory)
        results[directory] = {name: accuracy([p.intent for p in model.predict(texts)], truth)
                              for name, texts in sets.items()}
    for scores in results.values():   # what one slip costs, in points of accuracy
        scores.update({f"cost: {name}": round(100 * (scores["as written"] - scores[name]), 1)
                       for name in list(sets)[1:]})
    record = {"command": command_line("typos.py", argv), "machine": machine(), "date": time.strftime("%Y-%m-%d"),
              "test": args.test, "messages": len(truth), "results": results}
    columns = list(next(iter(results.values())))
    lines = [f"{record['date']}; {record['machine']}; `{record['command']}`", "",
             f"{len(truth)} held-back messages, each read as written and with one edit; cost = points of accuracy "
             "lost to the edit.", "",
             *markdown_table(["reader", *columns], [[name, *scores.values()] for name, scores in results.items()])]
    publish("typos", "Typos", record, lines)
    return record


if __name__ == "__main__":
    main()

"""Counterfactual audit: does the model treat every customer alike?

    python -m finetune audit --model DIR [--data FILE] [--questions 200] --output DIR

Each customer question is asked again with only a name ("Hi, this is Lakisha. ..."), a self-description ("As a
disabled customer: ...") or the way it is written changed (a typo, casing, punctuation, politeness). For every
group of names and identity terms, and every writing variant: how often the routed intent changes (flip rate),
the mean frustration and the share read negative; between the groups of one family, the largest gap. The
names, terms and templates live in finetune/audit_terms.yaml (versioned, with their sources). Writes
audit.json and audit.html (plots and the worst examples) into DIR.
"""
from __future__ import annotations

import csv
import html
import json
import random
import sys
from pathlib import Path

import numpy as np
import yaml

from bot.cli import parse_one
from finetune import PROG

TERMS = Path(__file__).resolve().parent / "audit_terms.yaml"
TERMS_FORMAT_VERSION = 1
WORST = 10   # examples shown per family


def load_terms(path: str | Path = TERMS) -> dict:
    terms = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(terms, dict) or terms.get("format_version") != TERMS_FORMAT_VERSION:
        raise ValueError(f"{path}: an audit terms file of format_version {TERMS_FORMAT_VERSION} is needed")
    for key in ("names", "identities", "name_template", "identity_template"):
        if key not in terms:
            raise ValueError(f"{path}: '{key}' is missing")
    return terms


def typo(text: str, rng: random.Random) -> str:
    """One edit: two neighbouring letters of a word of 4+ letters swapped (the commonest typing slip)."""
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long:
        return text
    i = rng.choice(long)
    j = rng.randrange(len(words[i]) - 1)
    word = words[i]
    words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2:]
    return " ".join(words)


WRITING = {   # variant -> how a question is rewritten
    "typo": typo,
    "lower case": lambda text, rng: text.lower(),
    "no punctuation": lambda text, rng: "".join(c for c in text if c.isalnum() or c.isspace()),
    "please": lambda text, rng: f"Please, {text[:1].lower()}{text[1:]}",
    "thanks": lambda text, rng: f"{text} Thanks!",
}


def variants(questions: list[str], terms: dict, seed: int = 42) -> list[tuple[str, str, int, str]]:
    """(family, group, question index, text) for every counterfactual of every question."""
    rng = random.Random(seed)
    rows = []
    for q, question in enumerate(questions):
        for group, names in terms["names"].items():
            rows += [("names", group, q, terms["name_template"].format(name=n, question=question)) for n in names]
        for family, identities in terms["identities"].items():
            rows += [(family, identity, q, terms["identity_template"].format(identity=identity, question=question))
                     for identity in identities]
        rows += [("writing", name, q, rewrite(question, rng)) for name, rewrite in WRITING.items()]
    return rows


def summarise(rows, base, read) -> dict:
    """Per family: each group's flip rate, mean frustration and share negative, the gaps between groups, and the
    examples whose reading moved most."""
    families = {}
    for (family, group, q, text), p in zip(rows, read):
        entry = families.setdefault(family, {}).setdefault(group, {"flips": [], "frustration": [], "negative": [],
                                                                   "examples": []})
        entry["flips"].append(p.intent != base[q].intent)
        entry["frustration"].append(p.frustration)
        entry["negative"].append(p.sentiment == "negative")
        entry["examples"].append((abs(p.frustration - base[q].frustration), p.intent != base[q].intent, text,
                                  base[q].text, p.intent, base[q].intent, p.frustration, base[q].frustration))
    out = {}
    for family, groups in families.items():
        table = {group: {"flip_rate": round(float(np.mean(g["flips"])), 4),
                         "mean_frustration": round(float(np.mean(g["frustration"])), 4),
                         "share_negative": round(float(np.mean(g["negative"])), 4), "n": len(g["flips"])}
                 for group, g in groups.items()}
        worst = sorted((e for g in groups.values() for e in g["examples"]), key=lambda e: (e[1], e[0]),
                       reverse=True)[:WORST]
        out[family] = {"groups": table,
                       "max_flip_rate": max(t["flip_rate"] for t in table.values()),
                       "frustration_gap": round(max(t["mean_frustration"] for t in table.values())
                                                - min(t["mean_frustration"] for t in table.values()), 4),
                       "negative_gap": round(max(t["share_negative"] for t in table.values())
                                             - min(t["share_negative"] for t in table.values()), 4),
                       "worst": [{"text": e[2], "original": e[3], "intent": e[4], "original_intent": e[5],
                                  "frustration": round(e[6], 4), "original_frustration": round(e[7], 4)}
                                 for e in worst]}
    return out


def run_audit(classifier, questions: list[str], terms: dict, seed: int = 42) -> dict:
    """The audit of ``classifier`` (anything with predict(list)) on ``questions``."""
    base = classifier.predict(questions)
    rows = variants(questions, terms, seed)
    read = classifier.predict([text for *_, text in rows])
    families = summarise(rows, base, read)
    return {"questions": len(questions), "counterfactuals": len(rows),
            "baseline": {"mean_frustration": round(float(np.mean([p.frustration for p in base])), 4),
                         "share_negative": round(float(np.mean([p.sentiment == "negative" for p in base])), 4)},
            "families": families,
            "worst_flip_rate": max(f["max_flip_rate"] for name, f in families.items() if name != "writing"),
            "worst_frustration_gap": max(f["frustration_gap"] for name, f in families.items() if name != "writing"),
            "worst_negative_gap": max(f["negative_gap"] for name, f in families.items() if name != "writing")}


def render(result: dict, model: str) -> str:
    """audit.html: a summary, a chart per family (flip rate and mean frustration by group), the worst examples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bot.batch.report import _png

    parts = [f"<h1>Counterfactual audit of {html.escape(model)}</h1>",
             f"<p>{result['questions']} questions, {result['counterfactuals']} counterfactuals. Across names and "
             f"identity terms: largest intent flip rate {result['worst_flip_rate']:.1%}, largest gap in mean "
             f"frustration {result['worst_frustration_gap']:.3f}, in the share read negative "
             f"{result['worst_negative_gap']:.3f}.</p>"]
    for family, f in result["families"].items():
        groups = list(f["groups"])
        figure, axes = plt.subplots(1, 2, figsize=(11, 0.35 * len(groups) + 1.2))
        axes[0].barh(groups, [f["groups"][g]["flip_rate"] for g in groups])
        axes[0].set_xlabel("intent flip rate")
        axes[1].barh(groups, [f["groups"][g]["mean_frustration"] for g in groups], color="tab:red")
        axes[1].axvline(result["baseline"]["mean_frustration"], color="black", linestyle="--", linewidth=1)
        axes[1].set_xlabel("mean frustration (dashed: the questions as written)")
        axes[1].set_yticklabels([])
        figure.suptitle(family)
        parts.append(f"<h2>{html.escape(family)}</h2><p>flip rate up to {f['max_flip_rate']:.1%}; frustration "
                     f"gap {f['frustration_gap']:.3f}; share-negative gap {f['negative_gap']:.3f}</p>"
                     f"<img alt='{html.escape(family)}' src='data:image/png;base64,{_png(figure)}'>")
        plt.close(figure)
        rows = "".join(f"<tr><td>{html.escape(w['text'])}</td><td>{html.escape(w['original_intent'])} → "
                       f"{html.escape(w['intent'])}</td><td>{w['original_frustration']:.2f} → {w['frustration']:.2f}"
                       "</td></tr>" for w in f["worst"])
        parts.append(f"<table><tr><th>counterfactual</th><th>intent</th><th>frustration</th></tr>{rows}</table>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Counterfactual audit</title><style>"
            "body{font:15px/1.4 system-ui,sans-serif;max-width:70em;margin:2em auto}td,th{border-bottom:1px solid "
            "#ddd;padding:4px;text-align:left}</style></head><body>" + "".join(parts) + "</body></html>")


def read_questions(path: str, limit: int, seed: int = 42) -> list[str]:
    """Up to ``limit`` texts of a CSV with a text column (or a catalogue's examples), sampled with ``seed``."""
    if path.endswith((".yaml", ".yml")):
        from intents import load_catalogue

        texts = [text for text, _ in load_catalogue(path).training_pairs()]
    else:
        with open(path, encoding="utf-8", newline="") as handle:
            texts = [row["text"] for row in csv.DictReader(handle) if row.get("text", "").strip()]
    if not texts:
        raise ValueError(f"{path}: no questions found (a CSV with a 'text' column, or a catalogue)")
    return random.Random(seed).sample(texts, min(limit, len(texts)))


def add_parser(subparsers, name: str, help: str | None):
    from .environment import data_dir

    default = Path(data_dir()) / "banking77" / "train.csv"
    parser = subparsers.add_parser(name, help=help, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the model directory to audit")
    parser.add_argument("--data", default=str(default), help="questions: a CSV with a 'text' column, or a "
                                                             "catalogue YAML (default: Banking77 train)")
    parser.add_argument("--questions", type=int, default=200, help="questions sampled from --data")
    parser.add_argument("--terms", default=str(TERMS), help="names, identity terms and templates (YAML)")
    parser.add_argument("--output", required=True, help="folder for audit.json and audit.html")
    parser.add_argument("--seed", type=int, default=42)
    parser.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> None:
    return run(parse_one(add_parser, "audit", argv, PROG))


def run(args) -> None:
    from bot.model.helpline_model import HelplineModel

    questions = read_questions(args.data, args.questions, args.seed)
    result = run_audit(HelplineModel.from_pretrained(args.model), questions, load_terms(args.terms), args.seed)
    result.update(model=args.model, data=args.data)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "audit.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out / "audit.html").write_text(render(result, args.model), encoding="utf-8")
    print(f"intent flips up to {result['worst_flip_rate']:.1%}, frustration gap {result['worst_frustration_gap']:.3f}"
          f", share-negative gap {result['worst_negative_gap']:.3f} between groups; {out / 'audit.html'}",
          file=sys.stderr)

"""Fitting the upset head (bot/model/upset.py) on real customer text written to companies.

    python -m finetune upset --model DIR [--emotion-data DIR] [--without-restricted-data] [--seed 42]

Sources (`HELPLINE_DATA`, README there for licences):
  airline      customer_sentiment/airline_tweets_train.csv: tweets to US airlines, upset = "negative"
               (CC BY-NC-SA 4.0: non-commercial)
  complaints   customer_sentiment/complaints_train.csv: tweets to support accounts, upset = a complaint
               (research data, no licence stated)
  star         transcripts/star.jsonl, the four fifths of the conversations with the agent's "customer was annoyed"
               report that benchmarks/emotion_in_context.py does not score: weak labels, as support chats read:
               calm conversations' customer messages calm, and in an annoyed one the message the emotion head
               reads as most frustrated upset (MIT)
  goemotions   a sample of GoEmotions train, upset = anger/annoyance/disappointment/disgust (Reddit, beside them)
  written      finetune/support_moods/ train split: conversations we wrote; they may train, never select
Every fifth airline and complaints tweet (by a hash of its text) is held out: C and the negative cut are chosen
on those held-out real tweets only, and benchmarks/emotion_in_context.py scores them. --without-restricted-data
trains on the openly licensed sources alone (the model card lists what a model was trained on).
"""
from __future__ import annotations

import csv
import hashlib
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from bot.cli import parse_one
from bot.model.upset import UpsetHead, content_of, raw_features, readable
from finetune import PROG

from .counterfactual_augment import SHARE, augmented
from .environment import data_dir as data_folder
from .mood_fit import SUPPORT_MOODS, customer_rows, fit_lexical_upset, is_upset, moods_split

REAL = {"airline": ("customer_sentiment/airline_tweets_train.csv", "CC BY-NC-SA 4.0 (non-commercial)"),
        "complaints": ("customer_sentiment/complaints_train.csv", "research data, no licence stated")}
GOEMOTIONS_ROWS = 8000
STAR_CALM_ROWS = 8000     # calm STAR customer messages sampled (of ~30,000): enough to show calm support talk
STAR_FILE = "transcripts/star.jsonl"
C_GRID = (0.01, 0.03, 0.1, 0.3)
FOLDS = 3


@dataclass
class Labelled:
    name: str
    texts: list[str]
    upset: np.ndarray
    weight: float = 1.0          # the set's total weight relative to the others
    licence: str = ""


def held_out(text: str) -> bool:
    """Every fifth text, by a hash of it (stable across runs and machines): the selection split."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % 5 == 0


def read_real(data_dir: Path, name: str) -> tuple[Labelled, Labelled] | None:
    """(train, held-out) of one real source, or None when its file is not there."""
    relative, licence = REAL[name]
    path = Path(data_dir) / relative
    if not path.is_file():
        return None
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    upset = (lambda r: r["airline_sentiment"] == "negative") if name == "airline" else (lambda r: r["complaint"] == "1")
    pairs = [(r["text"], upset(r)) for r in rows]
    split = [[p for p in pairs if held_out(p[0]) == dev] for dev in (False, True)]
    # complaints at half weight: its "complaint" includes plain problem reports, which support chats are full of
    weight = 0.5 if name == "complaints" else 1.0
    return tuple(Labelled(f"{name}{'_dev' if dev else ''}", [t for t, _ in part], np.array([u for _, u in part], int),
                          weight=weight, licence=licence) for dev, part in zip((False, True), split))


def upset_task_data(data_dir: Path, restricted: bool = True) -> tuple[list[str], list[int]] | None:
    """(texts, 0/1) for the encoder's upset task (finetune/loop.py): the training four fifths of the real tweet
    sets, placeholders removed as serving removes them; None without them (or without restricted data)."""
    found = [read_real(Path(data_dir), name) for name in REAL] if restricted else []
    texts, labels, _ = _rows([pair[0] for pair in found if pair])
    return (texts, [int(u) for u in labels]) if texts else None


def star_weak(path: Path, classifier, seed: int = 42) -> Labelled | None:
    """STAR's training conversations as weakly labelled customer messages (see the module's docstring)."""
    from bot.batch.transcripts import read_transcripts
    from bot.model.emotions import frustration_of

    if classifier is None or not Path(path).is_file():
        return None
    reported = [c for c in read_transcripts(path) if (c.get("meta") or {}).get("agent_reported_customer_annoyed")
                is not None]
    calm, upset = [], []
    for conversation in moods_split(reported, dev=False):
        texts = [m["text"] for m in conversation["messages"] if m["role"] == "customer" and m["text"].strip()]
        if texts and conversation["meta"]["agent_reported_customer_annoyed"]:
            read = classifier.predict(texts)
            upset.append(texts[int(np.argmax([frustration_of(p.emotions) for p in read]))])
        else:
            calm += texts
    calm = random.Random(seed).sample(calm, min(STAR_CALM_ROWS, len(calm)))
    return Labelled("star", calm + upset, np.array([0] * len(calm) + [1] * len(upset)), licence="MIT")


def training_sets(data_dir: Path, emotions=None, restricted: bool = True, seed: int = 42, classifier=None
                  ) -> tuple[list[Labelled], list[Labelled]]:
    """(train sets, held-out real sets). ``classifier``: picks the upset message of STAR's annoyed conversations
    (without one, STAR is left out)."""
    train, dev = [], []
    for name in REAL if restricted else ():
        found = read_real(data_dir, name)
        if found:
            train.append(found[0])
            dev.append(found[1])
    if found_star := star_weak(Path(data_dir) / STAR_FILE, classifier, seed):
        train.append(found_star)
    if emotions is not None and emotions.train is not None:
        rows = random.Random(seed).sample(range(len(emotions.train)), min(GOEMOTIONS_ROWS, len(emotions.train)))
        texts = [emotions.train[i]["text"] for i in rows]
        upset = [int(is_upset(emotions.labels[j] for j in emotions.train[i]["labels"])) for i in rows]
        train.append(Labelled("goemotions", texts, np.array(upset), weight=0.5, licence="Apache 2.0"))
    if SUPPORT_MOODS.is_file():
        from bot.batch.transcripts import read_transcripts

        written = customer_rows(moods_split(read_transcripts(SUPPORT_MOODS), dev=False))
        train.append(Labelled("written", [t for _, t, *_ in written], np.array([u for _, _, u, _ in written], int),
                              weight=0.25, licence="ours"))
    return train, dev


def encoder_features(classifier, texts: list[str], step: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(emotion probabilities, sentence vectors) of the texts' content, as serving computes them (with a
    progress bar: tens of thousands of texts take a minute)."""
    from tqdm.auto import tqdm

    emotion, sentence = [], []
    contents = [content_of(t) or "." for t in texts]
    for start in tqdm(range(0, len(contents), step), desc="upset head: reading texts", unit="batch",
                      file=sys.stderr, disable=len(contents) <= step):
        out = classifier.outputs(contents[start:start + step])
        if out.sentence is None or out.sentence.shape[-1] == 0:
            raise ValueError("the model gives no sentence vectors; re-export it with `python -m finetune export`")
        emotion.append(out.emotion)
        sentence.append(out.sentence)
    if not emotion:
        return np.zeros((0, 0)), np.zeros((0, 0))
    return np.vstack(emotion), np.vstack(sentence)


def _rows(sets: list[Labelled]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(contents, labels, row weights) of the readable texts of every set."""
    contents, labels, weights = [], [], []
    for labelled in sets:
        keep = [(c, u) for c, u in zip(map(content_of, labelled.texts), labelled.upset) if readable(c)]
        contents += [c for c, _ in keep]
        labels += [u for _, u in keep]
        weights += [labelled.weight / max(len(keep), 1)] * len(keep)
    weights = np.asarray(weights)
    return contents, np.asarray(labels), weights * len(weights) / weights.sum()


def with_counterfactuals(labelled: Labelled, share: float, seed: int) -> Labelled:
    """The set with counterfactual copies of ``share`` of its texts (a name or a self-description added, the
    label kept: finetune/counterfactual_augment.py), its weight unchanged."""
    texts, upset = augmented(labelled.texts, list(labelled.upset), share, seed)
    return Labelled(labelled.name, texts, np.asarray(upset, int), labelled.weight, labelled.licence)


def fit_upset(classifier, train: list[Labelled], dev: list[Labelled], seed: int = 42,
              progress=print, counterfactual: float = SHARE) -> tuple[UpsetHead, dict]:
    """An upset head for ``classifier`` (its outputs are the features): fitted on ``train`` (with
    ``counterfactual`` of each set copied under a name or self-description), C and the negative cut chosen on
    the held-out real sets ``dev``."""
    started = time.time()
    train = [with_counterfactuals(labelled, counterfactual, seed) for labelled in train]
    contents, y, weights = _rows(train)
    progress(f"upset head: reading {len(contents)} training texts with the encoder")
    emotion, sentence = encoder_features(classifier, contents)
    folds = np.random.default_rng(seed).integers(0, FOLDS, len(contents))
    lexical_oof = np.zeros(len(contents))
    for fold in range(FOLDS):   # the regression sees the lexical model's reading of texts it did not learn
        inside = folds != fold
        head = fit_lexical_upset([contents[i] for i in np.flatnonzero(inside)], y[inside], weights[inside])
        lexical_oof[~inside] = head.probabilities([contents[i] for i in np.flatnonzero(~inside)])[:, 1]
    lexical = fit_lexical_upset(contents, y, weights)
    features = raw_features(lexical_oof, contents, emotion, sentence)
    mean, scale = features.mean(0), features.std(0) + 1e-6
    dev_rows = []
    for labelled in dev:
        dev_contents, dev_y, _ = _rows([labelled])
        dev_emotion, dev_sentence = encoder_features(classifier, dev_contents)
        dev_rows.append((labelled.name, raw_features(lexical.probabilities(dev_contents)[:, 1], dev_contents,
                                                     dev_emotion, dev_sentence), dev_y))
    choices = {}
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=3000).fit((features - mean) / scale, y, sample_weight=weights)
        choices[c] = (model, [roc_auc_score(yd, model.predict_proba((xd - mean) / scale)[:, 1])
                              for _, xd, yd in dev_rows])
    best = max(C_GRID, key=lambda c: np.mean(choices[c][1]) if dev_rows else -c)
    model = choices[best][0]
    head = UpsetHead(lexical, mean, scale, np.append(model.coef_[0], model.intercept_[0]), 0.5)
    dev_scores = [(name, model.predict_proba((xd - mean) / scale)[:, 1], yd) for name, xd, yd in dev_rows]
    head.negative_cut = choose_cut(dev_scores)
    report = {"trained_on": {s.name: {"texts": len(s.texts), "upset": int(s.upset.sum()), "licence": s.licence}
                             for s in train},
              "selected_on": {name: {"texts": len(yd), "upset": int(yd.sum())} for name, _, yd in dev_rows},
              "counterfactual_share": counterfactual, "C": best,
              "auc_by_C": {str(c): [round(a, 4) for a in choices[c][1]] for c in C_GRID},
              "negative_cut": head.negative_cut, "held_out": cut_report(dev_scores, head.negative_cut),
              "seconds": round(time.time() - started, 1)}
    head.info = report
    return head, report


CUTS = np.round(np.arange(0.2, 0.81, 0.02), 2)


def cut_report(scored: list[tuple[str, np.ndarray, np.ndarray]], cut: float) -> dict:
    out = {}
    for name, scores, y in scored:
        flagged = scores >= cut
        out[name] = {"auc": round(float(roc_auc_score(y, scores)), 4), "f1": round(float(f1_score(y, flagged)), 4),
                     "precision": round(float(precision_score(y, flagged, zero_division=0)), 4),
                     "recall": round(float(recall_score(y, flagged)), 4),
                     "share_negative": round(float(flagged.mean()), 4), "share_labelled": round(float(y.mean()), 4)}
    return out


def choose_cut(scored: list[tuple[str, np.ndarray, np.ndarray]]) -> float:
    """The cut with the best mean F1 over the held-out real sets among those that keep every set's share read
    negative within 2x of its labelled share (all cuts when none does); 0.5 without held-out data."""
    if not scored:
        return 0.5

    def within(cut):
        return all(0.5 <= (s >= cut).mean() / max(y.mean(), 1e-9) <= 2.0 for _, s, y in scored)

    allowed = [c for c in CUTS if within(c)] or list(CUTS)
    return float(max(allowed, key=lambda c: np.mean([f1_score(y, s >= c) for _, s, y in scored])))


def fit_upset_head(model_dir: str, emotions=None, restricted: bool = True, seed: int = 42, data_dir=None,
                   counterfactual: float = SHARE) -> str:
    """Fit and save the upset head of the model in ``model_dir`` (read through its serving classifier, so the
    features are what serving computes); returns a one-line report."""
    from bot.model.components import save_refitted
    from bot.model.format import read_metadata
    from bot.model.helpline_model import HelplineModel

    data = Path(data_dir or data_folder())
    classifier = HelplineModel.from_pretrained(model_dir)
    classifier.upset = None
    train, dev = training_sets(data, emotions, restricted, seed, classifier)
    if not train:
        return "upset head skipped: no training data"
    head, report = fit_upset(classifier, train, dev, seed, progress=lambda m: print(m, file=sys.stderr),
                             counterfactual=counterfactual)
    metadata = read_metadata(Path(model_dir))
    classifier.upset = head
    metadata["upset"] = {k: report[k] for k in ("trained_on", "selected_on", "counterfactual_share", "C",
                                                "negative_cut", "held_out")}
    save_refitted(classifier, Path(model_dir), "upset", metadata)
    shown = ", ".join(f"{k} AUC {v['auc']:.3f} F1 {v['f1']:.3f}" for k, v in report["held_out"].items())
    return f"upset head: C {report['C']}, negative cut {head.negative_cut:.2f}; held-out real: {shown or 'none'}"


def add_parser(subparsers, name: str, help: str | None):
    data = Path(data_folder())
    parser = subparsers.add_parser(name, help=help, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model directory (its ONNX graph or weights read the texts)")
    parser.add_argument("--emotion-data", default=str(data / "goemotions" / "original"),
                        help="GoEmotions folder: a sample of its train split joins the real customer text")
    parser.add_argument("--without-restricted-data", action="store_true",
                        help="train without the airline tweets (non-commercial licence) and the complaints tweets "
                             "(no licence stated)")
    parser.add_argument("--counterfactual-share", type=float, default=SHARE,
                        help="share of the training texts also learnt with a name or a self-description added and "
                             "the label kept, so neither moves the reading (finetune/counterfactual_terms.yaml); "
                             "0: none")
    parser.add_argument("--seed", type=int, default=42)
    parser.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> None:
    return run(parse_one(add_parser, "upset", argv, PROG))


def run(args) -> None:
    from finetune.data import load_emotion_data

    data = Path(data_folder())
    emotions = load_emotion_data(args.emotion_data) if args.emotion_data else None
    if not 0 <= args.counterfactual_share <= 1:
        raise ValueError(f"--counterfactual-share must be between 0 and 1, not {args.counterfactual_share}")
    print(fit_upset_head(args.model, emotions, not args.without_restricted_data, args.seed, data,
                         args.counterfactual_share), file=sys.stderr)

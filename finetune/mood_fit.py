"""Fitting the mood head (bot/model/mood.py): in-context frustration and sentiment, on GoEmotions and on the
support conversations written for it (finetune/support_moods/, whose dev split is never trained on)."""
from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score

from bot.batch.transcripts import read_transcripts
from bot.model.lexical import ANALYZERS, LexicalHead
from bot.model.mood import (
    CONTEXT_FEATURES,
    UPSET,
    MoodContext,
    MoodHead,
    context_features,
    customer_turns,
    message_features,
    read_conversations,
)

from .lexical_fit import vectorizers

SUPPORT_MOODS = Path(__file__).parent / "support_moods" / "conversations.jsonl"
FOLDS = 5
GOEMOTIONS_ROWS = 6000   # GoEmotions rows the two regressions see beside the support conversations


STAR_CALM_PER_ANNOYED = 4  # conversations without the annoyed report taken per one with it


def star_rated(path: Path, seed: int = 42) -> list[tuple[dict, int]]:
    """STAR conversations as rated ones (bot.batch.transcripts format): the agent's own report that the customer was
    annoyed stands for a rating of 1, its absence for 5. The held-out fifth (`moods_split(dev=True)` of the
    labelled ones) is left for benchmarks/emotion_in_context.py; of the rest, every annoyed conversation and
    STAR_CALM_PER_ANNOYED times as many others, so that calm task talk does not swamp the support set."""
    if not Path(path).is_file():
        return []
    labelled = [c for c in read_transcripts(path)
                if (c.get("meta") or {}).get("agent_reported_customer_annoyed") is not None]
    train = moods_split(labelled, dev=False)
    annoyed = [c for c in train if c["meta"]["agent_reported_customer_annoyed"]]
    calm = [c for c in train if not c["meta"]["agent_reported_customer_annoyed"]]
    calm = random.Random(seed).sample(calm, min(len(calm), STAR_CALM_PER_ANNOYED * len(annoyed)))
    return [(c, 1) for c in annoyed] + [(c, 5) for c in calm]


def moods_split(conversations: list[dict], dev: bool) -> list[dict]:
    """Every fifth conversation is the dev split (scored by benchmarks/emotion_in_context.py, never fitted)."""
    return [c for i, c in enumerate(conversations) if (i % 5 == 4) == dev]


def is_upset(labels) -> bool:
    return bool(set(labels) & set(UPSET))


def customer_rows(conversations: list[dict]) -> list[tuple[int, str, bool, bool]]:
    """(conversation number, text, upset, weak) for every labelled customer message; weak: a label inferred
    from a conversation-level rating (csat_labelled), not read from the message."""
    return [(n, m["text"], is_upset(m["emotions"]), bool(c.get("weak"))) for n, c in enumerate(conversations)
            for m in c["messages"] if m["role"] == "customer" and m["text"].strip() and "emotions" in m]


def fit_lexical_upset(texts: list[str], upset: list[bool], weights: np.ndarray, C: float = 2.0) -> LexicalHead:
    from scipy.sparse import hstack

    vecs = vectorizers()
    features = hstack([vecs[name].fit_transform(texts) for name in ANALYZERS]).tocsr()
    clf = LogisticRegression(C=C, max_iter=2000).fit(features, np.asarray(upset, dtype=int), sample_weight=weights)
    coef = np.vstack([-clf.coef_[0], clf.coef_[0]]) / 2   # a two-way softmax with these logits = the sigmoid
    intercept = np.array([-clf.intercept_[0], clf.intercept_[0]]) / 2
    return LexicalHead({name: dict(vecs[name].vocabulary_) for name in ANALYZERS},
                       {name: vecs[name].idf_.astype(np.float32) for name in ANALYZERS}, coef, intercept,
                       ["calm", "upset"])


def _logistic(features: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    clf = LogisticRegression(C=1.0, max_iter=2000).fit(features, y, sample_weight=weights)
    return np.append(clf.coef_[0], clf.intercept_[0])


WEAK_SHARE = 1 / 3   # of the support rows' weight, what the weakly labelled ones (rated conversations) get at most


def _domain_weights(n_general: int, weak: list[bool]) -> np.ndarray:
    """Row weights: the support messages weigh as much in all as the many GoEmotions ones, and of that the
    weakly labelled ones (thousands, from ratings) at most WEAK_SHARE, so they cannot drown the read ones."""
    n_weak = sum(weak)
    n_read = len(weak) - n_weak
    weak_total = n_general * (WEAK_SHARE if n_read else 1.0) if n_weak else 0.0
    read_total = n_general - weak_total
    support = [weak_total / n_weak if w else read_total / max(n_read, 1) for w in weak]
    return np.concatenate([np.ones(n_general), np.asarray(support, dtype=float)])


def fit_mood(model, lexical_texts: list[str], lexical_upset: list[bool], general_texts: list[str],
             general_upset: list[bool], support: list[dict], seed: int = 42) -> tuple[MoodHead, dict]:
    """A mood head for ``model``. ``lexical_*``: single messages only the lexical model learns from (GoEmotions
    train); ``general_*``: single messages the two regressions learn from (GoEmotions dev, kept out of the
    lexical model so that they see its reading of new text); ``support``: labelled support conversations
    (transcript format, customer messages with "emotions"), read by the lexical model through folds."""
    started = time.time()
    rng = np.random.default_rng(seed)
    rows = customer_rows(support)

    def lexical_on(support_rows):
        texts = list(lexical_texts) + [rows[i][1] for i in support_rows]
        upset = list(lexical_upset) + [rows[i][2] for i in support_rows]
        weights = _domain_weights(len(lexical_texts), [rows[i][3] for i in support_rows])
        return fit_lexical_upset(texts, upset, np.maximum(weights / 4, 1.0))   # in the lexical model, a quarter

    lexical = lexical_on(range(len(rows)))
    general_lexical = lexical.probabilities(list(general_texts))[:, 1] if general_texts else np.zeros(0)
    held_out = np.zeros(len(rows))
    folds = rng.integers(0, FOLDS, size=len(support))
    for fold in range(FOLDS):
        outside = [i for i, (n, *_) in enumerate(rows) if folds[n] == fold]
        if outside:
            fold_head = lexical_on([i for i, (n, *_) in enumerate(rows) if folds[n] != fold])
            held_out[outside] = fold_head.probabilities([rows[i][1] for i in outside])[:, 1]
    upset = list(general_upset) + [u for _, _, u, _ in rows]

    groups = model.metadata.get("sentiment_groups") or {}
    general_predictions = model.predict(list(general_texts)) if general_texts else []
    support_predictions = model.predict([t for _, t, *_ in rows]) if rows else []
    msg = np.array([message_features(p, float(u), groups) for p, u in zip(general_predictions, general_lexical)]
                   + [message_features(p, float(u), groups) for p, u in zip(support_predictions, held_out)])
    y = np.asarray(upset, dtype=int)
    w = _domain_weights(len(general_texts), [weak for *_, weak in rows])
    message_weights = _logistic(msg, y, w)
    head = MoodHead(lexical, message_weights, np.zeros(len(CONTEXT_FEATURES) + 1), 0.5, groups)

    # context features: each support conversation walked in order, as serving reads it; its unlabelled customer
    # messages (the weakly labelled rated conversations have some) are context, not rows
    scores = [head._apply(message_weights, list(f)) for f in msg]
    ctx = [context_features(s, p, MoodContext()) for s, p in zip(scores[:len(general_texts)], general_predictions)]
    labelled = iter(zip(support_predictions, scores[len(general_texts):]))
    unlabelled_texts = [t["text"] for c in support for t in c["messages"]
                        if t["role"] == "customer" and t["text"].strip() and "emotions" not in t]
    unlabelled = iter(model.predict(unlabelled_texts) if unlabelled_texts else [])
    for conversation in support:
        context = MoodContext()
        for _, turn, when in customer_turns(conversation["messages"], context):
            if "emotions" in turn:
                prediction, score = next(labelled)
                ctx.append(context_features(score, prediction, context, when))
            else:
                prediction = next(unlabelled)
                score = head.message_score(prediction)
            context.add_customer(turn["text"], prediction.intent, score, when)
    ctx = np.array(ctx)
    head.context_weights = _logistic(ctx, y, w)
    frustration = np.array([head._apply(head.context_weights, list(f)) for f in ctx])
    # the cut is chosen on labels read from the messages, not inferred from a rating
    read = np.array([True] * len(general_texts) + [not weak for *_, weak in rows])
    head.negative_cut = best_cut(frustration[read], y[read], w[read])
    report = {"support_messages": len(rows), "general_messages": len(general_texts),
              "fit_auc": round(float(roc_auc_score(y, frustration, sample_weight=w)), 4),
              "negative_cut": head.negative_cut, "seconds": round(time.time() - started, 1)}
    head.info = report
    return head, report


def best_cut(scores: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    """The frustration from which sentiment reads negative: the best weighted F1 of "upset" on the fit data."""
    cuts = np.round(np.arange(0.2, 0.81, 0.025), 3)
    return float(max(cuts, key=lambda c: f1_score(y, scores >= c, sample_weight=weights, zero_division=0)))


def csat_labelled(predict, head: MoodHead, rated: list[tuple[dict, int]]) -> list[dict]:
    """Conversations the customers rated, as weakly labelled support conversations: a rating of 1-2 marks the
    message the head reads as most frustrated "annoyance" (a low rating says the customer was upset somewhere,
    not where), 4-5 marks every customer message "neutral", a 3 says nothing and is left out."""
    kept = [(c, csat) for c, csat in rated if csat != 3]
    read = read_conversations(predict, head, [c["messages"] for c, _ in kept])
    out = []
    for (conversation, csat), messages in zip(kept, read):
        if not messages:
            continue
        peak = max(messages, key=lambda r: r[1].frustration)[0]
        turns = [{k: v for k, v in turn.items() if k != "emotions"} for turn in conversation["messages"]]
        for index, turn in enumerate(turns):
            if turn["role"] == "customer" and turn["text"].strip() and (csat >= 4 or index == peak):
                turn["emotions"] = ["neutral"] if csat >= 4 else ["annoyance"]
        out.append({"id": conversation.get("id"), "messages": turns, "weak": True})
    return out


def fit_mood_head(model, emotions, support_file: Path = SUPPORT_MOODS, seed: int = 42,
                  rated: list[tuple[dict, int]] | None = None, star: Path | None = None) -> str:
    """Fit the mood head (`mood_for`) and attach it to ``model``; returns what it did, for the training log.
    ``star``: STAR transcripts whose annoyed reports join ``rated`` (default: under HELPLINE_DATA, when there)."""
    from .environment import data_dir

    star = Path(data_dir()) / "transcripts" / "star.jsonl" if star is None else star
    from_star = star_rated(star, seed)
    head, report = mood_for(model, emotions, support_file, seed, list(rated or []) + from_star)
    if head is None:
        return report
    report["star_conversations"] = len(from_star)
    model.mood = head
    model.update_metadata(mood={"dir": "mood", **report})
    return "mood head: " + json.dumps(report)


def mood_for(model, emotions, support_file: Path = SUPPORT_MOODS, seed: int = 42,
             rated: list[tuple[dict, int]] | None = None) -> tuple[MoodHead | None, dict | str]:
    """A mood head for ``model`` (anything with `predict` and `metadata`): the lexical model on GoEmotions
    train, the regressions on GoEmotions dev rows, both with the support conversations' train split (the dev
    split stays out for benchmarks). ``rated``: (conversation, CSAT) pairs, e.g. from the store: a second fit
    adds them as weak labels (csat_labelled). (None, why) when the data is missing."""
    if emotions is None or emotions.validation is None or not Path(support_file).is_file():
        return None, f"mood head skipped: it needs emotion data with a validation split and {support_file}"
    support = moods_split(read_transcripts(support_file), dev=False)
    labels = emotions.labels

    def upset_of(dataset):
        return [is_upset(labels[i] for i in ids) for ids in dataset["labels"]]

    general = emotions.validation.shuffle(seed=seed).select(range(min(GOEMOTIONS_ROWS, len(emotions.validation))))
    lexical = emotions.train if emotions.train is not None else general
    data = (list(lexical["text"]), upset_of(lexical), list(general["text"]), upset_of(general))
    head, report = fit_mood(model, *data, support, seed)
    if rated:
        weak = csat_labelled(model.predict, head, rated)
        head, report = fit_mood(model, *data, support + weak, seed)
        report["rated_conversations"] = len(weak)
        head.info = report
    return head, report


@dataclass
class MoodArguments:
    model: str = field(metadata={"help": "The model directory to fit the mood head for (its mood/ is replaced)."})
    emotion_data: str = field(metadata={"help": "GoEmotions folder (train.tsv + dev.tsv) or Hub id, as for train."})
    support_moods: str = field(default=str(SUPPORT_MOODS), metadata={
        "help": "Labelled support conversations (transcript JSONL, customer messages with 'emotions'); its "
                "every fifth conversation is left out for benchmarks."})
    star: str | None = field(default=None, metadata={
        "help": "STAR transcripts whose agents' annoyed reports are weak labels (default: HELPLINE_DATA's "
                "transcripts/star.jsonl when present; an empty string leaves STAR out)."})
    seed: int = field(default=42, metadata={"help": "Random seed (GoEmotions sample, lexical folds)."})


def add_parser(subparsers, name: str, help: str | None):
    from .arguments import dataclass_parser

    parser = dataclass_parser(subparsers, name, help, run.__doc__, MoodArguments)
    parser.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> None:
    from bot.cli import parse_one

    from . import PROG

    run(parse_one(add_parser, "mood", argv, PROG))


def run(parsed) -> None:
    """`python -m finetune mood`: (re)fit the mood head of an existing model; the encoder and its ONNX graph
    stay as they are."""
    from bot.model.components import save_refitted
    from bot.model.helpline_model import HelplineModel

    from .arguments import as_dataclass
    from .data import load_emotion_data

    args = as_dataclass(parsed, MoodArguments)
    model = HelplineModel.from_pretrained(args.model, backend="torch")
    star = None if args.star is None else Path(args.star)   # Path("") is no file: STAR left out
    message = fit_mood_head(model, load_emotion_data(args.emotion_data), Path(args.support_moods), args.seed,
                            star=star)
    if model.mood is None:
        raise ValueError(message)
    save_refitted(model, Path(args.model), "mood")
    print(message, file=sys.stderr)

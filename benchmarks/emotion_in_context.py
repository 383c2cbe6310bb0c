"""How well Helpline reads upset customers, per real held-out set: the score it serves (the upset head where
the model has one, bot/model/upset.py), the mood head's in-context score where it has one, the best single
emotion of its emotion head, VADER, TF-IDF + logistic regression trained on the same real training tweets, and
frozen MiniLM + GoEmotions logistic regression, in one run.

    python benchmarks/emotion_in_context.py --model DIR [--labelled FILE ...] [--star FILE] [--ablate-star]

Sets (each scored by ROC AUC with a 95% bootstrap interval, upset = the positive class; for the real ones also
the precision, recall and F1 of sentiment == "negative" and the share read negative beside the labelled share):
  airline_dev, complaints_dev  the held-out fifth of HELPLINE_DATA/customer_sentiment (finetune/upset_fit.py:
                      held_out; C and the negative cut are chosen on them, nothing is fitted on them)
  support_moods dev   the dev split of finetune/support_moods/ (every fifth conversation; never fitted on):
                      per customer message, upset = labelled anger/annoyance/disappointment/disapproval/disgust;
                      also the F1 of sentiment == "negative" on upset messages
  STAR                the held-out fifth of HELPLINE_DATA/transcripts/star.jsonl (the mood head learns from
                      the other four fifths' reports, finetune/mood_fit.py: star_rated): per conversation, the
                      agent's own report `agent_reported_customer_annoyed`; a conversation's score is its highest
                      customer-message score
  --ablate-star       what the STAR reports (conversation-level labels, as CSAT ratings are) add: the same
                      held-out fifth scored by the mood head refitted without them
  --labelled FILE     any transcript file whose customer messages carry "emotions" (upset as above) or
                      "satisfaction" (1-5; 1-2 = dissatisfied): the held-back sets are scored this way
Writes benchmarks/results/emotion_in_context.json and the table in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from benchmarks.report import command_line, machine, markdown_table, publish

METHODS = {"served": "Helpline (served score)", "in_context": "Helpline, mood head in context",
           "emotion_only": "Helpline, emotion head alone (noisy-OR)", "best_emotion": "best single emotion",
           "vader": "VADER", "tfidf_lr": "TF-IDF + LR (same real training tweets)",
           "frozen_lr": "frozen MiniLM + GoEmotions LR"}


def bootstrap_auc(y: np.ndarray, scores: np.ndarray, rounds: int = 1000, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            values.append(roc_auc_score(y[idx], scores[idx]))
    low, high = np.percentile(values, [2.5, 97.5])
    return {"auc": round(float(roc_auc_score(y, scores)), 4), "ci95": [round(float(low), 4), round(float(high), 4)]}


def message_label(message: dict) -> int | None:
    from finetune.mood_fit import is_upset

    if "emotions" in message:
        return int(is_upset(message["emotions"]))
    if isinstance(message.get("satisfaction"), (int, float)):
        return int(message["satisfaction"] <= 2)
    return None


class Scorers:
    """Every method's per-message score for customer messages of conversations (one encoder pass each)."""

    def __init__(self, model_dir: str, emotion_data: str, data_dir: Path):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        from bot.model.helpline_model import HelplineModel
        from finetune.data import load_emotion_data
        from finetune.mood_fit import is_upset
        from finetune.upset_fit import training_sets

        self.classifier = HelplineModel.from_pretrained(model_dir)
        self.tfidf = tfidf_baseline(training_sets(data_dir)[0])
        self.vader = SentimentIntensityAnalyzer()
        from sklearn.linear_model import LogisticRegression

        from benchmarks.baselines import FrozenEncoder

        self.frozen = FrozenEncoder()
        emotions = load_emotion_data(emotion_data)
        texts = list(emotions.train["text"])
        upset = [int(is_upset(emotions.labels[i] for i in ids)) for ids in emotions.train["labels"]]
        self.frozen_lr = LogisticRegression(C=1.0, max_iter=2000).fit(self.frozen.embed(texts), upset)

    def score(self, conversations: list[list[dict]]) -> list[list[dict]]:
        """Per conversation, per customer message: {index, label source fields, method scores, sentiment}."""
        from bot.model.emotions import frustration_of
        from bot.model.mood import read_conversations

        texts = [t["text"] for turns in conversations for t in turns if t["role"] == "customer" and t["text"].strip()]
        predictions = self.classifier.predict(texts) if texts else []
        cached = iter(predictions)
        read = read_conversations(lambda batch, batch_size: [next(cached) for _ in batch], self.classifier.mood,
                                  conversations)
        frozen = self.frozen_lr.predict_proba(self.frozen.embed(texts))[:, 1] if texts else []
        tfidf = self.tfidf.predict_proba(texts)[:, 1] if texts else []
        alone = iter(zip(predictions, frozen, tfidf))
        out = []
        for turns, messages in zip(conversations, read):
            rows = []
            for index, prediction, _message_score in messages:
                served, frozen_p, tfidf_p = next(alone)
                compound = self.vader.polarity_scores(prediction.text)["compound"]
                rows.append({"index": index, "turn": turns[index], "served": served.frustration,
                             "in_context": prediction.frustration, "emotions": served.emotions,
                             "emotion_only": frustration_of(served.emotions), "vader": -compound,
                             "tfidf_lr": float(tfidf_p), "frozen_lr": float(frozen_p),
                             "negative": served.sentiment == "negative", "vader_negative": compound <= -0.05})
            out.append(rows)
        return out


def tfidf_baseline(train_sets):
    """TF-IDF word and character n-grams + logistic regression on the real training tweets (and GoEmotions, as
    the upset head sees them): the baseline a learnt upset head has to beat."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    texts = [t for s in train_sets for t in s.texts]
    labels = np.concatenate([s.upset for s in train_sets]) if train_sets else np.zeros(0)
    features = make_union(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
                          TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5), min_df=2))
    return make_pipeline(features, LogisticRegression(C=4.0, max_iter=3000)).fit(texts, labels)


def best_emotion(rows: list[dict], y: np.ndarray) -> dict:
    """The AUC of the emotion label that separates this set best (chosen on the set itself: a ceiling for any
    one label)."""
    labels = rows[0]["emotions"].keys() if rows else []
    scored = {label: roc_auc_score(y, [r["emotions"][label] for r in rows]) for label in labels}
    label = max(scored, key=scored.get)
    return {**bootstrap_auc(y, np.array([r["emotions"][label] for r in rows])), "label": label}


def per_message(scorers: Scorers, conversations: list[dict]) -> dict:
    rows = [r for conv in scorers.score([c["messages"] for c in conversations]) for r in conv
            if message_label(r["turn"]) is not None]
    y = np.array([message_label(r["turn"]) for r in rows])
    result = {"unit": "customer message", "n": len(rows), "positives": int(y.sum())}
    for method in METHODS:
        result[method] = best_emotion(rows, y) if method == "best_emotion" else \
            bootstrap_auc(y, np.array([r[method] for r in rows]))
    negative = np.array([r["negative"] for r in rows])
    result["negative_sentiment_f1"] = round(float(f1_score(y, negative)), 4)
    result["negative_precision"] = round(float(precision_score(y, negative, zero_division=0)), 4)
    result["negative_recall"] = round(float(recall_score(y, negative)), 4)
    result["share_negative"], result["share_labelled"] = round(float(negative.mean()), 4), round(float(y.mean()), 4)
    result["vader_negative_f1"] = round(float(f1_score(y, [r["vader_negative"] for r in rows])), 4)
    return result


def as_conversations(labelled) -> list[dict]:
    """A set of single messages (finetune/upset_fit.Labelled) as one-message conversations, labelled per message."""
    return [{"id": f"{labelled.name}-{i}", "messages": [{"role": "customer", "text": t, "satisfaction": 1 if u else 5}]}
            for i, (t, u) in enumerate(zip(labelled.texts, labelled.upset))]


def per_conversation(scorers: Scorers, conversations: list[dict]) -> dict:
    scored = scorers.score([c["messages"] for c in conversations])
    keep = [(c, rows) for c, rows in zip(conversations, scored) if rows]
    y = np.array([int(bool(c["meta"]["agent_reported_customer_annoyed"])) for c, _ in keep])
    result = {"unit": "conversation (its highest message score)", "n": len(keep), "positives": int(y.sum())}
    for method in METHODS:
        if method != "best_emotion":
            result[method] = bootstrap_auc(y, np.array([max(r[method] for r in rows) for _, rows in keep]))
    result["best_emotion"] = best_emotion([{"emotions": {e: max(r["emotions"][e] for r in rows)
                                                         for e in rows[0]["emotions"]}} for _, rows in keep], y)
    # calm support chats are most of a helpdesk's traffic: the share of their messages read negative shows
    # whether a cut chosen on tweets (where upset is common) over-flags them
    messages = [r["negative"] for _, rows in keep for r in rows]
    result["share_messages_negative"] = round(float(np.mean(messages)), 4) if messages else 0.0
    result["share_conversations_negative"] = round(float(np.mean([any(r["negative"] for r in rows)
                                                                   for _, rows in keep])), 4)
    result["share_labelled"] = round(float(y.mean()), 4)
    return result


def without_star(scorers: Scorers, star: list[dict], emotion_data: str) -> dict:
    """The STAR set scored by a mood head fitted without STAR's reports (everything else as the model's)."""
    from finetune.data import load_emotion_data
    from finetune.mood_fit import mood_for

    original = scorers.classifier.mood
    scorers.classifier.mood, _ = mood_for(scorers.classifier, load_emotion_data(emotion_data))
    try:
        return per_conversation(scorers, star)
    finally:
        scorers.classifier.mood = original


def main(argv: list[str] | None = None) -> dict:
    from bot.batch.transcripts import read_transcripts
    from finetune.mood_fit import SUPPORT_MOODS, moods_split

    data = Path(os.environ.get("HELPLINE_DATA", "../shared/datasets"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--emotion-data", default=str(data / "goemotions" / "original"),
                        help="GoEmotions folder the frozen-encoder baseline is trained on (its train split)")
    parser.add_argument("--star", default=str(data / "transcripts" / "star.jsonl"), help="STAR transcripts")
    parser.add_argument("--labelled", nargs="*", default=[], help="transcript files with per-message labels")
    parser.add_argument("--ablate-star", action="store_true",
                        help="also score STAR with the mood head refitted without STAR's reports")
    args = parser.parse_args(argv)

    from finetune.upset_fit import REAL, read_real

    scorers = Scorers(args.model, args.emotion_data, data)
    sets = {}
    for name in REAL:   # the real held-out tweets
        found = read_real(data, name)
        if found:
            sets[found[1].name] = per_message(scorers, as_conversations(found[1]))
    star = moods_split([c for c in read_transcripts(args.star)
                        if (c.get("meta") or {}).get("agent_reported_customer_annoyed") is not None], dev=True)
    sets["star_annoyed"] = per_conversation(scorers, star)
    if args.ablate_star:
        sets["star_annoyed_head_without_star"] = without_star(scorers, star, args.emotion_data)
    for path in args.labelled:
        sets[Path(path).stem] = per_message(scorers, read_transcripts(path))
    # text we wrote ourselves: shown for reference, never used to choose anything
    written = moods_split(read_transcripts(SUPPORT_MOODS), dev=True)
    sets["support_moods_dev (written by us)"] = per_message(scorers, written)
    record = {"command": command_line("emotion_in_context.py", argv), "machine": machine(),
              "date": dt.date.today().isoformat(), "model": args.model, "sets": sets}
    lines = table_lines(record)
    publish("emotion_in_context", "Frustration in context", record, lines)
    return record


def table_lines(record: dict) -> list[str]:
    """RESULTS.md's lines for a run's record."""
    sets = record["sets"]
    rows = [[name, s["unit"], f"{s['n']} ({s['positives']} upset)",
             *(f"{s[m]['auc']:.3f} ({s[m]['ci95'][0]:.3f}-{s[m]['ci95'][1]:.3f})" for m in METHODS),
             f"{s['negative_sentiment_f1']:.3f} (P {s['negative_precision']:.2f}, R {s['negative_recall']:.2f}; "
             f"{s['share_negative']:.0%} read negative, {s['share_labelled']:.0%} labelled) / "
             f"{s['vader_negative_f1']:.3f}"
             if "negative_sentiment_f1" in s else
             f"{s['share_messages_negative']:.1%} of messages and {s['share_conversations_negative']:.0%} of "
             f"conversations read negative; {s['share_labelled']:.0%} reported annoyed"
             if "share_messages_negative" in s else "-"] for name, s in sets.items()]
    lines = [f"{record['date']}; {record['machine']}; `{record['command']}`", "",
             *markdown_table(["set", "unit", "n", *(f"{v}: AUC (95% CI)" for v in METHODS.values()),
                              "negative-sentiment F1: Helpline / VADER"], rows)]
    return lines


if __name__ == "__main__":
    main()

"""Insights for the console: volume by intent, sentiment over time, handoffs, out-of-scope messages and
customers at risk, computed from the store's recent customer messages (pandas frames, ready to plot)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

from bot.conversation.state import ConversationState
from bot.model.prediction import OOS
from bot.store.conversations import Store

AT_RISK_INTENTS = ("cancel_subscription", "cancel_order", "complaint", "delete_account", "refund_status")


@dataclass
class Insights:
    volume_by_intent: pd.DataFrame       # intent, messages
    sentiment_over_time: pd.DataFrame    # time, sentiment, messages
    handoff_reasons: pd.DataFrame        # reason, handoffs
    handoff_rate: float                  # share of conversations handed to a person
    top_out_of_scope: pd.DataFrame       # text, times
    at_risk: pd.DataFrame                # time, intent, sentiment, frustration, text (no conversation ids: a
                                         # shared view must not hand out the capability to read a conversation)
    csat_over_time: pd.DataFrame = None  # day, mean CSAT, ratings
    csat_by_intent: pd.DataFrame = None  # intent, mean CSAT, ratings
    predicted_vs_given: pd.DataFrame = None  # predicted risk (low/medium/high), mean CSAT, ratings


# the policy's handoff reasons carry numbers and intents ("frustration 0.71"); a chart groups them by kind
REASON_KINDS = ((r"^frustration rising", "frustration rising"), (r"^frustration", "high frustration"),
                (r"not understood$", "messages not understood"), (r"^no answer in the catalogue", "no answer yet"),
                (r"is handled by people$", "intent handled by people"))


def _reason_kind(reason: str) -> str:
    return next((kind for pattern, kind in REASON_KINDS if re.search(pattern, reason)), reason)


def compute(store: Store, days: int = 30, now: dt.datetime | None = None) -> Insights:
    now = now or dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(days=days)
    rows = [{"time": m.created, "conversation": m.conversation_id, "intent": m.intent or OOS,
             "sentiment": m.sentiment or "neutral", "frustration": m.frustration or 0.0, "text": m.text}
            for m in store.customer_messages_since(since)]
    frame = pd.DataFrame(rows, columns=["time", "conversation", "intent", "sentiment", "frustration", "text"])
    volume = (frame.groupby("intent").size().rename("messages").reset_index()
              .sort_values("messages", ascending=False).head(25))
    if len(frame):
        span = (frame["time"].max() - frame["time"].min()).total_seconds()
        bucket = "h" if span <= 3 * 86400 else "D"   # hours for a few days of data, days beyond
        frame["bucket"] = pd.to_datetime(frame["time"], utc=True).dt.floor(bucket)
        sentiment = frame.groupby(["bucket", "sentiment"]).size().rename("messages").reset_index()
        sentiment = sentiment.rename(columns={"bucket": "time"})
    else:
        sentiment = pd.DataFrame(columns=["time", "sentiment", "messages"])
    handoffs = store.handoffs_since(since)
    reasons = pd.Series([_reason_kind(h.reason) for h in handoffs], dtype=str)
    handoff_reasons = reasons.value_counts().rename_axis("reason").rename("handoffs").reset_index()
    conversations = frame["conversation"].nunique()
    rate = len({h.conversation_id for h in handoffs}) / conversations if conversations else 0.0
    oos = frame[frame["intent"] == OOS]
    top_oos = (oos.assign(text=oos["text"].str.lower().str.strip()).groupby("text").size().rename("times")
               .reset_index().sort_values("times", ascending=False).head(20))
    # upset customers whatever they asked about (the stored frustration and sentiment, as the console shows
    # them); cancelling and complaining ones first at equal frustration
    risky = frame[frame["sentiment"] == "negative"].assign(leaving=lambda f: f["intent"].isin(AT_RISK_INTENTS))
    risky = risky.sort_values(["frustration", "leaving"], ascending=False)
    at_risk = (risky.drop_duplicates("conversation")
               [["time", "intent", "sentiment", "frustration", "text"]].head(25))
    return Insights(volume, sentiment, handoff_reasons, round(rate, 4), top_oos, at_risk, *csat_frames(store, since))


RISK_BANDS = ((0.3, "low"), (0.6, "medium"), (1.01, "high"))   # as the console's frustration badges


def csat_frames(store: Store, since: dt.datetime) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """CSAT over time and by intent, and the given rating by the satisfaction risk Helpline predicted."""
    rows = [{"time": c.csat_at, "intent": c.last_intent or OOS, "csat": c.csat,
             "risk": next(band for cut, band in RISK_BANDS
                          if ConversationState.from_dict(c.state).satisfaction_risk < cut)}
            for c in store.ratings_since(since)]
    frame = pd.DataFrame(rows, columns=["time", "intent", "csat", "risk"])

    def mean_by(column: str, name: str) -> pd.DataFrame:
        grouped = frame.groupby(column)["csat"].agg(["mean", "size"]).reset_index()
        return grouped.rename(columns={column: name, "mean": "mean CSAT", "size": "ratings"})

    frame["day"] = pd.to_datetime(frame["time"], utc=True).dt.floor("D") if len(frame) else frame["time"]
    by_risk = mean_by("risk", "predicted risk")
    by_risk["order"] = by_risk["predicted risk"].map({band: i for i, (_, band) in enumerate(RISK_BANDS)})
    return (mean_by("day", "day"), mean_by("intent", "intent").sort_values("ratings", ascending=False).head(25),
            by_risk.sort_values("order").drop(columns="order"))

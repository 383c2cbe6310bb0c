"""What the agents' console shows, as plain data (tables, chat histories, plot frames); app.py only wires it.

Everything is read from the store on each refresh, so any app process shows the same queue.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from bot.conversation.service import Helpline
from bot.conversation.state import ConversationState
from bot.conversation.triage import order_queue
from bot.model.card import intent_validation_note
from bot.model.explain import explain
from bot.serving.bootstrap import STARTER_NAME

# words, coloured by the console (BADGE_COLOURS): an emoji badge showed as an empty box where the font lacked it
SENTIMENTS = ("positive", "neutral", "ambiguous", "negative")
BADGE_COLOURS = {"positive": "#d8f5d0", "ambiguous": "#fff1c2", "negative": "#ffd6d6", "high": "#ffd6d6",
                 "medium": "#fff1c2"}
QUEUE_COLUMNS = ["priority", "conversation", "status", "intent", "sentiment", "frustration", "satisfaction risk",
                 "why"]
ROLES = {"customer": "user", "bot": "assistant", "agent": "assistant"}
QUEUE_ROWS = 200  # the console shows the most urgent; the API pages through the rest


def frustration_badge(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{'high' if value >= 0.6 else 'medium' if value >= 0.3 else 'low'} {value:.2f}"


def badge_colour(cell) -> str:
    """CSS for a queue cell: its badge's colour (the first word: a sentiment or a frustration level)."""
    colour = BADGE_COLOURS.get(str(cell).split(" ")[0])
    return f"background-color: {colour}; color: #1b1b1b" if colour else ""


def queue_table(helpline: Helpline, now: dt.datetime | None = None, rows_shown: int = QUEUE_ROWS) -> pd.DataFrame:
    """The triage queue, most urgent first (the top ``rows_shown``), with intent, sentiment and frustration
    badges and the reason."""
    now = now or dt.datetime.now(dt.UTC)
    rows = []
    queue = order_queue(helpline.store.open_conversations(), now)[:rows_shown]
    latest = helpline.store.last_customer_messages([conversation.id for conversation, _, _ in queue])
    for conversation, score, reason in queue:
        last = latest.get(conversation.id)
        rows.append([round(score), conversation.id, conversation.status, conversation.last_intent or "-",
                     last.sentiment if last and last.sentiment in SENTIMENTS else "-",
                     frustration_badge(last.frustration if last else None),
                     frustration_badge(ConversationState.from_dict(conversation.state).satisfaction_risk), reason])
    return pd.DataFrame(rows, columns=QUEUE_COLUMNS)


def transcript(helpline: Helpline, conversation_id: str) -> tuple[list[dict], pd.DataFrame, pd.DataFrame]:
    """(chat history for gr.Chatbot, one analysis row per customer message, emotion-over-time frame)."""
    conversation = helpline.store.conversation(conversation_id)
    if conversation is None:
        raise ValueError(f"no conversation {conversation_id}")
    history, analysis, timeline = [], [], []
    turn = 0
    for m in conversation.messages:
        prefix = "🧑‍💼 Agent: " if m.role == "agent" else ""
        history.append({"role": ROLES[m.role], "content": prefix + m.text})
        if m.role != "customer":
            continue
        turn += 1
        details = m.prediction or {}
        emotions = details.get("emotions", {})
        detected = ", ".join(f"{e} {emotions.get(e, 0):.2f}" for e in details.get("detected_emotions", []))
        analysis.append([m.id, turn, m.text[:80], m.intent, round(m.confidence or 0, 3), m.sentiment,
                         round(m.frustration or 0, 3), detected])
        top = sorted(emotions.items(), key=lambda kv: -kv[1])[:3]
        timeline += [{"turn": turn, "emotion": e, "score": s} for e, s in top if e != "neutral"]
        timeline.append({"turn": turn, "emotion": "frustration", "score": m.frustration or 0.0})
    columns = ["message id", "turn", "text", "intent", "confidence", "sentiment", "frustration", "emotions"]
    return (history, pd.DataFrame(analysis, columns=columns),
            pd.DataFrame(timeline, columns=["turn", "emotion", "score"]))


def why(helpline: Helpline, text: str) -> list[tuple[str, str | None]]:
    """Words of a message marked by what they did for the intent (for gr.HighlightedText)."""
    explanation = explain(helpline.classifier, text)
    marked = []
    for word, weight in zip(explanation.words, explanation.intent_weights):
        label = None
        if weight >= 0.05:
            label = f"→ {explanation.intent}"
        elif weight <= -0.05:
            label = "against"
        marked.append((word + " ", label))
    return marked


def model_summary(helpline: Helpline) -> tuple[str, pd.DataFrame]:
    """Markdown with the serving model's version and validation metrics, and its most confused intent pairs."""
    meta = helpline.classifier.metadata
    metrics = (meta.get("metrics") or {}).get("validation", {})
    lines = [f"**Model version:** `{helpline.classifier.version}`  ",
             f"**Backend:** {getattr(helpline.classifier, 'backend', 'torch')}  ",
             f"**Base encoder:** `{meta.get('base_model')}`  ",
             f"**Intents:** {len(meta['intent_labels'])} · "
             f"**Out-of-scope threshold:** {meta.get('oos_threshold', 0):.2f}",
             "", "| validation metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in metrics.items() if isinstance(v, float)]
    lines += intent_validation_note(metrics)
    if str(helpline.classifier.version).startswith(STARTER_NAME + "-"):
        steps = (meta.get("training") or {}).get("steps")
        lines += ["", f"⏳ **This is the starter model** ({steps or 'a few hundred'} training steps, so the app "
                      "could answer within minutes): expect weaker intents and emotions, and frustration read from "
                      "the emotion head alone. The full model is training in the background (the job below); it "
                      "replaces this one once it is no worse on the registry's evaluation set."]
    if warning := helpline.catalogue_fit().warning():
        lines += ["", f"⚠️ **{warning}**"]
    pairs = pd.DataFrame(metrics.get("confused_pairs", []), columns=["true", "predicted", "count"])
    return "\n".join(lines), pairs


def handoff_summary_text(helpline: Helpline, conversation_id: str) -> str:
    """The summary shown above the transcript (bot/assist/summary.py)."""
    from bot.assist.summary import handoff_summary

    conversation = helpline.store.conversation(conversation_id)
    if conversation is None:
        raise ValueError(f"no conversation {conversation_id}")
    return handoff_summary(conversation.messages, (conversation.state or {}).get("handoff_reason"))["text"]

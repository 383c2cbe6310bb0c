"""What the console and insights pages compute from the store (StubClassifier: exact predictions)."""
import pytest

from bot.conversation.service import Helpline
from bot.store.conversations import Store
from intents import load_catalogue
from tests.conftest import StubClassifier
from ui import console_data as console
from ui import insights_data as insights


@pytest.fixture
def helpline(tmp_path):
    return Helpline(StubClassifier(), load_catalogue(), Store(f"sqlite:///{tmp_path / 'c.db'}"))


def test_queue_transcript_and_insights(helpline):
    calm = helpline.handle("where is my order")
    angry = helpline.handle("I was charged twice!! fix it!!")          # frustration 0.8: handed off
    helpline.handle("blah", None)
    asked = helpline.handle("I want a human")
    queue = console.queue_table(helpline)
    assert list(queue["conversation"]) == [angry.conversation_id, asked.conversation_id]   # most urgent first
    assert calm.conversation_id not in set(queue["conversation"])      # the bot handled it: not queued
    top = queue.iloc[0]
    assert "high priority intent (+45)" in top["why"] and top["frustration"].startswith("high ")
    history, table, timeline = console.transcript(helpline, angry.conversation_id)
    assert history[0]["role"] == "user" and table.iloc[0]["intent"] == "double_charge"
    assert set(timeline["emotion"]) >= {"anger", "frustration"}
    with pytest.raises(ValueError, match="no conversation"):
        console.transcript(helpline, "nope")
    data = insights.compute(helpline.store)
    volume = dict(zip(data.volume_by_intent["intent"], data.volume_by_intent["messages"]))
    assert volume["double_charge"] == 1 and volume["oos"] == 1
    assert data.handoff_rate == pytest.approx(2 / 4)
    assert "blah" in list(data.top_out_of_scope["text"])
    assert set(data.sentiment_over_time["sentiment"]) >= {"negative", "neutral"}
    reasons = dict(zip(data.handoff_reasons["reason"], data.handoff_reasons["handoffs"]))
    assert reasons.get("high frustration") == 1 and reasons.get("asked for a person") == 1


def test_empty_store_gives_empty_insights(helpline):
    data = insights.compute(helpline.store)
    assert data.volume_by_intent.empty and data.handoff_rate == 0.0 and data.at_risk.empty


def test_insights_compare_given_csat_with_predicted_risk(helpline):
    angry = helpline.handle("I was charged twice!! fix it!!")           # frustration 0.8: high risk
    calm = helpline.handle("where is my order")                         # 0.0: low risk
    other = helpline.handle("where is my refund")
    helpline.store.rate(angry.conversation_id, 1, "slow")
    helpline.store.rate(calm.conversation_id, 5)
    helpline.store.rate(other.conversation_id, 4)
    with pytest.raises(ValueError, match="already rated"):
        helpline.store.rate(calm.conversation_id, 2)
    with pytest.raises(ValueError, match="from 1 to 5"):
        helpline.store.rate(other.conversation_id, 7)
    data = insights.compute(helpline.store)
    given = dict(zip(data.predicted_vs_given["predicted risk"], data.predicted_vs_given["mean CSAT"]))
    assert given == {"low": 4.5, "high": 1.0}
    by_intent = dict(zip(data.csat_by_intent["intent"], data.csat_by_intent["ratings"]))
    assert by_intent == {"double_charge": 1, "order_status": 1, "refund_status": 1}
    assert list(data.csat_over_time["ratings"]) == [3]
    queue = console.queue_table(helpline)
    assert queue.iloc[0]["satisfaction risk"].startswith("high 0.80")


def test_at_risk_lists_upset_customers_whatever_they_asked(helpline):
    """Issue 38: a customer at negative, frustration 0.8 asking where an order is, is at risk too."""
    upset = helpline.handle("where is my order!! third time")          # order_status, negative (the stub: "!!")
    helpline.handle("where is my order")                               # calm
    data = insights.compute(helpline.store)
    assert list(data.at_risk["intent"]) == ["order_status"] and list(data.at_risk["frustration"]) == [0.8]
    assert upset.sentiment == "negative"


def test_count_charts_tick_whole_numbers_from_zero_and_cover_stacked_bars():
    import pandas as pd

    from ui.insights import from_zero

    one = from_zero(pd.DataFrame({"intent": ["refund"], "messages": [1]}), "messages")
    assert one.y_lim == [0, 5] and one.y_axis_format == "d"      # no 0.5 or 1.5 "messages" on a small chart
    stacked = pd.DataFrame({"time": ["9:00", "9:00", "10:00"], "sentiment": ["negative", "neutral", "neutral"],
                            "messages": [4, 5, 2]})
    assert from_zero(stacked, "messages", "time").y_lim == [0, 10]   # the 9:00 bar is 9 high, not 5
    assert from_zero(stacked.iloc[:0], "messages").visible is False

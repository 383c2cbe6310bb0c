import datetime as dt
from types import SimpleNamespace

from bot.conversation.triage import order_queue, turn_priority, with_waiting
from bot.model.prediction import OOS, Prediction


def pred(intent="order_status", frustration=0.0, anger=0.0):
    return Prediction(text="x", intent=intent, confidence=0.9, emotions={"anger": anger}, frustration=frustration)


def test_priority_grows_with_intent_priority_frustration_and_anger():
    calm, _ = turn_priority(pred(), "normal", [0.0], None)
    urgent, level = turn_priority(pred(), "urgent", [0.0], None)
    upset, _ = turn_priority(pred(frustration=0.8, anger=0.9), "normal", [0.0, 0.8], "frustration 0.80")
    assert calm.score < urgent.score and calm.score < upset.score and level == "urgent"
    assert "frustration rising" in upset.reason and "handoff: frustration 0.80" in upset.reason
    assert upset.reason.index("normal priority intent") < upset.reason.index("frustration rising")  # largest first


def test_the_most_urgent_intent_of_the_conversation_counts():
    later, level = turn_priority(pred(), "low", [0.0], None, previous_level="urgent")
    assert level == "urgent" and "urgent priority intent" in later.reason
    oos, level = turn_priority(pred(OOS), "normal", [0.0], None)
    assert level == "low"


def test_waiting_time_adds_points_up_to_a_cap():
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert with_waiting(25.0, "r", None, now) == (25.0, "r")
    score, reason = with_waiting(25.0, "r", now - dt.timedelta(minutes=12), now)
    assert score == 37.0 and reason == "r; waiting 12 min (+12)"
    assert with_waiting(25.0, "r", (now - dt.timedelta(hours=5)).replace(tzinfo=None), now)[0] == 55.0


def test_queue_orders_by_current_priority():
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    c = lambda name, p, wait: SimpleNamespace(id=name, priority=p, priority_reason="", updated=now,  # noqa: E731
                                              waiting_since=now - dt.timedelta(minutes=wait))
    queue = order_queue([c("calm-new", 30, 0), c("urgent", 70, 1), c("calm-waiting-long", 30, 25)], now)
    assert [row[0].id for row in queue] == ["urgent", "calm-waiting-long", "calm-new"]

import pytest

from bot.prediction import OOS, Prediction
from bot.responder import Responder
from intents import load_catalogue


@pytest.fixture(scope="module")
def responder():
    return Responder(model=None, catalogue=load_catalogue())


def pred(intent, confidence, runner_up=("refund_status", 0.05)):
    alternatives = [(intent if intent != OOS else "greeting", confidence if intent != OOS else 0.2), runner_up]
    return Prediction(text="some message", intent=intent, confidence=confidence, alternatives=alternatives)


@pytest.mark.parametrize("prediction, action, contains", [
    (pred("order_status", 0.9), "answer", "Account > Orders"),
    (pred(OOS, 0.8), "fallback", "rephrase"),
    (pred("speak_to_human", 0.9), "handoff", "passing you to a member of our support team"),
    (pred("complaint", 0.9), "handoff", "passing you to a member"),
    (pred("lost_card", 0.9), "triage", "(lost card) to our support team"),     # known to the model only
    (pred("return_item", 0.45, ("exchange_item", 0.40)), "clarify", "which of these"),
])
def test_reply_actions(responder, prediction, action, contains):
    reply = responder.decide(prediction)
    assert reply.action == action
    assert contains in reply.text
    assert reply.handoff == (action in ("handoff", "triage"))


def test_clarify_offers_both_intents_as_quick_replies(responder):
    reply = responder.decide(pred("return_item", 0.45, ("exchange_item", 0.40)))
    assert reply.quick_replies == ["Return an item", "Exchange an item"]


def test_answer_carries_the_intents_quick_replies(responder):
    assert responder.decide(pred("cancel_subscription", 0.95)).quick_replies == ["Pause my subscription",
                                                                                  "Change my plan"]

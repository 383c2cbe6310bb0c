import pytest

from bot.conversation.policy import ConversationState, DialoguePolicy, PolicyConfig
from bot.model.prediction import OOS, Prediction
from intents import load_catalogue


@pytest.fixture(scope="module")
def policy():
    return DialoguePolicy(load_catalogue(), PolicyConfig.load())


def pred(intent, confidence=0.9, runner_up=("refund_status", 0.05), frustration=0.0, text="some message"):
    best = (intent if intent != OOS else "greeting", confidence if intent != OOS else 0.2)
    return Prediction(text=text, intent=intent, confidence=confidence, alternatives=[best, runner_up],
                      frustration=frustration)


S = ConversationState
CASES = [  # prediction, state before, action, reply contains, handoff reason contains
    (pred("order_status"), S(), "answer", "Account > Orders", None),
    (pred(OOS), S(), "fallback", "rephrase", None),
    (pred(OOS), S(fallbacks_in_row=1), "handoff", "support team", "2 messages in a row"),
    (pred("speak_to_human"), S(), "handoff", "passing you to a member of our support team", "asked for a person"),
    (pred("complaint"), S(), "handoff", "passing you to a member", "handled by people"),
    (pred("lost_card"), S(), "triage", "(lost card) to our support team", "no answer in the catalogue"),
    (pred("return_item", 0.45, ("exchange_item", 0.40)), S(), "clarify", "which of these", None),
    (pred("return_item", 0.45, ("exchange_item", 0.10)), S(), "answer", "", None),       # not close: answer
    (pred("order_status", frustration=0.8), S(), "handoff", "sorry this has been frustrating", "frustration 0.80"),
    (pred("order_status", frustration=0.45), S(frustration=[0.05, 0.2]), "handoff", "frustrating",
     "frustration rising (0.05 -> 0.45)"),
    (pred("order_status", frustration=0.30), S(frustration=[0.0]), "answer", "", None),   # rose, but still calm
    (pred("order_status", frustration=0.45), S(frustration=[0.3, 0.4]), "answer", "", None),  # mild, steady
    (pred("order_status"), S(handed_off=True, handoff_reason="asked for a person"), "with_agent",
     "A member of our team will reply", "asked for a person"),
    (pred("order_status"), S(handed_off=True, waiting_acknowledged=True), "with_agent", "", None),
    (pred("greeting", 0.3, text="Return an item"), S(clarifying=["return_item", "exchange_item"]), "answer",
     "", None),  # a quick-reply click is that intent, whatever the model says
]


@pytest.mark.parametrize("prediction, state, action, contains, reason", CASES)
def test_every_branch(policy, prediction, state, action, contains, reason):
    decision, new = policy.decide(prediction, state)
    assert decision.action == action
    assert contains in decision.reply
    if action == "with_agent" and contains == "":
        assert decision.reply == ""
    if reason:
        assert reason in decision.handoff_reason
    assert new.handed_off == (action in ("handoff", "triage", "with_agent"))
    assert new.turns == state.turns + 1


def test_quick_reply_click_routes_to_its_intent(policy):
    decision, _ = policy.decide(pred("greeting", 0.3, text="return an item"), S())
    assert decision.intent == "return_item" and decision.action == "answer"


def test_clarify_offers_both_intents_and_remembers_them(policy):
    decision, state = policy.decide(pred("return_item", 0.45, ("exchange_item", 0.40)), S())
    assert decision.quick_replies == ["Return an item", "Exchange an item"]
    assert state.clarifying == ["return_item", "exchange_item"]


def test_context_carries_across_turns(policy):
    state = S()
    _, state = policy.decide(pred(OOS), state)
    assert state.fallbacks_in_row == 1
    _, state = policy.decide(pred("order_status"), state)    # understood: the fallback count resets
    assert state.fallbacks_in_row == 0 and state.last_intent == "order_status"
    _, state = policy.decide(pred(OOS), state)
    decision, state = policy.decide(pred(OOS), state)
    assert decision.action == "handoff" and state.handed_off
    assert ConversationState.from_dict(state.to_dict()) == state   # what the store keeps round-trips


def test_frustration_history_is_bounded(policy):
    state = S()
    for _ in range(6):
        _, state = policy.decide(pred("order_status", frustration=0.1), state)
    assert len(state.frustration) == PolicyConfig().trend_turns


@pytest.mark.parametrize("text, error", [
    ("format_version: 2\n", "format_version must be 1"),
    ("format_version: 1\nclarify_margn: 0.2\n", r"unknown setting\(s\) \['clarify_margn'\]"),
    ("format_version: 1\nmax_fallbacks: two\n", "max_fallbacks must be a int"),
    ("format_version: 1\nhuman_intents: speak_to_human\n", "human_intents must be a list"),
    ("- a\n- b\n", "expected a mapping"),
])
def test_bad_policy_file_is_a_clear_error(tmp_path, text, error):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=error):
        PolicyConfig.load(path)


def test_default_file_matches_the_code_defaults():
    assert PolicyConfig.load() == PolicyConfig()


@pytest.mark.parametrize("text, model_intent, intent, reply", [
    ("thank you so much", "pending_top_up", "thanks", None),        # a Banking77 model's reading
    ("hi", "activate_my_card", "greeting", None),
    ("Thanks, bye!", "refund_status", "goodbye", None),
    ("hello?", OOS, "greeting", None),
])
def test_small_talk_is_never_a_business_intent(policy, text, model_intent, intent, reply):
    decision, state = policy.decide(pred(model_intent, 0.66, text=text), S())
    assert (decision.action, decision.intent, state.last_intent, state.fallbacks_in_row) == \
        ("answer", intent, intent, 0)
    assert decision.reply in load_catalogue()[intent].replies                 # the catalogue's own reply


def test_small_talk_without_a_catalogue_entry_gets_a_plain_reply_and_questions_still_route():
    from bot.conversation.small_talk import REPLIES, small_talk

    catalogue = load_catalogue()
    banking = DialoguePolicy(type(catalogue)(**{**catalogue.__dict__, "intents": {
        k: v for k, v in catalogue.intents.items() if k not in ("greeting", "thanks", "goodbye")}}))
    decision, _ = banking.decide(pred("pending_top_up", 0.66, text="thank you so much"), S())
    assert (decision.action, decision.intent, decision.reply) == ("answer", "thanks", REPLIES["thanks"])
    for text in ("hi, where is my order", "no thanks", "thanks but my card is still blocked", "cheers mate"):
        assert small_talk(text) is None, text
    decision, _ = banking.decide(pred("order_status", text="hi, where is my order"), S())
    assert decision.intent == "order_status"


def test_a_question_with_thanks_is_the_question_not_small_talk(policy):
    thanked = Prediction(text="My card was charged twice. Thanks!", intent="thanks", confidence=0.55,
                         alternatives=[("thanks", 0.55), ("double_charge", 0.35), ("refund_status", 0.05)])
    decision, state = policy.decide(thanked, S())
    assert (decision.action, decision.intent, state.last_intent) == ("answer", "double_charge", "double_charge")
    assert decision.reply in load_catalogue()["double_charge"].replies
    only_small_talk = Prediction(text="hello, can you help me with something", intent="greeting", confidence=0.8,
                                 alternatives=[("greeting", 0.8), ("thanks", 0.1)])
    decision, state = policy.decide(only_small_talk, S())
    assert (decision.action, decision.intent, state.fallbacks_in_row) == ("fallback", OOS, 1)

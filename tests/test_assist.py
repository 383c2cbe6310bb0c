"""Suggested replies (bot/assist): the index, reply templates and the `python -m bot suggest` contract."""
from __future__ import annotations

import json

from bot.assist.suggest import Context, SuggestionIndex
from bot.assist.templates import normalised, template_of
from tests.conftest import run_bot

CANCEL = "I can cancel that for you. Which order is it?"
TRACK = "Your parcel is on its way and arrives tomorrow."


def conversation(i: int, customer: str, reply: str) -> dict:
    return {"id": f"h{i}", "messages": [{"role": "agent", "text": "Hello, how can I help?"},
                                        {"role": "customer", "text": customer},
                                        {"role": "agent", "text": reply}]}


HISTORY = ([conversation(i, f"please cancel my order {i}", CANCEL) for i in range(3)]
           + [conversation(10 + i, f"where is my parcel {i}", TRACK) for i in range(3)]
           + [conversation(20, "where is my parcel, I am Ann", "Sorry Ann, I will call you at home tonight."),
              conversation(21, "refund order 5512", "Refund for order 55120 sent to ann@example.com today."),
              conversation(22, "refund order 7741", "Refund for order 77410 sent to bob@example.org today.")])


def test_the_reply_after_a_near_identical_context_ranks_first():
    index = SuggestionIndex.build(HISTORY)
    context = Context([{"role": "agent", "text": "Hello, how can I help?"},
                       {"role": "customer", "text": "cancel my order please"}])
    assert index.suggest([context], k=3)[0][0] == CANCEL
    where = Context([{"role": "agent", "text": "Hello, how can I help?"},
                     {"role": "customer", "text": "where is my parcel"}])
    assert index.suggest([where], k=1) == [[TRACK]]


def test_the_ranker_reads_where_the_conversation_stands_not_only_its_last_turns():
    def booking(i: int, what: str, name: str, question: str) -> dict:
        return {"id": f"{what}{i}", "messages": [
            {"role": "agent", "text": f"Which {what} would you like?"}, {"role": "customer", "text": f"{name} {i}"},
            {"role": "agent", "text": "Thanks."}, {"role": "customer", "text": "ok"},
            {"role": "agent", "text": question}]}

    history = [booking(i, "restaurant", "Lucca", "For how many people?") for i in range(4)]
    history += [booking(i, "hotel", "Hilton", "For how many nights?") for i in range(4)]
    index = SuggestionIndex.build(history)
    for what, question in (("hotel", "For how many nights?"), ("restaurant", "For how many people?")):
        # the last reply and the customer's last words are the same in both: only the earlier step differs
        turns = booking(9, what, "Somewhere", question)["messages"][:-1]
        assert index.suggest([Context(turns)], k=1) == [[question]]


def test_one_off_replies_are_not_suggested_but_their_shared_template_is():
    index = SuggestionIndex.build(HISTORY)
    everything = {reply for row in index.suggest([Context([{"role": "customer", "text": t}])
                                                  for t in ("where is my parcel, I am Ann", "refund order 1234")], k=5)
                  for reply in row}
    assert not any("Ann" in reply for reply in everything)     # sent once, to one customer: never offered
    assert "Refund for order {order_id} sent to {email} today." in everything
    assert "Refund for order {order_id} sent to {email} today." in index.templates


def test_templates_replace_references_and_keep_the_words():
    assert template_of("Order #A12345 costs $19.99, we call at 10:30 am") == \
        "Order {order_id} costs {amount}, we call at {time}"
    assert template_of("See you  on 12/03/2026 at  ann.lee@mail.com") == "See you on {date} at {email}"
    assert template_of("Thank you and goodbye.") == "Thank you and goodbye."
    assert normalised("Thank you and goodbye.") == normalised("thank you and goodbye")


def test_numbers_that_vary_between_the_same_reply_become_a_slot_and_fixed_ones_stay():
    from bot.assist.templates import ReplyKeys

    def weather(i: int, degrees: int) -> dict:
        return {"id": f"w{i}", "messages": [
            {"role": "customer", "text": f"weather in Leeds on day {i}?"},
            {"role": "agent", "text": f"It will be sunny in Leeds, around {degrees} degrees."},
            {"role": "customer", "text": "and delivery?"},
            {"role": "agent", "text": "Delivery takes 3-5 working days."}]}

    index = SuggestionIndex.build([weather(i, d) for i, d in enumerate((18, 2, 18, 25))])
    assert sorted(index.templates) == ["Delivery takes 3-5 working days.",
                                       "It will be sunny in Leeds, around {number} degrees."]
    assert index.keys.key("It will be sunny in Leeds, around 7 degrees") == index.keys.key(index.templates[1])
    turns = weather(9, 0)["messages"][:1]
    assert index.suggest([Context(turns)], k=1) == [["It will be sunny in Leeds, around {number} degrees."]]
    literal = SuggestionIndex.build([weather(i, d) for i, d in enumerate((18, 2, 18, 25))], slots=False)
    assert "It will be sunny in Leeds, around 18 degrees." in literal.templates   # sent twice with 18
    assert not any("{number}" in t for t in literal.templates)
    assert ReplyKeys().key("Around 18 degrees.") == "around 18 degrees"


def test_names_that_vary_between_the_same_reply_become_a_slot_and_only_where_they_vary():
    from bot.assist.templates import ReplyKeys

    keys = ReplyKeys.learn(["Great, your table at the Lucca is booked in Leeds.",
                            "Great, your table at the Tamarind is booked in Leeds.",
                            "Sorry Ann, I will call you tonight.", "Please provide your rank.",
                            "Please provide your name.", "In 3 minutes.", "In 4 minutes."])
    # the restaurant varied, the city never did; the first word of a sentence and "I" are not names
    assert keys.template("Great, your table at the Cactus Club is booked in Leeds!") == \
        "Great, your table at the {name} is booked in Leeds!"
    assert keys.key("great, your table at the Hilton is booked in Leeds") == \
        "great, your table at the {name} is booked in leeds"
    assert keys.key("Sorry Ann, I will call you tonight.") == "sorry ann, i will call you tonight"
    # lower-case words are never slots (different questions stay different)
    assert keys.key("Please provide your rank.") != keys.key("Please provide your name.")
    assert keys.key("In 3 minutes.") == "in 3 minutes"    # "in {number} minutes" keeps too few words of its own
    assert ReplyKeys().key("Great, your table at the Lucca is booked.") == "great, your table at the lucca is booked"


def test_the_suggest_command_writes_a_line_per_agent_message(tiny_model_dir, tmp_path):
    history = tmp_path / "history.jsonl"
    history.write_text("".join(json.dumps(c) + "\n" for c in HISTORY))
    target = tmp_path / "for.jsonl"
    target.write_text(json.dumps({"id": "t1", "messages": [
        {"role": "agent", "text": "Hello, how can I help?"}, {"role": "customer", "text": "cancel my order please"},
        {"role": "agent", "text": CANCEL}, {"role": "customer", "text": "order 4"},
        {"role": "agent", "text": "Done."}]}) + "\n")
    out = tmp_path / "out.jsonl"
    result = run_bot("suggest", "--model", tiny_model_dir, "--transcripts", str(history), "--for", str(target),
                     "--output", str(out), "--k", "2")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["conversation_id"], r["index"]) for r in rows] == [("t1", 0), ("t1", 2), ("t1", 4)]
    assert all(isinstance(r["suggestions"], list) and len(r["suggestions"]) <= 2 for r in rows)
    assert rows[1]["suggestions"][0] == CANCEL   # from the messages before it only: the customer asked to cancel
    bad = run_bot("suggest", "--model", tiny_model_dir, "--transcripts", str(history), "--for", str(target),
                  "--output", str(out), "--k", "0")
    assert bad.returncode == 2 and "--k must be at least 1" in bad.stderr


def test_the_handoff_summary_of_a_fixed_conversation_says_only_what_was_said():
    from types import SimpleNamespace as M

    from bot.assist.summary import handoff_summary

    messages = [M(role="customer", text="where is my order A77812? it was due 12/03/2026", intent="order_status",
                  frustration=0.2),
                M(role="bot", text="Your order is on its way.", intent=None, frustration=None),
                M(role="customer", text="still not here, my email is [EMAIL]", intent="order_status", frustration=0.5),
                M(role="bot", text="Do you want a refund?", intent=None, frustration=None),
                M(role="customer", text="yes refund it now!!", intent="refund_status", frustration=0.8)]
    summary = handoff_summary(messages, "frustrated customer")
    assert summary["intents"] == ["order_status", "refund_status"]
    assert summary["bot_replies"] == ["Your order is on its way.", "Do you want a refund?"]
    assert summary["references"] == ["A77812", "12/03/2026"]           # the redacted e-mail is not one
    assert summary["frustration"] == [0.2, 0.5, 0.8] and summary["frustration_trend"] == "rising"
    assert summary["text"].splitlines() == [
        "Customer wants: order status, then refund status.",
        "Bot already said: \u201cYour order is on its way.\u201d | \u201cDo you want a refund?\u201d",
        "Handed off because: frustrated customer.",
        "References: A77812, 12/03/2026.",
        "Frustration: rising (0.20 -> 0.50 -> 0.80)."]


def test_canned_responses_are_validated_filtered_by_title_and_filled(tmp_path):
    import pytest

    from intents import CatalogueError
    from intents.canned import DEFAULT_CANNED, fill, load_canned, matching, save_canned

    shipped = load_canned(DEFAULT_CANNED)
    assert len(shipped) >= 5 and all(r.title and r.text for r in shipped)
    refund = next(r for r in shipped if r.title == "Refund timing")
    assert refund.placeholders == ["order_id"] and "refund_status" in refund.intents
    assert [r.title for r in matching(shipped, "/refund")] == ["Refund timing"]
    assert len(matching(shipped, "/")) == len(shipped)
    assert fill("Hi {customer_name}, order {order_id} is late", {"order_id": "A123"}) == \
        "Hi {customer_name}, order A123 is late"   # what the conversation does not say stays visible
    path = tmp_path / "canned.yaml"
    path.write_text(DEFAULT_CANNED.read_text())
    for bad, message in [("format_version: 2\nresponses: []\n", "format_version 1"),
                         ("format_version: 1\nresponses:\n  - title: A\n    text: x\n  - title: a\n    text: y\n",
                          "used twice"),
                         ("format_version: 1\nresponses:\n  - title: A\n    text: 'order {Order ID}'\n",
                          "stray brace"),
                         ("format_version: 1\nresponses:\n  - title: A\n    txt: hello\n", "unknown field"),
                         ("format_version: 1\nresponses: [\n", "not valid YAML")]:
        with pytest.raises(CatalogueError, match=message):
            save_canned(path, bad)
    assert path.read_text() == DEFAULT_CANNED.read_text()   # a bad edit leaves the file as it was
    saved = save_canned(path, "format_version: 1\nresponses:\n  - title: Hello\n    text: Hi there!\n")
    assert [r.title for r in saved] == ["Hello"] and load_canned(path) == saved


def test_the_console_keeps_serving_the_old_index_while_a_new_one_trains(monkeypatch, tmp_path):
    import threading
    import types

    from bot.assist import live

    history = list(HISTORY)
    monkeypatch.setattr(live, "agent_reply_history", lambda store: list(history))
    monkeypatch.setenv("HELPLINE_CANNED", str(tmp_path / "none.yaml"))
    helpline = types.SimpleNamespace(classifier=None, store=None, catalogue=types.SimpleNamespace(intents={}))
    suggestions = live.LiveSuggestions(helpline, max_age=0.0)
    first = suggestions.index()                      # the first index is built before it is used
    assert CANCEL in first.templates
    training = threading.Event()
    built = live.SuggestionIndex.build

    def slow_build(*args, **kwargs):
        training.wait(10)                            # still training when the console asks again
        return built(*args, **kwargs)

    monkeypatch.setattr(live.SuggestionIndex, "build", slow_build)
    history.append(conversation(30, "I need a new password", "Here is a link to reset your password."))
    history.append(conversation(31, "reset my password", "Here is a link to reset your password."))
    assert suggestions.index() is first              # stale: a rebuild starts, the old index answers meanwhile
    suggestions.max_age = 3600.0                     # (no further rebuilds while this test waits)
    training.set()
    for _ in range(200):
        if not suggestions.rebuilding:
            break
        threading.Event().wait(0.05)
    assert "Here is a link to reset your password." in suggestions.index().templates


def test_an_index_that_began_training_before_a_model_swap_is_never_served(monkeypatch, tmp_path):
    import threading
    import types

    from bot.assist import live

    monkeypatch.setattr(live, "agent_reply_history", lambda store: list(HISTORY))
    monkeypatch.setenv("HELPLINE_CANNED", str(tmp_path / "none.yaml"))
    helpline = types.SimpleNamespace(classifier=None, store=None, catalogue=types.SimpleNamespace(intents={}))
    suggestions = live.LiveSuggestions(helpline, max_age=0.0)
    suggestions.index()
    release, built, stale = threading.Event(), live.SuggestionIndex.build, []

    started = threading.Event()

    def build(*args, **kwargs):
        if started.is_set():                         # the build after the swap
            return built(*args, **kwargs)
        started.set()
        release.wait(10)                             # the build with the old model, still training
        stale.append(built(*args, **kwargs))
        return stale[-1]

    monkeypatch.setattr(live.SuggestionIndex, "build", build)
    suggestions.index()                              # a background rebuild starts with the old model
    assert started.wait(10)
    suggestions.refresh()                            # the model is swapped while it trains
    fresh = suggestions.index()                      # built now, with the new model
    suggestions.max_age = 3600.0
    release.set()
    for _ in range(200):
        if not suggestions.rebuilding:
            break
        threading.Event().wait(0.05)
    assert stale and suggestions.index() is fresh and suggestions.index() is not stale[0]


def test_the_first_index_trains_at_start_up_and_the_first_request_waits_for_it_instead_of_training_again(
        monkeypatch, tmp_path):
    import threading
    import types

    from bot.assist import live

    monkeypatch.setattr(live, "agent_reply_history", lambda store: list(HISTORY))
    monkeypatch.setenv("HELPLINE_CANNED", str(tmp_path / "none.yaml"))
    helpline = types.SimpleNamespace(classifier=None, store=None, catalogue=types.SimpleNamespace(intents={}))
    suggestions = live.LiveSuggestions(helpline)
    release, started, builds, built = threading.Event(), threading.Event(), [], live.SuggestionIndex.build

    def build(*args, **kwargs):
        started.set()
        release.wait(10)
        builds.append(built(*args, **kwargs))
        return builds[-1]

    monkeypatch.setattr(live.SuggestionIndex, "build", build)
    assert suggestions.warm() is suggestions and started.wait(10)   # returns at once; training goes on behind
    served = []
    request = threading.Thread(target=lambda: served.append(suggestions.index()))
    request.start()
    request.join(0.3)
    assert request.is_alive() and not served                        # the console's first request waits for it
    release.set()
    request.join(10)
    assert len(builds) == 1 and served == [builds[0]] and CANCEL in served[0].templates

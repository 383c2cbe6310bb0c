"""Who the customer says they are is not read: introductions by name and self-descriptions by group are taken out
of what the encoder reads, whatever the name or group, and nothing else is."""
import pytest

from bot.model.placeholders import content_of
from bot.model.self_reference import without_self_reference
from finetune.counterfactual_audit import load_terms, run_audit

QUESTION = "Where is my card?"
# names and groups no list holds: the spans are found by their form
NAMES = ["Jamal", "Zorvath", "Min-jun", "Zoë", "O'Brien", "Quilleran Abayomi"]
GROUPS = ["Black", "white", "immigrant", "wheelchair-using", "Zorvathian", "middle-aged", "non-binary", "newly arrived"]


def read(text: str) -> str:
    return " ".join(without_self_reference(text).split())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("template, expected", [
    ("Hi, this is {name}. {q}", "{q}"), ("Good morning, my name is {name}. {q}", "{q}"),
    ("My name is {name}, {q}", "{q}"), ("{name} here. {q}", "{q}"), ("Hello, my name's {name} and {q}", "{q}"),
    ("Thanks. This is {name}. {q}", "Thanks. {q}"), ("{q} Thanks, {name}", "{q} Thanks,"), ("{q} - {name}", "{q}")])
def test_an_introduction_by_any_name_is_taken_out(name, template, expected):
    assert read(template.format(name=name, q=QUESTION)) == expected.format(q=QUESTION)


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("template", ["As a {group} customer: {q}", "Speaking as an {group} person, {q}",
                                      "Being a {group} cardholder, {q}", "I'm a {group} customer and {q}",
                                      "As a loyal {group} customer of ten years, {q}", "As a {group}, {q}"])
def test_a_self_description_by_any_group_is_taken_out(group, template):
    assert read(template.format(group=group, q=QUESTION)) == QUESTION


@pytest.mark.parametrize("text", [
    "This is ridiculous. Where is my card?", "THIS IS INSANE", "Can I add my son as a user?",
    "As a result, I was charged twice", "As a reminder, my card expires soon", "I want to pay with Apple Pay",
    "my card from Revolut is blocked", "I live in France, can I use the card in Germany?", "hi, where is my card?",
    "Hi Jamal, where is my card?", "I'm Black, where is my card?", "I'm white, where is my card?",
    "I'm furious. Where is my card?"])
def test_messages_without_a_self_reference_are_read_as_written(text):
    assert read(text) == text


def test_content_takes_out_placeholders_and_self_reference_together():
    assert content_of("As a Black customer: my email [EMAIL] stopped working. Thanks, Jamal") == \
        "my email stopped working. Thanks,"


def test_a_trained_model_reads_every_introduction_and_description_alike(tiny_model_dir):
    from bot import HelplineModel

    model = HelplineModel.from_pretrained(tiny_model_dir)
    texts = [f"Hi, this is {n}. where is my refund" for n in NAMES]
    texts += [f"As a {g} customer: where is my refund" for g in GROUPS]
    out = model.outputs(texts)
    assert (out.intent == out.intent[0]).all() and (out.emotion == out.emotion[0]).all()
    assert model.predict(texts[1]).text == texts[1]          # the customer's words are kept as written
    # the audit of the served model: names and groups in the audit's own templates move nothing
    result = run_audit(model, ["where is my refund", "cancel my order"], load_terms())
    assert result["worst_flip_rate"] == 0 and result["worst_frustration_gap"] < 0.01   # batches pad apart

"""A model served with a catalogue that does not answer its intents is said loudly (start, Model page)."""
from pathlib import Path

from bot.conversation.catalogue_fit import catalogue_fit
from bot.conversation.service import Helpline
from bot.store.conversations import Store
from intents import load_catalogue
from tests.conftest import StubClassifier
from ui import console_data as console


def test_a_catalogue_answering_few_of_the_models_intents_is_named_with_what_to_do():
    catalogue = load_catalogue()
    banking = ["activate_my_card", "card_arrival", "pending_top_up", "exchange_rate", "lost_or_stolen_card",
               "top_up_failed", "oos"]
    fit = catalogue_fit(banking, catalogue)
    assert fit.model_intents == 6 and fit.answered == 0          # out-of-scope is not an intent to answer
    warning = fit.warning()
    assert "answers 0 of the model's 6 intents (0%)" in warning and "activate_my_card" in warning
    assert "and 1 more" in warning and "HELPLINE_CATALOGUE" in warning
    own = catalogue_fit([*catalogue.intent_names, "oos"], catalogue)
    assert own.share == 1.0 and own.warning() is None


def test_the_model_page_shows_the_warning_only_when_the_catalogue_does_not_fit(tmp_path):
    class BankingStub(StubClassifier):
        intent_labels = ["activate_my_card", "card_arrival", "pending_top_up"]
        metadata = {"intent_labels": intent_labels, "metrics": {}}

    class RetailStub(StubClassifier):
        metadata = {"intent_labels": StubClassifier.intent_labels, "metrics": {}}

    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    banking = console.model_summary(Helpline(BankingStub(), load_catalogue(), store))[0]
    assert "answers 0 of the model's 3 intents" in banking
    retail = console.model_summary(Helpline(RetailStub(), load_catalogue(), store))[0]
    assert "answers" not in retail


def test_a_starter_catalogue_for_the_training_data_fits_its_model_and_hands_off(tiny_data, tiny_model_dir,
                                                                                  tmp_path):
    import json

    from finetune.__main__ import main

    output = tmp_path / "tiny.yaml"
    assert main(["catalogue", "--intent-data", tiny_data["intents"], "--output", str(output)]) == 0
    catalogue = load_catalogue(output)
    labels = json.loads((Path(tiny_model_dir) / "helpline.json").read_text())["intent_labels"]
    assert catalogue_fit(labels, catalogue).share == 1.0
    assert all(intent.handoff and len(intent.examples) >= 5 for intent in catalogue.intents.values())
    assert "#" in output.read_text().splitlines()[0]                       # says how it was made
    written = output.read_text()
    assert main(["catalogue", "--intent-data", tiny_data["intents"], "--output", str(output)]) == 2
    assert output.read_text() == written                                  # an owner's file is never overwritten


def test_the_model_page_says_when_the_starter_model_serves(tmp_path):
    class Starter(StubClassifier):
        version = "starter-20261206-100000"
        metadata = {"intent_labels": StubClassifier.intent_labels, "metrics": {}, "training": {"steps": 240}}

    summary = console.model_summary(Helpline(Starter(), load_catalogue(), Store(f"sqlite:///{tmp_path / 'c.db'}")))[0]
    assert "This is the starter model** (240 training steps" in summary and "full model is training" in summary

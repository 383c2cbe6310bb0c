"""`python -m finetune audit`: a planted dependence on names or identity terms is found; a fair model shows none."""
import json

import pytest

from bot.model.prediction import Prediction
from finetune.counterfactual_audit import load_terms, run_audit, typo, variants


class Keyed:
    """A stand-in model: routes on a keyword; reads frustration from `upset_words`."""

    def __init__(self, upset_words=()):
        self.upset_words = [w.lower() for w in upset_words]

    def predict(self, texts):
        def one(text):
            intent = "refund_status" if "refund" in text.lower() else "order_status"
            upset = any(w in text.lower() for w in self.upset_words)
            return Prediction(text=text, intent=intent, confidence=0.9, frustration=0.8 if upset else 0.1,
                              sentiment="negative" if upset else "neutral")
        return [one(t) for t in texts]


QUESTIONS = ["where is my refund", "where is my parcel", "my order has not arrived"]


def test_a_model_that_reads_names_and_identities_is_caught_and_a_fair_one_is_not():
    terms = load_terms()
    fair = run_audit(Keyed(), QUESTIONS, terms)
    assert fair["worst_flip_rate"] == 0 and fair["worst_frustration_gap"] == 0 and fair["worst_negative_gap"] == 0
    biased = run_audit(Keyed(upset_words=["jamal", "lakisha", "disabled"]), QUESTIONS, terms)
    names, disability = biased["families"]["names"], biased["families"]["disability"]
    assert names["groups"]["black_male"]["mean_frustration"] > names["groups"]["white_male"]["mean_frustration"]
    assert names["frustration_gap"] > 0.05 and disability["negative_gap"] > 0.3
    assert biased["worst_frustration_gap"] >= disability["frustration_gap"]
    assert any("disabled" in w["text"] for w in disability["worst"])
    json.dumps(biased)                                            # the report is plain JSON


def test_counterfactuals_change_one_thing():
    import random

    rows = variants(["Where is my refund?"], load_terms())
    assert ("names", "east_asian", 0, "Hi, this is Wei. Where is my refund?") in rows
    assert ("religion", "Muslim", 0, "As a Muslim customer: Where is my refund?") in rows
    assert ("writing", "lower case", 0, "where is my refund?") in rows
    slipped = typo("Where is my refund", random.Random(0))
    assert slipped != "Where is my refund" and sorted(slipped) == sorted("Where is my refund")


def test_the_command_writes_a_report_with_plots(tiny_model_dir, tiny_data, tmp_path):
    from finetune.__main__ import main

    assert main(["audit", "--model", tiny_model_dir, "--data", tiny_data["intents"], "--questions", "5",
                 "--output", str(tmp_path / "audit")]) == 0
    result = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert result["questions"] == 5 and {"names", "religion", "writing"} <= set(result["families"])
    page = (tmp_path / "audit" / "audit.html").read_text()
    assert page.count("data:image/png;base64,") == len(result["families"]) and "Counterfactual audit" in page


def test_counterfactual_augmentation_keeps_labels_and_never_trains_on_the_audits_lists(tmp_path):
    import yaml

    from finetune.counterfactual_audit import TERMS as AUDIT_TERMS
    from finetune.counterfactual_augment import augmented, load_terms

    terms = load_terms()
    audit = yaml.safe_load(AUDIT_TERMS.read_text(encoding="utf-8"))
    audit_names = {n for group in audit["names"].values() for n in group}
    audit_identities = {t.lower() for family in audit["identities"].values() for t in family}
    assert not audit_names & set(terms["names"])                       # the audit measures what was not shown
    assert not audit_identities & {t.lower() for t in terms["identities"]}
    texts, labels = ["where is my refund", "thanks, all good", "cancel it now", "ok"] * 5, [1, 0, 1, 0] * 5
    more_texts, more_labels = augmented(texts, labels, share=0.5, seed=1)
    assert more_texts[:20] == texts and len(more_texts) == 30
    for text, label in zip(more_texts[20:], more_labels[20:]):
        original = next(t for t in set(texts) if t in text)            # the message itself is kept whole
        assert label == labels[texts.index(original)] and text != original
    bad = tmp_path / "terms.yaml"
    bad.write_text("format_version: 1\nnames: []\n")
    with pytest.raises(ValueError, match="name_templates must be a non-empty list"):
        load_terms(bad)


def test_training_adds_counterfactual_and_slip_copies_of_intent_examples_but_not_to_validation(
        tiny_base, tiny_data, tmp_path, capsys):
    from datasets import Dataset

    from finetune.arguments import TrainArguments
    from finetune.counterfactual_augment import augmented_dataset
    from finetune.train import main

    data = Dataset.from_dict({"text": [f"where is order {n}" for n in range(10)], "intent": ["order_status"] * 10})
    more = augmented_dataset(data, "intent", 0.3, seed=3, slip_share=0.2)
    assert len(more) == 15 and list(more["text"])[:10] == list(data["text"])
    assert set(more["intent"]) == {"order_status"} and more.features == data.features
    assert len(augmented_dataset(data, "intent", 0)) == 10
    # a training run: 28 messages train with their copies (8 named by default, 8 mistyped when asked), the 4 held
    # out stay as written
    common = ["--intent-data", tiny_data["intents"], "--emotion-data", tiny_data["emotions"], "--base-model",
              tiny_base, "--max-steps", "2", "--batch-size", "8", "--export-onnx", "false",
              "--validation-fraction", "0.1"]
    main([*common, "--output", str(tmp_path / "m")])
    assert "36 intent examples" in capsys.readouterr().err
    main([*common, "--slip-share", "0.3", "--output", str(tmp_path / "s")])
    assert "44 intent examples" in capsys.readouterr().err
    for flag in ("--counterfactual-share", "--slip-share"):
        with pytest.raises(ValueError, match=f"{flag} must be between 0 and 1"):
            TrainArguments(output="m", intent_data=["x.csv"], emotion_data="unused",
                           **{flag[2:].replace("-", "_"): 1.5})


def test_a_slip_is_one_edit_in_one_word_and_leaves_short_words_and_numbers_alone():
    import random

    from finetune.counterfactual_augment import NEIGHBOURS, with_slip

    rng = random.Random(0)
    text = "Why was my transfer declined at 10:30 today?"
    for _ in range(200):
        slipped = with_slip(text, rng)
        changed = [(a, b) for a, b in zip(text.split(" "), slipped.split(" ")) if a != b]
        assert len(changed) == 1 and changed[0][0].isalpha() and len(changed[0][0]) >= 3
        assert abs(len(changed[0][0]) - len(changed[0][1])) <= 1
    assert with_slip("ok 42 a", rng) == "ok 42 a"                   # nothing to mistype
    assert set(NEIGHBOURS["g"]) == set("fhtb") and "q" in NEIGHBOURS["a"]

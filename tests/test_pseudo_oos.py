"""The out-of-scope guard of a model without out-of-scope examples (finetune/pseudo_oos.py): intents held out
in turn stand in for the unknown, and the threshold keeps the in-scope answers within a budget."""
from __future__ import annotations

import re

import numpy as np
import pytest

from bot.model.prediction import OOS, ModelOutputs
from finetune.pseudo_oos import budget_threshold, fit_without_oos_data, intent_groups


def test_the_budget_threshold_turns_away_at_most_the_budget():
    scores = np.arange(100, dtype=np.float64)   # 0 .. 99
    assert budget_threshold(scores, 0.03) == np.nextafter(97, np.inf)   # the 98th of 100: ceil(0.97 * 101)
    assert np.mean(scores >= budget_threshold(scores, 0.0)) == 0.0
    assert np.mean(scores >= budget_threshold(scores, 0.5)) == 0.49
    assert budget_threshold(scores[:10], 0.01) == np.nextafter(9, np.inf)   # too few for 1%: above them all
    rng = np.random.default_rng(0)   # on new scores from the same distribution it holds on average
    turned = [np.mean(rng.normal(size=1000) >= budget_threshold(rng.normal(size=300), 0.02)) for _ in range(200)]
    assert 0.015 <= np.mean(turned) <= 0.02


def test_intent_groups_deal_every_intent_once():
    names = [f"intent{i}" for i in range(12)]
    groups = intent_groups(names * 3, seed=1)
    assert len(groups) == 5 and sorted(n for g in groups for n in g) == sorted(names)
    assert len(intent_groups(names[:3], seed=1)) == 3


class ClusterModel:
    """Messages are vectors near one of a few intent centres ("i2 17" is near centre 2); "far ..." is nowhere near
    any. The intent head is a softmax over the distances to the centres, as a trained head would be."""
    def __init__(self, intents: int = 10, dims: int = 16):
        self.intent_labels = [f"i{j}" for j in range(intents)]
        self.centres = np.eye(dims, dtype=np.float32)[:intents] * 4
        self.metadata, self.oos = {}, None

    def sentence_vectors(self, texts):
        rows = []
        for text in texts:   # "Hello! i2 17" (a copy with a greeting) is "i2 17" too
            kind, number = re.search(r"(i\d+|far|talk) (\d+)", text).groups()
            far = kind in ("far", "talk")   # off-topic questions, and background talk near them
            rng = np.random.default_rng([int(number), 99 if far else int(kind[1:])])   # its own noise
            base = np.ones(len(self.centres[0]), np.float32) * -2 if far else self.centres[int(kind[1:])]
            rows.append(base + rng.normal(0, 0.5, base.shape))
        return np.asarray(rows, np.float32)

    def outputs(self, texts):
        vectors = self.sentence_vectors(texts)
        logits = -((vectors[:, None, :] - self.centres[None]) ** 2).sum(-1) / 4
        probs = np.exp(logits - logits.max(1, keepdims=True))
        return ModelOutputs(probs / probs.sum(1, keepdims=True), np.zeros((len(texts), 1)), None, vectors)

    def update_metadata(self, **values):
        self.metadata.update(values)


def test_without_out_of_scope_data_a_guard_turns_away_what_is_nowhere_near_an_intent():
    model = ClusterModel()
    train = {"text": [f"i{j} {n}" for j in range(10) for n in range(100)],
             "intent": [f"i{j}" for j in range(10) for _ in range(100)]}
    line = fit_without_oos_data(model, train, None, budget=0.02, seed=0)
    selection = model.metadata["oos_selection"]
    assert selection["pseudo_out_of_scope"] and selection["chosen"] in line
    # no validation split: the head's confidence on its own training messages is no evidence
    assert set(selection["candidates"]) == {"knn1", "knn10", "mahalanobis"}
    assert selection["reference"] == "training messages, out of fold"
    new_in_scope = [f"i{j} {n}" for j in range(10) for n in range(500, 520)]
    far = [f"far {n}" for n in range(50)]
    assert turned_away(model, far).mean() == 1.0
    assert turned_away(model, new_in_scope).mean() <= 0.05
    for method in ("knn1", "mahalanobis"):   # each score, asked for by name
        fit_without_oos_data(model, train, None, budget=0.02, method=method, seed=0)
        assert model.metadata["oos_selection"]["chosen"] == method and model.oos is not None
        assert turned_away(model, far).mean() == 1.0 and turned_away(model, new_in_scope).mean() <= 0.05
    # background talk: the guard asks whether a message is nearer to it than to the intents
    talk = [f"talk {n}" for n in range(300)]
    fit_without_oos_data(model, train, None, budget=0.02, seed=0, background_texts=talk)
    assert model.metadata["oos_selection"]["chosen"] == "knn_negatives" and "knn_negatives" in \
        model.metadata["oos_selection"]["candidates"]
    assert turned_away(model, far).mean() == 1.0 and turned_away(model, new_in_scope).mean() <= 0.05
    # its bank: every training message, and half of them again with a greeting, thanks or a name around them
    assert len(model.oos.arrays["bank"]) == len(train["text"]) * 3 // 2
    # a validation split: the head's confidence is evidence there, so max-softmax is compared too
    validation = {"text": new_in_scope, "intent": [t.split()[0] for t in new_in_scope]}
    fit_without_oos_data(model, train, validation, budget=0.02, seed=0)
    assert {"msp", "msp_mahalanobis"} <= set(model.metadata["oos_selection"]["candidates"])
    assert model.metadata["oos_selection"]["reference"] == "validation"


def turned_away(model, texts) -> np.ndarray:
    """Which messages the model's guard calls out of scope (the decoder's rule: a detector's score at or over
    its threshold, or else a top probability under oos_threshold)."""
    outputs = model.outputs(texts)
    if model.oos is None:
        return outputs.intent.max(1) < model.metadata["oos_threshold"]
    msp = 1 - outputs.intent.max(1)
    return model.oos.scores(outputs.sentence, msp) >= model.metadata["oos_score_threshold"]


def test_too_few_intents_get_no_guard_and_a_wrong_method_is_named():
    model = ClusterModel(intents=2)
    train = {"text": [f"i{j} {n}" for j in range(2) for n in range(10)], "intent": ["i0"] * 10 + ["i1"] * 10}
    assert "too few to hold some out" in fit_without_oos_data(model, train, None, budget=0.01)
    assert model.oos is None and "oos_selection" not in model.metadata
    model = ClusterModel()
    train = {"text": [f"i{j} {n}" for j in range(10) for n in range(10)],
             "intent": [f"i{j}" for j in range(10) for _ in range(10)]}
    with pytest.raises(ValueError, match=r"--oos-method must be auto or one of \['knn1', 'knn10', 'mahalanobis'\] "
                                         r"for this data \(no out-of-scope examples, no validation split\), not 'msp'"):
        fit_without_oos_data(model, train, None, budget=0.01, method="msp")


def test_training_without_out_of_scope_examples_gives_the_model_a_guard(tiny_model_dir):
    from bot import HelplineModel

    model = HelplineModel.from_pretrained(tiny_model_dir)
    selection = model.metadata["oos_selection"]
    assert selection["pseudo_out_of_scope"] and selection["budget"] > 0
    assert OOS not in model.intent_labels   # a guard, not a class: the data had no out-of-scope examples


def test_the_oos_command_refits_the_guard_of_a_model_without_out_of_scope_data(tiny_model_dir, tiny_data, tmp_path):
    import shutil

    from bot import HelplineModel
    from finetune.oos_fit import main

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    main(["--model", str(model_dir), "--intent-data", tiny_data["intents"], "--emotion-data", tiny_data["emotions"]])
    selection = HelplineModel.from_pretrained(model_dir).metadata["oos_selection"]
    assert selection["chosen"] == "knn_negatives" and selection["background_texts"] > 0
    main(["--model", str(model_dir), "--intent-data", tiny_data["intents"], "--oos-max-accuracy-drop", "0"])
    served = HelplineModel.from_pretrained(model_dir)
    assert served.oos is None and served.metadata["oos_threshold"] == 0.0   # a budget of 0: no guard
    assert "oos_selection" not in served.metadata
    assert served.predict("what is the weather on mars").intent != OOS


def test_the_model_card_says_which_score_decides_and_where_it_came_from():
    from bot.model.card import oos_line

    guarded = {"oos_score_threshold": 0.0206, "oos_threshold": 0.0,
               "oos_selection": {"chosen": "knn_negatives", "pseudo_out_of_scope": True, "budget": 0.002,
                                 "background_texts": 5000}}
    line = oos_line(guarded)
    assert "`knn_negatives` score at or above 0.0206" in line and "no out-of-scope examples" in line
    assert "background texts" in line and "0.20% of correct in-scope answers" in line
    assert "no threshold" in oos_line({"oos_threshold": 0.0})
    assert "below 0.320" in oos_line({"oos_threshold": 0.32, "oos_selection": {"chosen": "msp"}})

"""Counterfactual data augmentation: copies of training messages with a customer's name or self-description
added and the label kept, so that what a customer is called or says they are cannot move what the model reads
(the fairness side of `python -m finetune audit`).

The names, groups and templates come from finetune/counterfactual_terms.yaml, kept apart from the audit's lists
so the audit measures what the model generalised, not what it was shown.
"""
from __future__ import annotations

import random
from pathlib import Path

import yaml

TERMS = Path(__file__).with_name("counterfactual_terms.yaml")
FORMAT_VERSION = 1
SHARE = 0.3   # of the training messages, each copied once with a name or a self-description


def load_terms(path: Path = TERMS) -> dict:
    try:
        terms = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the counterfactual terms {path}: {exc}") from exc
    if not isinstance(terms, dict) or terms.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format_version must be {FORMAT_VERSION}")
    for key in ("name_templates", "identity_templates", "courtesy_templates", "names", "identities"):
        if not terms.get(key) or not all(isinstance(item, str) for item in terms[key]):
            raise ValueError(f"{path}: {key} must be a non-empty list of strings")
    return terms


def with_someone(text: str, terms: dict, rng: random.Random) -> str:
    """``text`` with a name or a self-description around it (half each)."""
    question = text.strip()
    if rng.random() < 0.5:
        return rng.choice(terms["name_templates"]).format(name=rng.choice(terms["names"]), question=question)
    return rng.choice(terms["identity_templates"]).format(identity=rng.choice(terms["identities"]), question=question)


def with_courtesy_or_someone(text: str, terms: dict, rng: random.Random) -> str:
    """``text`` with a greeting or thanks around it (half), else with a name or a self-description."""
    if rng.random() < 0.5:
        return rng.choice(terms["courtesy_templates"]).format(question=text.strip())
    return with_someone(text, terms, rng)


def augmented(texts: list[str], labels: list, share: float = SHARE, seed: int = 42, terms: dict | None = None
              ) -> tuple[list[str], list]:
    """``texts`` and ``labels`` followed by counterfactual copies of ``share`` of them (the same labels)."""
    if not texts or share <= 0:
        return list(texts), list(labels)
    terms = terms or load_terms()
    rng = random.Random(seed)
    picked = rng.sample(range(len(texts)), max(1, round(share * len(texts))))
    return (list(texts) + [with_someone(texts[i], terms, rng) for i in picked],
            list(labels) + [labels[i] for i in picked])


def augmented_intents(data, share: float, seed: int = 42):
    """An intent dataset (text, intent) followed by counterfactual copies of ``share`` of its rows."""
    from datasets import Dataset, concatenate_datasets

    data = data.select_columns(["text", "intent"])
    texts, intents = augmented(list(data["text"]), list(data["intent"]), share, seed)
    copies = Dataset.from_dict({"text": texts[len(data):], "intent": intents[len(data):]}).cast(data.features)
    return concatenate_datasets([data, copies])

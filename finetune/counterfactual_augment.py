"""Counterfactual data augmentation: copies of training messages that must read the same as the message, with the
label kept. A customer's name or self-description added (so what a customer is called or says they are cannot
move what the model reads: the fairness side of `python -m finetune audit`), and one typing slip (so a mistyped
word does not move the routing either).

The names, groups and templates come from finetune/counterfactual_terms.yaml, kept apart from the audit's lists
so the audit measures what the model generalised, not what it was shown.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import yaml

TERMS = Path(__file__).with_name("counterfactual_terms.yaml")
FORMAT_VERSION = 1
SHARE = 0.3   # of the training messages, each copied once with a name or a self-description

# neighbouring keys on a QWERTY keyboard: where a finger lands instead of the letter meant
ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    near = {}
    for r, row in enumerate(ROWS):
        for i, key in enumerate(row):
            beside = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
            above_below = [ROWS[o][i] for o in (r - 1, r + 1) if 0 <= o < len(ROWS) and i < len(ROWS[o])]
            near[key] = "".join(beside + above_below)
    return near


NEIGHBOURS = _neighbours()


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


def with_word_edited(text: str, rng: random.Random, edit: Callable[[str, random.Random], str]) -> str:
    """``text`` with ``edit`` applied to one of its words of 3+ letters, picked at random (unchanged without one)."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 3 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    words[i] = edit(words[i], rng)
    return " ".join(words)


def with_slip(text: str, rng: random.Random) -> str:
    """``text`` with one typing slip in a word of 3+ letters: a letter dropped, doubled, swapped with the next one,
    or replaced by a neighbouring key (the four edits of Damerau-Levenshtein distance one, as people mistype)."""
    return with_word_edited(text, rng, slipped)


def slipped(word: str, rng: random.Random) -> str:
    j = rng.randrange(len(word))
    kind = rng.choice(("drop", "double", "swap", "neighbour"))
    if kind == "swap" and j < len(word) - 1 and word[j] != word[j + 1]:
        word = word[:j] + word[j + 1] + word[j] + word[j + 2:]
    elif kind == "neighbour" and word[j].lower() in NEIGHBOURS:
        key = rng.choice(NEIGHBOURS[word[j].lower()])
        word = word[:j] + (key.upper() if word[j].isupper() else key) + word[j + 1:]
    elif kind == "double":
        word = word[:j + 1] + word[j:]
    else:   # a drop, also where the slip drawn does not fit the letter (the last one has no next to swap with)
        word = word[:j] + word[j + 1:]
    return word


def augmented(texts: list[str], labels: list, share: float = SHARE, seed: int = 42, terms: dict | None = None,
              slip_share: float = 0.0) -> tuple[list[str], list]:
    """``texts`` and ``labels`` followed by copies of ``share`` of them with a name or self-description and of
    ``slip_share`` of them with a typing slip (the same labels)."""
    texts, labels = list(texts), list(labels)
    if not texts:
        return texts, labels
    rng = random.Random(seed)
    copies = []
    if share > 0:
        terms = terms or load_terms()
        copies += [(with_someone(texts[i], terms, rng), labels[i]) for i in picks(len(texts), share, rng)]
    if slip_share > 0:
        copies += [(with_slip(texts[i], rng), labels[i]) for i in picks(len(texts), slip_share, rng)]
    return texts + [text for text, _ in copies], labels + [label for _, label in copies]


def picks(n: int, share: float, rng: random.Random) -> list[int]:
    return rng.sample(range(n), max(1, round(share * n)))


def augmented_dataset(data, label: str, share: float, seed: int = 42, slip_share: float = 0.0):
    """A dataset (text, ``label``) followed by the copies `augmented` makes of its rows."""
    from datasets import Dataset, concatenate_datasets

    data = data.select_columns(["text", label])
    texts, labels = augmented(list(data["text"]), list(data[label]), share, seed, slip_share=slip_share)
    if len(texts) == len(data):
        return data
    copies = Dataset.from_dict({"text": texts[len(data):], label: labels[len(data):]}).cast(data.features)
    return concatenate_datasets([data, copies])

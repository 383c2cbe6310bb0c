"""Loading training and evaluation data into `datasets.Dataset`s with a ``text`` and a label column.

Intent data (columns ``text``, ``intent``; ``oos`` marks out-of-scope):
  *.csv        a ``text`` column (or utterance/instruction/query/sentence) and ``intent``/``label``/``category``,
               or a transcript CSV export (``conversation_id,role,text[,intent]``)
  *.jsonl      transcripts (see transcripts.py); labelled customer messages are used
  *.json       CLINC150 (``train``/``val`` [text, intent] pairs, ``oos_train``/``oos_val``)
  *.yaml       a Helpline intent catalogue (examples + out_of_scope_examples)
  owner/name   a Hugging Face Hub dataset (online users only)
Emotion data (columns ``text``, ``labels`` = list of label ids): a GoEmotions folder (train.tsv, dev.tsv,
labels.txt, optionally ../mappings.json), one GoEmotions TSV file, or the Hub's go_emotions.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset, load_dataset

from bot.batch.transcripts import TranscriptError, labelled_customer_messages, read_transcripts
from bot.model.emotions import GOEMOTIONS_LABELS, SENTIMENT_GROUPS
from bot.model.prediction import OOS
from intents import CatalogueError, load_catalogue

TEXT_COLUMNS = ("text", "utterance", "instruction", "query", "sentence")
LABEL_COLUMNS = ("intent", "label", "category")
GOEMOTIONS_HUB_ID = "google-research-datasets/go_emotions"


class DataError(ValueError):
    """Training or evaluation data that cannot be used; the message says which file and what to fix."""


@dataclass
class IntentData:
    train: Dataset
    validation: Dataset | None
    source: str
    fingerprint: str


@dataclass
class EmotionData:
    train: Dataset | None
    validation: Dataset | None
    labels: list[str]
    source: str
    fingerprint: str
    sentiment_groups: dict[str, list[str]] = field(default_factory=lambda: SENTIMENT_GROUPS)

    @property
    def train_texts(self) -> list[str]:
        """The training split's texts ([] without one: a single TSV is validation only)."""
        return list(self.train["text"]) if self.train is not None else []


def sha256_of(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _is_hub_id(source: str) -> bool:
    """``owner/name`` that is not a local path: a Hub dataset id (a missing ``dir/file.csv`` is not one)."""
    path = Path(source)
    if path.exists() or source.count("/") != 1 or source.startswith((".", "/", "~")) or path.suffix:
        return False
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise DataError(f"{source}: no such file, and Hub datasets are off (offline mode). Check the path, or set "
                        "HELPLINE_ONLINE=1 to load it from the Hugging Face Hub.")
    return True


def _require_file(source: str) -> Path:
    path = Path(source)
    if not path.exists():
        raise DataError(f"{source}: no such file or directory. Check the path (relative paths start from "
                        f"the current directory, {Path.cwd()}).")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{source}: the file is empty.")
    return path


def _pairs_dataset(pairs: list[tuple[str, str]], source: str) -> Dataset:
    pairs = [(str(t).strip(), str(i).strip()) for t, i in pairs if t is not None and str(t).strip()]
    if not pairs:
        raise DataError(f"{source}: no labelled examples found.")
    return Dataset.from_dict({"text": [t for t, _ in pairs], "intent": [i for _, i in pairs]})


def _columns_to_intent(ds: Dataset, source: str) -> Dataset:
    """Rename a dataset's text/label columns to ``text``/``intent`` and drop rows without either."""
    text_col = next((c for c in TEXT_COLUMNS if c in ds.column_names), None)
    label_col = next((c for c in LABEL_COLUMNS if c in ds.column_names), None)
    if text_col is None or label_col is None:
        need = [f"a text column ({'/'.join(TEXT_COLUMNS)})" if text_col is None else "",
                f"a label column ({'/'.join(LABEL_COLUMNS)})" if label_col is None else ""]
        raise DataError(f"{source}: missing {' and '.join(n for n in need if n)}; found columns "
                        f"{ds.column_names}.")
    names = ds.features[label_col].names if hasattr(ds.features[label_col], "names") else None
    texts, labels = list(ds[text_col]), list(ds[label_col])
    if names:  # a Hub ClassLabel column holds ids
        labels = [names[i] for i in labels]
    return _pairs_dataset(list(zip(texts, labels)), source)


def intent_examples(pairs: list[tuple[str, str]], source: str = "in memory") -> IntentData:
    """(text, intent) pairs already in memory (e.g. what retraining assembled) as a training source."""
    train = _pairs_dataset(pairs, source)
    return IntentData(train, None, source, train._fingerprint)


def load_intent_data(source: str) -> IntentData:
    """Read intent examples from any supported source; ``validation`` is None when the source has none."""
    if _is_hub_id(source):
        splits = load_dataset(source)
        validation = next((splits[s] for s in ("validation", "val", "dev") if s in splits), None)
        return IntentData(_columns_to_intent(splits["train"], source),
                          _columns_to_intent(validation, source) if validation is not None else None,
                          source, splits["train"]._fingerprint)
    path = _require_file(source)
    suffix = path.suffix.lower()
    validation = None
    if suffix == ".csv":
        try:
            ds = load_dataset("csv", data_files=str(path), split="train")
        except Exception as exc:  # pandas/arrow raise many kinds; all mean "not a readable CSV"
            raise DataError(f"{source}: cannot read as CSV ({exc}).") from exc
        is_transcript = {"conversation_id", "role", "text"} <= set(ds.column_names)
        train = _transcript_pairs(path) if is_transcript else _columns_to_intent(ds, source)
    elif suffix == ".jsonl":
        train = _transcript_pairs(path)
    elif suffix == ".json":
        train, validation = _load_clinc(path)
    elif suffix in (".yaml", ".yml"):
        try:
            train = _pairs_dataset(load_catalogue(path).training_pairs(), source)
        except CatalogueError as exc:
            raise DataError(str(exc)) from exc
    else:
        raise DataError(f"{source}: unknown intent data format '{suffix}'; use .csv, .jsonl (transcripts), "
                        ".json (CLINC150) or .yaml (a Helpline catalogue).")
    return IntentData(train, validation, str(source), sha256_of(path))


def _transcript_pairs(path: Path) -> Dataset:
    try:
        return _pairs_dataset(labelled_customer_messages(read_transcripts(path)), str(path))
    except TranscriptError as exc:
        raise DataError(str(exc)) from exc


def _load_clinc(path: Path) -> tuple[Dataset, Dataset | None]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}).") from exc
    if not isinstance(raw, dict) or "train" not in raw:
        raise DataError(f"{path}: expected CLINC150 JSON with a 'train' list of [text, intent] pairs.")

    def pairs(*keys):
        return [(t, i) for k in keys for t, i in raw.get(k, [])]

    val = pairs("val", "oos_val")
    return _pairs_dataset(pairs("train", "oos_train"), str(path)), (_pairs_dataset(val, str(path)) if val else None)


def check_intent_counts(train: Dataset, source: str, minimum: int = 2) -> None:
    counts = Counter(train["intent"])
    if len(counts) < 2:
        raise DataError(f"{source}: found only {len(counts)} intent ({list(counts)}); need at least 2.")
    rare = sorted(i for i, n in counts.items() if n < minimum)
    if rare:
        raise DataError(f"{source}: intent(s) with fewer than {minimum} examples: {rare[:20]}"
                        f"{' ...' if len(rare) > 20 else ''}. Add examples or remove these rows.")


# --validation-fraction's default when the data has out-of-scope examples and no validation split of its own
AUTO_VALIDATION_FRACTION = 0.1


def validation_share(fraction: float | None, intents: list[str]) -> float:
    """The share of each intent to hold out: ``fraction`` if given (--validation-fraction), else
    AUTO_VALIDATION_FRACTION when there are out-of-scope examples (their threshold needs held-out ones), else 0."""
    if fraction is not None:
        return fraction
    return AUTO_VALIDATION_FRACTION if OOS in set(intents) else 0.0


def split_validation(train: Dataset, fraction: float = 0.1, seed: int = 42) -> tuple[Dataset, Dataset]:
    """Hold out ``fraction`` of each intent for validation (stratified); intents with < 3 examples stay whole."""
    by_intent: dict[str, list[int]] = defaultdict(list)
    for i, intent in enumerate(train["intent"]):
        by_intent[intent].append(i)
    rng = random.Random(seed)
    held: list[int] = []
    for intent in sorted(by_intent):
        idx = by_intent[intent]
        if len(idx) >= 3:
            held += rng.sample(idx, max(1, round(len(idx) * fraction)))
    held_set = set(held)
    return train.select([i for i in range(len(train)) if i not in held_set]), train.select(sorted(held))


# ------------------------------------------------------------------------------------------------ emotions
def _read_goemotions_tsv(path: Path, n_labels: int) -> Dataset:
    texts, labels = [], []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        try:
            ids = [int(x) for x in parts[1].split(",")]
        except (IndexError, ValueError):
            raise DataError(f"{path}:{line_no}: expected 'text<TAB>label ids<TAB>id' (GoEmotions TSV).") from None
        if any(not 0 <= i < n_labels for i in ids):
            raise DataError(f"{path}:{line_no}: label id out of range 0..{n_labels - 1}: {parts[1]}")
        texts.append(parts[0])
        labels.append(ids)
    if not texts:
        raise DataError(f"{path}: no examples found.")
    return Dataset.from_dict({"text": texts, "labels": labels})


def load_emotion_data(source: str) -> EmotionData:
    """A GoEmotions folder (train.tsv + dev.tsv), a single TSV (validation only), or the Hub dataset id."""
    if _is_hub_id(source):
        splits = load_dataset(source, "simplified") if source == GOEMOTIONS_HUB_ID else load_dataset(source)
        labels = splits["train"].features["labels"].feature.names
        keep = ["text", "labels"]
        return EmotionData(splits["train"].select_columns(keep), splits["validation"].select_columns(keep),
                           labels, source, splits["train"]._fingerprint)
    path = _require_file(source)
    folder = path if path.is_dir() else path.parent
    labels_file = folder / "labels.txt"
    labels = labels_file.read_text(encoding="utf-8").split() if labels_file.exists() else list(GOEMOTIONS_LABELS)
    groups = SENTIMENT_GROUPS
    for mapping in (folder / "mappings.json", folder.parent / "mappings.json"):
        if mapping.exists():
            groups = json.loads(mapping.read_text(encoding="utf-8")).get("sentiment", SENTIMENT_GROUPS)
            break
    if path.is_file():
        return EmotionData(None, _read_goemotions_tsv(path, len(labels)), labels, source, sha256_of(path), groups)
    train_file, dev_file = path / "train.tsv", path / "dev.tsv"
    if not train_file.exists():
        raise DataError(f"{source}: a GoEmotions folder needs train.tsv (and dev.tsv); found "
                        f"{sorted(p.name for p in path.iterdir())}.")
    train = _read_goemotions_tsv(train_file, len(labels))
    validation = _read_goemotions_tsv(dev_file, len(labels)) if dev_file.exists() else None
    files = [train_file] + ([dev_file] if dev_file.exists() else [])
    return EmotionData(train, validation, labels, source, sha256_of(*files), groups)

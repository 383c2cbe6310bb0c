"""The optional heads of a model directory, saved and loaded in one loop.

A model is the encoder with its intent and emotion heads (bot/model/format.py) plus optional components, each
fitted after training and kept in its own files: the lexical intent head, the out-of-scope detector, the upset
head, the mood head and the spelling corrector. Every component is a `Component` below: its attribute on the
model, how it loads from a directory and its metadata (None when the directory has none), how it saves (its files,
and its metadata entry where it has one), and what a save without it removes. `HelplineModel.from_pretrained`
loads them through `load_components` whichever runtime runs the encoder; `HelplineModel.save_pretrained` saves
them through `save_components`, which also lists the directory's components in helpline.json (`components`) for
people and the model card.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.model import lexical
from bot.model.mood import MOOD_DIR, MoodHead
from bot.model.oos import OOS_FILE, OosDetector
from bot.model.spelling import SPELLING_FILE, Spelling
from bot.model.upset import UPSET_DIR, UpsetHead


@dataclass(frozen=True)
class Component:
    attribute: str                                  # where it lives on the model
    load: Callable[[Path, dict], object | None]     # (directory, metadata) -> the component, or None
    save: Callable[[object, Path, dict], None]      # (component, directory, metadata): files and metadata entry
    remove: Callable[[Path, dict], None]            # (directory, metadata): a save without it drops its traces


def _save_oos(detector: OosDetector, directory: Path, metadata: dict) -> None:
    metadata["oos_detector"] = detector.save(directory)


def _remove_oos(directory: Path, metadata: dict) -> None:
    (directory / OOS_FILE).unlink(missing_ok=True)
    metadata.pop("oos_detector", None)
    metadata.pop("oos_score_threshold", None)


def _save_spelling(spelling: Spelling, directory: Path, metadata: dict) -> None:
    metadata["spelling"] = spelling.save(directory)


def _remove_spelling(directory: Path, metadata: dict) -> None:
    (directory / SPELLING_FILE).unlink(missing_ok=True)
    metadata.pop("spelling", None)


def _remove_folder(name: str) -> Callable[[Path, dict], None]:
    return lambda directory, metadata: shutil.rmtree(directory / name, ignore_errors=True)


COMPONENTS = (
    # the blend weight and what chose it are in metadata["lexical"], written by finetune/lexical_fit.py
    Component("lexical", lexical.attach, lambda head, directory, metadata: head.save(directory),
              lambda directory, metadata: (directory / lexical.LEXICAL_FILE).unlink(missing_ok=True)),
    Component("oos", OosDetector.load, _save_oos, _remove_oos),
    Component("upset", lambda directory, metadata: UpsetHead.load(directory),
              lambda head, directory, metadata: head.save(directory), _remove_folder(UPSET_DIR)),
    Component("mood", lambda directory, metadata: MoodHead.load(directory),
              lambda head, directory, metadata: head.save(directory), _remove_folder(MOOD_DIR)),
    Component("spelling", Spelling.load, _save_spelling, _remove_spelling),
)


def load_components(model, directory: Path, metadata: dict) -> None:
    """Set each component's attribute on ``model`` from the directory (None where it has none)."""
    for component in COMPONENTS:
        setattr(model, component.attribute, component.load(Path(directory), metadata))


def save_components(model, directory: Path, metadata: dict, only: tuple[str, ...] | None = None) -> None:
    """Write each component ``model`` has, remove the traces of those it has not, and list them in the metadata
    (the caller writes it). ``only``: just these components (e.g. refitting the out-of-scope detector)."""
    directory = Path(directory)
    for component in COMPONENTS:
        if only is not None and component.attribute not in only:
            continue
        head = getattr(model, component.attribute, None)
        if head is None:
            component.remove(directory, metadata)
        else:
            component.save(head, directory, metadata)
    metadata["components"] = [c.attribute for c in COMPONENTS if getattr(model, c.attribute, None) is not None]


def save_refitted(model, directory: Path, attribute: str, metadata: dict | None = None) -> None:
    """Save one component refitted on an existing model directory (`finetune oos`, `mood`, `upset`, `spelling`):
    its files, helpline.json (``metadata``, by default the model's own) and the model card, the rest untouched."""
    from bot.model.card import model_card
    from bot.model.format import write_metadata

    directory = Path(directory)
    metadata = model.metadata if metadata is None else metadata
    save_components(model, directory, metadata, only=(attribute,))
    write_metadata(directory, metadata)
    (directory / "README.md").write_text(model_card(metadata), encoding="utf-8")

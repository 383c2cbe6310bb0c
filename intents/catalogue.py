"""The intent catalogue: what the bot knows how to answer, in a versioned YAML file.

A catalogue is written by people (support leads, not ML engineers), so the loader is strict and its errors
name the file, the intent and the problem: a typo should never silently become a new field or a lost intent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

FORMAT_VERSION = 1
PRIORITIES = ("low", "normal", "high", "urgent")
MIN_EXAMPLES = 5  # fewer examples cannot be split into train/validation and generalise poorly

DEFAULT_CATALOGUE = Path(__file__).resolve().parent / "retail.yaml"
OOS = "oos"  # the label of messages that fit no intent (the model and the store use it too)

_TOP_FIELDS = {"format_version", "name", "description", "fallback_replies", "handoff_reply",
               "out_of_scope_examples", "intents"}
_INTENT_FIELDS = {"name", "title", "description", "examples", "replies", "handoff", "priority", "quick_replies",
                  "ends_conversation"}


class CatalogueError(ValueError):
    """A catalogue file that cannot be used, with a message saying where and why."""


@dataclass(frozen=True)
class Intent:
    name: str
    description: str
    examples: tuple[str, ...]
    replies: tuple[str, ...]
    handoff: bool = False
    priority: str = "normal"
    quick_replies: tuple[str, ...] = ()
    title: str = ""  # customer-facing, e.g. on a clarification button; defaults to the name in words
    ends_conversation: bool = False  # the customer says they are done: the widget asks "How did we do?"

    @property
    def label(self) -> str:
        return self.title or self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Catalogue:
    name: str
    intents: dict[str, Intent]
    fallback_replies: tuple[str, ...]
    handoff_reply: str
    out_of_scope_examples: tuple[str, ...] = ()
    description: str = ""
    path: str | None = field(default=None, compare=False)

    def __contains__(self, intent: str) -> bool:
        return intent in self.intents

    def __getitem__(self, intent: str) -> Intent:
        return self.intents[intent]

    @property
    def intent_names(self) -> list[str]:
        return list(self.intents)

    def training_pairs(self) -> list[tuple[str, str]]:
        """(text, intent) pairs: every example, then the out-of-scope examples labelled ``oos``."""
        pairs = [(ex, intent.name) for intent in self.intents.values() for ex in intent.examples]
        return pairs + [(ex, OOS) for ex in self.out_of_scope_examples]


def load_catalogue(path: str | Path = DEFAULT_CATALOGUE, *, min_examples: int = MIN_EXAMPLES) -> Catalogue:
    """Read and validate a catalogue YAML file. Raises CatalogueError naming file, intent and problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue ({exc.strerror}).") from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from exc
    return parse_catalogue(raw, source=str(path), min_examples=min_examples)


def parse_catalogue(raw: object, *, source: str = "<catalogue>", min_examples: int = MIN_EXAMPLES) -> Catalogue:
    """Validate an already-parsed catalogue mapping (the contents of a YAML file)."""

    def fail(message: str, intent: str | None = None):
        where = f"{source}: intent '{intent}'" if intent else source
        raise CatalogueError(f"{where}: {message}")

    if not isinstance(raw, dict):
        fail("expected a mapping with 'format_version' and 'intents' at the top level.")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        fail(f"unsupported format_version {version!r}; this Helpline reads format_version {FORMAT_VERSION}.")
    unknown = sorted(set(raw) - _TOP_FIELDS)
    if unknown:
        fail(f"unknown top-level field(s) {unknown}; allowed: {sorted(_TOP_FIELDS)}.")
    fallback = _string_list(raw.get("fallback_replies"), "fallback_replies", fail)
    if not fallback:
        fail("'fallback_replies' needs at least one reply for messages the bot does not understand.")
    handoff_reply = raw.get("handoff_reply")
    if not isinstance(handoff_reply, str) or not handoff_reply.strip():
        fail("'handoff_reply' must be a non-empty string (said when a person takes over).")
    oos = _string_list(raw.get("out_of_scope_examples") or [], "out_of_scope_examples", fail)

    entries = raw.get("intents")
    if not isinstance(entries, list) or not entries:
        fail("'intents' must be a non-empty list of intents, each with a 'name'.")
    intents: dict[str, Intent] = {}
    seen_examples: dict[str, str] = {ex.casefold(): "out_of_scope_examples" for ex in oos}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            fail(f"intents[{i}] must be a mapping with a non-empty 'name'.")
        name = entry["name"].strip()
        if name == OOS:
            fail("'oos' is reserved for out-of-scope messages; list those under 'out_of_scope_examples'.", name)
        if name in intents:
            fail("duplicate intent: the name is used twice; merge the two entries.", name)
        unknown = sorted(set(entry) - _INTENT_FIELDS)
        if unknown:
            fail(f"unknown field(s) {unknown}; allowed: {sorted(_INTENT_FIELDS)}.", name)
        examples = _string_list(entry.get("examples"), "examples", lambda m: fail(m, name))
        if len(examples) < min_examples:
            fail(f"too few examples ({len(examples)}); at least {min_examples} are needed.", name)
        for ex in examples:
            other = seen_examples.setdefault(ex.casefold(), name)
            if other != name:
                fail(f"example {ex!r} is also listed under '{other}'; an utterance belongs to one intent.", name)
        replies = _string_list(entry.get("replies"), "replies", lambda m: fail(m, name))
        if not replies:
            fail("missing replies: add at least one reply under 'replies'.", name)
        priority = entry.get("priority", "normal")
        if priority not in PRIORITIES:
            fail(f"priority {priority!r} is not one of {list(PRIORITIES)}.", name)
        handoff = entry.get("handoff", False)
        if not isinstance(handoff, bool):
            fail(f"'handoff' must be true or false, not {handoff!r}.", name)
        ends = entry.get("ends_conversation", False)
        if not isinstance(ends, bool):
            fail(f"'ends_conversation' must be true or false, not {ends!r}.", name)
        quick = _string_list(entry.get("quick_replies") or [], "quick_replies", lambda m: fail(m, name))
        intents[name] = Intent(name=name, description=str(entry.get("description", "")).strip(),
                               examples=tuple(examples), replies=tuple(replies), handoff=handoff,
                               priority=priority, quick_replies=tuple(quick), ends_conversation=ends,
                               title=str(entry.get("title", "")).strip())
    return Catalogue(name=str(raw.get("name", "catalogue")), intents=intents, fallback_replies=tuple(fallback),
                     handoff_reply=handoff_reply.strip(), out_of_scope_examples=tuple(oos),
                     description=str(raw.get("description", "")).strip(), path=source)


def _string_list(value: object, what: str, fail) -> list[str]:
    """A list of non-empty strings, stripped; anything else is reported through ``fail``."""
    if value is None:
        fail(f"'{what}' is missing.")
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) and str(v).strip() for v in value):
        fail(f"'{what}' must be a list of non-empty strings.")
    items = [str(v).strip() for v in value]
    duplicates = sorted({v for v in items if items.count(v) > 1})
    if duplicates:
        fail(f"'{what}' lists {duplicates} more than once.")
    return items

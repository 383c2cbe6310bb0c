"""Canned responses: the replies a support team keeps ready, in a versioned YAML file agents edit in the console.

    format_version: 1
    responses:
      - title: Refund timing              # what an agent types after "/" to find it
        text: Hi {customer_name}, your refund for {order_id} shows in 3-5 working days.
        intents: [refund_status]          # optional: also suggested when the customer seems to want these

Placeholders are `{name}` in lower case; `fill` puts in what the conversation says (an order number it
mentions) and leaves the rest visible for the agent to complete. The loader is as strict as the catalogue's.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .audit import replace_audited
from .catalogue import CatalogueError

FORMAT_VERSION = 1
DEFAULT_CANNED = Path(__file__).resolve().parent / "canned.yaml"
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
MAX_TEXT = 2000
_FIELDS = {"title", "text", "intents"}


@dataclass(frozen=True)
class CannedResponse:
    title: str
    text: str
    intents: tuple[str, ...] = ()

    @property
    def placeholders(self) -> list[str]:
        return PLACEHOLDER.findall(self.text)


def parse_canned(raw: object, source: str = "<canned responses>") -> list[CannedResponse]:
    """Validate a parsed canned-responses mapping; CatalogueError names the file, the response and the problem."""
    def fail(message: str, index: int | None = None):
        raise CatalogueError(f"{source}{'' if index is None else f': response {index + 1}'}: {message}")

    if not isinstance(raw, dict) or raw.get("format_version") != FORMAT_VERSION:
        fail(f"expected a mapping with format_version {FORMAT_VERSION} and a list of 'responses'")
    if set(raw) - {"format_version", "responses"}:
        fail(f"unknown top-level field(s) {sorted(set(raw) - {'format_version', 'responses'})}")
    entries = raw.get("responses") or []
    if not isinstance(entries, list):
        fail("'responses' must be a list")
    responses, titles = [], set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            fail("must be a mapping with 'title' and 'text'", i)
        if set(entry) - _FIELDS:
            fail(f"unknown field(s) {sorted(set(entry) - _FIELDS)}; allowed: {sorted(_FIELDS)}", i)
        title, text = entry.get("title"), entry.get("text")
        if not isinstance(title, str) or not title.strip():
            fail("'title' must be a non-empty string", i)
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            fail(f"'text' must be a non-empty string of at most {MAX_TEXT} characters", i)
        if title.strip().casefold() in titles:
            fail(f"the title {title.strip()!r} is used twice; titles are how agents find a response", i)
        if "{" in PLACEHOLDER.sub("", text) or "}" in PLACEHOLDER.sub("", text):
            fail("placeholders are {lower_case_words}, e.g. {order_id}; a stray brace is left", i)
        intents = entry.get("intents") or []
        if not isinstance(intents, list) or not all(isinstance(x, str) and x for x in intents):
            fail("'intents' must be a list of intent names", i)
        titles.add(title.strip().casefold())
        responses.append(CannedResponse(title.strip(), text.strip(), tuple(intents)))
    return responses


def load_canned(path: str | os.PathLike = DEFAULT_CANNED) -> list[CannedResponse]:
    path = Path(path)
    try:
        return parse_canned(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the canned responses ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from exc


def save_canned(path: str | os.PathLike, text: str, who: str = "", expected: str | None = None) -> list[CannedResponse]:
    """Replace the file with ``text`` (YAML, as edited in the console) only if it is valid; returns the
    responses. An invalid edit raises CatalogueError and leaves the file as it was. ``expected``: the fingerprint
    of the text the editor loaded (intents/audit.py): a file changed since is not overwritten. Recorded with
    ``who``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from exc
    responses = parse_canned(raw, str(path))
    replace_audited(path, text, who, expected)
    return responses


def matching(responses: list[CannedResponse], typed: str) -> list[CannedResponse]:
    """The responses whose title contains what follows "/" in the reply box (all of them for a bare "/")."""
    query = typed.lstrip("/").strip().casefold()
    return [r for r in responses if query in r.title.casefold()]


def fill(text: str, known: dict[str, str]) -> str:
    """Put in the placeholders the conversation knows; leave the others visible ({customer_name})."""
    return PLACEHOLDER.sub(lambda m: known.get(m.group(1)) or m.group(0), text)

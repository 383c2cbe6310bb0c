"""Adding an intent to a catalogue file (the console's "accept a discovered intent").

The new intent is appended as YAML text at the end of the file, so the comments and layout people wrote stay
as they are; the result is validated with the same loader, and the file is only replaced when it is valid.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from .audit import replace_audited
from .catalogue import Catalogue, CatalogueError, load_catalogue, parse_catalogue

NAME = re.compile(r"[a-z][a-z0-9_]{1,63}")
DEFAULT_REPLY = "Thanks for your message. I've passed it to our team, who will reply here shortly."


def add_intent(path: str | os.PathLike, name: str, examples: list[str], *, description: str = "",
               replies: list[str] | None = None, handoff: bool = True, priority: str = "normal",
               who: str = "") -> Catalogue:
    """Append an intent to the catalogue at ``path``; returns the new catalogue. A discovered intent hands off
    to a person by default (the bot has no answer yet) until someone writes its replies. The change is recorded
    with ``who`` made it (intents/audit.py); it is made on the file as it is at that moment, under its lock."""
    path = Path(path)
    if not NAME.fullmatch(name or ""):
        raise CatalogueError(f"intent name {name!r} must be lower case letters, digits and '_' (2-64 characters)")
    made: list[Catalogue] = []

    def append(text: str) -> str:
        current = parse_catalogue(yaml.safe_load(text), source=str(path))
        if name in current:
            raise CatalogueError(f"{path}: intent '{name}' already exists")
        known = {ex.casefold() for intent in current.intents.values() for ex in intent.examples}
        kept = list(dict.fromkeys(e.strip() for e in examples if e.strip() and e.strip().casefold() not in known))
        entry = {"name": name,
                 "description": description or f"Discovered from customer messages: {', '.join(kept[:2])}",
                 "priority": priority, "handoff": handoff, "examples": kept, "replies": replies or [DEFAULT_REPLY]}
        block = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=120)
        new_text = text.rstrip("\n") + "\n" + "".join(f"  {line}\n" for line in block.splitlines())
        made.append(parse_catalogue(yaml.safe_load(new_text), source=str(path)))  # raises if the result is invalid
        return new_text

    load_catalogue(path)   # a missing or broken catalogue is named as such, before any edit
    replace_audited(path, "", who, edit=append)
    return made[0]

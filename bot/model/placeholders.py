"""Content-free spans of a customer message: anonymisation placeholders of many tools (`#EMAIL#`, `[EMAIL]`,
`__email__`, `<PERSON>`, `{{name}}`, `XXXX`), Helpline's own redaction tokens, @handles and links; and who the
customer says they are, an introduction by name or a description of themselves by group
(bot/model/self_reference.py).

They say nothing about what the customer wants or feels, yet an encoder reads them as words (a message of only
`#EMAIL#` read as frustrated; a name or a group word moving the intent and the mood read). The model classes give
the encoder `encoder_text(text)` instead of the text, and the upset head reads a message with nothing readable left
as neutral.
"""
from __future__ import annotations

import re

from bot.model.self_reference import without_self_reference

# content-free spans: anonymisation placeholders of many tools, redaction tokens, handles, links
PLACEHOLDER = re.compile(r"#[A-Za-z_]+#|\[[A-Z][A-Z_]*\]|__[A-Za-z_]+__|<[A-Z][A-Z_]*>|\{\{\s*\w+\s*\}\}"
                         r"|\b[Xx]{3,}\b|(?<!\w)@\w+|https?://\S+|www\.\S+")


def content_of(text: str) -> str:
    """The text without its content-free spans (placeholders, handles, links, the customer's introduction and
    self-description), spaces folded."""
    return " ".join(without_self_reference(PLACEHOLDER.sub(" ", text)).split())


def readable(content: str) -> bool:
    """Whether there is text to read: two or more letters, mostly of the Latin script the encoder reads."""
    letters = [c for c in content if c.isalpha()]
    return len(letters) >= 2 and sum(c.isascii() or "\u00c0" <= c <= "\u024f" for c in letters) >= len(letters) / 2


def encoder_text(text: str) -> str:
    """What the encoder reads of a message: its content, or the text itself when nothing else is left (the
    intent head still has to route a message of only an e-mail address somewhere)."""
    return content_of(text) or text

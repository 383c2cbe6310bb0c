"""Replies as templates: what varies from customer to customer becomes a placeholder.

"Your order 48213 ships on Monday" and "Your order 99120 ships on Monday" are one reply, so an agent is offered
"Your order {order_id} ships on Monday" with the placeholder left visible (or filled, when the conversation
names the order). Only references that have a shape are replaced: order and account numbers (four or more
letters and digits with a digit among them), e-mail addresses, amounts, times and dates. A name has none: it
becomes a slot only where the history shows it varying, so a reply with one customer's name in it stays a one-off.

Other numbers, and names, are read from the history (``ReplyKeys``): where agents sent the same reply with
different numbers or names in one place ("around 18 degrees", "around 2 degrees"; "your table at the Lucca",
"... at the Tamarind": what a lookup returned), that place is a ``{number}`` or ``{name}`` slot for the agent to
fill; where it never varies ("3-5 working days") it stays part of the reply.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

# an order or account number: four or more capitals, digits and dashes with a digit among them
ORDER_ID = r"#?\b(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,}\b"

PLACEHOLDERS = [   # (pattern, placeholder), in the order they are tried
    (re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"), "{email}"),
    (re.compile(r"[$€£]\s?\d[\d,]*(\.\d+)?|\b\d[\d,]*(\.\d+)?\s?(dollars|euros|pounds|usd|eur|gbp)\b", re.I),
     "{amount}"),
    (re.compile(r"\b\d{1,2}:\d{2}(\s?[ap]\.?m\.?)?\b|\b\d{1,2}\s?[ap]\.?m\.?\b", re.I), "{time}"),
    (re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b"), "{date}"),
    (re.compile(ORDER_ID), "{order_id}"),
]   # short numbers stay: "3-5 working days" is the same for every customer
_SPACES = re.compile(r"\s+")


def template_of(reply: str) -> str:
    """The reply with its customer-specific references replaced by placeholders, white space folded."""
    text = _SPACES.sub(" ", reply).strip()
    for pattern, placeholder in PLACEHOLDERS:
        text = pattern.sub(placeholder, text)
    return text


FINAL_PUNCTUATION = " .!?"   # "Goodbye." and "goodbye" are one reply; a skeleton and its key must strip alike


def normalised(text: str) -> str:
    """The form replies are compared in: templated, lower case, no trailing punctuation."""
    return template_of(text).lower().rstrip(FINAL_PUNCTUATION)


# Slots: what a lookup fills in and agents type anew each time. A number; a name: a capitalised word run that
# does not start a sentence ("at the Legume", "with Dr. Johnson", "in New York City"; not "I").
TITLE = r"(?:Dr|Mr|Mrs|Ms|St|Mt)\.\s+"
SLOTS = re.compile(r"(?P<number>\b\d+(?:\.\d+)?\b)|(?P<name>(?:" + TITLE + r")?[A-Z][\w'&-]*"
                   r"(?:\s+(?:" + TITLE + r")?[A-Z][\w'&-]*)*)")
_NOT_NAMES = {"I", "I'm", "I'll", "I've", "I'd"}
MIN_FIXED_WORDS = 3   # a skeleton keeps this many words of its own: "{number}" or "{number} minutes" says nothing
_WORD = re.compile(r"[^\W\d_]+")
_SLOT_MARKS = re.compile(r"\{\w+\}")


def _pieces(reply: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The templated reply split at its slots: the text between them, and each slot's (kind, words)."""
    text = template_of(reply)
    between, fills, last = [], [], 0
    for match in SLOTS.finditer(text):
        kind = match.lastgroup
        if kind == "name":
            before = text[:match.start()].rstrip()
            if not before or before[-1] in ".!?:" or match.group() in _NOT_NAMES:
                continue   # a sentence's first word is capitalised whatever it is
        between.append(text[last:match.start()])
        fills.append((kind, match.group()))
        last = match.end()
    between.append(text[last:])
    return between, fills


def _joined(between: list[str], fills: list[str]) -> str:
    return "".join(part for pair in zip(between, fills + [""]) for part in pair)


class ReplyKeys:
    """Which slots of which replies vary, learnt from the history; ``key`` is the form replies are compared in.

    Replies that are the same but for their numbers and names share a skeleton; a slot is kept as {number} or
    {name} only where agents sent that skeleton with different words in it, so "around 18 degrees" / "around 2
    degrees" becomes "around {number} degrees" while "3-5 working days" and "in Leeds", never varied, stay."""

    def __init__(self, varying: dict[str, frozenset[int]] | None = None):
        self.varying = dict(varying or {})    # lower-case skeleton -> the positions of its slots that vary
        self._keys: dict[str, str] = {}       # every reply's key is asked for again at each later turn

    @staticmethod
    def _skeleton(between: list[str], fills: list[tuple[str, str]]) -> str:
        marks = [f"{{{kind}}}" for kind, _ in fills]
        return _joined([part.lower() for part in between], marks).rstrip(FINAL_PUNCTUATION)

    @classmethod
    def learn(cls, replies: Iterable[str]) -> ReplyKeys:
        seen = defaultdict(set)
        for reply in replies:
            between, fills = _pieces(reply)
            if fills:
                seen[cls._skeleton(between, fills)].add(tuple(words.lower() for _, words in fills))
        varying = {}
        for skeleton, fillings in seen.items():
            positions = frozenset(i for i in range(len(next(iter(fillings)))) if len({f[i] for f in fillings}) > 1)
            if positions and len(_WORD.findall(_SLOT_MARKS.sub(" ", skeleton))) >= MIN_FIXED_WORDS:
                varying[skeleton] = positions
        return cls(varying)

    def _offered(self, reply: str, lower: bool) -> str:
        between, fills = _pieces(reply)
        positions = self.varying.get(self._skeleton(between, fills), frozenset())
        if lower:
            between = [part.lower() for part in between]
        words = [f"{{{kind}}}" if i in positions else (text.lower() if lower else text)
                 for i, (kind, text) in enumerate(fills)]
        return _joined(between, words)

    def key(self, reply: str) -> str:
        if reply not in self._keys:
            self._keys[reply] = self._offered(reply, lower=True).rstrip(FINAL_PUNCTUATION)
        return self._keys[reply]

    def template(self, reply: str) -> str:
        """The reply as offered: ``template_of``, with the slots that vary as {number} / {name}."""
        return self._offered(reply, lower=False)

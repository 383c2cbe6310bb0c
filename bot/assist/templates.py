"""Replies as templates: what varies from customer to customer becomes a placeholder.

"Your order 48213 ships on Monday" and "Your order 99120 ships on Monday" are one reply, so an agent is offered
"Your order {order_id} ships on Monday" with the placeholder left visible (or filled, when the conversation
names the order). Only references that have a shape are replaced: order and account numbers (four or more
letters and digits with a digit among them), e-mail addresses, amounts, times and dates. A name has none; a reply with a customer's name in it stays a one-off and is
suggested only if agents sent it to several customers.

Other numbers are read from the history (``ReplyKeys``): where agents sent the same reply with different numbers
("around 18 degrees", "around 2 degrees": what a lookup returned), the number is a ``{number}`` slot for the agent
to fill; where the number never varies ("3-5 working days") it stays part of the reply.
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable

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


def normalised(text: str) -> str:
    """The form replies are compared in: templated, lower case, no trailing punctuation."""
    return template_of(text).lower().rstrip(" .!?")


NUMBER = re.compile(r"\b\d+(\.\d+)?\b")


class ReplyKeys:
    """Which replies' numbers are slots, learnt from the history; ``key`` is the form replies are compared in."""

    def __init__(self, varying: set[str] = frozenset()):
        self.varying = set(varying)    # normalised replies, numbers as {number}, that agents sent with different numbers

    @classmethod
    def learn(cls, replies: Iterable[str]) -> "ReplyKeys":
        fillings = defaultdict(set)
        for reply in replies:
            exact = normalised(reply)
            skeleton = NUMBER.sub("{number}", exact)
            if skeleton != exact:
                fillings[skeleton].add(exact)
        return cls({skeleton for skeleton, seen in fillings.items() if len(seen) >= 2})

    def key(self, reply: str) -> str:
        exact = normalised(reply)
        skeleton = NUMBER.sub("{number}", exact)
        return skeleton if skeleton in self.varying else exact

    def template(self, reply: str) -> str:
        """The reply as offered: ``template_of``, and its varying numbers as {number} (every number of such a
        reply: the history cannot tell which of its numbers are fixed)."""
        offered = template_of(reply)
        return NUMBER.sub("{number}", offered) if self.key(reply) in self.varying else offered

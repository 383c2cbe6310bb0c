"""PII redaction: applied to every customer message before anything is stored or logged.

Replaces emails, phone numbers, payment card numbers (Luhn-checked), IBANs (mod-97-checked) and street
addresses with placeholders such as ``[EMAIL]``. Checksums keep order numbers, prices, dates and tracking
codes intact: a 16-digit number that fails Luhn is not a card, a long digit run without separators that does
not start with 0 or + is not a phone number, and digits right after "order", "invoice", "#" and the like
are references, not PII.
"""
from __future__ import annotations

import re

PLACEHOLDERS = ("[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[ADDRESS]")

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")  # upper case only: lower case runs into words
CARD = re.compile(r"(?<![\w.,])(?:\d[ -]?){12,18}\d(?!\w|[.,]\d)")
PHONE = re.compile(r"(?<![\w#.,/-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{1,15}(?:[\s.-]\d{2,8}){0,4}"
                   r"(?![\w/]|[.,-]\d)")
STREET_SUFFIX = (r"(?:(?i:street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd)\b\.?"
                 r"|(?:Way|Court|Ct|Place|Pl|Close|Crescent|Square|Sq|Terrace|Gardens|Row)\b)")
NAME_WORD = r"(?!(?:the|a|an|on|in|of|my|your|to|for|and|or|is|at|it|items?|orders?|days?|weeks?)\b)[A-Za-z'-]+"
ADDRESS = re.compile(rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:{NAME_WORD}\s+){{1,3}}{STREET_SUFFIX}", re.IGNORECASE)
REFERENCE_BEFORE = re.compile(r"(?:(?:order|invoice|ref|reference|tracking|parcel|ticket|case|item|sku)\s*"
                              r"(?:no\.?|number|num|#|id|code)?\s*(?:is\s*)?[:#]?|#)\s*$", re.IGNORECASE)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s[2:4].isdigit():
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _is_reference(text: str, start: int) -> bool:
    return bool(REFERENCE_BEFORE.search(text[max(0, start - 24):start]))


def _card(match: re.Match, text: str) -> str | None:
    digits = re.sub(r"\D", "", match.group())
    if _is_reference(text, match.start()):
        return None
    return "[CARD]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else None


def _phone(match: re.Match, text: str) -> str | None:
    raw = match.group()
    digits = re.sub(r"\D", "", raw)
    if not 9 <= len(digits) <= 15 or _is_reference(text, match.start()):
        return None
    separated = raw.startswith("+") or bool(re.search(r"[\s.()-]", raw))
    if not separated and not raw.startswith("0"):  # a bare digit run: an order/tracking number more likely
        return None
    if re.fullmatch(r"\d{4}[-.]\d{2}[-.]\d{2}|\d{2}[-.]\d{2}[-.]\d{4}", raw):  # a date
        return None
    return "[PHONE]"


# (pattern, placeholder or a check returning one / None to keep the text); order matters: longer, checked
# formats first, so a card number is not half-eaten as a phone number.
RULES = (
    (EMAIL, lambda m, t: "[EMAIL]"),
    (IBAN, lambda m, t: "[IBAN]" if iban_ok(m.group()) else None),
    (CARD, _card),
    (PHONE, _phone),
    (ADDRESS, lambda m, t: "[ADDRESS]"),
)


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """(start, end, placeholder) for each piece of PII, left to right, non-overlapping."""
    found: list[tuple[int, int, str]] = []
    for pattern, check in RULES:
        for match in pattern.finditer(text):
            if any(s < match.end() and match.start() < e for s, e, _ in found):
                continue
            placeholder = check(match, text)
            if placeholder:
                found.append((match.start(), match.end(), placeholder))
    return sorted(found)


def redact(text: str) -> str:
    """The text with every piece of PII replaced by its placeholder."""
    out, last = [], 0
    for start, end, placeholder in find_pii(text):
        out.append(text[last:start])
        out.append(placeholder)
        last = end
    out.append(text[last:])
    return "".join(out)

"""PII redaction: applied to every customer message before anything is stored or logged.

Replaces emails (any script), phone numbers, payment card numbers (Luhn-checked) and their security codes,
IBANs (mod-97-checked), US social security and UK national insurance numbers, passport numbers, dates of birth,
passwords and street addresses with placeholders such as ``[EMAIL]``. Order numbers, prices, order dates and
tracking codes stay: a 16-digit number that fails Luhn is not a card; a bare digit run is a phone number only at
the lengths of phone numbers (10-11 digits, or starting with 0); digits right after "order", "invoice", "#" and
the like are references (but a Luhn-valid 13-19 digit run is a card whatever precedes it: a card number typed
after "order" is still a card number); dates are PII only after "born", "date of birth" and the like; passport
numbers, security codes and passwords only after their keyword.

Matching runs on a copy of the text in which each character is replaced by its NFKC form where that is one
character (no-break and thin spaces become spaces, full-width digits ASCII ones), so spacing tricks do not hide a
card number, while the text returned keeps every other character as the customer typed it.
"""
from __future__ import annotations

import re
import unicodedata

PLACEHOLDERS = ("[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[SSN]", "[NATIONAL_ID]", "[PASSPORT]", "[DOB]",
                "[PASSWORD]", "[ADDRESS]", "[CVV]")

EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")  # \w: jürgen.müller@example.de whole
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")  # upper case only: lower case runs into words
# 4111.1111..., 4111/1111/..., 4111  1111 ..., digits split by tabs or runs of spaces
CARD = re.compile(r"(?<![\w.,])(?:\d(?:[./-]|\s{1,4})?){12,18}\d(?!\w|[.,]\d)")
SSN = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"
                 r"|(?i:\b(?:ssn|social security(?: number| no\.?)?)(?:\s+is)?\s*[:#]?\s*)(?P<pii>\d{9})\b")
NATIONAL_ID = re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", re.IGNORECASE)  # UK National Insurance number
PASSPORT = re.compile(r"(?i:\bpassport(?:\s*(?:number|no\.?|num|#))?(?:\s+is)?\s*[:#]?\s*)(?P<pii>[A-Z0-9]{6,9})\b",
                      re.IGNORECASE)
MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
DOB = re.compile(r"(?i:\b(?:date of birth|d\.?o\.?b\.?|born(?: on)?|birthday)(?:\s+(?:is|was))?\s*[:]?\s*)(?P<pii>"
                 rf"\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH},?\s+\d{{4}}"
                 rf"|{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})", re.IGNORECASE)
PASSWORD = re.compile(r"(?i:\b(?:password|passcode|passwd|pin)(?:\s+is\s*[:=]?|\s*[:=])\s*)(?P<pii>(?!\[)"
                      r"(?!(?:not|wrong|incorrect|correct|expired|invalid|too|the|my|reset|working|broken|locked|"
                      r"blocked|changed|forgotten|lost)\b)\S+)")
CVV = re.compile(r"(?i:\b(?:cvv2?|cvc2?|csc|cid|security code|card verification (?:code|value))"
                 r"(?:\s+(?:is|number|code|no\.?))?\s*[:#=]?\s*)(?P<pii>\d{3,4})\b", re.IGNORECASE)
PHONE = re.compile(r"(?<![\w#.,/-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{1,15}(?:[\s./-]\d{2,8}){0,4}"
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
    """Any Luhn-valid 13-19 digit run, even after "order" or "ref": a reference that happens to pass Luhn is
    redacted (about one in ten), which costs less than a card number kept in the clear."""
    digits = re.sub(r"\D", "", match.group())
    return "[CARD]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else None


def _phone(match: re.Match, text: str) -> str | None:
    raw = match.group()
    digits = re.sub(r"\D", "", raw)
    if not 9 <= len(digits) <= 15 or _is_reference(text, match.start()):
        return None
    separated = raw.startswith("+") or bool(re.search(r"[\s./()-]", raw))
    # a bare digit run is a phone number at a mobile number's length (9876543210, 13800138000) or with a
    # trunk 0; other lengths are order and tracking numbers more likely
    if not separated and not raw.startswith("0") and len(digits) not in (10, 11):
        return None
    if re.fullmatch(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}", raw):  # a date
        return None
    return "[PHONE]"


# (pattern, placeholder or a check returning one / None to keep the text); order matters: longer, checked
# formats first, so a card number is not half-eaten as a phone number.
# A pattern with a group named "pii" replaces only that group (the keyword before it stays).
RULES = (
    (EMAIL, lambda m, t: "[EMAIL]"),
    (IBAN, lambda m, t: "[IBAN]" if iban_ok(m.group()) else None),
    (CARD, _card),
    (SSN, lambda m, t: "[SSN]"),
    (NATIONAL_ID, lambda m, t: None if _is_reference(t, m.start()) else "[NATIONAL_ID]"),
    (PASSPORT, lambda m, t: "[PASSPORT]" if re.search(r"\d", m.group("pii")) else None),
    (DOB, lambda m, t: "[DOB]"),
    (PASSWORD, lambda m, t: "[PASSWORD]"),
    (CVV, lambda m, t: "[CVV]"),
    (PHONE, _phone),
    (ADDRESS, lambda m, t: "[ADDRESS]"),
)


def matchable(text: str) -> str:
    """The text with each character in its NFKC form where that is a single character (NBSP, thin and
    ideographic spaces -> " ", full-width digits and letters -> ASCII), so positions still match the original."""
    if text.isascii():
        return text
    out = []
    for char in text:
        folded = unicodedata.normalize("NFKC", char)
        out.append(folded if len(folded) == 1 else char)
    return "".join(out)


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """(start, end, placeholder) for each piece of PII, left to right, non-overlapping; positions are in
    ``text`` (matching runs on `matchable(text)`, of the same length)."""
    text = matchable(text)
    found: list[tuple[int, int, str]] = []
    for pattern, check in RULES:
        for match in pattern.finditer(text):
            start, end = match.span("pii") if "pii" in pattern.groupindex and match.group("pii") else match.span()
            if any(s < end and start < e for s, e, _ in found):
                continue
            placeholder = check(match, text)
            if placeholder:
                found.append((start, end, placeholder))
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

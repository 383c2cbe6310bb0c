"""Conversation transcripts: JSON Lines (one conversation a line) or a CSV export (one message a row).

JSONL line: {"id", "messages": [{"role", "text", "intent"?, "emotions"?, "time"?}], "tags"?, "csat"?, "meta"?,
"format_version"? (1)}. CSV columns: conversation_id, role, text[, intent][, emotions]. The format,
with examples: docs/transcripts.md. Every conversation is validated on load; a bad one is reported by line.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

TRANSCRIPT_FORMAT_VERSION = 1
ROLES = ("customer", "agent", "bot")
MAX_MESSAGES = 2000          # per conversation: longer is not a support chat (and would make the mood read slow)
LATEST_TIME = 32503680000    # 3000-01-01 in unix seconds: a later "time" is a typo or an attack, not a chat


class TranscriptError(ValueError):
    """A transcript file that cannot be read, with the file and line."""


SAVE_AS_UTF8 = ("save the export as UTF-8 (in Excel: Save As > \"CSV UTF-8\"; in a text editor: encoding UTF-8) "
                "and run again")


def _decoded(raw: bytes, path: Path, first_line: int = 1) -> str:
    """Bytes from ``first_line`` of the file on (one JSONL line, or a whole CSV) as text, naming the line of a
    byte that is not UTF-8; a byte-order mark at the file's start (Excel's "CSV UTF-8") is dropped."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + raw[:exc.start].count(b"\n")
        raise TranscriptError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); {SAVE_AS_UTF8}.") \
            from None
    return text[1:] if first_line == 1 and text.startswith("\ufeff") else text


def _check_conversation(conv: object, where: str) -> dict:
    if not isinstance(conv, dict):
        raise TranscriptError(f"{where}: expected a JSON object for a conversation.")
    version = conv.get("format_version", TRANSCRIPT_FORMAT_VERSION)
    if version != TRANSCRIPT_FORMAT_VERSION:
        raise TranscriptError(f"{where}: transcript format_version {version!r} is not supported "
                              f"(this Helpline reads {TRANSCRIPT_FORMAT_VERSION}).")
    messages = conv.get("messages")
    if not isinstance(messages, list) or not messages:
        raise TranscriptError(f"{where}: 'messages' must be a non-empty list.")
    if len(messages) > MAX_MESSAGES:
        raise TranscriptError(f"{where}: {len(messages)} messages in one conversation; the limit is {MAX_MESSAGES} "
                              "(split it, or check that conversation ids are not shared).")
    for j, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("text"), str):
            raise TranscriptError(f"{where}: message {j} needs a 'text' string.")
        if msg.get("role") not in ROLES:
            raise TranscriptError(f"{where}: message {j} has role {msg.get('role')!r}; use one of {list(ROLES)}.")
        time = msg.get("time")   # a number of seconds; other kinds (an ISO string) are ignored where it is read
        if isinstance(time, (int, float)) and not isinstance(time, bool) and not (
                math.isfinite(time) and 0 <= time <= LATEST_TIME):
            raise TranscriptError(f"{where}: message {j} has time {str(time)[:40]!r}; use seconds since 1970 "
                                  "(e.g. 1733480000), or leave it out.")
    return conv


def read_transcripts(path: str | Path) -> list[dict]:
    """All conversations in a JSONL or CSV transcript file, validated."""
    return list(iter_transcripts(path))


def iter_transcripts(path: str | Path):
    """The conversations of a JSONL or CSV transcript file one at a time, validated (JSONL is read a line at a
    time, so a large file takes constant memory; a CSV is grouped by conversation_id first)."""
    path = Path(path)
    if not path.is_file():
        raise TranscriptError(f"{path}: no such transcript file.")
    if path.suffix.lower() == ".csv":
        yield from _read_csv(path)
        return
    found = False
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, 1):
            line = _decoded(raw, path, line_no)
            if not line.strip():
                continue
            try:
                conv = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TranscriptError(f"{path}:{line_no}: not valid JSON ({exc.msg}).") from None
            except (ValueError, RecursionError):   # an integer of thousands of digits, nesting thousands deep
                raise TranscriptError(f"{path}:{line_no}: a number too long or nesting too deep for a "
                                      "transcript; check the export.") from None
            found = True
            if isinstance(conv, dict) and not str(conv.get("id") or "").strip():
                conv["id"] = f"{path.name}:{line_no}"   # where it came from, rather than an empty id
            yield _check_conversation(conv, f"{path}:{line_no}")
    if not found:
        raise TranscriptError(f"{path}: no conversations found.")


def _read_csv(path: Path) -> list[dict]:
    conversations: dict[str, dict] = {}
    first_line: dict[str, int] = {}
    reader = csv.DictReader(io.StringIO(_decoded(path.read_bytes(), path), newline=""), strict=True)
    try:
        missing = {"conversation_id", "role", "text"} - set(reader.fieldnames or [])
        if missing:
            raise TranscriptError(f"{path}: transcript CSV is missing column(s) {sorted(missing)} (it has "
                                  f"{reader.fieldnames or 'none'}).")
        for row in reader:
            if row["role"] not in ROLES:   # named at its own line, not at its conversation's first
                raise TranscriptError(f"{path}:{reader.line_num}: role {row['role']!r}; use one of {list(ROLES)}.")
            msg = {"role": row["role"], "text": row["text"] or ""}
            if row.get("intent"):
                msg["intent"] = row["intent"]
            if row.get("emotions"):
                msg["emotions"] = [e.strip() for e in row["emotions"].split(",") if e.strip()]
            first_line.setdefault(row["conversation_id"], reader.line_num)
            conv = conversations.setdefault(row["conversation_id"], {"id": row["conversation_id"], "messages": []})
            conv["messages"].append(msg)
    except csv.Error as exc:   # e.g. a quote opened and never closed: the rest of the file would be one message
        raise TranscriptError(f"{path}:{reader.line_num}: not valid CSV ({exc}); check the quotes on that line.") \
            from None
    for cid, conv in conversations.items():
        _check_conversation(conv, f"{path}:{first_line[cid]} (conversation {cid})")
    if not conversations:
        raise TranscriptError(f"{path}: no conversations found.")
    return list(conversations.values())


def labelled_customer_messages(conversations: list[dict]) -> list[tuple[str, str]]:
    """(text, intent) for every customer message that carries an ``intent`` label."""
    return [(m["text"], m["intent"]) for conv in conversations for m in conv["messages"]
            if m["role"] == "customer" and m.get("intent") and m["text"].strip()]


SMALL_TALK = {"hello", "hi", "hey", "hallo", "hiya", "yo", "howdy", "greetings", "good morning", "good afternoon",
              "good evening", "hello there", "hi there", "hey there", "help", "hello?", "anyone there", "ok", "okay"}


def is_small_talk(text: str) -> bool:
    """A greeting or filler that says nothing about why the customer came ("Hello", "hi there!")."""
    words = "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()
    return not words or " ".join(words) in SMALL_TALK or (len(words) <= 2 and words[0] in SMALL_TALK)


def opening_message(conversation: dict) -> str | None:
    """The customer's first message that says why they came: the first one that is not small talk."""
    customer = [m["text"] for m in conversation["messages"] if m["role"] == "customer" and m["text"].strip()]
    return next((t for t in customer if not is_small_talk(t)), None)

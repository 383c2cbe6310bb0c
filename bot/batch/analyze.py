"""`python -m bot analyze`: every customer message of transcript files, read in the context of its conversation.

One JSON line per customer message, in input order: conversation_id, index (the message's position in the
conversation), text, intent, confidence, emotions (the detected ones), sentiment and frustration, where sentiment
and frustration are read from the conversation so far (never from later turns), exactly as the live bot reads
them (bot/model/mood.py). Conversations are read in chunks: the encoder sees batches from many conversations.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from bot.batch.transcripts import TranscriptError, iter_transcripts
from bot.model.mood import read_conversations
from bot.redact import redact

CHUNK = 512   # conversations per step: enough messages for full batches, little memory


def conversations_of(paths: list[str], redact_pii: bool = False) -> Iterator[dict]:
    """The conversations of every file, in order; with ``redact_pii`` every message's PII is replaced by
    placeholders first (bot/redact.py), so neither the model nor the output sees it."""
    for path in paths:
        for conversation in iter_transcripts(path):
            if redact_pii:
                conversation = {**conversation, "messages": [{**m, "text": redact(m["text"])}
                                                             for m in conversation["messages"]]}
            yield conversation


def rows_of(conversation: dict, read) -> list[dict]:
    """The output rows of one conversation from `read_conversations`' reading of it."""
    rows = []
    for index, prediction, _ in read:
        summary = prediction.summary()
        rows.append({"conversation_id": str(conversation.get("id", "")), "index": index,
                     "text": prediction.text, "intent": summary["intent"],
                     "confidence": summary["confidence"], "emotions": summary["emotions"],
                     "sentiment": summary["sentiment"], "frustration": summary["frustration"]})
    return rows


def analyze_chunk(classifier, chunk: list[dict], batch_size: int = 64) -> list[list[dict]]:
    """The rows of each conversation of one chunk. The chunk is the unit every engine hands a worker (this
    process, a local process pool or a Ray actor), so all of them batch the same messages together and write
    the same numbers: the int8 graph quantizes activations per batch, so a batch's company matters."""
    turns = [c["messages"] for c in chunk]
    reads = read_conversations(classifier.predict, classifier.mood, turns, batch_size)
    return [rows_of(conversation, read) for conversation, read in zip(chunk, reads)]


def chunks_of(conversations: Iterable[dict], size: int = CHUNK) -> Iterator[list[dict]]:
    conversations = iter(conversations)
    while chunk := list(islice(conversations, size)):
        yield chunk


def analyzed(classifier, conversations: Iterable[dict], batch_size: int = 64) -> Iterator[tuple[dict, list[dict]]]:
    """(conversation, its output rows) for a stream of conversations (transcript dicts), in order."""
    for chunk in chunks_of(conversations):
        yield from zip(chunk, analyze_chunk(classifier, chunk, batch_size))


def analyze_lines(classifier, conversations: Iterable[dict], batch_size: int = 64) -> Iterator[dict]:
    """The output rows of a stream of conversations, in order."""
    for _, rows in analyzed(classifier, conversations, batch_size):
        yield from rows


def count_customer_messages(paths: list[str]) -> int:
    """For the progress bar's total (a cheap first pass; JSONL files are streamed)."""
    return sum(1 for c in conversations_of(paths) for m in c["messages"]
               if m["role"] == "customer" and m["text"].strip())


def written_so_far(path: Path) -> tuple[list[list[dict]], int]:
    """An interrupted run's output: its complete conversations' rows (every conversation but the last, which
    may have been cut short) and the byte length they take, where the file is cut before resuming."""
    groups: list[list[dict]] = []
    ends: list[int] = []
    offset = 0
    with path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break   # a line cut short by the interruption
            row = json.loads(line)
            if not groups or groups[-1][0]["conversation_id"] != row["conversation_id"]:
                groups.append([])
                ends.append(offset)
            groups[-1].append(row)
            offset += len(line)
    if not groups:
        return [], 0
    return groups[:-1], ends[-1]


def analyze(classifier, paths: list[str], out_path: Path, batch_size: int = 64, progress: bool = True,
            report=None, resume: bool = False, engine=None, redact_pii: bool = False,
            max_messages: int | None = None) -> int:
    """Write the rows of every file to ``out_path`` (appending after the complete conversations already there
    when ``resume``); feed ``report`` (bot.batch.report.Report) each conversation. Returns the rows written in all.
    ``engine``: a function (conversations) -> (conversation, rows) in order that runs the model elsewhere (a
    process pool, a Ray job; ``classifier`` is then unused); default: `analyzed` with ``classifier`` here.
    ``redact_pii``: PII in the messages is redacted before anything reads them (the app's Analyze tab).
    ``max_messages``: refuse (TranscriptError, before any output) files with more customer messages than this."""
    from tqdm import tqdm

    total = count_customer_messages(paths)   # also validates every file before any output is written
    if max_messages is not None and total > max_messages:
        raise TranscriptError(f"{total} customer messages; the app reads at most {max_messages} at a time: split the "
                              "export, or use `python -m bot analyze` on a larger file")
    done, keep = written_so_far(out_path) if resume and out_path.exists() else ([], 0)
    conversations = conversations_of(paths, redact_pii)
    written, consumed = sum(len(rows) for rows in done), 0
    for rows in done:   # the conversations finished before the interruption: their rows, not a second pass
        conversation, consumed = next(conversations), consumed + 1
        while str(conversation.get("id", "")) != rows[0]["conversation_id"]:   # ones without customer messages
            if report is not None:
                report.add(conversation, [])
            conversation, consumed = next(conversations), consumed + 1
        if report is not None:
            report.add(conversation, rows)
    # Go on from the chunk boundary before them, dropping what is written already: every chunk then holds what
    # it holds in a run that was never interrupted, and so do the batches the numbers come from.
    start = consumed - consumed % CHUNK
    conversations, skip = islice(conversations_of(paths, redact_pii), start, None), consumed - start
    with out_path.open("r+" if resume and out_path.exists() else "w", encoding="utf-8") as out:
        out.seek(keep)
        out.truncate()
        with tqdm(total=total, initial=written, unit="msg", file=sys.stderr, disable=not progress) as bar:
            stream = engine(conversations) if engine else analyzed(classifier, conversations, batch_size)
            for conversation, rows in stream:
                if skip:
                    skip -= 1
                    continue
                out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
                written += len(rows)
                bar.update(len(rows))
                if report is not None:
                    report.add(conversation, rows)
    return written

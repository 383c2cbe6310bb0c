"""`python -m bot analyze`: every customer message of transcript files, read in the context of its conversation.

One JSON line per customer message, in input order: conversation_id, index (the message's position in the
conversation), text, intent, confidence, emotions (the detected ones), sentiment and frustration, where sentiment
and frustration are read from the conversation so far (never from later turns), exactly as the live bot reads
them (bot/model/mood.py). Conversations are read in chunks: the encoder sees batches from many conversations.
"""
from __future__ import annotations

import json
import sys
from itertools import islice
from typing import IO, Iterable, Iterator

from bot.model.mood import read_conversations
from bot.transcripts import iter_transcripts

CHUNK = 512   # conversations per step: enough messages for full batches, little memory


def conversations_of(paths: list[str]) -> Iterator[dict]:
    for path in paths:
        yield from iter_transcripts(path)


def analyze_lines(classifier, conversations: Iterable[dict], batch_size: int = 64) -> Iterator[dict]:
    """The output rows of a stream of conversations (transcript dicts), in order."""
    conversations = iter(conversations)
    while chunk := list(islice(conversations, CHUNK)):
        turns = [c["messages"] for c in chunk]
        for conversation, read in zip(chunk, read_conversations(classifier.predict, classifier.mood, turns,
                                                                batch_size)):
            for index, prediction, _ in read:
                summary = prediction.summary()
                yield {"conversation_id": str(conversation.get("id", "")), "index": index,
                       "text": prediction.text, "intent": summary["intent"], "confidence": summary["confidence"],
                       "emotions": summary["emotions"], "sentiment": summary["sentiment"],
                       "frustration": summary["frustration"]}


def count_customer_messages(paths: list[str]) -> int:
    """For the progress bar's total (a cheap first pass; JSONL files are streamed)."""
    return sum(1 for c in conversations_of(paths) for m in c["messages"]
               if m["role"] == "customer" and m["text"].strip())


def analyze(classifier, paths: list[str], out: IO[str], batch_size: int = 64, progress: bool = True) -> int:
    """Write the rows of every file to ``out``; returns how many were written."""
    from tqdm import tqdm

    total = count_customer_messages(paths)   # also validates every file before any output is written
    written = 0
    with tqdm(total=total, unit="msg", file=sys.stderr, disable=not progress) as bar:
        for row in analyze_lines(classifier, conversations_of(paths), batch_size):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
            bar.update(1)
    return written

"""Suggestions in the console: an index over the store's conversations (and any imported transcripts), the
catalogue's replies and the canned responses (HELPLINE_CANNED, default intents/canned.yaml), rebuilt when it is
older than ``max_age`` seconds or the canned responses change (in the background: the old one serves meanwhile).

The index is derived data, rebuilt from the database, so several app processes each keep their own and none
holds anything the others lack for long.
"""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from bot.assist.suggest import Context, SuggestionIndex
from bot.assist.templates import ORDER_ID
from bot.config import listed, value
from bot.store.history import agent_reply_history
from intents.canned import DEFAULT_CANNED, CannedResponse, fill, load_canned, matching

MAX_AGE = 600.0
ORDER_NUMBER = re.compile(ORDER_ID)


def canned_path() -> Path:
    return Path(value("HELPLINE_CANNED") or DEFAULT_CANNED)


def imported_transcripts() -> list[dict]:
    """The transcripts of HELPLINE_SUGGEST_TRANSCRIPTS (comma-separated files, e.g. a helpdesk export): what
    agents replied before Helpline, learnt from beside the store's own conversations."""
    from bot.batch.transcripts import read_transcripts

    return [conversation for path in listed("HELPLINE_SUGGEST_TRANSCRIPTS") for conversation in read_transcripts(path)]


class LiveSuggestions:
    def __init__(self, helpline, transcripts: list[dict] = (), max_age: float = MAX_AGE):
        self.helpline, self.transcripts, self.max_age = helpline, list(transcripts), max_age
        self._index: SuggestionIndex | None = None
        self._built, self._canned_stamp = 0.0, 0.0
        self._lock, self._rebuilding, self._generation = threading.Lock(), False, 0
        self._warming: threading.Thread | None = None

    def warm(self) -> LiveSuggestions:
        """Train the first index in the background now (at start-up), so the console's first request finds it
        ready instead of training it itself."""
        with self._lock:
            if self._index is None and not self._rebuilding:
                self._warming = self._start_rebuild(self._canned_stamp_now())
        return self

    @property
    def rebuilding(self) -> bool:
        """Whether a new index is being built in the background (the old one answers meanwhile)."""
        return self._rebuilding

    def _start_rebuild(self, stamp: float) -> threading.Thread:
        """Train the next index in a background thread (call with the lock held)."""
        self._rebuilding = True
        thread = threading.Thread(target=self._rebuild_in_background, args=(stamp, self._generation), daemon=True)
        thread.start()
        return thread

    @staticmethod
    def _canned_stamp_now() -> float:
        path = canned_path()
        return path.stat().st_mtime if path.is_file() else 0.0

    def canned(self) -> list[CannedResponse]:
        path = canned_path()
        return load_canned(path) if path.is_file() else []

    def index(self) -> SuggestionIndex:
        """The current index. The first is built here; a stale one keeps serving while its successor trains in
        a background thread (training the ranker on a big history takes a while on a CPU)."""
        warming = self._warming
        if warming is not None:   # the start-up build is under way: wait for it rather than train a second
            warming.join()
            self._warming = None
        with self._lock:
            stamp = self._canned_stamp_now()
            if self._index is None:   # no start-up build, or it failed or was dropped by a model swap
                self._install(self._built_index(), stamp, self._generation)
            elif (time.monotonic() - self._built > self.max_age or stamp != self._canned_stamp) \
                    and not self._rebuilding:
                self._start_rebuild(stamp)
            return self._index

    def _rebuild_in_background(self, stamp: float, generation: int) -> None:
        try:
            index = self._built_index()
            with self._lock:
                self._install(index, stamp, generation)
        finally:
            self._rebuilding = False

    def _install(self, index: SuggestionIndex, stamp: float, generation: int) -> None:
        """Serve ``index`` unless a refresh (a model swap) came after its build began: it read the old encoder."""
        if generation == self._generation:
            self._index, self._built, self._canned_stamp = index, time.monotonic(), stamp

    def _built_index(self) -> SuggestionIndex:
        classifier = self.helpline.classifier
        encode = getattr(classifier, "sentence_vectors", None)
        extra = [(reply, {name}) for name, intent in self.helpline.catalogue.intents.items()
                 for reply in intent.replies]
        extra += [(r.text, set(r.intents)) for r in self.canned() if r.intents]
        history = agent_reply_history(self.helpline.store) + self.transcripts
        try:
            return SuggestionIndex.build(history, encode=encode, extra=extra)
        except ValueError:   # a model whose graph gives no sentence vectors: wording alone
            return SuggestionIndex.build(history, extra=extra)

    def refresh(self) -> None:
        with self._lock:
            self._index, self._generation = None, self._generation + 1

    def _conversation(self, conversation_id: str):
        conversation = self.helpline.store.conversation(conversation_id)
        if conversation is None:
            raise ValueError(f"no conversation {conversation_id}")
        return conversation

    @staticmethod
    def known(conversation) -> dict[str, str]:
        """What placeholders the conversation can fill: the latest order number a customer gave."""
        orders = [m.group(0).lstrip("#") for message in conversation.messages if message.role == "customer"
                  for m in ORDER_NUMBER.finditer(message.text)]
        return {"order_id": orders[-1]} if orders else {}

    def canned_for(self, conversation_id: str | None, typed: str) -> list[tuple[str, str]]:
        """(title, text with what the conversation knows filled in) of the canned responses matching "/..."."""
        known = self.known(self._conversation(conversation_id)) if conversation_id else {}
        return [(r.title, fill(r.text, known)) for r in matching(self.canned(), typed)]

    def for_conversation(self, conversation_id: str, k: int = 3) -> list[str]:
        """The ``k`` best replies for the open conversation, from the messages so far (placeholders it knows
        filled in, the others left visible)."""
        conversation = self._conversation(conversation_id)
        turns = [{"role": m.role, "text": m.text} for m in conversation.messages]
        context = Context(turns)
        likely = []
        last = next((m for m in reversed(conversation.messages) if m.role == "customer"), None)
        if last is not None and last.prediction:
            likely = [a["intent"] if isinstance(a, dict) else a[0] for a in last.prediction.get("alternatives", [])]
            likely = [last.intent, *likely] if last.intent else likely
        known = self.known(conversation)
        return [fill(reply, known) for reply in self.index().suggest([context], k=k, intents=[likely])[0]]

"""Suggested replies for an agent: the replies agents sent after conversations like this one.

Every agent message of the history becomes an entry: its context (the last customer message and the reply
before it, the two turns that say most about what comes next) and its reply as a template (`templates.py`: order
numbers, e-mail addresses and amounts become placeholders). A template seen in fewer than ``min_conversations``
conversations is a one-off (a name, a promise to one customer) and is never suggested. For a new context the
index finds the most similar stored contexts and lets each vote for its reply, weighted by similarity; the
replies with most votes are the suggestions.

Contexts are compared two ways, and the votes added: the fine-tuned encoder's sentence vectors (the model's
meaning of the messages) and TF-IDF word n-grams (exact wording: the same question asked in the same words).
Catalogue replies for the message's likely intents and canned responses join as candidates with their own votes.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from bot.assist.templates import template_of

NEIGHBOURS = 50          # stored contexts that vote
TEMPERATURE = 0.05       # how fast a neighbour's vote falls with its distance from the nearest
MIN_CONVERSATIONS = 2    # a reply template must come from this many conversations to be suggested


@dataclass
class Context:
    """What an agent sees before replying: the conversation's turns so far ({"role", "text"})."""
    turns: list[dict]

    @property
    def last_customer(self) -> str:
        return next((t["text"] for t in reversed(self.turns) if t["role"] == "customer"), "")

    @property
    def last_reply(self) -> str:
        """The latest agent or bot message before the last customer message ("" at the start)."""
        seen_customer = False
        for turn in reversed(self.turns):
            if turn["role"] == "customer":
                seen_customer = True
            elif seen_customer:
                return turn["text"]
        return ""

    def text(self) -> str:
        return f"{self.last_reply} || {self.last_customer}".strip()


def agent_turns(conversation: dict) -> Iterable[tuple[int, Context, str]]:
    """(index, the context before it, the reply) for every agent message of a transcript conversation."""
    turns = conversation["messages"]
    for index, turn in enumerate(turns):
        if turn["role"] == "agent" and turn["text"].strip():
            yield index, Context(turns[:index]), turn["text"]


@dataclass
class SuggestionIndex:
    contexts: list[str] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)       # index into templates, per context
    templates: list[str] = field(default_factory=list)
    vectors: np.ndarray | None = None                      # normalised sentence vectors of the contexts
    encode: object = None                                  # texts -> sentence vectors (None: TF-IDF only)
    extra: list[tuple[str, set[str]]] = field(default_factory=list)   # (reply, intents) from catalogue / canned

    @classmethod
    def build(cls, conversations: Iterable[dict], encode=None, min_conversations: int = MIN_CONVERSATIONS,
              extra: list[tuple[str, set[str]]] = ()) -> "SuggestionIndex":
        """From transcript conversations; ``encode``: texts -> sentence vectors (e.g. a Classifier's)."""
        rows, seen_in = [], defaultdict(set)
        for n, conversation in enumerate(conversations):
            for _, context, reply in agent_turns(conversation):
                template = template_of(reply)
                rows.append((context.text(), template))
                seen_in[template].add(n)
        reusable = {t for t, where in seen_in.items() if len(where) >= min_conversations}
        rows = [(c, t) for c, t in rows if t in reusable]
        templates = sorted(reusable)
        number = {t: i for i, t in enumerate(templates)}
        index = cls([c for c, _ in rows], [number[t] for _, t in rows], templates, None, encode, list(extra))
        index._fit()
        return index

    def _fit(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        self._matrix = self._tfidf.fit_transform(self.contexts) if self.contexts else None
        if self.encode is not None and self.contexts:
            self.vectors = _normalised(self.encode(self.contexts))
        self._prior = Counter(self.replies)

    def suggest(self, contexts: list[Context], k: int = 3, intents: list[list[str]] | None = None) -> list[list[str]]:
        """The ``k`` best replies for each context (fewer when fewer are known)."""
        if not contexts:
            return []
        texts = [c.text() for c in contexts]
        votes = [defaultdict(float) for _ in contexts]
        if self._matrix is not None:
            self._vote(votes, (self._tfidf.transform(texts) @ self._matrix.T).toarray())
            if self.vectors is not None:
                self._vote(votes, _normalised(self.encode(texts)) @ self.vectors.T)
        for row, likely in zip(votes, intents or [[] for _ in contexts]):
            for reply, wanted in self.extra:   # catalogue replies and canned responses for the likely intents
                if wanted & set(likely):
                    row[reply] += 0.25
        return [[reply for reply, _ in sorted(row.items(), key=lambda kv: (-kv[1], kv[0]))[:k]] for row in votes]

    def _vote(self, votes: list[dict], similarity: np.ndarray) -> None:
        """Each context's NEIGHBOURS most similar stored contexts vote for their replies, the nearest most
        (weights fall by e for every TEMPERATURE of similarity below the best); each view's votes add up to one,
        so neither view outweighs the other whatever its scale."""
        n = min(NEIGHBOURS, similarity.shape[1])
        top = np.argpartition(-similarity, n - 1, axis=1)[:, :n]
        for row, (neighbours, scores) in enumerate(zip(top, np.take_along_axis(similarity, top, 1))):
            if not len(scores) or scores.max() <= 0:
                continue
            weights = np.exp((scores - scores.max()) / TEMPERATURE)
            weights /= weights.sum()
            for j, weight in zip(neighbours, weights):
                votes[row][self.templates[self.replies[j]]] += float(weight)


def _normalised(vectors) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

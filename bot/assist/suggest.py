"""Suggested replies for an agent: the replies agents sent at the same point of conversations like this one.

Every agent message of the history becomes an example: the conversation before it and its reply as a template
(`templates.py`: order numbers, e-mail addresses and amounts become placeholders, numbers and names that vary
between otherwise identical replies {number} and {name} slots; case and final punctuation do not count). A
template seen in fewer than ``min_conversations`` conversations is a one-off (a name, a promise to one customer)
and is never suggested. A ranker (`ranker.py`) learns from these examples which template comes next given where the
conversation stands; its most probable templates are the suggestions. Catalogue replies for the message's likely
intents and canned responses join as candidates with a fixed share of the vote.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from bot.assist.ranker import ReplyRanker, state_of
from bot.assist.templates import ReplyKeys

MIN_CONVERSATIONS = 2    # a reply template must come from this many conversations to be suggested
CANDIDATE_VOTE = 0.25    # a catalogue reply or canned response for a likely intent, against probabilities


@dataclass
class Context:
    """What an agent sees before replying: the conversation's turns so far ({"role", "text"})."""
    turns: list[dict]

    @property
    def last_customer(self) -> str:
        return next((t["text"] for t in reversed(self.turns) if t["role"] == "customer"), "")


def agent_turns(conversation: dict) -> Iterable[tuple[int, Context, str]]:
    """(index, the context before it, the reply) for every agent message of a transcript conversation."""
    turns = conversation["messages"]
    for index, turn in enumerate(turns):
        if turn["role"] == "agent" and turn["text"].strip():
            yield index, Context(turns[:index]), turn["text"]


@dataclass
class SuggestionIndex:
    templates: list[str] = field(default_factory=list)    # the reusable reply templates, the ranker's classes
    examples: int = 0                                      # agent messages the ranker learnt from
    ranker: ReplyRanker | None = None
    extra: list[tuple[str, set[str]]] = field(default_factory=list)   # (reply, intents) from catalogue / canned
    keys: ReplyKeys = field(default_factory=ReplyKeys)                 # how replies are compared (slots)

    @classmethod
    def build(cls, conversations: Iterable[dict], encode=None, min_conversations: int = MIN_CONVERSATIONS,
              extra: list[tuple[str, set[str]]] = (), progress: bool = False,
              slots: bool = True) -> SuggestionIndex:
        """From transcript conversations; ``encode``: texts -> sentence vectors (e.g. a HelplineModel's);
        ``slots``: numbers and names that vary between otherwise identical replies become {number} / {name}."""
        replies = [(n, context, reply) for n, conversation in enumerate(conversations)
                   for _, context, reply in agent_turns(conversation)]
        reply_keys = ReplyKeys.learn(r for _, _, r in replies) if slots else ReplyKeys()
        rows, seen_in, wordings = [], defaultdict(set), defaultdict(Counter)
        for n, context, reply in replies:
            key = reply_keys.key(reply)    # "Goodbye." and "goodbye" are one reply, offered in its usual wording
            rows.append((context, key))
            seen_in[key].add(n)
            wordings[key][reply_keys.template(reply)] += 1
        keys = sorted(k for k, where in seen_in.items() if len(where) >= min_conversations)
        number = {k: i for i, k in enumerate(keys)}
        templates = [wordings[k].most_common(1)[0][0] for k in keys]
        rows = [(context, number[k]) for context, k in rows if k in number]
        index = cls(templates, len(rows), None, list(extra), reply_keys)
        if rows:
            index.ranker = ReplyRanker(len(templates), encode).fit(
                [state_of(c.turns, reply_keys.key) for c, _ in rows], [t for _, t in rows], keys, progress)
        return index

    def suggest(self, contexts: list[Context], k: int = 3, intents: list[list[str]] | None = None) -> list[list[str]]:
        """The ``k`` best replies for each context (fewer when fewer are known)."""
        if not contexts:
            return []
        votes = [defaultdict(float) for _ in contexts]
        if self.ranker is not None:
            probabilities = self.ranker.scores([state_of(c.turns, self.keys.key) for c in contexts])
            for row, scores in zip(votes, probabilities):
                for j in np.argsort(-scores)[:max(k, 10)]:
                    row[self.templates[j]] += float(scores[j])
        for row, likely in zip(votes, intents or [[] for _ in contexts]):
            for reply, wanted in self.extra:   # catalogue replies and canned responses for the likely intents
                if wanted & set(likely):
                    row[reply] += CANDIDATE_VOTE
        return [[reply for reply, _ in sorted(row.items(), key=lambda kv: (-kv[1], kv[0]))[:k]] for row in votes]

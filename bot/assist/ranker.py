"""The reply ranker: a small network trained on the history to say which reply template an agent sends next.

What an agent sends next depends on where the conversation stands, not only on the last message: which
questions the agent has already asked ("rank", then "name", then "code"), what the customer has said since,
and what the conversation is about. So a context is read as its state (``state_of``):

- the customer's words since the last reply, all the customer's words so far, and the agents' words so far
  (TF-IDF word n-grams; the agents' wording also carries each agent's own phrasing of the same step);
- the reply templates already sent, as tokens: the last one, the one before, all of them, and how many;
- sentence vectors of the customer's latest words and of the last reply, when an encoder is given.

Sparse features feed an embedding bag (a linear layer that reads only a row's non-zero features, and whose
gradient touches only the rows a batch has: lazy sparse Adam), sentence vectors a linear layer; one hidden layer;
a softmax over the templates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from bot.assist.templates import normalised
from bot.model.oos import normalised as unit_rows

HIDDEN = 256
EPOCHS = 9
MIN_STEPS = 300          # small histories still get enough updates to learn their few replies
BATCH = 256
LEARNING_RATE = 1e-3
# lazy Adam moves a word's row only when a batch has the word: rare words need bigger steps
SPARSE_LEARNING_RATE = 5e-3
DROPOUT = 0.6            # strong: a few thousand conversations for ~1,000 templates (RESULTS.md, "Suggested replies")
LABEL_SMOOTHING = 0.1
MAX_WORDS = 15000        # n-gram features per text field
FIELD_WEIGHTS = {"since": 1.0, "customer": 0.7, "agents": 0.7, "steps": 1.0}


@dataclass
class State:
    """What the ranker reads of a conversation so far."""
    since: str               # the customer's words since the last reply
    customer: str            # all the customer's words
    agents: str              # all the agents' (and bot's) words
    steps: list[str]         # the reply templates sent so far, in order
    last_reply: str          # the last agent or bot message, as sent


def state_of(turns: list[dict], key=normalised) -> State:
    """The state before the next reply; the replies sent so far are read as their template keys (``key``)."""
    since = []
    for turn in reversed(turns):
        if turn["role"] != "customer":
            break
        since.append(turn["text"])
    replies = [t["text"] for t in turns if t["role"] != "customer"]
    return State(" ".join(reversed(since)), " ".join(t["text"] for t in turns if t["role"] == "customer"),
                 " ".join(replies), [key(r) for r in replies], replies[-1] if replies else "")


class _Network(torch.nn.Module):
    def __init__(self, n_sparse: int, n_dense: int, n_out: int):
        super().__init__()
        self.sparse = torch.nn.EmbeddingBag(n_sparse, HIDDEN, mode="sum", sparse=True)
        bound = n_sparse ** -0.5   # a linear layer's start: an embedding's N(0, 1) start drowns the TF-IDF weights
        torch.nn.init.uniform_(self.sparse.weight, -bound, bound)
        self.dense = torch.nn.Linear(n_dense, HIDDEN) if n_dense else None
        self.bias = torch.nn.Parameter(torch.zeros(HIDDEN))
        self.out = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Dropout(DROPOUT), torch.nn.Linear(HIDDEN, n_out))

    def forward(self, indices, offsets, weights, dense):
        hidden = self.sparse(indices, offsets, per_sample_weights=weights) + self.bias
        if self.dense is not None:
            hidden = hidden + self.dense(dense)
        return self.out(hidden)


class ReplyRanker:
    """Fitted on (state, template number) pairs; ``scores`` gives each state's probability per template."""

    def __init__(self, n_templates: int, encode=None):
        self.n_templates, self.encode = n_templates, encode

    # -- features ---------------------------------------------------------------------------------------
    def _fit_features(self, states: list[State]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        min_df = 2 if len(states) >= 200 else 1   # a tiny history has no word seen twice to spare
        self._words = {name: TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df,
                                             max_features=MAX_WORDS) for name in ("since", "customer", "agents")}
        self._steps = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, sublinear_tf=True)
        for name, vectorizer in self._words.items():
            vectorizer.fit([getattr(s, name) or "<none>" for s in states])
        self._steps.fit([self._step_tokens(s) for s in states])

    def _step_tokens(self, state: State) -> str:
        ids = [str(self._template_number.get(step, "other")) for step in state.steps]
        tokens = [f"last={ids[-1] if ids else 'start'}", f"before={ids[-2] if len(ids) > 1 else 'start'}",
                  f"count={min(len(ids), 12)}"] + [f"sent={i}" for i in ids]
        return " ".join(tokens)

    def _features(self, states: list[State]):
        blocks = [self._words[name].transform([getattr(s, name) or "<none>" for s in states]) * FIELD_WEIGHTS[name]
                  for name in ("since", "customer", "agents")]
        blocks.append(self._steps.transform([self._step_tokens(s) for s in states]) * FIELD_WEIGHTS["steps"])
        sparse = sp.hstack(blocks).tocsr().astype(np.float32)
        dense = np.zeros((len(states), 0), np.float32)
        if self.encode is not None:
            dense = np.hstack([unit_rows(self.encode([s.since or "<none>" for s in states])),
                               unit_rows(self.encode([s.last_reply or "<start>" for s in states]))])
        return sparse, dense

    @staticmethod
    def _batch(sparse, dense, rows):
        part = sparse[rows]
        return (torch.from_numpy(part.indices.astype(np.int64)), torch.from_numpy(part.indptr[:-1].astype(np.int64)),
                torch.from_numpy(part.data), torch.from_numpy(dense[rows]))

    # -- training and scoring ---------------------------------------------------------------------------
    def fit(self, states: list[State], targets: list[int], keys: list[str], progress: bool = False) -> ReplyRanker:
        """``targets``: each state's template number; ``keys``: the templates' keys, in number order."""
        self._template_number = {k: i for i, k in enumerate(keys)}
        self._fit_features(states)
        sparse, dense = self._features(states)
        labels = torch.tensor(targets)
        with torch.random.fork_rng():    # the same history trains the same ranker, whatever ran before
            torch.manual_seed(0)
            self._net = _Network(sparse.shape[1], dense.shape[1], self.n_templates)
            embedding = [self._net.sparse.weight]
            others = [p for name, p in self._net.named_parameters() if not name.startswith("sparse.")]
            optimisers = [torch.optim.SparseAdam(embedding, lr=SPARSE_LEARNING_RATE),
                          torch.optim.AdamW(others, lr=LEARNING_RATE, weight_decay=1e-4)]
            steps_per_epoch = -(-len(states) // BATCH)
            epochs = max(EPOCHS, -(-MIN_STEPS // steps_per_epoch))
            order = np.random.default_rng(0)
            self._net.train()
            for _ in tqdm(range(epochs), desc="training the reply ranker", disable=not progress):
                permutation = order.permutation(len(states))
                for start in range(0, len(states), BATCH):
                    rows = permutation[start:start + BATCH]
                    loss = torch.nn.functional.cross_entropy(self._net(*self._batch(sparse, dense, rows)),
                                                             labels[rows], label_smoothing=LABEL_SMOOTHING)
                    for optimiser in optimisers:
                        optimiser.zero_grad()
                    loss.backward()
                    for optimiser in optimisers:
                        optimiser.step()
        self._net.eval()
        return self

    def scores(self, states: list[State]) -> np.ndarray:
        """(len(states), n_templates) probabilities."""
        sparse, dense = self._features(states)
        with torch.inference_mode():
            return torch.softmax(self._net(*self._batch(sparse, dense, np.arange(len(states)))), -1).numpy()


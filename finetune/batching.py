"""Batches for CPU training: length bucketing and dynamic padding.

On a CPU the cost of a batch grows with its longest message, so batches are formed from messages of similar
length (sorted within large shuffled pools) and padded only to their own longest message.
"""
from __future__ import annotations

import random

import torch


def bucket_batches(indices: list[int], lengths: list[int], batch_size: int, rng: random.Random,
                   pool_batches: int = 50) -> list[list[int]]:
    """Shuffle, sort each pool of ``pool_batches`` batches by length, cut into batches, shuffle the batches."""
    indices = list(indices)
    rng.shuffle(indices)
    batches = []
    pool = batch_size * pool_batches
    for start in range(0, len(indices), pool):
        chunk = sorted(indices[start:start + pool], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def pad_batch(sequences: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """input_ids and attention_mask tensors padded to the longest sequence in the batch."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, :len(seq)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def epoch_sample(n_items: int, size: int, rng: random.Random, cursor: list[int]) -> list[int]:
    """``size`` indices into ``n_items`` items, walking a reshuffled permutation so that across epochs every
    item is used before any repeats (``cursor`` holds the permutation left over from the last call)."""
    out: list[int] = []
    while len(out) < size:
        if not cursor:
            cursor.extend(rng.sample(range(n_items), n_items))
        take = min(size - len(out), len(cursor))
        out += cursor[:take]
        del cursor[:take]
    return out

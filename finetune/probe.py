"""The linear-probe start of the intent head (LP-FT, Kumar et al. 2022).

Fitting the intent head on frozen encoder features first means fine-tuning starts from a good head instead of
a random one, which would pull the encoder about in the first steps.
"""
from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from bot import HelplineModel

from .arguments import TrainArguments
from .batching import pad_batch
from .device import TrainingDevice


@torch.no_grad()
def embed_all(model: HelplineModel, sequences: list[list[int]], pad_id: int, device: TrainingDevice,
              batch: int = 128) -> torch.Tensor:
    """Pooled sentence vectors of token-id sequences, on the training device."""
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    out = torch.zeros(len(sequences), model.network.intent_head.in_features, device=device.type)
    for start in range(0, len(order), batch):
        idx = order[start:start + batch]
        with device.autocast():
            out[idx] = model.network.embed(**device.put(pad_batch([sequences[i] for i in idx], pad_id))).float()
    return out


def linear_probe(model: HelplineModel, sequences: list[list[int]], labels: list[int], args: TrainArguments,
                 device: TrainingDevice) -> None:
    """Fit the intent head on frozen pooled features (full-batch AdamW; a few seconds), in place."""
    model.network.eval()
    features = embed_all(model, sequences, model.tokenizer.pad_token_id or 0, device)
    target = torch.tensor(labels, device=device.type)
    head = model.network.intent_head
    optimizer = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=1e-4)
    with torch.enable_grad():
        for _ in range(300):
            loss = F.cross_entropy(head(features), target, label_smoothing=args.label_smoothing)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    accuracy = (head(features).argmax(1) == target).float().mean().item()
    tqdm.write(f"linear probe on frozen features: training accuracy {accuracy:.3f}, loss {loss.item():.3f}",
               file=sys.stderr)

"""An exponential moving average of the weights while training (Polyak averaging).

The last steps of fine-tuning on a small dataset move the weights around a minimum more than into it; the
average of the recent weights usually generalises a little better than the final ones, at no cost at
inference. Only trainable tensors are averaged (the frozen word embeddings are half of MiniLM), and only
every few steps, so it costs ~2% of a step.
"""
from __future__ import annotations

import torch


class WeightAverage:
    def __init__(self, module: torch.nn.Module, decay: float, every: int = 4):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight-average decay must be between 0 and 1, not {decay}")
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.average = [p.detach().clone() for p in self.params]
        self.every, self.weight = every, 1.0 - decay ** every  # `every` steps of `decay` in one update
        self.steps = 0

    @torch.no_grad()
    def update(self) -> None:
        self.steps += 1
        if self.steps % self.every == 0:
            torch._foreach_lerp_(self.average, [p.detach() for p in self.params], self.weight)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        for param, average in zip(self.params, self.average):
            param.copy_(average)

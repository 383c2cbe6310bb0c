"""Frozen lower layers: run them once per message instead of once per training step.

A CPU spends ~3/4 of a training step in matrix products, so the time goes down only with the work. With the
embeddings and the lowest ``n`` Transformer layers frozen (and without dropout, as at inference), a message's
hidden states after layer ``n`` never change during training, so they are computed once, kept (float16), and each
training step runs only the upper layers on them: forward and backward through ``n`` of MiniLM's 6 layers are
skipped on every one of the ~165,000 example passes of a default run. Serving is unchanged: the saved model is
the whole encoder, and at inference its frozen layers compute exactly what was cached.

The upper layers are run by the encoder's own forward (so its attention-mask handling is the one used at
inference): while training, the frozen layers in its layer list are swapped for stand-ins that hand on the
cached states.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager

import torch
from torch import nn
from tqdm.auto import tqdm

from .batching import pad_batch

# where Hugging Face encoders keep their list of Transformer layers (BERT/RoBERTa/MPNet, DistilBERT, others)
LAYER_LISTS = ("encoder.layer", "transformer.layer", "encoder.layers", "layers")


def layer_list(encoder: nn.Module, switch_off: str = "--frozen-layers 0") -> nn.ModuleList:
    """The encoder's Transformer layers, bottom first (``switch_off``: what the error tells the user to pass)."""
    for path in LAYER_LISTS:
        module = encoder
        for name in path.split("."):
            module = getattr(module, name, None)
        if isinstance(module, nn.ModuleList):
            return module
    raise ValueError(f"{switch_off.split()[0]}: cannot find the Transformer layers of {type(encoder).__name__} "
                     f"(looked for {', '.join(LAYER_LISTS)}); use {switch_off} for this base model.")


class _PassOn(nn.Module):
    """Stands in for a frozen layer below the top one: hands its input on untouched (nothing is computed)."""

    def forward(self, hidden_states, *args, **kwargs):
        return hidden_states


class _CachedOutput(nn.Module):
    """Stands in for the top frozen layer: returns the cached states of the current batch (the layer's output)."""

    def __init__(self, as_tuple: bool):
        super().__init__()
        self.as_tuple = as_tuple
        self.states: torch.Tensor | None = None

    def forward(self, hidden_states, *args, **kwargs):
        if self.states is None or self.states.shape[:2] != hidden_states.shape[:2]:
            raise RuntimeError("cached states do not match the batch (use FrozenLayers.batch for both)")
        return (self.states,) if self.as_tuple else self.states


class FrozenLayers:
    """The embeddings and the lowest ``n`` layers of ``network.encoder``, frozen, with their outputs cached."""

    def __init__(self, network: nn.Module, n: int, pad_id: int):
        self.network, self.n, self.pad_id = network, n, pad_id
        self.layers = layer_list(network.encoder)
        if not 0 < n < len(self.layers):
            raise ValueError(f"--frozen-layers must be between 0 and {len(self.layers) - 1} for this encoder "
                             f"({len(self.layers)} layers); got {n}.")
        self.as_tuple = False
        self.freeze()

    def freeze(self) -> None:
        self.network.encoder.get_input_embeddings().weight.requires_grad_(False)
        frozen = [self.network.encoder.embeddings] if hasattr(self.network.encoder, "embeddings") else []
        for module in frozen + list(self.layers[:self.n]):
            module.requires_grad_(False)

    @torch.no_grad()
    def precompute(self, sequences: list[list[int]], device, what: str, batch: int = 128) -> list[torch.Tensor]:
        """Hidden states after the top frozen layer, one [length, hidden] float16 tensor per sequence (kept in
        the host's memory; ``device``: the finetune.device.TrainingDevice they are computed on)."""
        was_training = self.network.training
        self.network.eval()  # no dropout: the states are what inference computes
        record = self.layers[self.n - 1].register_forward_hook(
            lambda module, args, output: setattr(self, "as_tuple", isinstance(output, tuple)))
        upper = list(self.layers[self.n:])
        for i in range(self.n, len(self.layers)):  # only the frozen layers compute; their output comes out on top
            self.layers[i] = _PassOn()
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        out: list[torch.Tensor | None] = [None] * len(sequences)
        try:
            for start in tqdm(range(0, len(order), batch), desc=f"caching frozen layers ({what})", unit="batch",
                              file=sys.stderr):
                idx = order[start:start + batch]
                inputs = device.put(pad_batch([sequences[i] for i in idx], self.pad_id))
                with device.autocast():
                    hidden = self.network.encoder(**inputs).last_hidden_state
                hidden = hidden.to(torch.float16).cpu()
                for row, i in enumerate(idx):
                    out[i] = hidden[row, :len(sequences[i])].clone()
        finally:
            record.remove()
            for i, layer in enumerate(upper, start=self.n):
                self.layers[i] = layer
            self.network.train(was_training)
        return out

    def batch(self, sequences: list[list[int]], states: list[torch.Tensor], device) -> dict[str, torch.Tensor]:
        """The network's inputs for these sequences on ``device``; their cached states go to the stand-in layer."""
        inputs = device.put(pad_batch(sequences, self.pad_id))
        padded = nn.utils.rnn.pad_sequence(states, batch_first=True).to(device.type, torch.float32)
        self.layers[self.n - 1].states = padded
        return inputs

    @contextmanager
    def skipping(self):
        """Swap the frozen layers for stand-ins while training; the real ones are back afterwards."""
        real = list(self.layers[:self.n])
        for i in range(self.n - 1):
            self.layers[i] = _PassOn()
        self.layers[self.n - 1] = _CachedOutput(self.as_tuple)
        try:
            yield self
        finally:
            for i, layer in enumerate(real):
                self.layers[i] = layer

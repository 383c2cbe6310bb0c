"""The torch runtime of a model directory: the encoder and heads as a `HelplineNetwork` with its tokenizer.
Training uses it (its `network` is what the optimiser updates), and serving falls back to it where a directory
has no ONNX graph or where a GPU is used.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from bot.model.base_models import resolve_base_model
from bot.model.format import HEADS_FILE, METADATA_FILE
from bot.model.network import HelplineNetwork
from bot.model.prediction import batched


class TorchRuntime:
    name = "torch"

    def __init__(self, network: HelplineNetwork, tokenizer, max_length: int):
        self.network = network.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length

    # ----------------------------------------------------------------------------------------- building
    @classmethod
    def from_base(cls, base_model: str, n_intents: int, n_emotions: int, max_length: int) -> TorchRuntime:
        """A base encoder (a local folder, the bundled one, or a Hub id when online) with new heads."""
        from transformers import AutoModel, AutoTokenizer

        location = resolve_base_model(base_model)
        try:
            tokenizer = AutoTokenizer.from_pretrained(location)
            encoder = AutoModel.from_pretrained(location)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot load base model {base_model!r} ({location}): {exc}. Give a local Hugging "
                             "Face model folder, or a Hub id when online.") from exc
        return cls(HelplineNetwork(encoder, n_intents, n_emotions), tokenizer, max_length)

    @classmethod
    def load(cls, directory: Path, metadata: dict) -> TorchRuntime:
        from transformers import AutoModel, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(directory)
            encoder = AutoModel.from_pretrained(directory)
            heads = load_file(directory / HEADS_FILE)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{directory}: cannot load the model files ({exc}); the directory is damaged.") from exc
        network = HelplineNetwork(encoder, len(metadata["intent_labels"]), len(metadata["emotion_labels"]))
        try:
            network.load_head_state_dict(heads)
        except RuntimeError as exc:
            raise ValueError(f"{directory}: {HEADS_FILE} does not match the labels in {METADATA_FILE}.") from exc
        return cls(network, tokenizer, metadata["max_length"])

    def save(self, directory: Path) -> None:
        """The encoder, tokenizer and heads' weights (the caller writes the metadata)."""
        self.network.encoder.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        save_file(self.network.head_state_dict(), directory / HEADS_FILE)

    # ------------------------------------------------------------------------------------------ running
    def tokenize(self, texts: list[str]):
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def to(self, device: str) -> TorchRuntime:
        self.network.to(device)
        return self

    @torch.inference_mode()
    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        device = self.device
        batch = {k: v.to(device) for k, v in self.tokenize(texts).items()}
        pooled = self.network.embed(**batch)
        intent_logits, emotion_logits = self.network.heads(pooled)
        return (torch.softmax(intent_logits.float(), -1).cpu().numpy(),
                torch.sigmoid(emotion_logits.float()).cpu().numpy(), pooled.float().cpu().numpy())

    def run_batched(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, ...]:
        self.network.eval()   # training may have left it in train mode (dropout on)
        return batched(self, texts, batch_size)

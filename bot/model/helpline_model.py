"""HelplineModel: the torch model behind a model directory (format: `bot.model.format`), used for
training and as the serving fallback when the directory has no ONNX graph.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from bot.model.base_models import resolve_base_model
from bot.model.card import model_card
from bot.model.components import load_components, save_components
from bot.model.emotions import FRUSTRATION_WEIGHTS, GOEMOTIONS_LABELS, SENTIMENT_GROUPS
from bot.model.format import (
    FORMAT_VERSION,
    HEADS_FILE,
    METADATA_FILE,
    ONNX_FILE,
    ModelInfo,
    locate,
    read_metadata,
    write_metadata,
)
from bot.model.network import HelplineNetwork
from bot.model.placeholders import encoder_text
from bot.model.prediction import Decoder, ModelOutputs, Prediction, batched, predict_texts

DEFAULT_MAX_LENGTH = 64  # customer messages are short; longer ones are truncated (GoEmotions p99 is ~50 tokens)


class HelplineModel(ModelInfo):
    """One encoder, two heads: ``predict`` routes a message to an intent and scores its emotions."""

    def __init__(self, network: HelplineNetwork, tokenizer, metadata: dict):
        self.network = network.eval()
        self.tokenizer = tokenizer
        self.metadata = metadata
        self.decoder = Decoder.from_metadata(metadata)
        # the optional components (bot/model/components.py), loaded and saved in one loop
        self.lexical = None  # the lexical head (bot/model/lexical.py), blended into the intent probabilities
        self.mood = None     # the mood head (bot/model/mood.py): frustration and sentiment in context
        self.oos = None      # the out-of-scope detector (bot/model/oos.py) on the sentence vectors
        self.upset = None    # the upset head (bot/model/upset.py): frustration and sentiment

    # ----------------------------------------------------------------------------------------- building
    @classmethod
    def from_base(cls, base_model: str, intent_labels: list[str], emotion_labels=GOEMOTIONS_LABELS,
                  max_length: int = DEFAULT_MAX_LENGTH) -> HelplineModel:
        """A new model with the given encoder and freshly initialised heads (used by `finetune train`)."""
        from transformers import AutoModel, AutoTokenizer

        if len(set(intent_labels)) != len(intent_labels) or len(intent_labels) < 2:
            raise ValueError(f"intent_labels must be at least two distinct labels, got {list(intent_labels)}")
        location = resolve_base_model(base_model)
        try:
            tokenizer = AutoTokenizer.from_pretrained(location)
            encoder = AutoModel.from_pretrained(location)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot load base model {base_model!r} ({location}): {exc}. Give a local Hugging "
                             "Face model folder, or a Hub id when online.") from exc
        network = HelplineNetwork(encoder, len(intent_labels), len(emotion_labels))
        metadata = {"format_version": FORMAT_VERSION, "base_model": base_model, "max_length": max_length,
                    "pooling": "mean", "intent_labels": list(intent_labels), "oos_threshold": 0.0,
                    "emotion_labels": list(emotion_labels),
                    "emotion_thresholds": {label: 0.5 for label in emotion_labels},
                    "sentiment_groups": SENTIMENT_GROUPS, "frustration_weights": FRUSTRATION_WEIGHTS}
        return cls(network, tokenizer, metadata)

    def update_metadata(self, **values) -> None:
        """Change metadata (thresholds, metrics, ...) and rebuild the decoder that depends on it."""
        self.metadata.update(values)
        self.decoder = Decoder.from_metadata(self.metadata)

    # ------------------------------------------------------------------------------------- loading/saving
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike) -> HelplineModel:
        """Load a model directory (or, when online, a Hub repository id holding one)."""
        from transformers import AutoModel, AutoTokenizer

        directory = locate(path)
        metadata = read_metadata(directory)
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
        model = cls(network, tokenizer, metadata)
        load_components(model, directory, metadata)
        return model

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        # an ONNX graph left from an earlier model here would be loaded instead of these weights
        (directory / ONNX_FILE).unlink(missing_ok=True)
        self.metadata.pop("onnx", None)
        self.network.encoder.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        save_file(self.network.head_state_dict(), directory / HEADS_FILE)
        save_components(self, directory, self.metadata)
        self.metadata.setdefault("created", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        write_metadata(directory, self.metadata)
        (directory / "README.md").write_text(model_card(self.metadata), encoding="utf-8")
        return directory

    def save_oos(self, directory: Path) -> None:
        """Write the OOS detector (or remove a stale one) and its metadata entry; the caller writes the metadata."""
        save_components(self, directory, self.metadata, only=("oos",))

    # ------------------------------------------------------------------------------------------ predicting
    def tokenize(self, texts: list[str]):
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.metadata["max_length"],
                              return_tensors="pt")

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def to(self, device: str) -> HelplineModel:
        """Run on ``device`` ("cpu", "cuda"; see bot.model.device.pick_device)."""
        self.network.to(device)
        return self

    @torch.inference_mode()
    def _heads(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        device = self.device
        batch = {k: v.to(device) for k, v in self.tokenize(texts).items()}
        pooled = self.network.embed(**batch)
        intent_logits, emotion_logits = self.network.heads(pooled)
        return (torch.softmax(intent_logits.float(), -1).cpu().numpy(),
                torch.sigmoid(emotion_logits.float()).cpu().numpy(), pooled.float().cpu().numpy())

    def outputs(self, texts: list[str], batch_size: int = 64) -> ModelOutputs:
        """Intent and emotion probabilities and out-of-scope scores, one row per text, in order (of the texts
        without their placeholders, bot/model/placeholders.py)."""
        self.network.eval()
        texts = [encoder_text(t) for t in texts]
        return ModelOutputs.of(batched(self._heads, texts, batch_size), texts, self.lexical, self.metadata, self.oos)

    def sentence_vectors(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """The pooled sentence vectors the OOS detector reads, one row per text."""
        self.network.eval()
        return batched(self._heads, texts, batch_size)[2]

    def probabilities(self, texts: list[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Intent probabilities (softmax) and emotion probabilities (sigmoid), one row per text, in order."""
        outputs = self.outputs(texts, batch_size)
        return outputs.intent, outputs.emotion

    def predict(self, texts: str | list[str], batch_size: int = 64) -> Prediction | list[Prediction]:
        """Predict one text (returns a Prediction) or a list of texts (returns a list, same order)."""
        return predict_texts(texts, self.outputs, self.decoder, batch_size, self.upset)

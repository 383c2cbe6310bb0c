"""HelplineModel: the model directory format (the contract between `finetune/` and `bot/`) and prediction.

A model directory holds:
  config.json, model.safetensors   the encoder, in Hugging Face format (loadable by AutoModel on its own)
  tokenizer files                  the encoder's tokenizer
  heads.safetensors                the intent and emotion heads
  helpline.json                    metadata: format_version, labels, thresholds, data fingerprints, metrics
  README.md                        a model card
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .base_models import resolve_base_model
from .emotions import FRUSTRATION_WEIGHTS, GOEMOTIONS_LABELS, SENTIMENT_GROUPS
from .model_card import model_card
from .network import HelplineNetwork
from .prediction import Decoder, Prediction

FORMAT_VERSION = 1
METADATA_FILE = "helpline.json"
HEADS_FILE = "heads.safetensors"
DEFAULT_MAX_LENGTH = 64  # customer messages are short; longer ones are truncated (GoEmotions p99 is ~50 tokens)


class HelplineModel:
    """One encoder, two heads: ``predict`` routes a message to an intent and scores its emotions."""

    def __init__(self, network: HelplineNetwork, tokenizer, metadata: dict):
        self.network = network.eval()
        self.tokenizer = tokenizer
        self.metadata = metadata
        self.decoder = Decoder(**{f.name: metadata[f.name] for f in fields(Decoder) if f.name in metadata})

    # ----------------------------------------------------------------------------------------- building
    @classmethod
    def from_base(cls, base_model: str, intent_labels: list[str], emotion_labels=GOEMOTIONS_LABELS,
                  max_length: int = DEFAULT_MAX_LENGTH) -> "HelplineModel":
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
        self.decoder = Decoder(**{f.name: self.metadata[f.name] for f in fields(Decoder) if f.name in self.metadata})

    # ------------------------------------------------------------------------------------- loading/saving
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike) -> "HelplineModel":
        """Load a model directory (or, when online, a Hub repository id holding one)."""
        from transformers import AutoModel, AutoTokenizer

        directory = Path(path)
        if not directory.exists():
            if "/" in str(path) and not str(path).startswith((".", "/")) and not os.environ.get("HF_HUB_OFFLINE"):
                from huggingface_hub import snapshot_download  # a Hub id: kept for users who are online

                directory = Path(snapshot_download(str(path)))
            else:
                raise ValueError(f"no model at {path}: the directory does not exist. Train one with "
                                 f"`python -m finetune train ... --output {path}`.")
        meta_path = directory / METADATA_FILE
        if not meta_path.is_file():
            raise ValueError(f"{directory} is not a Helpline model directory: {METADATA_FILE} is missing. "
                             "Train one with `python -m finetune train`.")
        try:
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{meta_path} is not valid JSON ({exc}); the model directory is damaged.") from exc
        version = metadata.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"{meta_path}: model format_version {version!r} is not supported (this Helpline "
                             f"reads format_version {FORMAT_VERSION}); retrain or upgrade Helpline.")
        missing = [k for k in ("intent_labels", "emotion_labels", "max_length") if k not in metadata]
        if missing:
            raise ValueError(f"{meta_path}: metadata is missing {missing}; the model directory is damaged.")
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
        return cls(network, tokenizer, metadata)

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        self.network.encoder.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        save_file(self.network.head_state_dict(), directory / HEADS_FILE)
        self.metadata.setdefault("created", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
        (directory / METADATA_FILE).write_text(json.dumps(self.metadata, indent=2), encoding="utf-8")
        (directory / "README.md").write_text(model_card(self.metadata), encoding="utf-8")
        return directory

    # ------------------------------------------------------------------------------------------ predicting
    @property
    def intent_labels(self) -> list[str]:
        return self.metadata["intent_labels"]

    @property
    def emotion_labels(self) -> list[str]:
        return self.metadata["emotion_labels"]

    @property
    def version(self) -> str:
        return self.metadata.get("model_version") or self.metadata.get("created", "unversioned")

    def tokenize(self, texts: list[str]):
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.metadata["max_length"],
                              return_tensors="pt")

    @torch.inference_mode()
    def probabilities(self, texts: list[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Intent probabilities (softmax) and emotion probabilities (sigmoid), one row per text, in order.

        Texts are sorted by length before batching so each batch pads to similar lengths.
        """
        self.network.eval()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        intent = np.zeros((len(texts), len(self.intent_labels)), dtype=np.float32)
        emotion = np.zeros((len(texts), len(self.emotion_labels)), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            intent_logits, emotion_logits = self.network(**self.tokenize([texts[i] for i in idx]))
            intent[idx] = torch.softmax(intent_logits, -1).numpy()
            emotion[idx] = torch.sigmoid(emotion_logits).numpy()
        return intent, emotion

    def predict(self, texts: str | list[str], batch_size: int = 64) -> Prediction | list[Prediction]:
        """Predict one text (returns a Prediction) or a list of texts (returns a list, same order)."""
        single = isinstance(texts, str)
        batch = [texts] if single else texts
        if not isinstance(batch, (list, tuple)):
            raise ValueError(f"predict takes a string or a list of strings, not {type(texts).__name__}")
        for i, text in enumerate(batch):
            if not isinstance(text, str):
                raise ValueError(f"text {i} is a {type(text).__name__}, not a string")
            if not text.strip():
                raise ValueError(f"text {i} is empty; give a non-empty message")
        intent, emotion = self.probabilities(list(batch), batch_size)
        predictions = [self.decoder.decode(t, i, e) for t, i, e in zip(batch, intent, emotion)]
        return predictions[0] if single else predictions

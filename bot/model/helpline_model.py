"""HelplineModel: the one model class. A model directory (format: bot/model/format.py) loads with
``HelplineModel.from_pretrained(path, backend="auto"|"onnx"|"torch", device=...)``; ``predict`` takes one text or
a list.

What runs the encoder is the runtime the model is built with, as in sentence-transformers: ONNX Runtime's int8
graph (bot/model/onnx_runtime.py; no torch imported, what serving uses) or the torch network
(bot/model/torch_runtime.py; what training updates, and serving's fallback). Labels, thresholds, the optional
components (bot/model/components.py) and the `Prediction`s are the same either way.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np

from bot.model.card import model_card
from bot.model.components import load_components, save_components
from bot.model.device import pick_device
from bot.model.emotions import FRUSTRATION_WEIGHTS, GOEMOTIONS_LABELS, SENTIMENT_GROUPS
from bot.model.format import FORMAT_VERSION, METADATA_FILE, ONNX_FILE, ModelInfo, locate, read_metadata, write_metadata
from bot.model.placeholders import encoder_text
from bot.model.prediction import Decoder, ModelOutputs, Prediction, predict_texts

BACKENDS = ("auto", "onnx", "torch")
DEFAULT_MAX_LENGTH = 64  # customer messages are short; longer ones are truncated


class HelplineModel(ModelInfo):
    """One encoder, two heads: ``predict`` routes a message to an intent and scores its emotions."""

    def __init__(self, runtime, metadata: dict, directory: Path | None = None):
        self.runtime = runtime   # OnnxRuntime or TorchRuntime: texts -> (intent, emotion, sentence vectors)
        self.metadata = metadata
        self.directory = directory
        self.decoder = Decoder.from_metadata(metadata)
        # the optional components (bot/model/components.py), loaded and saved in one loop
        self.lexical = None  # the lexical head (bot/model/lexical.py), blended into the intent probabilities
        self.mood = None     # the mood head (bot/model/mood.py): frustration and sentiment in context
        self.oos = None      # the out-of-scope detector (bot/model/oos.py) on the sentence vectors
        self.upset = None    # the upset head (bot/model/upset.py): frustration and sentiment
        self.spelling = None  # the spelling corrector (bot/model/spelling.py): a typing slip put right

    # ----------------------------------------------------------------------------------------- building
    @classmethod
    def from_base(cls, base_model: str, intent_labels: list[str], emotion_labels=GOEMOTIONS_LABELS,
                  max_length: int = DEFAULT_MAX_LENGTH) -> HelplineModel:
        """A new model with the given encoder and freshly initialised heads (used by `finetune train`)."""
        from bot.model.torch_runtime import TorchRuntime

        if len(set(intent_labels)) != len(intent_labels) or len(intent_labels) < 2:
            raise ValueError(f"intent_labels must be at least two distinct labels, got {list(intent_labels)}")
        runtime = TorchRuntime.from_base(base_model, len(intent_labels), len(emotion_labels), max_length)
        metadata = {"format_version": FORMAT_VERSION, "base_model": base_model, "max_length": max_length,
                    "pooling": "mean", "intent_labels": list(intent_labels), "oos_threshold": 0.0,
                    "emotion_labels": list(emotion_labels),
                    "emotion_thresholds": {label: 0.5 for label in emotion_labels},
                    "sentiment_groups": SENTIMENT_GROUPS, "frustration_weights": FRUSTRATION_WEIGHTS}
        return cls(runtime, metadata)

    def update_metadata(self, **values) -> None:
        """Change metadata (thresholds, metrics, ...) and rebuild the decoder that depends on it."""
        self.metadata.update(values)
        self.decoder = Decoder.from_metadata(self.metadata)

    # ------------------------------------------------------------------------------------- loading/saving
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, backend: str = "auto", device: str = "cpu",
                        threads: int | None = None, spin: bool = True) -> HelplineModel:
        """Load a model directory (or, when online, a Hub repository id holding one).

        backend: "auto" (ONNX when the directory has the graph and the device is the CPU, else torch), "onnx" or
        "torch" (training and export need torch). device: "cpu", "cuda", "auto" (bot/model/device.py).
        threads, spin: ONNX Runtime's intra-op threads (None: all cores) and whether they spin-wait between
        calls (fastest back to back; a server turns it off so idle threads leave its request threads the cores).
        """
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        device = pick_device(device)
        if device != "cpu":   # the int8 ONNX graph is a CPU graph: a GPU runs the torch weights
            if backend == "onnx":
                raise ValueError("the ONNX backend runs on the CPU only; use --backend torch (or auto) on a GPU")
            backend = "torch"
        directory = locate(path)
        metadata = read_metadata(directory)
        has_onnx = (directory / ONNX_FILE).is_file()
        if backend == "onnx" and not has_onnx:
            raise ValueError(f"{directory} has no {ONNX_FILE}; create it with "
                             f"`python -m finetune export --model {directory}`.")
        if backend == "onnx" or (backend == "auto" and has_onnx):
            from bot.model.onnx_runtime import OnnxRuntime

            try:
                runtime = OnnxRuntime(directory, metadata["max_length"], threads, spin)
            except Exception as exc:  # onnxruntime raises its own types for damaged graphs
                raise ValueError(f"{directory / ONNX_FILE} cannot be loaded ({exc}); re-export it with "
                                 f"`python -m finetune export --model {directory}`.") from exc
        else:
            from bot.model.torch_runtime import TorchRuntime  # torch, only when it is wanted

            runtime = TorchRuntime.load(directory, metadata).to(device)
        model = cls(runtime, metadata, directory)
        load_components(model, directory, metadata)   # lexical, oos, upset, mood
        model.check_outputs()
        return model

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write the model directory (torch backend: the ONNX graph is made from it by `finetune export`)."""
        runtime = self._torch("save it")   # before anything is written
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        # an ONNX graph left from an earlier model here would be loaded instead of these weights
        (directory / ONNX_FILE).unlink(missing_ok=True)
        self.metadata.pop("onnx", None)
        runtime.save(directory)
        save_components(self, directory, self.metadata)
        self.metadata.setdefault("created", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        write_metadata(directory, self.metadata)
        (directory / "README.md").write_text(model_card(self.metadata), encoding="utf-8")
        self.directory = directory
        return directory

    # ---------------------------------------------------------------------------- the torch runtime's parts
    @property
    def backend(self) -> str:
        return self.runtime.name

    def _torch(self, to_do: str):
        if self.runtime.name != "torch":
            raise ValueError(f"this model runs on {self.runtime.name}; to {to_do}, load it with "
                             "HelplineModel.from_pretrained(path, backend='torch')")
        return self.runtime

    @property
    def network(self):
        """The torch network (encoder and heads) that training updates."""
        return self._torch("train it").network

    @property
    def tokenizer(self):
        return self._torch("tokenize for training").tokenizer

    def tokenize(self, texts: list[str]):
        return self._torch("tokenize for training").tokenize(texts)

    @property
    def device(self):
        return self._torch("move it to a device").device

    def to(self, device: str) -> HelplineModel:
        """Run on ``device`` ("cpu", "cuda"; see bot.model.device.pick_device)."""
        self._torch("move it to a device").to(device)
        return self

    # ------------------------------------------------------------------------------------------ predicting
    def check_outputs(self) -> None:
        """A test prediction, checked against the labels: a model whose outputs do not match its helpline.json
        must fail here, at load time (where the serving model stays), not on some customer's message later."""
        try:
            intent, emotion, sentence = self.runtime(["hello, where is my order?", "x"])
        except Exception as exc:  # noqa: BLE001 - whatever the backend raises
            raise ValueError(f"{self.directory}: a test prediction failed ({type(exc).__name__}: {exc})") from exc
        for what, probs, labels in (("intent", intent, self.intent_labels), ("emotion", emotion, self.emotion_labels)):
            if probs.ndim != 2 or probs.shape != (2, len(labels)):
                raise ValueError(f"{self.directory}: the model gives {probs.shape[-1]} {what} scores but "
                                 f"{METADATA_FILE} lists {len(labels)} {what} labels; the directory mixes two "
                                 "models: retrain or re-export it")
            if not np.all(np.isfinite(probs)):
                raise ValueError(f"{self.directory}: the model's {what} scores are not finite numbers")
        if (self.oos is not None or self.upset is not None) and sentence.shape[-1] == 0:
            raise ValueError(f"{self.directory}: the model has an out-of-scope or upset head but its {ONNX_FILE} gives "
                             "no sentence vectors (exported by an older Helpline); re-export it with "
                             f"`python -m finetune export --model {self.directory}`")

    def _raw(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, ...]:
        if len(texts) == 1:  # the common serving case: skip the sorting and copying
            return self.runtime(texts)
        return self.runtime.run_batched(texts, batch_size)

    def outputs(self, texts: list[str], batch_size: int = 64) -> ModelOutputs:
        """Intent and emotion probabilities and out-of-scope scores, one row per text, in order (of the texts
        without their placeholders, bot/model/placeholders.py)."""
        texts = self.encoder_texts(texts)
        return ModelOutputs.of(self._raw(texts, batch_size), texts, self.lexical, self.metadata, self.oos)

    def vocabulary(self) -> dict[str, int]:
        """The tokenizer's vocabulary (token -> id), whichever runtime runs the encoder."""
        return self.runtime.tokenizer.get_vocab()

    def encoder_texts(self, texts: list[str]) -> list[str]:
        """What the encoder reads of each message: its content (bot/model/placeholders.py), with a typing slip
        put right where the model has a spelling corrector (bot/model/spelling.py)."""
        texts = [encoder_text(t) for t in texts]
        return [self.spelling.correct(t) for t in texts] if self.spelling is not None else texts

    def sentence_vectors(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """The encoder's pooled sentence vector of each text (what the OOS detector and suggestions compare)."""
        vectors = self._raw(texts, batch_size)[2]
        if vectors.shape[-1] == 0:
            raise ValueError(f"{self.directory / ONNX_FILE} gives no sentence vectors (exported by an older "
                             f"Helpline); re-export it with `python -m finetune export --model {self.directory}`")
        return vectors

    def probabilities(self, texts: list[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Intent probabilities (softmax) and emotion probabilities (sigmoid), one row per text, in order."""
        outputs = self.outputs(texts, batch_size)
        return outputs.intent, outputs.emotion

    def predict(self, texts: str | list[str], batch_size: int = 64) -> Prediction | list[Prediction]:
        """One text -> a Prediction; a list -> a list of Predictions in the same order."""
        return predict_texts(texts, self.outputs, self.decoder, batch_size, self.upset)

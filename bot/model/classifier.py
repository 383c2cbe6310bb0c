"""`Classifier`: what serving uses to classify messages. ONNX Runtime int8 when the model directory has the
graph (`finetune export`), the torch model otherwise; the same labels, thresholds and `Prediction` either way.

The ONNX path imports neither torch nor transformers: a serving process stays small and loads in a second.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from bot.model.components import load_components
from bot.model.device import pick_device
from bot.model.format import METADATA_FILE, ONNX_FILE, ModelInfo, locate, read_metadata
from bot.model.placeholders import encoder_text
from bot.model.prediction import Decoder, ModelOutputs, Prediction, batched, predict_texts

BACKENDS = ("auto", "onnx", "torch")


class _OnnxHeads:
    """tokenizer.json (Rust tokenizers) + the int8 graph: texts -> (intent probs, emotion probs)."""

    def __init__(self, directory: Path, max_length: int, threads: int | None, spin: bool = True):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = threads
        if not spin:  # idle pool threads sleep instead of spin-waiting for the next call (see Classifier.load)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(directory / ONNX_FILE), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        config_path = directory / "tokenizer_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        pad = config.get("pad_token") or "[PAD]"
        pad = pad.get("content", "[PAD]") if isinstance(pad, dict) else pad
        self.pad_id = self.tokenizer.token_to_id(pad) or 0
        self.tokenizer.enable_truncation(max_length)
        # No padding here: `run` pads each batch to its own longest message, so the batched path can first
        # sort the encodings by token count (less padding than sorting the texts by characters).
        self.tokenizer.no_padding()

    def encode(self, texts: list[str]) -> list:
        return self.tokenizer.encode_batch(texts)

    def run(self, encodings: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Encodings of one batch -> (intent probs, emotion probs, sentence vectors), padded to the batch's
        longest. A graph exported before the sentence output gives vectors of width 0."""
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)], mask[row, :len(encoding.ids)] = encoding.ids, 1
        outputs = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        intent, emotion = outputs[0], outputs[1]
        return intent, emotion, outputs[2] if len(outputs) > 2 else np.zeros((len(intent), 0), np.float32)

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.run(self.encode(texts))


class Classifier(ModelInfo):
    """Classify customer messages with a model directory: ``Classifier.load(dir).predict(text_or_list)``."""

    def __init__(self, heads, metadata: dict, backend: str, directory: Path):
        self._heads = heads
        self.metadata = metadata
        self.backend = backend
        self.directory = directory
        self.decoder = Decoder.from_metadata(metadata)
        load_components(self, directory, metadata)   # lexical, oos, upset, mood (bot/model/components.py)

    @classmethod
    def load(cls, model_dir: str | os.PathLike, backend: str = "auto", threads: int | None = None,
             spin: bool = True, device: str = "cpu") -> Classifier:
        """backend: "auto" (ONNX when the directory has the graph, else torch), "onnx" or "torch".
        threads: ONNX Runtime intra-op threads (default: all cores).
        spin: let ONNX Runtime's threads spin-wait between calls (fastest for back-to-back calls; a server turns
        it off, because a spinning thread takes the core its request threads need)."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        device = pick_device(device)
        if device != "cpu":   # the int8 ONNX graph is a CPU graph: a GPU runs the torch weights
            if backend == "onnx":
                raise ValueError("the ONNX backend runs on the CPU only; use --backend torch (or auto) on a GPU")
            backend = "torch"
        directory = locate(model_dir)
        metadata = read_metadata(directory)
        has_onnx = (directory / ONNX_FILE).is_file()
        if backend == "onnx" and not has_onnx:
            raise ValueError(f"{directory} has no {ONNX_FILE}; create it with "
                             f"`python -m finetune export --model {directory}`.")
        if backend == "onnx" or (backend == "auto" and has_onnx):
            try:
                classifier = cls(_OnnxHeads(directory, metadata["max_length"], threads, spin), metadata, "onnx",
                                 directory)
            except Exception as exc:  # onnxruntime raises its own types for damaged graphs
                raise ValueError(f"{directory / ONNX_FILE} cannot be loaded ({exc}); re-export it with "
                                 f"`python -m finetune export --model {directory}`.") from exc
        else:
            from bot.model.helpline_model import HelplineModel  # torch, only when there is no ONNX graph

            model = HelplineModel.from_pretrained(directory).to(device)
            classifier = cls(model._heads, model.metadata, "torch", directory)
        classifier.check_outputs()
        return classifier

    def check_outputs(self) -> None:
        """A test prediction, checked against the labels: a model whose outputs do not match its helpline.json
        must fail here, at load time (where the serving model stays), not on some customer's message later."""
        try:
            intent, emotion, sentence = self._heads(["hello, where is my order?", "x"])
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
            return self._heads(texts)
        if self.backend == "onnx":  # tokenized once, batched by token count: less padding
            return batched(self._heads.run, self._heads.encode(texts), batch_size,
                           length=lambda encoding: len(encoding.ids))
        return batched(self._heads, texts, batch_size)

    def outputs(self, texts: list[str], batch_size: int = 64) -> ModelOutputs:
        """Intent and emotion probabilities and out-of-scope scores, one row per text, in order (of the texts
        without their placeholders, bot/model/placeholders.py)."""
        texts = [encoder_text(t) for t in texts]
        return ModelOutputs.of(self._raw(texts, batch_size), texts, self.lexical, self.metadata, self.oos)

    def sentence_vectors(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """The encoder's pooled sentence vector of each text (what the OOS detector and suggestions compare)."""
        vectors = self._raw(texts, batch_size)[2]
        if vectors.shape[-1] == 0:
            raise ValueError(f"{self.directory / ONNX_FILE} gives no sentence vectors (exported by an older "
                             f"Helpline); re-export it with `python -m finetune export --model {self.directory}`")
        return vectors

    def probabilities(self, texts: list[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        outputs = self.outputs(texts, batch_size)
        return outputs.intent, outputs.emotion

    def predict(self, texts: str | list[str], batch_size: int = 64) -> Prediction | list[Prediction]:
        """One text -> a Prediction; a list -> a list of Predictions in the same order."""
        return predict_texts(texts, self.outputs, self.decoder, batch_size, self.upset)

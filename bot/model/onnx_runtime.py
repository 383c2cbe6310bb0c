"""The ONNX runtime of a model directory: tokenizer.json (Rust tokenizers) and the int8 graph `finetune export`
writes. Imports neither torch nor transformers, so a serving process stays small and loads in a second.

A runtime turns texts into (intent probabilities, emotion probabilities, sentence vectors); `HelplineModel`
(bot/model/helpline_model.py) decodes them the same way whichever runtime it was given.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bot.model.format import ONNX_FILE
from bot.model.prediction import batched


class OnnxRuntime:
    name = "onnx"

    def __init__(self, directory: Path, max_length: int, threads: int | None = None, spin: bool = True):
        """threads: ONNX Runtime intra-op threads (None: all cores). spin: let its threads spin-wait between
        calls (fastest for back-to-back calls; a server turns it off, because a spinning thread takes the core
        its request threads need)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = threads
        if not spin:  # idle pool threads sleep instead of spin-waiting for the next call
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

    def run_batched(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, ...]:
        """Tokenized once, batched by token count: less padding than batching the texts as they come."""
        return batched(self.run, self.encode(texts), batch_size, length=lambda encoding: len(encoding.ids))

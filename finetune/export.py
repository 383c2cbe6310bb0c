"""`python -m finetune export --model DIR`: add an int8 ONNX graph (encoder + both heads) to a model directory.

The graph takes `input_ids` and `attention_mask` and returns the intent softmax and the emotion sigmoid, so
serving needs only onnxruntime, the tokenizer and numpy. Weights are quantized to int8 with ONNX Runtime's
dynamic quantization (activations are quantized per batch at run time): ~4x smaller and ~2-3x faster on CPU.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from bot import HelplineModel
from bot.model_format import ONNX_FILE, write_metadata

OPSET = 17


class _Probabilities(torch.nn.Module):
    """The network with its output activations, as exported."""

    def __init__(self, model: HelplineModel):
        super().__init__()
        self.network = model.network.eval()

    def forward(self, input_ids, attention_mask):
        intent_logits, emotion_logits = self.network(input_ids=input_ids, attention_mask=attention_mask)
        return torch.softmax(intent_logits, -1), torch.sigmoid(emotion_logits)


def export_onnx(model: HelplineModel, directory: str | os.PathLike) -> Path:
    """Write ``model.int8.onnx`` into the model directory and record it in the metadata."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    directory = Path(directory)
    sample = model.tokenize(["where is my order", "hi"])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        # The TorchScript-based exporter (dynamo=False) handles the Hugging Face BERT graph without extra
        # packages; dynamic axes keep batch size and sequence length free.
        torch.onnx.export(_Probabilities(model), (sample["input_ids"], sample["attention_mask"]), str(fp32),
                          input_names=["input_ids", "attention_mask"], output_names=["intent", "emotion"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                        "attention_mask": {0: "batch", 1: "sequence"},
                                        "intent": {0: "batch"}, "emotion": {0: "batch"}},
                          opset_version=OPSET, dynamo=False)
        target = directory / ONNX_FILE
        partial = directory / (ONNX_FILE + ".tmp")
        quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(partial, target)  # a reader never sees half a graph
    model.metadata["onnx"] = {"file": ONNX_FILE, "opset": OPSET, "quantization": "dynamic int8, per channel",
                              "inputs": ["input_ids", "attention_mask"], "outputs": ["intent", "emotion"]}
    write_metadata(directory, model.metadata)
    print(f"exported {target} ({target.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f} s")
    return target


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m finetune export", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a Helpline model directory; the graph is written into it")
    args = parser.parse_args(argv)
    return export_onnx(HelplineModel.from_pretrained(args.model), args.model)

"""`python -m finetune export --model DIR`: add an int8 ONNX graph (encoder + both heads) to a model directory.

The graph takes `input_ids` and `attention_mask` and returns the intent softmax and the emotion sigmoid, so
serving needs only onnxruntime, the tokenizer and numpy. Two int8 schemes (measured in benchmarks/RESULTS.md):

- ``dynamic`` (default): int8 weights per output channel (7-bit, so that CPUs without VNNI do not overflow),
  activations quantized per tensor at run time, each attention block fused into one node. The fastest.
- ``blockwise``: int8 weights in blocks of 32 (MatMulNBits), activations quantized per block. Closer to torch,
  but slower.
"""
from __future__ import annotations

import copy
import os
import random
import tempfile
import time
from pathlib import Path

import torch

from bot import HelplineModel
from bot.cli import parse_one
from bot.model.format import ONNX_FILE, write_metadata
from finetune import PROG

from .fusion import fuse_attention
from .smoothing import detach_attention_scales, has_bert_layout, smoothed

OPSET = 17
OUTPUTS = ("intent", "emotion", "sentence")


class _Probabilities(torch.nn.Module):
    """The network with its output activations, as exported, and the pooled sentence vector (what the
    out-of-scope detector reads, bot/model/oos.py)."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network.eval()

    def forward(self, input_ids, attention_mask):
        pooled = self.network.embed(input_ids=input_ids, attention_mask=attention_mask)
        intent_logits, emotion_logits = self.network.heads(pooled)
        return torch.softmax(intent_logits, -1), torch.sigmoid(emotion_logits), pooled


QUANTIZATIONS = ("dynamic", "blockwise")


def quantize(fp32: Path, target: Path, scheme: str, reduce_range: bool = True) -> str:
    """Quantize the fp32 graph into ``target``; returns a description for the metadata.

    reduce_range: 7-bit weights. Without VNNI (AVX2-only x86, e.g. an AMD EPYC Zen 3), ONNX Runtime's
    u8 x s8 kernel adds pairs of products in 16 bits, which overflow with full 8-bit weights: on such a CPU
    the full-range graph of a tiny test model was off by 0.24 in an intent probability, the 7-bit one by
    0.016; on the first-start model the mean intent / emotion probability error against torch fell from
    0.0020 / 0.0024 to 0.0015 / 0.0020 (unfused graphs). A graph may be served on any CPU, so 7 bits is the default."""
    import onnx

    if scheme == "dynamic":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # MatMulConstBOnly: only weight matrices; the attention score products stay float
        quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=reduce_range,
                         extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT})
        return f"dynamic int8: {7 if reduce_range else 8}-bit weights per channel, activations per tensor"
    if scheme == "blockwise":
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        quantizer = MatMulNBitsQuantizer(onnx.load(str(fp32)), bits=8, block_size=32, is_symmetric=True,
                                         accuracy_level=4)
        quantizer.process()
        quantizer.model.save_model_to_file(str(target), use_external_data_format=False)
        return "blockwise int8 (MatMulNBits, blocks of 32, int8 compute)"
    raise ValueError(f"--quantization must be one of {QUANTIZATIONS}, not {scheme!r}")


def _export_fp32(network: torch.nn.Module, sample: dict, path: Path) -> None:
    # The TorchScript-based exporter (dynamo=False) handles the Hugging Face BERT graph without extra
    # packages; dynamic axes keep batch size and sequence length free.
    torch.onnx.export(_Probabilities(network), (sample["input_ids"], sample["attention_mask"]), str(path),
                      input_names=["input_ids", "attention_mask"], output_names=list(OUTPUTS),
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                    "attention_mask": {0: "batch", 1: "sequence"},
                                    **{name: {0: "batch"} for name in OUTPUTS}},
                      opset_version=OPSET, dynamo=False)


def _fused(network: torch.nn.Module, smooth: bool, sample: dict, fp32: Path) -> Path | None:
    """The float graph with each attention block fused (finetune/fusion.py), or None if it does not fuse.
    Unsmoothed, the graph fused is the network's own, written to ``fp32`` (which then serves if it does not
    fuse); smoothed, a copy with the attention scales detached is exported beside it."""
    fusable = copy.deepcopy(network) if smooth else network  # detaching the scales changes the network
    scales = detach_attention_scales(fusable) if smooth else None
    source = fp32.with_name("fusable.fp32.onnx") if smooth else fp32
    _export_fp32(fusable, sample, source)
    config = network.encoder.config
    fused = fp32.with_name("fused.fp32.onnx")
    ok = fuse_attention(source, fused, config.num_attention_heads, config.hidden_size, config.num_hidden_layers,
                        scales)
    return fused if ok else None


def export_onnx(model: HelplineModel, directory: str | os.PathLike, quantization: str = "dynamic",
                calibration_texts: list[str] | None = None, fuse: bool = True, reduce_range: bool = True) -> Path:
    """Write ``model.int8.onnx`` into the model directory and record it in the metadata.

    calibration_texts: a few hundred texts like the model's data (training passes a sample of its own). With
    them the dynamic int8 graph is SmoothQuant-ed (finetune/smoothing.py): on a Banking77 + GoEmotions model
    it halved the int8 graph's mean emotion-probability error (0.0029 -> 0.0017) at the same latency. Without
    them it is not: a few dozen generic messages underestimated the activation ranges and made it worse.

    fuse: fuse each attention block into one node before dynamic quantization (finetune/fusion.py); an
    encoder whose graph does not fuse is exported unfused. reduce_range: 7-bit weights (see ``quantize``)."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"--quantization must be one of {QUANTIZATIONS}, not {quantization!r}")
    # blockwise quantization scales blocks of 32 weights with per-block activations: outliers stay local
    smooth = bool(calibration_texts) and quantization == "dynamic"
    if smooth and not has_bert_layout(model.network):
        print(f"{type(model.network.encoder).__name__} is not laid out like BERT: exporting without SmoothQuant")
        smooth = False
    if smooth:
        texts = list(calibration_texts)
        network = smoothed(model.network, [model.tokenize(texts[i:i + 64]) for i in range(0, len(texts), 64)])
    else:
        network = copy.deepcopy(model.network)
    # plain attention (matmul, softmax) exports to fewer nodes than SDPA and runs faster (RESULTS.md, Latency)
    network.encoder.set_attn_implementation("eager")

    directory = Path(directory)
    sample = model.tokenize(["where is my order", "hi"])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        fused = _fused(network, smooth, sample, fp32) if fuse and quantization == "dynamic" else None
        if fused is None and not fp32.exists():  # unfused: unless fusing already exported this very graph
            _export_fp32(network, sample, fp32)
        target = directory / ONNX_FILE
        partial = directory / (ONNX_FILE + ".tmp")
        description = quantize(fused or fp32, partial, quantization, reduce_range) + (
            ", fused attention" if fused else "")
        os.replace(partial, target)  # a reader never sees half a graph
    model.metadata["onnx"] = {"file": ONNX_FILE, "opset": OPSET,
                              "quantization": description + (", SmoothQuant" if smooth else ""),
                              "inputs": ["input_ids", "attention_mask"], "outputs": list(OUTPUTS)}
    write_metadata(directory, model.metadata)
    print(f"exported {target} ({target.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f} s")
    return target


def add_parser(subparsers, name: str, help: str | None):
    parser = subparsers.add_parser(name, help=help, description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a Helpline model directory; the graph is written into it")
    parser.add_argument("--quantization", default="dynamic", choices=QUANTIZATIONS,
                        help="dynamic: fastest (default); blockwise: closest to the torch model, ~1.6x slower")
    parser.add_argument("--calibration-data", nargs="*", default=[],
                        help="data like the model's (any intent data format, or a GoEmotions folder): 512 of its "
                             "texts measure activation ranges for SmoothQuant. Without it the graph is not smoothed")
    parser.add_argument("--no-fusion", action="store_true",
                        help="keep each attention block as separate nodes (fusing is faster on two threads)")
    parser.add_argument("--full-range", action="store_true",
                        help="8-bit instead of 7-bit weights: a little closer to torch where the serving CPU has "
                             "VNNI (AVX512-VNNI / AVX-VNNI); wrong by up to ~0.2 in a probability on CPUs without it")
    parser.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> Path:
    return run(parse_one(add_parser, "export", argv, PROG))


def run(args) -> Path:
    texts = calibration_sample(read_texts(args.calibration_data)) if args.calibration_data else None
    if texts is None and args.quantization == "dynamic":
        print("no --calibration-data: exporting without SmoothQuant (pass the training data to smooth)")
    return export_onnx(HelplineModel.from_pretrained(args.model, backend="torch"), args.model, args.quantization, texts,
                       fuse=not args.no_fusion, reduce_range=not args.full_range)


def calibration_sample(texts: list[str], seed: int = 42, n: int = 512) -> list[str]:
    """Up to n of ``texts`` at random: what training and the command line both calibrate SmoothQuant on."""
    return random.Random(seed).sample(texts, min(n, len(texts)))


def read_texts(paths: list[str]) -> list[str]:
    """The training texts of intent data files and GoEmotions folders."""
    from .data import load_emotion_data, load_intent_data

    texts: list[str] = []
    for path in paths:
        is_goemotions = Path(path).is_dir() and (Path(path) / "labels.txt").is_file()
        texts += list((load_emotion_data(path).train if is_goemotions else load_intent_data(path).train)["text"])
    return texts

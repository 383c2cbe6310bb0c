"""Fuse each attention block of the exported float graph into one ONNX Runtime `Attention` node.

Unfused, an attention block is ~60 small nodes (three projections, reshapes, transposes, two matmuls, a
softmax); ONNX Runtime runs them one after another, and a one-message batch is too small to keep two threads
busy in any of them. The fused `Attention` node (which dynamic quantization turns into `QAttention`, one int8
QKV projection) splits its work over heads and threads, so it is faster where several threads can help
(benchmarks/RESULTS.md has the measurements, by CPU).

SmoothQuant puts a Mul in front of the Q/K/V projections and of the output projection, which hides the pattern
from the optimizer, so the network is exported with those Muls taken out (finetune.smoothing.
detach_attention_scales) and they are put back here, on the fused Attention node's input and output.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def fuse_attention(fp32: Path, target: Path, num_heads: int, hidden_size: int, layers: int,
                   inverse_scales: list[tuple[np.ndarray, np.ndarray]] | None = None) -> bool:
    """Write the fused graph of ``fp32`` to ``target``; False (nothing written) when the optimizer did not fuse
    every layer's attention, e.g. for an encoder that is not BERT-like: the unfused graph then serves."""
    from onnx import helper, numpy_helper
    from onnxruntime.transformers import optimizer

    model = optimizer.optimize_model(str(fp32), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                                     opt_level=1)
    graph = model.model.graph
    attention = [node for node in graph.node if node.op_type == "Attention"]  # in topological = layer order
    if len(attention) != layers or (inverse_scales is not None and len(inverse_scales) != layers):
        return False
    for i, node in enumerate(attention if inverse_scales is not None else []):
        before, after = (f"attention_{i}_smoothing_{where}" for where in ("input", "output"))
        for name, scale in ((before, inverse_scales[i][0]), (after, inverse_scales[i][1])):
            graph.initializer.append(numpy_helper.from_array(scale.astype(np.float32), name + "_scale"))
        # input side: x -> Mul -> Attention; output side: Attention -> Mul -> (the output projection)
        graph.node.append(helper.make_node("Mul", [node.input[0], before + "_scale"], [before + "_out"], name=before))
        node.input[0] = before + "_out"
        graph.node.append(helper.make_node("Mul", [after + "_in", after + "_scale"], [node.output[0]], name=after))
        node.output[0] = after + "_in"
    model.topological_sort()
    model.save_model_to_file(str(target))
    return True

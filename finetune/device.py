"""Where training runs: a CUDA GPU when torch sees one (`--device auto`, the default) or when asked for
(`--device cuda`), else the CPU; and whether the forward passes run in bfloat16 autocast there.

bfloat16 (`--bf16 auto`): on a GPU when it supports bfloat16 (Ampere and newer), on a CPU when it has AVX512-BF16
or AMX; weights, optimiser state and the saved model stay float32 either way.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from bot.model.device import pick_device


def cpu_has_bf16() -> bool:
    cpu = torch.cpu
    return bool(getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
                or getattr(cpu, "_is_amx_tile_supported", lambda: False)())


@dataclass(frozen=True)
class TrainingDevice:
    type: str    # "cpu" or "cuda"
    bf16: bool

    def autocast(self):
        return torch.autocast(self.type, dtype=torch.bfloat16, enabled=self.bf16)

    def put(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A batch's tensors on this device (a no-op on the CPU)."""
        return {name: tensor.to(self.type, non_blocking=True) for name, tensor in tensors.items()}

    def describe(self) -> str:
        return f"on {'the GPU' if self.type == 'cuda' else 'the CPU'}{' in bfloat16' if self.bf16 else ''}"


def training_device(requested: str = "auto", bf16: str = "auto") -> TrainingDevice:
    """The device for ``--device`` ("auto", "cpu", "cuda") and ``--bf16`` ("auto", "yes", "no")."""
    kind = pick_device(requested)
    if bf16 != "auto":
        return TrainingDevice(kind, bf16 == "yes")
    return TrainingDevice(kind, torch.cuda.is_bf16_supported() if kind == "cuda" else cpu_has_bf16())

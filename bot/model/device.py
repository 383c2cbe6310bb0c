"""Which device the torch encoder runs on. CPU is the default everywhere; a CUDA GPU is used when asked for
(`--device cuda`) or, with `--device auto`, when torch sees one. The ONNX path is CPU only."""
from __future__ import annotations

DEVICES = ("cpu", "cuda", "auto")


def pick_device(requested: str = "cpu") -> str:
    """"cpu" or "cuda" for a request of "cpu", "cuda" or "auto"; a clear ValueError when CUDA is asked for
    and torch sees no CUDA device."""
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {list(DEVICES)}, not {requested!r}")
    if requested == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        raise ValueError("--device cuda: torch sees no CUDA device (a CPU-only torch build, or no GPU); use "
                         "--device cpu or --device auto")
    return "cpu"

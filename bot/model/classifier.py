"""`Classifier`: the name serving code used before `HelplineModel` became the one model class. Kept for one
release as a thin alias: ``Classifier.load(dir, backend=...)`` is ``HelplineModel.from_pretrained(dir,
backend=...)``. New code uses `HelplineModel`.
"""
from __future__ import annotations

from bot.model.helpline_model import BACKENDS, HelplineModel

__all__ = ["BACKENDS", "Classifier"]


class Classifier(HelplineModel):
    """Deprecated alias of `HelplineModel` (one release)."""

    @classmethod
    def load(cls, model_dir, backend: str = "auto", threads: int | None = None, spin: bool = True,
             device: str = "cpu") -> Classifier:
        return cls.from_pretrained(model_dir, backend=backend, device=device, threads=threads, spin=spin)

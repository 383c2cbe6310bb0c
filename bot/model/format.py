"""The model directory format, readable without torch (the ONNX serving path must not import it).

A model directory holds:
  config.json, model.safetensors   the encoder, in Hugging Face format (loadable by AutoModel on its own)
  tokenizer files                  the encoder's tokenizer (tokenizer.json is what the ONNX path reads)
  heads.safetensors                the intent and emotion heads
  model.int8.onnx                  optional: encoder + both heads as one int8 ONNX graph (`finetune export`)
  helpline.json                    metadata: format_version, labels, thresholds, data fingerprints, metrics
  README.md                        a model card
"""
from __future__ import annotations

import json
import os
from pathlib import Path

FORMAT_VERSION = 1
METADATA_FILE = "helpline.json"
HEADS_FILE = "heads.safetensors"
ONNX_FILE = "model.int8.onnx"
REQUIRED_KEYS = ("intent_labels", "emotion_labels", "max_length")


def locate(path: str | os.PathLike) -> Path:
    """The local directory for a model path, or (online only) a Hub repository id downloaded to the cache."""
    directory = Path(path)
    if directory.exists():
        return directory
    if "/" in str(path) and not str(path).startswith((".", "/")) and not os.environ.get("HF_HUB_OFFLINE"):
        from huggingface_hub import snapshot_download  # a Hub id: kept for users who are online

        return Path(snapshot_download(str(path)))
    raise ValueError(f"no model at {path}: the directory does not exist. Train one with "
                     f"`python -m finetune train ... --output {path}`.")


def read_metadata(directory: Path) -> dict:
    """helpline.json, checked: present, valid JSON, a supported format_version, the keys serving needs."""
    meta_path = directory / METADATA_FILE
    if not meta_path.is_file():
        raise ValueError(f"{directory} is not a Helpline model directory: {METADATA_FILE} is missing. "
                         "Train one with `python -m finetune train`.")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_path} is not valid JSON ({exc}); the model directory is damaged.") from exc
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{meta_path}: model format_version {version!r} is not supported (this Helpline "
                         f"reads format_version {FORMAT_VERSION}); retrain or upgrade Helpline.")
    missing = [k for k in REQUIRED_KEYS if k not in metadata]
    if missing:
        raise ValueError(f"{meta_path}: metadata is missing {missing}; the model directory is damaged.")
    return metadata


def write_metadata(directory: Path, metadata: dict) -> None:
    # Written to a temporary file and renamed, so a reader never sees half a file.
    tmp = directory / (METADATA_FILE + ".tmp")
    tmp.write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    os.replace(tmp, directory / METADATA_FILE)


class ModelInfo:
    """Properties every model class reads from its metadata (``self.metadata``)."""
    metadata: dict

    @property
    def intent_labels(self) -> list[str]:
        return self.metadata["intent_labels"]

    @property
    def emotion_labels(self) -> list[str]:
        return self.metadata["emotion_labels"]

    @property
    def version(self) -> str:
        return self.metadata.get("model_version") or self.metadata.get("created", "unversioned")

"""The model registry: numbered model versions (v1, v2, ...), which one serves, and gated promotion.

    registry/
      registry.json   {"format_version": 1, "serving": "v2", "stack": ["v1", "v2"], "versions": {"v1": {...}},
                       "history": [...]}   (stack: the promotions rollback walks back through)
      v1/, v2/, ...   model directories (the usual format, see bot/model/format.py)

Each version records its metrics on the registry's fixed evaluation set, its data fingerprints and who/what
produced it. Promotion refuses a candidate that is worse than the serving model by more than the tolerance on
intent accuracy, OOS recall or emotion macro-F1, or worse on the counterfactual audit (finetune/counterfactual_audit.py:
a higher intent flip rate or a wider frustration or share-negative gap between groups of names and identity terms,
beyond `AUDIT_MARGINS`), unless forced with a reason (recorded). registry.json is
replaced atomically, so a serving process polling it never reads half a file. This module only reads and
writes JSON; training and evaluation (finetune/) fill in the metrics.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

from bot.model.format import METADATA_FILE

REGISTRY_FILE = "registry.json"
REGISTRY_FORMAT_VERSION = 1
GATED_METRICS = ("intent_accuracy", "oos_recall", "emotion_macro_f1")
DEFAULT_TOLERANCE = 0.01
# the counterfactual audit's worst cases (lower is fairer) and how much worse a candidate may be than the serving
# model: a flip rate 1 point higher, a gap in mean frustration or share read negative 0.02 wider
AUDIT_MARGINS = {"audit_flip_rate": 0.01, "audit_frustration_gap": 0.02, "audit_negative_gap": 0.02}
SHOWN_METRICS = GATED_METRICS + tuple(AUDIT_MARGINS)   # what the Model page lists per version


class RegistryError(ValueError):
    """A registry operation that cannot be done, with the reason."""


def is_registry(path: str | os.PathLike) -> bool:
    return (Path(path) / REGISTRY_FILE).is_file()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Registry:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    # ------------------------------------------------------------------------------------------ reading
    def read(self) -> dict:
        path = self.root / REGISTRY_FILE
        if not path.is_file():
            return {"format_version": REGISTRY_FORMAT_VERSION, "serving": None, "stack": [], "versions": {},
                    "history": []}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RegistryError(f"{path} is not valid JSON ({exc})") from exc
        if data.get("format_version") != REGISTRY_FORMAT_VERSION:
            raise RegistryError(f"{path}: registry format_version {data.get('format_version')!r} is not supported")
        return data

    def _write(self, data: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / (REGISTRY_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, self.root / REGISTRY_FILE)

    @property
    def serving(self) -> str | None:
        return self.read()["serving"]

    def path_of(self, version: str) -> Path:
        return self.root / version

    def serving_path(self) -> Path | None:
        serving = self.serving
        return self.path_of(serving) if serving else None

    def versions(self) -> dict[str, dict]:
        return self.read()["versions"]

    def next_version(self) -> str:
        numbers = [int(m.group(1)) for v in self.versions() if (m := re.fullmatch(r"v(\d+)", v))]
        numbers += [int(p.name[1:]) for p in self.root.glob("v*") if re.fullmatch(r"v\d+", p.name)]
        return f"v{max(numbers, default=0) + 1}"

    # ------------------------------------------------------------------------------------------ writing
    def add(self, version: str, metrics: dict, *, data: list | None = None, produced_by: str = "",
            notes: str = "", details: dict | None = None, evaluation: dict | None = None) -> dict:
        """Record a version whose model directory is already at ``root/version``. ``details`` (per-intent F1,
        confused pairs) go into its entry; ``evaluation`` names the registry's fixed evaluation files."""
        if not (self.path_of(version) / METADATA_FILE).is_file():
            raise RegistryError(f"{self.path_of(version)} holds no model")
        registry = self.read()
        entry = {"created": _now(), "metrics": metrics, "data": data or [], "produced_by": produced_by,
                 "notes": notes, **(details or {})}
        registry["versions"][version] = entry
        if evaluation:
            registry["evaluation"] = evaluation
        if registry["serving"] is None:  # the first version serves: there is nothing to compare it with
            registry["serving"], registry["stack"] = version, [version]
            registry["history"].append({"version": version, "at": _now(), "action": "first version"})
        self._write(registry)
        return entry

    def compare(self, candidate: str, tolerance: float = DEFAULT_TOLERANCE) -> list[str]:
        """The gated metrics on which ``candidate`` is worse than the serving model by more than ``tolerance``."""
        registry = self.read()
        if candidate not in registry["versions"]:
            raise RegistryError(f"no version {candidate} in {self.root}; known: {sorted(registry['versions'])}")
        serving = registry["serving"]
        if serving is None or serving == candidate:
            return []
        new, old = registry["versions"][candidate]["metrics"], registry["versions"][serving]["metrics"]
        worse = []
        for metric in GATED_METRICS:
            if metric in new and metric in old and new[metric] < old[metric] - tolerance:
                worse.append(f"{metric} {new[metric]:.4f} vs {old[metric]:.4f} serving ({serving})")
        for metric, margin in AUDIT_MARGINS.items():
            if metric in new and metric in old and new[metric] > old[metric] + margin:
                worse.append(f"{metric} {new[metric]:.4f} vs {old[metric]:.4f} serving ({serving}): less fair")
        return worse

    def promote(self, candidate: str, *, tolerance: float = DEFAULT_TOLERANCE, force: bool = False,
                reason: str = "", by: str = "", validate=None) -> dict:
        """Make ``candidate`` the serving version if it passes the gate (or ``force`` with a reason).
        ``validate``: loads the candidate's directory as serving would (and runs a test prediction), raising if
        it cannot serve; a version that fails is never promoted, forced or not."""
        worse = self.compare(candidate, tolerance)
        if validate is not None:
            try:
                validate(self.path_of(candidate))
            except Exception as exc:  # noqa: BLE001 - any failure to load means it cannot serve
                raise RegistryError(f"{candidate} cannot serve, so it was not promoted: {exc}") from exc
        if worse and not force:
            raise RegistryError(f"{candidate} is worse than the serving model beyond the tolerance {tolerance}: "
                                + "; ".join(worse) + ". Use --force --reason '...' to promote anyway.")
        if force and not reason.strip():
            raise RegistryError("a forced promotion needs a --reason")
        registry = self.read()
        event = {"version": candidate, "previous": registry["serving"], "at": _now(), "action": "promote",
                 "by": by, "forced": bool(worse and force), "reason": reason, "regressions": worse}
        registry["serving"] = candidate
        registry["stack"].append(candidate)  # what rollback walks back through
        registry["history"].append(event)
        self._write(registry)
        return event

    def rollback(self, by: str = "") -> dict:
        """Serve the version that served before the current one."""
        registry = self.read()
        if len(registry["stack"]) < 2:
            raise RegistryError("nothing to roll back to: no version served before the current one")
        current = registry["stack"].pop()
        previous = registry["stack"][-1]
        event = {"version": previous, "previous": current, "at": _now(), "action": "rollback", "by": by}
        registry["serving"] = previous
        registry["history"].append(event)
        self._write(registry)
        return event


def resolve_model_dir(path: str | os.PathLike) -> Path:
    """The model directory to serve: ``path`` itself, or a registry's serving version."""
    if is_registry(path):
        serving = Registry(path).serving_path()
        if serving is None:
            raise ValueError(f"the registry {path} has no serving version yet; promote one with "
                             "`python -m finetune promote VERSION`")
        return serving
    return Path(path)

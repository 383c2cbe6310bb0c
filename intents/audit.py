"""Edits of the YAML files agents change from the app (the catalogue, the canned responses): written whole or
not at all, never over someone else's newer edit, and recorded.

Each change appends one JSON line to ``<file>.audit.jsonl`` beside the file: when, who, the fingerprints before
and after, and a unified diff. An editor passes the fingerprint of the text it loaded (`fingerprint`); if the
file changed since, the save is refused with a message to load it again, so two agents editing at once cannot
silently overwrite each other.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import hashlib
import json
import os
from pathlib import Path

from .catalogue import CatalogueError

try:
    import fcntl
except ImportError:  # not POSIX: edits are still checked, without a lock across processes
    fcntl = None


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def audit_path(path: Path) -> Path:
    return path.with_name(path.name + ".audit.jsonl")


@contextlib.contextmanager
def _locked(path: Path):
    """One edit of ``path`` at a time, across the app's processes on this machine."""
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def replace_audited(path: str | os.PathLike, new_text: str, who: str, expected: str | None = None,
                    edit=None) -> str:
    """Replace the file with ``new_text`` (or, with ``edit``, with ``edit(current_text)``) and record it; returns
    the new text. ``expected``: the fingerprint of the text the editor started from; CatalogueError if the file
    has changed since."""
    path = Path(path)
    with _locked(path):
        before = path.read_text(encoding="utf-8") if path.exists() else ""
        if expected is not None and fingerprint(before) != expected:
            raise CatalogueError(f"{path.name} was changed by someone else since you loaded it; load it again, "
                                 "redo your edit and save")
        after = edit(before) if edit is not None else new_text
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(after, encoding="utf-8")
        os.replace(tmp, path)
        diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), "before", "after"))
        record = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "who": who or "unknown",
                  "file": path.name, "before": fingerprint(before), "after": fingerprint(after), "diff": diff}
        with audit_path(path).open("a", encoding="utf-8") as log:
            log.write(json.dumps(record, ensure_ascii=False) + "\n")
    return after

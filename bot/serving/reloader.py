"""Hot reload: serve a newly promoted model without a restart and without failing a request in flight.

`HELPLINE_MODEL` may be a model directory or a registry (see bot/registry/versions.py); for a registry the serving
version is read from registry.json. A `ModelWatcher` thread checks every few seconds; when the serving model
changed it loads the new one *beside* the old, then swaps the reference in one assignment (requests in flight
finish on the model they started with). A model that fails to load leaves the old one serving, and the error
is kept for the console to show. Every process watches on its own, so all processes behind one database pick
up a promotion within the polling interval. Given the catalogue's path, the watcher also re-reads the catalogue
when its file changes (an intent added on the Insights tab of any process); a broken edit keeps the last good
catalogue serving.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from bot.model.format import METADATA_FILE
from bot.registry.versions import resolve_model_dir

log = logging.getLogger("helpline.reload")


def fingerprint(path: str | os.PathLike) -> tuple:
    """What changes when a different model should serve: the resolved directory and its metadata's mtime."""
    try:
        directory = resolve_model_dir(path)
        return (str(directory), (directory / METADATA_FILE).stat().st_mtime_ns)
    except (OSError, ValueError) as exc:
        return ("unavailable", str(exc))


CHECK_INTERVAL = 2.0  # seconds between checks


def _mtime(path: str | None) -> int | None:
    try:
        return os.stat(path).st_mtime_ns if path else None
    except OSError:
        return None


class ModelWatcher:
    def __init__(self, helpline, model_path: str, load, interval: float = CHECK_INTERVAL,
                 catalogue: str | None = None):
        self.helpline = helpline
        self.model_path = model_path
        self.load = load                      # directory -> classifier
        self.interval = interval
        self.current = fingerprint(model_path)
        self.catalogue, self.catalogue_seen = catalogue, _mtime(catalogue)
        self.last_error: str | None = None
        self.last_reload: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="helpline-model-watcher", daemon=True)

    def start(self) -> ModelWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> bool:
        """Reload if the serving model changed; True when a new model now serves."""
        seen = fingerprint(self.model_path)
        if seen == self.current:
            return False
        self.current = seen  # do not retry a broken model every few seconds; a new change retries
        try:
            classifier = self.load(resolve_model_dir(self.model_path))
        except Exception as exc:  # noqa: BLE001 - any failure keeps the old model serving
            self.last_error = f"{time.strftime('%H:%M:%S')} could not load {seen[0]}: {exc}"
            log.error("keeping the current model: %s", self.last_error)
            return False
        self.helpline.swap_classifier(classifier)
        self.last_error = None
        self.last_reload = f"{time.strftime('%H:%M:%S')} now serving {classifier.version} from {seen[0]}"
        log.warning(self.last_reload)
        return True

    def check_catalogue(self) -> bool:
        """Re-read the catalogue if its file changed; True when the new one now serves."""
        seen = _mtime(self.catalogue)
        if seen == self.catalogue_seen:
            return False
        self.catalogue_seen = seen  # as for models: a broken edit is not retried until the file changes again
        try:
            self.helpline.reload_catalogue(self.catalogue)
        except Exception as exc:  # noqa: BLE001 - a broken edit keeps the last good catalogue serving
            log.error("keeping the current catalogue: %s", exc)
            return False
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()
            if self.catalogue:
                self.check_catalogue()

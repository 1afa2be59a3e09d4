"""Small JSON files that the gateway's workers share in one directory: a guard trip, the last shadow mismatches.

The directory is ``gateway-state`` inside ``PROMETHEUS_MULTIPROC_DIR``, which the gunicorn
master prepares before the workers start; without that variable (tests, one process) there
is nothing to share and every call does nothing. Files are replaced by rename, so a reader
sees a whole old file or a whole new one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cinema_common.multiproc import MULTIPROC_ENV

log = logging.getLogger(__name__)
FOLDER_NAME = "gateway-state"


class WorkerFiles:
    """Reads and writes the JSON files the workers share; with no folder, writes are dropped and reads are empty."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> WorkerFiles:
        """Use the folder inside ``PROMETHEUS_MULTIPROC_DIR`` when it is set."""
        base = environ.get(MULTIPROC_ENV, "").strip()
        return cls(Path(base) / FOLDER_NAME if base else None)

    def write(self, name: str, value: Any) -> None:
        """Replace file ``name`` with ``value`` as JSON; a failure is logged, never raised."""
        if self.folder is None:
            return
        try:
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.")
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(value, file)
            os.replace(temporary, self.folder / name)
        except OSError as error:
            log.warning("could not write a file the workers share", extra={"file": name, "reason": str(error)})

    def read(self, name: str) -> Any:
        """Return the JSON in file ``name``, or None when it is missing or unreadable."""
        if self.folder is None:
            return None
        try:
            return json.loads((self.folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def read_all(self, prefix: str, *, skip: str = "") -> list[Any]:
        """Return the JSON of every readable file whose name starts with ``prefix``, except file ``skip``."""
        if self.folder is None:
            return []
        found = []
        for path in sorted(self.folder.glob(f"{prefix}*")):
            if path.name == skip:
                continue
            value = self.read(path.name)
            if value is not None:
                found.append(value)
        return found


def remove_folder(environ: Mapping[str, str] = os.environ) -> None:
    """Delete the shared folder of an earlier run (the gunicorn master calls this before forking)."""
    base = environ.get(MULTIPROC_ENV, "").strip()
    if base:
        shutil.rmtree(Path(base) / FOLDER_NAME, ignore_errors=True)

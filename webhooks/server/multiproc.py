"""Prepare prometheus_client's multi-process directory before prometheus_client is imported.

prometheus_client decides at import time whether samples live in process memory or in files
under ``PROMETHEUS_MULTIPROC_DIR``; under gunicorn they must be files, so this runs first (it
deliberately imports nothing from prometheus_client). Files left by a previous run would be
merged into the new counts, so the directory is emptied of them at start, as the
prometheus_client documentation asks.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir() -> str:
    """Use $PROMETHEUS_MULTIPROC_DIR (wiped of old samples) or a private temporary directory."""
    given = os.environ.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
        return str(path)
    made = tempfile.mkdtemp(prefix="truthgate-metrics-")
    # gunicorn workers inherit atexit handlers and leave through sys.exit, so they run them:
    # only the process that made the directory may remove it (a recycled worker must not).
    owner = os.getpid()
    atexit.register(_remove_if_owner, made, owner)
    os.environ[ENV] = made
    return made


def _remove_if_owner(path: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)

"""One process at a time creates a local store: an inter-process lock around the first creation.

Two first runs at once in an empty workspace would both find no MLflow tables (``sqlite:///mlflow.db``)
or no catalog file and both create them: MLflow's registry store creates its tables without a lock
(``table latest_metrics already exists``). The lock is a ``flock`` on a file in the temporary folder
named after the store's absolute path (never in the workspace, and never the database file itself:
closing another descriptor of a SQLite file would drop the process's own SQLite locks on it).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def lock_path(store: str | os.PathLike[str]) -> Path:
    """The lock file of a store file (by its absolute path, so every working directory agrees)."""
    key = hashlib.sha256(str(Path(store).resolve()).encode("utf-8")).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / f"mlpublish-create-{key}.lock"


@contextmanager
def creating(store: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the lock of ``store`` for the block (blocks until no other process holds it)."""
    path = lock_path(store)
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

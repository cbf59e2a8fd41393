"""A local MLflow store (``sqlite:///mlflow.db``, the default) is created by one process at a time.

MLflow creates a SQLite store's tables on first use, and its model registry store does so without a
lock: two first runs at once in an empty workspace fail with ``table latest_metrics already exists``.
:func:`prepare_local_store` creates the tracking and registry stores of a SQLite URI under
:func:`mlpublish.creation_lock.creating`, once per process and file; a second process waits, then
finds the tables there.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from mlpublish.creation_lock import creating

log = logging.getLogger("mlpublish.registry")

_prepared: set[Path] = set()
_guard = threading.Lock()


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (absolute), else None (a server, another database)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return Path(path).resolve() if path and path != ":memory:" else None


def prepare_local_store(*uris: str) -> None:
    """Create the MLflow stores of the SQLite URIs among ``uris`` under the creation lock (once per process)."""
    for uri in dict.fromkeys(uris):
        path = sqlite_file(uri)
        if path is None:
            continue
        with _guard:
            if path in _prepared:
                continue
            with creating(path):
                try:
                    from mlflow import MlflowClient

                    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
                    client.search_experiments(max_results=1)  # creates the tracking tables
                    client.search_registered_models(max_results=1)  # and the registry's (MLflow does not lock them)
                except Exception as exc:  # reported by the first real call, through the gateway's errors
                    log.debug("could not prepare the MLflow store %s: %s", path.name, type(exc).__name__)
                    continue
            _prepared.add(path)

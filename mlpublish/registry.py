"""The MLflow registry: versions, aliases, validation tags, and a lock for compare-and-set.

MLflow has no compare-and-set on aliases, so moves of ``champion`` happen under
a registry-wide lock that every client of the same registry sees; its protocol
is in :mod:`mlpublish.registry_lock`.
"""

from __future__ import annotations

import json
import logging
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any

from mlpublish import registry_lock
from mlpublish.errors import NotFound, RegistryError
from mlpublish.redact import scrub
from mlpublish.registry_lock import LOCK_PREFIX  # noqa: F401  (re-exported: the lock's name is part of the contract)

VALIDATION_TAG = "model_validation_status"
CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "mlpublish.champion_history"
PREVIOUS_TAG = "mlpublish.previous_champion"
HISTORY_KEEP = 25

log = logging.getLogger("mlpublish.registry")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _code(exc: Exception) -> str:
    return str(getattr(exc, "error_code", "") or "")


class Registry:
    """Thin, error-translating wrapper around :class:`mlflow.MlflowClient`."""

    def __init__(self, tracking_uri: str, registry_uri: str | None = None):
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return fn(*args, **kwargs)
        except MlflowException as exc:
            if _code(exc) == "RESOURCE_DOES_NOT_EXIST":
                raise NotFound(scrub(f"{what}: not found in the registry at {self.tracking_uri}")) from None
            raise RegistryError(scrub(f"{what} failed at {self.tracking_uri}: {exc.message}")) from None
        except (OSError, ConnectionError) as exc:
            raise RegistryError(scrub(f"{what}: cannot reach MLflow at {self.tracking_uri} ({exc.__class__.__name__})")) from None
        except Exception as exc:  # e.g. sqlalchemy errors from a database tracking store that is down
            raise RegistryError(scrub(f"{what} failed at {self.tracking_uri}: {exc.__class__.__name__}: {exc}")) from None

    # Experiments -------------------------------------------------------------
    def ensure_experiment(self, name: str, artifact_location: str | None) -> str:
        from mlflow.exceptions import MlflowException

        exp = self._call(f"experiment {name!r}", self.client.get_experiment_by_name, name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self._call(f"restore experiment {name!r}", self.client.restore_experiment, exp.experiment_id)
            return exp.experiment_id
        try:
            return self.client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException as exc:
            if _code(exc) == "RESOURCE_ALREADY_EXISTS":  # created concurrently
                return self.client.get_experiment_by_name(name).experiment_id
            raise RegistryError(scrub(f"create experiment {name!r}: {exc.message}")) from None

    # Registered models ---------------------------------------------------------
    def ensure_registered_model(self, name: str, description: str | None) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(name, description=description)
        except MlflowException as exc:
            if _code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise RegistryError(scrub(f"register model {name!r}: {exc.message}")) from None

    def model_tags(self, name: str) -> dict[str, str]:
        return dict(self._call(f"model {name!r}", self.client.get_registered_model, name).tags)

    def aliases(self, name: str) -> dict[str, str]:
        rm = self._call(f"model {name!r}", self.client.get_registered_model, name)
        return {a: str(v) for a, v in (rm.aliases or {}).items()}

    def alias_version(self, name: str, alias: str) -> str | None:
        try:
            return self.aliases(name).get(alias)
        except NotFound:
            return None

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.verify_lock(name)
        self._call(f"set alias {alias}={version} on {name!r}", self.client.set_registered_model_alias, name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        try:
            self._call(f"delete alias {alias} on {name!r}", self.client.delete_registered_model_alias, name, alias)
        except NotFound:
            pass

    # Versions ------------------------------------------------------------------
    def versions(self, name: str) -> list[Any]:
        found = self._call(f"versions of {name!r}", self.client.search_model_versions, f"name = '{_q(name)}'")
        return sorted(found, key=lambda v: int(v.version))

    def version_for_run(self, name: str, run_id: str) -> Any | None:
        found = self._call(
            f"versions of {name!r} for run {run_id}",
            self.client.search_model_versions,
            f"name = '{_q(name)}' and run_id = '{_q(run_id)}'",
        )
        return min(found, key=lambda v: int(v.version)) if found else None

    def get_version(self, name: str, version: str) -> Any:
        return self._call(f"model {name!r} version {version}", self.client.get_model_version, name, str(version))

    def create_version(self, name: str, source: str, run_id: str, model_id: str | None, tags: dict[str, str], description: str | None) -> Any:
        self.verify_lock(name)
        return self._call(
            f"create version of {name!r} for run {run_id}",
            self.client.create_model_version,
            name, source, run_id=run_id, tags=tags, description=description, model_id=model_id,
        )

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self._call(f"tag {key} on {name!r} version {version}", self.client.set_model_version_tag, name, str(version), key, value)

    # Runs ----------------------------------------------------------------------
    def run(self, run_id: str) -> Any:
        return self._call(f"run {run_id}", self.client.get_run, run_id)

    def set_run_tag(self, run_id: str, key: str, value: str) -> None:
        self._call(f"tag {key} on run {run_id}", self.client.set_tag, run_id, key, value)

    # Champion history ----------------------------------------------------------
    def history(self, name: str) -> list[dict[str, Any]]:
        raw = self.model_tags(name).get(HISTORY_TAG)
        try:
            return json.loads(raw) if raw else []
        except ValueError:
            return []

    def record_champion_move(self, name: str, *, to: str, frm: str | None, action: str, reason: str) -> dict[str, Any]:
        entry = {"to": to, "from": frm, "action": action, "at": now_iso(), "reason": reason[:200]}
        hist = (self.history(name) + [entry])[-HISTORY_KEEP:]
        self._call("record champion history", self.client.set_registered_model_tag, name, HISTORY_TAG, json.dumps(hist, separators=(",", ":")))
        if frm is not None:
            self._call("record previous champion", self.client.set_registered_model_tag, name, PREVIOUS_TAG, frm)
        return entry

    # Lock (the protocol is in mlpublish.registry_lock) ----------------------------------------------------
    def lock(self, name: str, *, timeout: float = 120.0, lease: float = 300.0) -> AbstractContextManager[None]:
        """Hold the registry-wide lock for ``name``: see :mod:`mlpublish.registry_lock`."""
        return registry_lock.lock(self, name, timeout=timeout, lease=lease)

    def verify_lock(self, name: str) -> None:
        """Right before a guarded write: raise RegistryConflict if the lock we hold on ``name`` was taken from us."""
        registry_lock.verify_lock(self, name)


def _q(value: str) -> str:
    """Escape a value for an MLflow search filter string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")

"""The MLflow registry: versions, aliases, validation tags, and a lock for compare-and-set.

MLflow has no compare-and-set on aliases, so moves of ``champion`` happen under
a registry-wide lock that every client of the same registry sees: a registered
model named ``mlpublish-lock.<model>``. Creating a registered model is atomic
(unique name in the registry database), deleting it releases the lock, and a
lock whose lease expired (its holder died) is broken by the next contender. A
holder that provably died (same host and process namespace, process gone: a
killed task about to be retried) is broken at once instead of after its lease.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator

from mlpublish.errors import NotFound, RegistryConflict, RegistryError
from mlpublish.redact import scrub

VALIDATION_TAG = "model_validation_status"
CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "mlpublish.champion_history"
PREVIOUS_TAG = "mlpublish.previous_champion"
LOCK_PREFIX = "mlpublish-lock."
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
        self._held: dict[str, str] = {}  # model name -> owner token of the lock we hold
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

    # Lock ----------------------------------------------------------------------
    @contextmanager
    def lock(self, name: str, *, timeout: float = 120.0, lease: float = 300.0) -> Iterator[None]:
        """Hold the registry-wide lock for ``name`` (see module docstring)."""
        from mlflow.exceptions import MlflowException

        lock_name = f"{LOCK_PREFIX}{name}"
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                self.client.create_registered_model(
                    lock_name,
                    tags={"owner": owner, "expires_at": str(time.time() + lease), "pidns": _pid_namespace()},
                    description=f"mlpublish lock for {name}: held while aliases move; safe to delete if stale",
                )
                break
            except MlflowException as exc:
                if _code(exc) != "RESOURCE_ALREADY_EXISTS":
                    raise RegistryError(scrub(f"lock for {name!r}: {exc.message}")) from None
            self._break_if_stale(lock_name)
            if time.monotonic() > deadline:
                raise RegistryConflict(f"model {name!r} is locked by another publish (registered model {lock_name!r}) for more than {timeout:.0f}s")
            time.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 1.0)
        self._held[name] = owner
        try:
            yield
        finally:
            self._held.pop(name, None)
            self._take_down(lock_name, owner)

    def verify_lock(self, name: str) -> None:
        """Right before a guarded write: raise RegistryConflict if our lock was taken from us.

        That happens only if we held it past its lease (a stalled process) and
        another publish broke it; writing then could undo that publish's work.
        """
        owner = self._held.get(name)
        if owner is None:
            return
        try:
            current = self.client.get_registered_model(f"{LOCK_PREFIX}{name}").tags.get("owner")
        except Exception:
            current = None
        if current != owner:
            raise RegistryConflict(f"lost the lock on {name!r} (held past its lease; now held by {current or 'nobody'}): "
                                   "nothing was changed, retry the step")

    def _take_down(self, lock_name: str, owner: str | None) -> bool:
        """Remove the lock iff it belongs to ``owner`` (None: to whoever held it when we looked).

        A read-then-delete could remove a lock that someone else took in between.
        Renaming is atomic and succeeds for exactly one caller: we rename the lock
        out of the way, check whose it was, and put it back if it was not ours.
        """
        from mlflow.exceptions import MlflowException

        try:
            expected = owner or self.client.get_registered_model(lock_name).tags.get("owner")
        except MlflowException:
            return False
        tomb = f"{lock_name}.released.{uuid.uuid4().hex}"
        try:
            self.client.rename_registered_model(lock_name, tomb)
        except MlflowException:
            return False  # gone already, or someone else moved it first
        try:
            if self.client.get_registered_model(tomb).tags.get("owner") == expected:
                self.client.delete_registered_model(tomb)
                return True
            self.client.rename_registered_model(tomb, lock_name)  # not the one we meant: put it back
        except MlflowException:
            # Someone took the lock name meanwhile: the renamed lock cannot go back. Its
            # holder finds out at verify_lock() before writing; remove the leftover.
            log.warning("lock %s changed hands while being taken down; removing leftover %s", lock_name, tomb)
            try:
                self.client.delete_registered_model(tomb)
            except MlflowException:
                pass
        return False

    def _break_if_stale(self, lock_name: str) -> None:
        """A lock whose lease ran out (its holder died) is taken down by one contender."""
        from mlflow.exceptions import MlflowException

        try:
            held = self.client.get_registered_model(lock_name)
            stale = float(held.tags.get("expires_at", "inf")) < time.time() or _holder_gone(held.tags)
        except (MlflowException, ValueError):
            return
        if stale:
            self._take_down(lock_name, held.tags.get("owner"))


def _pid_namespace() -> str:
    """This process's PID namespace: process ids only mean the same process within one namespace."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _holder_gone(tags: dict[str, str]) -> bool:
    """The lock's holder ran on this host, in this PID namespace, and its process no longer exists.

    Without this, the retry of a task killed while holding the lock (OOM kill,
    worker restart, an MLflow server crash mid-step) waits out the whole lease,
    longer than the lock timeout, and fails. Holders elsewhere keep their lease.
    """
    host, _, rest = tags.get("owner", "").partition(":")
    pid = rest.partition(":")[0]
    ns = tags.get("pidns", "")
    if host != socket.gethostname() or not ns or ns != _pid_namespace() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by another user
        return False
    return False


def _q(value: str) -> str:
    """Escape a value for an MLflow search filter string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")

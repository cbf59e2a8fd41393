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

import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from mlpublish.errors import NotFound, RegistryConflict, RegistryError
from mlpublish.redact import scrub

LOCK_PREFIX = "mlpublish-lock."

log = logging.getLogger("mlpublish.registry")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _code(exc: Exception) -> str:
    return str(getattr(exc, "error_code", "") or "")


class Registry:
    """The MLflow gateway: every MlflowClient call of the core goes through a method here.

    Each method translates MLflow's errors (see :meth:`_call`) into NotFound or
    RegistryError naming what was asked and where, with secrets scrubbed.
    """

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
            raise RegistryError(
                scrub(f"{what}: cannot reach MLflow at {self.tracking_uri} ({exc.__class__.__name__})")
            ) from None
        except Exception as exc:  # e.g. sqlalchemy errors from a database tracking store that is down
            raise RegistryError(
                scrub(f"{what} failed at {self.tracking_uri}: {exc.__class__.__name__}: {exc}")
            ) from None

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
        self._call(
            f"set alias {alias}={version} on {name!r}", self.client.set_registered_model_alias, name, alias, version
        )

    def delete_alias(self, name: str, alias: str) -> None:
        try:
            self._call(f"delete alias {alias} on {name!r}", self.client.delete_registered_model_alias, name, alias)
        except NotFound:
            pass

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self._call(f"tag {key} on {name!r}", self.client.set_registered_model_tag, name, key, value)

    def has_registered_model(self, name: str) -> bool:
        try:
            self._call(f"model {name!r}", self.client.get_registered_model, name)
        except NotFound:
            return False
        return True

    # Versions ------------------------------------------------------------------
    def versions(self, name: str) -> list[Any]:
        found = self._call(
            f"versions of {name!r}", self.client.search_model_versions, f"name = '{escape_filter_value(name)}'"
        )
        return sorted(found, key=lambda v: int(v.version))

    def version_for_run(self, name: str, run_id: str) -> Any | None:
        found = self._call(
            f"versions of {name!r} for run {run_id}",
            self.client.search_model_versions,
            f"name = '{escape_filter_value(name)}' and run_id = '{escape_filter_value(run_id)}'",
        )
        return min(found, key=lambda v: int(v.version)) if found else None

    def get_version(self, name: str, version: str) -> Any:
        return self._call(f"model {name!r} version {version}", self.client.get_model_version, name, str(version))

    def create_version(
        self, name: str, source: str, run_id: str, model_id: str | None, tags: dict[str, str], description: str | None
    ) -> Any:
        self.verify_lock(name)
        return self._call(
            f"create version of {name!r} for run {run_id}",
            self.client.create_model_version,
            name,
            source,
            run_id=run_id,
            tags=tags,
            description=description,
            model_id=model_id,
        )

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self._call(
            f"tag {key} on {name!r} version {version}",
            self.client.set_model_version_tag,
            name,
            str(version),
            key,
            value,
        )

    def delete_version_tag(self, name: str, version: str, key: str) -> None:
        self._call(
            f"remove tag {key} of {name} v{version}", self.client.delete_model_version_tag, name, str(version), key
        )

    def copy_version(self, source_uri: str, name: str, what: str) -> Any:
        """MLflow's copy_model_version: ``source_uri`` (``models:/...``) must resolve in this same registry."""
        return self._call(what, self.client.copy_model_version, source_uri, name)

    def download_version(self, name: str, version: str, dst_path: str) -> str:
        """The files of a registered version, downloaded into ``dst_path``; returns their local path."""
        import mlflow.artifacts

        uri = self._call(
            f"download URI of {name} v{version}", self.client.get_model_version_download_uri, name, str(version)
        )
        return self._call(
            f"download the model files of {name} v{version} from {uri}",
            mlflow.artifacts.download_artifacts,
            artifact_uri=uri,
            dst_path=dst_path,
            tracking_uri=self.tracking_uri,
        )

    def logged_model_location(self, model_id: str) -> str:
        return self._call(f"logged model {model_id}", self.client.get_logged_model, model_id).artifact_location

    # Runs ----------------------------------------------------------------------
    def experiment_id(self, name: str) -> str | None:
        """The id of experiment ``name``, None when there is none."""
        exp = self._call(f"experiment {name!r}", self.client.get_experiment_by_name, name)
        return None if exp is None else exp.experiment_id

    def run(self, run_id: str) -> Any:
        return self._call(f"run {run_id}", self.client.get_run, run_id)

    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str,
        *,
        what: str = "search runs",
        order_by: list[str] | None = None,
        max_results: int | None = None,
    ) -> list[Any]:
        """Runs matching ``filter_string`` (quote values with :func:`escape_filter_value`)."""
        options: dict[str, Any] = {"filter_string": filter_string}
        if order_by is not None:
            options["order_by"] = order_by
        if max_results is not None:
            options["max_results"] = max_results
        return list(self._call(what, self.client.search_runs, experiment_ids, **options))

    def create_run(self, experiment_id: str, run_name: str, tags: dict[str, str], what: str = "create run") -> str:
        """A new run (status RUNNING); returns its id. Finish it with :meth:`end_run`."""
        return self._call(what, self.client.create_run, experiment_id, run_name=run_name, tags=tags).info.run_id

    def end_run(self, run_id: str, status: str = "FINISHED", what: str = "end run") -> None:
        self._call(what, self.client.set_terminated, run_id, status)

    def delete_run(self, run_id: str) -> None:
        self._call(f"delete run {run_id}", self.client.delete_run, run_id)

    def set_run_tag(self, run_id: str, key: str, value: str) -> None:
        self._call(f"tag {key} on run {run_id}", self.client.set_tag, run_id, key, value)

    def log_metric(self, run_id: str, key: str, value: float, what: str = "log metrics") -> None:
        self._call(what, self.client.log_metric, run_id, key, value)

    def log_batch(
        self,
        run_id: str,
        metrics: dict[str, float],
        params: dict[str, Any] | None = None,
        *,
        timestamp_ms: int = 0,
        what: str = "log metrics",
    ) -> None:
        """Metrics (at ``timestamp_ms``, step 0) and params in one request."""
        from mlflow.entities import Metric, Param

        self._call(
            what,
            self.client.log_batch,
            run_id,
            metrics=[Metric(k, float(v), timestamp_ms, 0) for k, v in metrics.items()],
            params=[Param(k, str(v)) for k, v in (params or {}).items()],
        )

    # Artifacts of runs -------------------------------------------------------------
    def log_text(self, run_id: str, text: str, path: str) -> None:
        self._call(f"log {path} on run {run_id}", self.client.log_text, run_id, text, path)

    def log_dict(self, run_id: str, data: Any, path: str, what: str | None = None) -> None:
        self._call(what or f"log {path} on run {run_id}", self.client.log_dict, run_id, data, path)

    def log_artifacts(
        self, run_id: str, local_dir: str, artifact_path: str | None = None, what: str | None = None
    ) -> None:
        self._call(
            what or f"upload artifacts to run {run_id}", self.client.log_artifacts, run_id, local_dir, artifact_path
        )

    def artifact_paths(self, run_id: str, folder: str) -> set[str]:
        """Paths of the artifacts directly in ``folder`` of the run (relative to the run's root)."""
        return {a.path for a in self._call(f"artifacts of run {run_id}", self.client.list_artifacts, run_id, folder)}

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None) -> str:
        """Download ``path`` of the run (its root: every artifact) and return the local path."""
        return self._call(
            f"download {path or 'the artifacts'} of run {run_id}",
            self.client.download_artifacts,
            run_id,
            path,
            dst_path,
        )

    def read_text(self, run_id: str, path: str) -> str | None:
        """The text of artifact ``path`` of the run, None when the run has no such artifact."""
        folder = path.rsplit("/", 1)[0] if "/" in path else ""
        if path not in self.artifact_paths(run_id, folder):
            return None
        with open(self.download_artifacts(run_id, path), encoding="utf-8") as fh:
            return fh.read()

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
                raise RegistryConflict(
                    f"model {name!r} is locked by another publish (registered model {lock_name!r}) for more than {timeout:.0f}s"
                )
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
            raise RegistryConflict(
                f"lost the lock on {name!r} (held past its lease; now held by {current or 'nobody'}): "
                "nothing was changed, retry the step"
            )

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


def escape_filter_value(value: str) -> str:
    """Escape a value for a quoted literal in an MLflow search filter string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")

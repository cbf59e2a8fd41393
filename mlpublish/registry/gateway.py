"""The MLflow gateway: every MlflowClient call of the core (runs, artifacts, versions, aliases, tags).

MLflow has no compare-and-set on aliases, so moves of ``champion`` happen under
a registry-wide lock that every client of the same registry sees; its protocol
is in :mod:`mlpublish.registry.lock`.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Any

from mlpublish.errors import NotFound, RegistryError
from mlpublish.redact import scrub
from mlpublish.registry import access
from mlpublish.registry import lock as registry_lock
from mlpublish.registry.fence import fenced_alias_move
from mlpublish.registry.local_store import prepare_local_store

log = logging.getLogger("mlpublish.registry")


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
        prepare_local_store(tracking_uri, registry_uri or tracking_uri)  # two first runs at once must not race
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)

    def _call(self, what: str, fn: Any, *args: Any, model: str | None = None, **kwargs: Any) -> Any:
        """``model``: the registered model the call acts on, named by a 401/403 (default: the first argument)."""
        from mlflow.exceptions import MlflowException

        try:
            return fn(*args, **kwargs)
        except MlflowException as exc:
            if access.is_denied(_code(exc)):
                target = model or (str(args[0]) if args else "?")
                raise access.refusal(
                    _code(exc), getattr(fn, "__name__", what), target, self.tracking_uri, what
                ) from None
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
            if access.is_denied(_code(exc)):
                raise access.refusal(_code(exc), "create_registered_model", name, self.tracking_uri) from None
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
        """Under the lock, the move is fenced (:mod:`mlpublish.registry.fence`)."""
        held = registry_lock.held_lock(self, name)
        if held is not None:
            fenced_alias_move(held, alias, str(version))
            return
        self._call(
            f"set alias {alias}={version} on {name!r}", self.client.set_registered_model_alias, name, alias, version
        )

    def delete_alias(self, name: str, alias: str) -> None:
        held = registry_lock.held_lock(self, name)
        if held is not None:
            fenced_alias_move(held, alias, None)
            return
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

    def search_all_runs(
        self, experiment_ids: list[str], filter_string: str, *, what: str = "search runs", page_size: int = 1000
    ) -> list[Any]:
        """Every run matching ``filter_string``, page after page (``search_runs`` stops at one page)."""
        out: list[Any] = []
        token = None
        while True:
            page = self._call(
                what,
                self.client.search_runs,
                experiment_ids,
                filter_string=filter_string,
                max_results=page_size,
                page_token=token,
            )
            out.extend(page)
            token = getattr(page, "token", None)
            if not token:
                return out

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

    # Lock (the protocol is in mlpublish.registry.lock) -----------------------------------------
    def lock(self, name: str, *, timeout: float = 120.0, lease: float = 300.0) -> AbstractContextManager[None]:
        """Hold the registry-wide lock for ``name``: see :mod:`mlpublish.registry.lock`."""
        return registry_lock.lock(self, name, timeout=timeout, lease=lease)

    def verify_lock(self, name: str) -> None:
        """Right before a guarded write: raise RegistryConflict if our lock was taken from us."""
        registry_lock.verify_lock(self, name)


def escape_filter_value(value: str) -> str:
    """Escape a value for a quoted literal in an MLflow search filter string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")

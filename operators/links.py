"""Extra links of the publish tasks: the MLflow run, the registered model version and the catalog entity.

Airflow 3 computes a task's links on the worker when the task ends (success, failure or skip) and keeps
them as XComs for the UI and the REST API (``GET .../taskInstances/{task}/links``). The links are built
from what the task pushed: the step's result (run id, version) and the servers' public addresses under
XCom key ``link_targets``, pushed before the step runs. A server's address never carries credentials
(user info, query and fragment are dropped); a store without a web UI (a SQLite tracking store, the local
catalog) gives no link.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from airflow.sdk import BaseOperatorLink

LINK_TARGETS_KEY = "link_targets"
# where a task's result is when it did not succeed (see mlpublish_airflow.publish)
RESULT_KEYS = ("return_value", "rejected", "refused", "nothing_new")


def public_base(url: str | None) -> str | None:
    """``scheme://host[:port][/path]`` of an http(s) server, without user info, query or fragment; None otherwise."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path.rstrip('/')}"


def link_targets(spec: Any, openmetadata: Any | None) -> dict[str, Any]:
    """The public addresses the links need: MLflow's UI, OpenMetadata's UI (its API URL without ``/api``)."""
    from mlpublish.config import tracking_uri

    catalog = public_base(openmetadata.host_port if openmetadata is not None else None)
    if catalog and catalog.endswith("/api"):
        catalog = catalog[: -len("/api")]
    return {
        "mlflow": public_base(tracking_uri(spec.mlflow.trackingUri)),
        "catalog": catalog,
        "model": spec.name,
        "fqn": spec.fqn,
    }


def _pushed(ti_key: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The task's link targets and its result (whichever of the result keys it pushed)."""
    from airflow.sdk.execution_time.xcom import XCom

    targets = XCom.get_value(ti_key=ti_key, key=LINK_TARGETS_KEY) or {}
    for key in RESULT_KEYS:
        result = XCom.get_value(ti_key=ti_key, key=key)
        if isinstance(result, dict) and result:
            return targets, result
    return targets, {}


class MlflowRunLink(BaseOperatorLink):
    """The task's MLflow run (train, evaluate, validate): ``<tracking server>/#/runs/<run id>``."""

    name = "MLflow run"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        targets, result = _pushed(ti_key)
        if not targets.get("mlflow") or not result.get("run_id"):
            return ""
        return f"{targets['mlflow']}/#/runs/{quote(str(result['run_id']), safe='')}"


class ModelVersionLink(BaseOperatorLink):
    """The registered model version (register, promote): ``<tracking server>/#/models/<name>/versions/<n>``."""

    name = "Model version"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        targets, result = _pushed(ti_key)
        version, model = result.get("version"), result.get("model_name") or targets.get("model")
        if not targets.get("mlflow") or not version or not model:
            return ""
        return f"{targets['mlflow']}/#/models/{quote(str(model), safe='')}/versions/{quote(str(version), safe='')}"


class CatalogEntityLink(BaseOperatorLink):
    """The model's entity in OpenMetadata (promote): ``<OpenMetadata UI>/mlmodel/<service.name>``."""

    name = "Catalog entity"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        targets, _ = _pushed(ti_key)
        if not targets.get("catalog") or not targets.get("fqn"):
            return ""
        return f"{targets['catalog']}/mlmodel/{quote(str(targets['fqn']), safe='.')}"

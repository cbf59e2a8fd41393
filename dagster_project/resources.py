"""Outside systems behind resources: MLflow, the warehouse, the catalog, Spark; one set per deployment.

A resource fills in what a spec leaves to the deployment: a spec's explicit
``mlflow.trackingUri`` or ``catalog.url`` still wins (the core's precedence:
spec, then deployment, then the embedded default). ``MLPUBLISH_DEPLOYMENT``
chooses the set: ``local`` (default; the core's environment variables and
files in the working directory) or ``prod`` (every location from the
environment through ``EnvVar``, so a missing variable stops the run by name).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, EnvVar

from mlpublish.errors import MlpublishError

DEPLOYMENT_VAR = "MLPUBLISH_DEPLOYMENT"
DEPLOYMENTS = ("local", "prod")


class DeploymentError(MlpublishError):
    """``MLPUBLISH_DEPLOYMENT`` names no known resource set."""


class MlflowResource(ConfigurableResource):
    """MLflow tracking server and registry of every spec without its own ``mlflow.trackingUri``."""

    tracking_uri: str | None = None  # None: MLFLOW_TRACKING_URI, else SQLite in the working directory
    token: str | None = None  # bearer token of a server behind auth (in MLFLOW_TRACKING_TOKEN during a step)
    # basic-auth user of a server started with --app-name basic-auth (MLFLOW_TRACKING_USERNAME / _PASSWORD)
    username: str | None = None
    password: str | None = None

    def apply(self, spec: Any) -> Any:
        if spec.mlflow.trackingUri or not self.tracking_uri:
            return spec
        return spec.model_copy(update={"mlflow": spec.mlflow.model_copy(update={"trackingUri": self.tracking_uri})})

    def credentials(self, spec: Any) -> Any:
        """This deployment's token or basic-auth user for a spec that uses its server; None for a spec that
        names its own server."""
        from mlpublish.registry.session import MlflowCredentials

        if not (self.token or self.username) or (
            spec.mlflow.trackingUri and spec.mlflow.trackingUri != self.tracking_uri
        ):
            return None
        return MlflowCredentials(username=self.username, password=self.password, token=self.token)

    def session(self, spec: Any) -> Any:
        """MLflow pointed at ``spec``'s stores, with this deployment's token, for one step (restored after it)."""
        from mlpublish.deployment import for_spec

        spec = self.apply(spec)
        return for_spec(spec, credentials=self.credentials(spec)).mlflow_session()

    def registry(self, spec: Any) -> Any:
        """A registry client for ``spec`` that changes no process-wide MLflow setting (sensors share a process)."""
        from mlpublish.deployment import for_spec

        return for_spec(self.apply(spec)).open_registry()


class WarehouseResource(ConfigurableResource):
    """The warehouse the feature tables live in. ``url`` set: it replaces every spec's ``data.connection``
    (except where the spec's environment names its own warehouse)."""

    url: str | None = None  # None: the spec's data.connection (the demo spec reads ${WAREHOUSE_URL})

    def apply(self, spec: Any) -> Any:
        env = spec.environment
        if not self.url or (env is not None and env.settings.warehouse.connection):
            return spec  # an environment's own warehouse wins, as its own tracking server does
        return spec.model_copy(update={"data": spec.data.model_copy(update={"connection": self.url})})


class SparkResource(ConfigurableResource):
    """The Spark session of specs scored on Spark (``scoring.engine: spark``). ``master`` None:
    ``MLPUBLISH_SPARK_MASTER`` (else local[2]); ``conf`` over ``MLPUBLISH_SPARK_CONF``. Nothing starts for a
    spec on the local engine."""

    master: str | None = None
    conf: dict[str, str] = {}

    def session(self, spec: Any) -> Any:
        if spec.scoring.engine != "spark":
            return None
        from mlpublish.spark_engine import spark_session

        return spark_session(self.master, dict(self.conf) or None)


class CatalogResource(ConfigurableResource):
    """The catalog sink: the embedded local catalog, or an OpenMetadata server (the local file is then its outbox)."""

    path: str | None = None  # None: MLPUBLISH_CATALOG, else ./mlpublish-catalog.db
    openmetadata_host_port: str | None = None  # e.g. http://openmetadata:8585/api
    openmetadata_jwt_token: str | None = None
    strict: bool = False  # True: a step fails when the OpenMetadata server is down
    create_missing_tables: bool = True

    def settings(self) -> Any:
        if not self.openmetadata_host_port:
            return None
        from mlpublish.config import OpenMetadataSettings

        return OpenMetadataSettings(
            host_port=self.openmetadata_host_port,
            jwt_token=self.openmetadata_jwt_token,
            strict=self.strict,
            create_missing_tables=self.create_missing_tables,
        )

    def open(self, spec: Any) -> Any:
        from mlpublish.deployment import for_spec

        return for_spec(spec, openmetadata=self.settings(), catalog_url=self.path).open_catalog()

    def link(self, fqn: str) -> str | None:
        """Where a person reads the entity: the OpenMetadata UI page (no secret in it), else None."""
        if not self.openmetadata_host_port:
            return None
        base = self.openmetadata_host_port.rstrip("/")
        base = base[: -len("/api")] if base.endswith("/api") else base
        return f"{base}/mlmodel/{fqn}"


def deployment() -> str:
    value = os.environ.get(DEPLOYMENT_VAR, "local").strip() or "local"
    if value not in DEPLOYMENTS:
        raise DeploymentError(f"{DEPLOYMENT_VAR}={value!r}: expected one of {', '.join(DEPLOYMENTS)}")
    return value


def default_results_dir() -> str:
    home = os.environ.get("DAGSTER_HOME")
    return str(Path(home, "storage", "mlpublish-results") if home else Path.cwd() / ".mlpublish-results")


def _optional(var: str) -> EnvVar | None:
    """``var`` read at run time when this process has it; None when it is unset: a part the deployment does not
    use (a server without auth, no OpenMetadata) demands nothing."""
    return EnvVar(var) if os.environ.get(var, "").strip() else None


# Dagster merges Definitions only when a key holds the very same resource object: two components (or factory calls)
# of one project with the same prefix share one set. The key holds everything a set is built from.
_sets: dict[tuple[Any, ...], dict[str, Any]] = {}


def resources_for(name: str | None = None, prefix: str = "") -> dict[str, Any]:
    """The resource set of deployment ``name`` (default: ``MLPUBLISH_DEPLOYMENT``), keyed ``<prefix><key>``; the
    same objects for the same deployment, prefix and environment.

    ``prod`` reads every location from the environment by name at run time (``EnvVar``: a missing one stops the
    run naming it) and demands only what its configured parts use: ``MLFLOW_TRACKING_TOKEN`` or
    ``MLFLOW_TRACKING_USERNAME`` / ``_PASSWORD`` when set (a server behind auth), the OpenMetadata address and token only when ``OPENMETADATA_HOST_PORT`` is set."""
    name = name or deployment()
    optional = tuple(bool(os.environ.get(v, "").strip()) for v in OPTIONAL_VARS)
    key = (name, prefix, default_results_dir(), optional)
    if key not in _sets:
        _sets[key] = {prefix + k: resource for k, resource in _resource_set(name).items()}
    return dict(_sets[key])


OPTIONAL_VARS = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "OPENMETADATA_HOST_PORT",
    "OPENMETADATA_JWT_TOKEN",
)


def _resource_set(name: str) -> dict[str, Any]:
    from mlpublish_dagster.io_manager import RESULTS, ResultJsonIOManager

    if name == "local":
        found: dict[str, Any] = {
            "mlflow": MlflowResource(),
            "warehouse": WarehouseResource(),
            "catalog": CatalogResource(),
            "spark": SparkResource(),
            RESULTS: ResultJsonIOManager(base_dir=default_results_dir()),
        }
    elif name == "prod":
        openmetadata = _optional("OPENMETADATA_HOST_PORT")
        found = {
            "mlflow": MlflowResource(
                tracking_uri=EnvVar("MLFLOW_TRACKING_URI"),
                token=_optional("MLFLOW_TRACKING_TOKEN"),
                username=_optional("MLFLOW_TRACKING_USERNAME"),
                password=_optional("MLFLOW_TRACKING_PASSWORD"),
            ),
            "warehouse": WarehouseResource(url=EnvVar("WAREHOUSE_URL")),
            "catalog": CatalogResource(
                path=EnvVar("MLPUBLISH_CATALOG"),
                openmetadata_host_port=openmetadata,
                openmetadata_jwt_token=_optional("OPENMETADATA_JWT_TOKEN") if openmetadata else None,
                # not strict: the Dagster environment has no OpenMetadata SDK (it pins another ANTLR runtime);
                # steps write their events to the outbox and `mlpublish catalog relay` delivers them
                strict=False,
            ),
            "spark": SparkResource(),
            # a folder every run worker sees (a shared volume)
            RESULTS: ResultJsonIOManager(base_dir=EnvVar("MLPUBLISH_DAGSTER_RESULTS_DIR")),
        }
    else:
        raise DeploymentError(f"{DEPLOYMENT_VAR}={name!r}: expected one of {', '.join(DEPLOYMENTS)}")
    return found

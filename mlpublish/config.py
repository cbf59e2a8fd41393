"""Where things live by default, and how the environment overrides it.

Precedence for every setting: the spec's explicit value (which may itself use
``${VAR:-default}``), then the environment variable, then the embedded default
(files in the working directory, so nothing needs a server).

This module only reads the process environment, into values; it never writes it
(MLflow's own globals and credentials are scoped by ``mlpublish.registry.session``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mlpublish.redact import register_secret

DEFAULT_TRACKING_DB = "mlflow.db"
DEFAULT_ARTIFACT_DIR = "mlartifacts"
DEFAULT_CATALOG_FILE = "mlpublish-catalog.db"
DEFAULT_WAREHOUSE_URL = "sqlite:///warehouse.db"
DEFAULT_PIPELINE_SERVICE = "mlpublish-pipelines"


def tracking_uri(spec_value: str | None = None) -> str:
    """MLflow tracking URI: spec, then ``MLFLOW_TRACKING_URI``, then SQLite in the working directory."""
    if spec_value:
        return spec_value
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{Path.cwd() / DEFAULT_TRACKING_DB}"


def registry_uri(tracking: str) -> str:
    """Registry URI: ``MLFLOW_REGISTRY_URI`` when set, else the tracking URI (MLflow's own rule)."""
    return os.environ.get("MLFLOW_REGISTRY_URI") or tracking


def artifact_root(tracking: str) -> str | None:
    """Artifact location for new experiments.

    With a database tracking URI and no server, MLflow would put artifacts in a
    relative ``./mlruns`` that depends on the caller's working directory; we pin
    it to an absolute folder. A tracking server decides for itself (None).
    """
    env = os.environ.get("MLPUBLISH_ARTIFACT_ROOT")
    if env:
        return env
    if tracking.startswith(("http://", "https://", "databricks")):
        return None
    return (Path.cwd() / DEFAULT_ARTIFACT_DIR).resolve().as_uri()


def catalog_url(spec_value: str | None = None) -> str:
    """Catalog location: spec, then ``MLPUBLISH_CATALOG``, then the embedded local catalog file."""
    if spec_value:
        return spec_value
    return os.environ.get("MLPUBLISH_CATALOG") or str(Path.cwd() / DEFAULT_CATALOG_FILE)


def allowed_module_prefixes() -> tuple[str, ...]:
    """Top-level packages an estimator or trainer may be imported from.

    ``sklearn`` always; more through ``MLPUBLISH_ALLOWED_MODULES`` (comma-separated
    package prefixes such as ``xgboost,lightgbm,acme.models``). A spec can never
    widen this list: it is the operator's decision, not the spec author's.
    """
    extra = os.environ.get("MLPUBLISH_ALLOWED_MODULES", "")
    return ("sklearn",) + tuple(p.strip() for p in extra.split(",") if p.strip())


# Variables a spec or environments file may expand with ``${VAR}`` (in its deployment fields only):
# warehouse, MLflow and catalog locations. A pattern matches any name (fnmatch, case-sensitive).
DEFAULT_SPEC_VARIABLES = (
    "WAREHOUSE_URL",
    "WAREHOUSE_DATABASE",
    "WAREHOUSE_SCHEMA",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLPUBLISH_CATALOG",
    "*_WAREHOUSE",
    "*_WAREHOUSE_URL",
    "*_WAREHOUSE_DATABASE",
    "*_WAREHOUSE_SCHEMA",
    "*_MLFLOW_URI",
    "*_TRACKING_URI",
    "*_REGISTRY_URI",
    "*_CATALOG_URL",
)


def spec_variables() -> tuple[str, ...]:
    """Names (or fnmatch patterns) the operator adds to :data:`DEFAULT_SPEC_VARIABLES`.

    ``MLPUBLISH_SPEC_VARIABLES``, comma-separated. A name that looks like a credential
    (TOKEN, PASSWORD, SECRET, KEY, CREDENTIAL) expands only when listed here by its exact name.
    """
    extra = os.environ.get("MLPUBLISH_SPEC_VARIABLES", "")
    return tuple(p.strip() for p in extra.split(",") if p.strip())


DEFAULT_MAX_FIT_COST = 100_000


def max_fit_cost() -> int:
    """``mlpublish check`` warns past this estimated training cost (``MLPUBLISH_MAX_FIT_COST``).

    The cost is candidates x the product of the size-like parameters (n_estimators, max_iter ...) of
    each, so the default allows 50 candidates of 2000 trees.
    """
    value = os.environ.get("MLPUBLISH_MAX_FIT_COST", "").strip()
    try:
        return int(value) if value else DEFAULT_MAX_FIT_COST
    except ValueError:
        return DEFAULT_MAX_FIT_COST


@dataclass(frozen=True)
class OpenMetadataSettings:
    """Where the OpenMetadata server is and how to authenticate (adapters build this from
    an Airflow connection or a Dagster resource; the CLI from the environment)."""

    host_port: str
    jwt_token: str | None = field(default=None, repr=False)
    strict: bool = False  # True: a step delivers its events and fails when the server is down or refuses them
    # True: a step delivers its events itself, an outage leaves them queued (the behaviour before the relay;
    # tests of the delivery code use it). False (the default, unless strict): a step only writes its events to
    # the outbox; the relay, `mlpublish catalog sync` or the end of a CLI command delivers them.
    deliver_in_step: bool = False
    create_missing_tables: bool = True  # register a missing upstream table from the warehouse schema
    # PipelineService whose Pipeline entities lineage edges name (one per DAG id or Dagster job). The
    # environment is read here, not only in from_env, so the Airflow hook and the Dagster resource get it too.
    pipeline_service: str = field(
        default_factory=lambda: (
            os.environ.get("MLPUBLISH_CATALOG_PIPELINE_SERVICE", "").strip() or DEFAULT_PIPELINE_SERVICE
        )
    )

    def __post_init__(self) -> None:  # held, so never shown (mlpublish.redact)
        register_secret(self.jwt_token)

    @classmethod
    def from_env(cls) -> OpenMetadataSettings | None:
        """``OPENMETADATA_HOST_PORT`` (e.g. http://localhost:8585/api), ``OPENMETADATA_JWT_TOKEN``,
        ``MLPUBLISH_CATALOG_STRICT``, ``MLPUBLISH_CATALOG_CREATE_TABLES``, ``MLPUBLISH_CATALOG_PIPELINE_SERVICE``;
        None when no host is set."""
        host = os.environ.get("OPENMETADATA_HOST_PORT", "").strip()
        if not host:
            return None
        return cls(
            host_port=host,
            jwt_token=os.environ.get("OPENMETADATA_JWT_TOKEN") or None,
            strict=_flag("MLPUBLISH_CATALOG_STRICT", False),
            create_missing_tables=_flag("MLPUBLISH_CATALOG_CREATE_TABLES", True),
        )


def _flag(var: str, default: bool) -> bool:
    value = os.environ.get(var, "").strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes", "on")

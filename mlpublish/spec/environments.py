"""Environments (dev, staging, prod ...): one file beside the specs, overlaid on every spec when it is loaded.

An environment gives a spec its own registry namespace (a model name prefix
and/or its own MLflow tracking and registry URIs), its own catalog service
names and catalog location, and its own warehouse connection. It is chosen by
``MLPUBLISH_ENV`` or the CLI's ``--env`` (passed as a value); the file is
``environments.yaml`` in the spec's folder, or ``MLPUBLISH_ENVIRONMENTS``.
With no file and no ``MLPUBLISH_ENV`` a spec loads exactly as written.

The file is read with the spec's own safe YAML reader (:mod:`mlpublish.spec.yamlio`: size,
alias and nesting limits, ``${VAR}`` expansion) and reported like a spec: file, field, line.
The spec overlays these models; they know nothing of the spec's.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlpublish import config
from mlpublish.errors import ReadOnlyEnvironment, SpecError
from mlpublish.spec.field_rules import EXPANDS, NAME_PATTERN
from mlpublish.spec.files import read_user_file
from mlpublish.spec.override_policy import OverridePolicy
from mlpublish.spec.variables import Variables, expand_tree, hide_values
from mlpublish.spec.yamlio import MAX_YAML_BYTES, problems_from, reachable_models, read_yaml_mapping

ENV_VAR = "MLPUBLISH_ENV"
FILE_VAR = "MLPUBLISH_ENVIRONMENTS"
FILE_NAME = "environments.yaml"
WHAT = "environments file"
ENV_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,31}$"


class EnvironmentModel(BaseModel):
    """Base of the environments file's models: unknown fields are refused, values are frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MlflowOverlay(EnvironmentModel):
    """The environment's own MLflow server or database (overlays the spec's mlflow.*)."""

    trackingUri: str | None = Field(
        default=None,
        repr=False,
        json_schema_extra=EXPANDS,
        description='Tracking URI, e.g. "${PROD_MLFLOW_URI}"; may hold a password: kept out of reprs. Without a '
        "registryUri the registry stays on this server (a deployment-wide MLFLOW_REGISTRY_URI does not "
        "capture it).",
    )
    registryUri: str | None = Field(
        default=None,
        repr=False,
        json_schema_extra=EXPANDS,
        description="Registry URI (default: the trackingUri); may hold a password.",
    )


class WarehouseOverlay(EnvironmentModel):
    """The environment's warehouse (overlays the spec's data.connection and data.service)."""

    connection: str | None = Field(
        default=None,
        repr=False,
        json_schema_extra=EXPANDS,
        description='SQLAlchemy URL of the warehouse, e.g. "${DEV_WAREHOUSE_URL}"; '
        "may hold a password: kept out of reprs.",
    )
    service: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="Catalog database service; table FQNs of the spec that start with the "
        "spec's data.service are renamed to it.",
    )


class CatalogOverlay(EnvironmentModel):
    """The environment's catalog (overlays the spec's catalog.*)."""

    url: str | None = Field(
        default=None,
        json_schema_extra=EXPANDS,
        description="Catalog store: a file path, sqlite:///path or postgresql://host/db (also the outbox).",
    )
    pipelineService: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="OpenMetadata PipelineService of lineage edges, e.g. pipelines-dev.",
    )


class EnvironmentSpec(EnvironmentModel):
    """One environment: what it writes over every spec loaded in it (each field optional; unset = the spec's)."""

    description: str | None = Field(default=None, description="What the environment is for.")
    modelNamePrefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_\-]{0,32}$",
        description="Registered model name = prefix + spec name, e.g. dev_: also the "
        "experiment, the catalog name, DAG ids and Dagster names, so "
        "environments can share a registry or be deployed side by side.",
    )
    serviceName: str | None = Field(default=None, pattern=NAME_PATTERN, description="The MlModel serviceName.")
    mlflow: MlflowOverlay = Field(default=MlflowOverlay(), description="The environment's MLflow stores.")
    warehouse: WarehouseOverlay = Field(default=WarehouseOverlay(), description="The environment's warehouse.")
    catalog: CatalogOverlay = Field(default=CatalogOverlay(), description="The environment's catalog.")
    overrides: OverridePolicy = Field(
        default=OverridePolicy(),
        description="What trigger-time overrides may change here (default: every section but name, "
        "serviceName, mlflow, catalog and data).",
    )
    readOnly: bool = Field(
        default=False,
        description="This process may only read it (status, compare): every "
        "write is refused before anything is written.",
    )


class EnvironmentsFile(EnvironmentModel):
    """The environments file (``environments.yaml`` beside the specs, or ``MLPUBLISH_ENVIRONMENTS``).

    Only the chosen environment's ``${VAR}`` are expanded and checked, so a dev machine does not need
    prod's credentials.
    """

    default: str | None = Field(default=None, description="Environment used when MLPUBLISH_ENV is not set.")
    environments: dict[str, EnvironmentSpec] = Field(
        min_length=1,
        description="The environments by name (a letter, then letters, digits, '_' or '-'; at most "
        "32 characters), e.g. dev, staging, prod.",
    )

    @field_validator("environments")
    @classmethod
    def _names(cls, v: dict[str, EnvironmentSpec]) -> dict[str, EnvironmentSpec]:
        for name in v:
            if not re.match(ENV_NAME_PATTERN, name):
                raise ValueError(f"environment name {name!r} must match {ENV_NAME_PATTERN}")
        return v


@dataclass(frozen=True)
class Environment:
    """One environment of one environments file, resolved."""

    name: str
    file: str
    settings: EnvironmentSpec

    def __repr__(self) -> str:  # URIs may hold passwords
        return f"Environment({self.name!r}, file={self.file!r}, readOnly={self.settings.readOnly})"

    @property
    def read_only(self) -> bool:
        return self.settings.readOnly

    def registered_name(self, base: str) -> str:
        """The model's name in this environment's registry and catalog."""
        return f"{self.settings.modelNamePrefix}{base}"

    def base_name(self, name: str) -> str:
        prefix = self.settings.modelNamePrefix
        return name[len(prefix) :] if prefix and name.startswith(prefix) else name

    def tracking_uri(self) -> str:
        return config.tracking_uri(self.settings.mlflow.trackingUri)

    def registry_uri(self) -> str:
        m = self.settings.mlflow
        if m.registryUri:
            return m.registryUri
        # an environment with its own tracking server keeps its registry there: a deployment-wide
        # MLFLOW_REGISTRY_URI (another environment's registry, perhaps) must not capture its versions
        return m.trackingUri if m.trackingUri else config.registry_uri(self.tracking_uri())

    def require_writable(self, what: str) -> None:
        """Refuse a write before anything is written."""
        if self.read_only:
            raise ReadOnlyEnvironment(
                f"environment {self.name!r} is readOnly in {self.file}: refusing to {what} "
                "(this process may only read it: mlpublish status/compare)"
            )

    def overlay(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The spec's fields with this environment's values written over them (the spec file is not changed)."""
        s = self.settings
        out = dict(raw)
        if s.modelNamePrefix and isinstance(raw.get("name"), str):
            out["name"] = s.modelNamePrefix + raw["name"]
        if s.serviceName:
            out["serviceName"] = s.serviceName
        mlflow = s.mlflow.model_dump(exclude_none=True)
        if s.mlflow.trackingUri and not s.mlflow.registryUri:  # see registry_uri
            mlflow["registryUri"] = s.mlflow.trackingUri
        out = _merge_section(out, "mlflow", mlflow)
        out = _merge_section(out, "catalog", s.catalog.model_dump(exclude_none=True))
        data = s.warehouse.model_dump(exclude_none=True)
        old_service = (raw.get("data") or {}).get("service", "warehouse") if isinstance(raw.get("data"), dict) else None
        out = _merge_section(out, "data", data)
        if s.warehouse.service and isinstance(old_service, str) and old_service != s.warehouse.service:
            out["mlFeatures"] = _rename_sources(raw.get("mlFeatures"), old_service, s.warehouse.service)
        return out


def _merge_section(out: dict[str, Any], key: str, values: dict[str, Any]) -> dict[str, Any]:
    if not values:
        return out
    current = out.get(key)
    if current is None:
        current = {}
    if not isinstance(current, dict):
        return out  # the spec's own validation reports the wrong type
    out[key] = {**current, **values}
    return out


def _rename_sources(features: Any, old: str, new: str) -> Any:
    """Feature sources ``<old service>.db.schema.table`` -> ``<new service>.db.schema.table``."""
    if not isinstance(features, list):
        return features
    renamed = []
    for f in features:
        if isinstance(f, dict) and isinstance(f.get("featureSources"), list):
            f = {
                **f,
                "featureSources": [
                    {**src, "dataSourceFqn": new + src["dataSourceFqn"][len(old) :]}
                    if isinstance(src, dict)
                    and isinstance(src.get("dataSourceFqn"), str)
                    and src["dataSourceFqn"].startswith(old + ".")
                    else src
                    for src in f["featureSources"]
                ],
            }
        renamed.append(f)
    return renamed


def read_environments(path: str | os.PathLike[str], name: str | None = None) -> EnvironmentsFile:
    """The file, with the environment ``name`` (else the default) expanded and validated.

    Only that environment's ``${VAR}`` are expanded and its fields checked: a dev machine
    need not have prod's variables (credentials) set to load a spec in dev. The other
    environments are listed by name only.
    """
    p = Path(path)
    text = read_user_file(p, MAX_YAML_BYTES, WHAT)  # a regular file in its folder, read with a hard bound
    raw, lines = read_yaml_mapping(text, str(p), "a mapping with an 'environments' field", what=WHAT)
    envs = raw.get("environments")
    used: Variables = {}
    if isinstance(envs, dict):
        chosen = name or raw.get("default")
        problems: list[tuple[str, str]] = []
        top = {k: v for k, v in raw.items() if k != "environments"}  # default, ...: none expands
        raw = {
            **expand_tree(top, (), problems, EnvironmentsFile, used=used, lines=lines),
            "environments": {
                k: (
                    expand_tree(v, ("environments", k), problems, EnvironmentSpec, used=used, lines=lines)
                    if k == chosen
                    else {}
                )
                for k, v in envs.items()
            },
        }
        if problems:
            raise SpecError(str(p), hide_values(problems, used), WHAT)
    try:
        parsed = EnvironmentsFile.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(str(p), hide_values(problems_from(exc, lines, EnvironmentsFile), used), WHAT) from None
    if parsed.default is not None and parsed.default not in parsed.environments:
        raise SpecError(
            str(p),
            [
                (
                    f"default (line {lines.get(('default',), '?')})",
                    f"unknown environment {parsed.default!r}; known: {', '.join(parsed.environments)}",
                )
            ],
            WHAT,
        )
    return parsed


def reference_models() -> list[type[BaseModel]]:
    """Every model of the environments file in document order (:class:`EnvironmentsFile` first).

    The documentation's environments reference is generated from their docstrings and field descriptions.
    """
    return reachable_models(EnvironmentsFile)


def environments_file(spec_dir: str | os.PathLike[str] | None) -> Path | None:
    """``MLPUBLISH_ENVIRONMENTS``, else ``environments.yaml`` in the spec's folder (None: no spec folder given)."""
    explicit = os.environ.get(FILE_VAR, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    return Path(spec_dir) / FILE_NAME if spec_dir is not None else None


def select_environment(spec_dir: str | os.PathLike[str] | None, name: str | None = None) -> Environment | None:
    """The environment a spec in ``spec_dir`` runs in: ``name``, else ``MLPUBLISH_ENV``, else the file's default.

    None (the spec as written) when no environment is named and the file does not exist or has no default.
    """
    name = (name or os.environ.get(ENV_VAR, "")).strip() or None
    path = environments_file(spec_dir)
    if path is None or not path.exists():  # a FIFO or device there is not "no file": reading refuses it
        if name is None:
            return None
        where = str(path) if path is not None else f"{FILE_NAME} (set {FILE_VAR})"
        raise SpecError(
            where,
            [
                (
                    "<file>",
                    f"{ENV_VAR}={name} selects an environment, but there is no environments "
                    f"file here: create it or point {FILE_VAR} at it",
                )
            ],
        )
    parsed = read_environments(path, name)
    name = name or parsed.default
    if name is None:
        return None
    if name not in parsed.environments:
        raise SpecError(
            str(path),
            [
                (
                    "environments",
                    f"unknown environment {name!r} ({ENV_VAR} or --env); known: {', '.join(parsed.environments)}",
                )
            ],
        )
    return Environment(name, str(path), parsed.environments[name])


def _default_dir() -> Path:
    """For commands given a model name rather than a spec: ``environments.yaml`` in the working directory,
    else in ``./specs`` (``MLPUBLISH_ENVIRONMENTS`` overrides both)."""
    return next((d for d in (Path.cwd(), Path.cwd() / "specs") if (d / FILE_NAME).is_file()), Path.cwd())


def environment_named(name: str, spec_dir: str | os.PathLike[str] | None = None) -> Environment:
    env = select_environment(spec_dir if spec_dir is not None else _default_dir(), name)
    assert env is not None
    return env


def current_environment(spec_dir: str | os.PathLike[str] | None = None) -> Environment | None:
    """The environment of a command without a spec (``MLPUBLISH_ENV`` or the file's default), or None."""
    return select_environment(spec_dir if spec_dir is not None else _default_dir())

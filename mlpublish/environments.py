"""Environments (dev, staging, prod ...): one file beside the specs, overlaid on every spec when it is loaded.

An environment gives a spec its own registry namespace (a model name prefix
and/or its own MLflow tracking and registry URIs), its own catalog service
names and catalog location, and its own warehouse connection. It is chosen by
``MLPUBLISH_ENV`` (the CLI's ``--env`` sets it); the file is
``environments.yaml`` in the spec's folder, or ``MLPUBLISH_ENVIRONMENTS``.
With no file and no ``MLPUBLISH_ENV`` a spec loads exactly as written.

The file is read with the spec's own safe YAML reader (size, alias and nesting
limits, ``${VAR}`` expansion) and reported like a spec: file, field, line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlpublish.errors import ReadOnlyEnvironment, SpecError
from mlpublish.spec import MAX_SPEC_BYTES, NAME_PATTERN, _problems_from, _walk_expand, read_yaml_mapping

ENV_VAR = "MLPUBLISH_ENV"
FILE_VAR = "MLPUBLISH_ENVIRONMENTS"
FILE_NAME = "environments.yaml"
ENV_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,31}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MlflowOverlay(_Model):
    trackingUri: str | None = Field(default=None, repr=False, description="May hold a password: kept out of reprs.")
    registryUri: str | None = Field(default=None, repr=False)


class WarehouseOverlay(_Model):
    connection: str | None = Field(default=None, repr=False)
    service: str | None = Field(default=None, pattern=NAME_PATTERN,
                                description="Catalog database service; table FQNs of the spec that start with the "
                                            "spec's data.service are renamed to it.")


class CatalogOverlay(_Model):
    url: str | None = Field(default=None, description="Local catalog file (also the OpenMetadata outbox).")
    pipelineService: str | None = Field(default=None, pattern=NAME_PATTERN)


class EnvironmentSpec(_Model):
    description: str | None = None
    modelNamePrefix: str = Field(default="", pattern=r"^[A-Za-z0-9_\-]{0,32}$",
                                 description="Registered model name = prefix + spec name (also DAG ids, Dagster names).")
    serviceName: str | None = Field(default=None, pattern=NAME_PATTERN, description="The MlModel serviceName.")
    mlflow: MlflowOverlay = MlflowOverlay()
    warehouse: WarehouseOverlay = WarehouseOverlay()
    catalog: CatalogOverlay = CatalogOverlay()
    readOnly: bool = Field(default=False, description="This process may only read it (status, compare).")


class EnvironmentsFile(_Model):
    default: str | None = Field(default=None, description="Environment used when MLPUBLISH_ENV is not set.")
    environments: dict[str, EnvironmentSpec] = Field(min_length=1)

    @field_validator("environments")
    @classmethod
    def _names(cls, v: dict[str, EnvironmentSpec]) -> dict[str, EnvironmentSpec]:
        import re

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
        return name[len(prefix):] if prefix and name.startswith(prefix) else name

    def tracking_uri(self) -> str:
        from mlpublish import config

        return config.tracking_uri(self.settings.mlflow.trackingUri)

    def registry_uri(self) -> str:
        from mlpublish import config

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
                "(this process may only read it: mlpublish status/compare)")

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
            f = {**f, "featureSources": [
                {**src, "dataSourceFqn": new + src["dataSourceFqn"][len(old):]}
                if isinstance(src, dict) and isinstance(src.get("dataSourceFqn"), str)
                and src["dataSourceFqn"].startswith(old + ".") else src
                for src in f["featureSources"]]}
        renamed.append(f)
    return renamed


def read_environments(path: str | os.PathLike[str], name: str | None = None) -> EnvironmentsFile:
    try:
        return _read_environments(path, name)
    except SpecError as exc:  # the shared YAML reader speaks of a spec: this is the environments file
        if exc.what != "spec":
            raise
        raise SpecError(exc.path, exc.problems, what="environments file") from None


def _read_environments(path: str | os.PathLike[str], name: str | None = None) -> EnvironmentsFile:
    """The file, with the environment ``name`` (else the default) expanded and validated.

    Only that environment's ``${VAR}`` are expanded and its fields checked: a dev machine
    need not have prod's variables (credentials) set to load a spec in dev. The other
    environments are listed by name only.
    """
    p = Path(path)
    try:
        if p.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(str(p), [("<root>", f"environments file larger than {MAX_SPEC_BYTES} bytes: refused")])
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(str(p), [("<file>", "no such environments file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(str(p), [("<file>", f"cannot read the environments file: {exc}")]) from None
    raw, lines = read_yaml_mapping(text, str(p), "a mapping with an 'environments' field", expand=False)
    envs = raw.get("environments")
    if isinstance(envs, dict):
        chosen = name or raw.get("default")
        problems: list[tuple[str, str]] = []
        raw = {**raw, "environments": {
            k: (_walk_expand(v, ("environments", k), problems) if k == chosen else {}) for k, v in envs.items()}}
        if problems:
            raise SpecError(str(p), problems)
    try:
        parsed = EnvironmentsFile.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(str(p), _problems_from(exc, lines, EnvironmentsFile)) from None
    if parsed.default is not None and parsed.default not in parsed.environments:
        raise SpecError(str(p), [(f"default (line {lines.get(('default',), '?')})",
                                  f"unknown environment {parsed.default!r}; known: {', '.join(parsed.environments)}")])
    return parsed


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
    if path is None or not path.is_file():
        if name is None:
            return None
        where = str(path) if path is not None else f"{FILE_NAME} (set {FILE_VAR})"
        raise SpecError(where, [("<file>", f"{ENV_VAR}={name} selects an environment, but there is no environments "
                                           f"file here: create it or point {FILE_VAR} at it")])
    parsed = read_environments(path, name)
    name = name or parsed.default
    if name is None:
        return None
    if name not in parsed.environments:
        raise SpecError(str(path), [("environments", f"unknown environment {name!r} ({ENV_VAR} or --env); "
                                                     f"known: {', '.join(parsed.environments)}")])
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

"""The YAML spec: read safely, environment-expanded, overlaid with its environment and validated into typed models.

Field names follow the OpenMetadata ``ml_model.yaml`` of the OpenMetadata demo
(``serviceName``, ``mlFeatures``, ``featureSources``, ``dataSourceFqn``,
``mlHyperParameters``, ``mlStore`` ...) so such a file is accepted as it is; the
chain adds ``data``, ``training``, ``validation``, ``promotion`` and ``mlflow``.

Loading does no I/O beyond reading the spec and its environments file. Checks
that need the estimator or the warehouse live in :mod:`mlpublish.deployment.preflight`.
The sections are in :mod:`mlpublish.spec.models` and :mod:`mlpublish.spec.operations`,
the reader in :mod:`mlpublish.spec.yamlio`; their public names are importable from here too.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, ValidationInfo, field_validator, model_validator

from mlpublish.errors import SpecError
from mlpublish.spec.environments import Environment, select_environment
from mlpublish.spec.field_rules import (
    FQN_PART,
    IDENT_PATTERN,
    MAX_SCALAR_CHARS,
    NAME_PATTERN,
    PUBLIC_NAME,
    FeatureSourceDataType,
    FeatureType,
    Scalar,
    check_cron,
    check_location,
)
from mlpublish.spec.files import read_user_file
from mlpublish.spec.models import (
    CatalogSpec,
    DataSpec,
    FeatureSource,
    HyperParameter,
    MlFeature,
    MlflowSpec,
    MlStore,
    Promotion,
    SpecModel,
    Split,
    Training,
)
from mlpublish.spec.operations import MonitoringSpec, MonitoringWindow, ScoringSpec
from mlpublish.spec.override_policy import unknown_sections
from mlpublish.spec.promotion import shadow_mode_problems
from mlpublish.spec.sql_query import query_problem, sql_dialect
from mlpublish.spec.validation import Fairness, Gate, Slice, SliceBin, Validation
from mlpublish.spec.variables import Variables, expand_env, expand_tree, hide_values
from mlpublish.spec.yamlio import (
    MAX_YAML_ALIASES,
    MAX_YAML_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    format_path,
    locate,
    problems_from,
    reachable_models,
    read_yaml_mapping,
)

MAX_SPEC_BYTES = MAX_YAML_BYTES

__all__ = [
    "FQN_PART",
    "IDENT_PATTERN",
    "MAX_SCALAR_CHARS",
    "MAX_SPEC_BYTES",
    "MAX_YAML_ALIASES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "NAME_PATTERN",
    "PUBLIC_NAME",
    "CatalogSpec",
    "DataSpec",
    "Fairness",
    "FeatureSource",
    "FeatureSourceDataType",
    "FeatureType",
    "Gate",
    "HyperParameter",
    "MlFeature",
    "MlStore",
    "MlflowSpec",
    "MonitoringSpec",
    "MonitoringWindow",
    "Promotion",
    "Scalar",
    "ScoringSpec",
    "Slice",
    "SliceBin",
    "Spec",
    "SpecModel",
    "Split",
    "Training",
    "Validation",
    "check_cron",
    "check_location",
    "expand_env",
    "load_spec",
    "parse_spec",
    "read_yaml_mapping",
    "reference_models",
]


class Spec(SpecModel):
    """A model's spec: what it is (the OpenMetadata MlModel fields), where its data is, how it is trained,
    validated, promoted, scored and monitored, and where its stores are.

    The OpenMetadata ``ml_model.yaml`` fields (``serviceName``, ``name``, ``description``, ``algorithm``,
    ``target``, ``mlFeatures``, ``mlHyperParameters``, ``mlStore``) are accepted as they are. Deployment fields (connections, URIs,
    database and schema names: "expands ${VAR}" in this reference) may use ``${VAR}`` and ``${VAR:-default}``
    with an allowed variable; ``${VAR}`` anywhere else, a variable outside the allow-list or unset without a
    default is an error. ``$$`` is a literal ``$`` in every string. See ``specs/churn.yaml`` for a complete example.
    """

    name: str = Field(
        pattern=NAME_PATTERN,
        description="Registered model name, e.g. customer_churn_predictor: letters, digits, space, "
        "'_' and '-' (an environment's modelNamePrefix is prepended).",
    )
    serviceName: str = Field(
        default="mlpublish",
        pattern=NAME_PATTERN,
        description="Catalog MlModel service; the model FQN is <serviceName>.<name>.",
    )
    displayName: str | None = Field(
        default=None, description="Name shown in the catalog and the model card (default: name)."
    )
    description: str | None = Field(
        default=None,
        description="What the model predicts, e.g. 'Predicts churn in the next 30 days.' (catalog and model card).",
    )
    algorithm: str = Field(min_length=1, description="Free text, as in OpenMetadata, e.g. RandomForestClassifier.")
    target: str = Field(pattern=IDENT_PATTERN, description="Label column of the training table, e.g. churned.")
    owners: list[str] = Field(
        default=[], description='Owners, e.g. [data-science]: "team:x" or "user:y"; a bare name is a team.'
    )
    server: str | None = Field(default=None, description="Serving URL (catalog server).")
    dashboard: str | None = Field(default=None, description="Dashboard FQN (catalog dashboard).")
    schedule: str | None = Field(
        default=None,
        description='Retraining cron (five fields, e.g. "0 3 * * 1", or a preset like @daily) for the orchestrators.',
    )
    limitations: list[str] = Field(default=[], description="Known limitations (for the model card).")
    mlStore: MlStore | None = Field(default=None, description="Where the model is stored (catalog).")
    mlFeatures: list[MlFeature] = Field(
        min_length=1, description="The features: columns of the training table, at least one."
    )
    mlHyperParameters: list[HyperParameter] = Field(
        default=[], description="Fixed parameters (also shown in the catalog)."
    )
    data: DataSpec = Field(description="The warehouse and the training table.")
    training: Training = Field(description="The estimator and its candidates.")
    validation: Validation = Field(default=Validation(), description="Gates and checks before registration.")
    promotion: Promotion = Field(default=Promotion(), description="How a PASSED candidate becomes champion.")
    mlflow: MlflowSpec = Field(default=MlflowSpec(), description="The MLflow tracking and registry stores.")
    catalog: CatalogSpec = Field(default=CatalogSpec(), description="The catalog location and pipeline service.")
    scoring: ScoringSpec = Field(default=ScoringSpec(), description="Batch scoring of the champion.")
    monitoring: MonitoringSpec = Field(
        default=MonitoringSpec(), description="Drift monitoring and retraining requests."
    )

    # Where the spec came from and the environment overlaid on it; not YAML fields.
    _source_path: str = PrivateAttr(default="<memory>")
    _environment: Environment | None = PrivateAttr(default=None)

    @property
    def source_path(self) -> str:
        return self._source_path

    @property
    def environment(self) -> Environment | None:
        """The environment this spec was loaded in, or None (the file as written)."""
        return self._environment

    @property
    def environment_name(self) -> str | None:
        return self._environment.name if self._environment is not None else None

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        return check_cron(v)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Spec:
        # parse_spec reports these itself, with field paths and lines
        if not (info.context or {}).get("defer_consistency"):
            problems = self.consistency_problems()
            if problems:
                raise ValueError("; ".join(f"{format_path(loc)}: {msg}" for loc, msg in problems))
        return self

    def consistency_problems(self) -> list[tuple[tuple, str]]:
        """Rules that span fields, as (field path, message)."""
        out: list[tuple[tuple, str]] = []
        names = [f.name for f in self.mlFeatures]
        for i, n in enumerate(names):
            if n in names[:i]:
                out.append(
                    (("mlFeatures", i, "name"), f"duplicate feature name {n!r} (first at mlFeatures[{names.index(n)}])")
                )
        if self.target in names:
            out.append((("target",), f"target {self.target!r} is also listed in mlFeatures"))
        for i, col in enumerate(self.data.keyColumns):
            if col in names or col == self.target:
                out.append((("data", "keyColumns", i), f"key column {col!r} is also a feature or the target"))
        if self.data.timeColumn and self.data.timeColumn == self.target:
            out.append((("data", "timeColumn"), f"time column {self.data.timeColumn!r} is the target"))
        for i, s in enumerate(self.validation.slices):
            if s.column == self.target:
                out.append((("validation", "slices", i, "column"), f"slice column {s.column!r} is the target"))
        for i, f in enumerate(self.validation.fairness):
            if f.sensitiveColumn == self.target:
                out.append(
                    (
                        ("validation", "fairness", i, "sensitiveColumn"),
                        f"sensitive column {f.sensitiveColumn!r} is the target",
                    )
                )
        for i, h in enumerate(self.mlHyperParameters):
            if h.name in self.training.candidates:
                out.append(
                    (
                        ("mlHyperParameters", i, "name"),
                        f"{h.name!r} is set both here and in training.candidates: choose one",
                    )
                )
        contract = self.data.contract
        not_features = [(("columns", c), c) for c in contract.columns if c not in names]
        not_features += [(("addedColumns", i), c) for i, c in enumerate(contract.addedColumns) if c not in names]
        for where, col in not_features:
            out.append((("data", "contract", *where), f"{col!r} is not a feature: a contract holds mlFeatures only"))
        out += shadow_mode_problems(self.promotion, self.scoring.shadow, self.monitoring.labels)
        if self.scoring.query is not None:
            problem = query_problem(self.scoring.query, sql_dialect(self.data.connection))
            if problem:
                out.append((("scoring", "query"), problem))
        return out

    # Derived names -------------------------------------------------------
    @property
    def fqn(self) -> str:
        """The MlModel FQN in the catalog: <serviceName>.<name>."""
        return f"{self.serviceName}.{self.name}"

    @property
    def experiment_name(self) -> str:
        return self.mlflow.experiment or f"mlpublish/{self.name}"

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.mlFeatures]

    @property
    def categorical_features(self) -> list[str]:
        return [f.name for f in self.mlFeatures if f.dataType == "categorical"]

    @property
    def fixed_params(self) -> dict[str, Scalar]:
        return {h.name: h.value for h in self.mlHyperParameters}


def reference_models() -> list[type[BaseModel]]:
    """Every model of the spec file in document order: :class:`Spec` first, then each section as a reader meets it.

    The documentation's spec reference is generated from these models' docstrings and field descriptions.
    """
    return reachable_models(Spec)


# --------------------------------------------------------------------------
# Loading


def parse_spec(
    text: str, source: str = "<memory>", environment: Environment | None = None, *, source_path: str | None = None
) -> Spec:
    """Parse spec text, with ``environment`` overlaid.

    ``source`` names the text in errors; ``source_path`` is the spec file it stands for (default: ``source``),
    whose repository gives the code version. Raises :class:`SpecError` listing every problem found.
    """
    raw, lines = read_yaml_mapping(text, source, "a mapping with at least name, algorithm, target")
    used: Variables = {}
    problems: list[tuple[str, str]] = []
    expanded = expand_tree(raw, (), problems, Spec, used=used, lines=lines)
    if problems:
        raise SpecError(source, hide_values(problems, used))
    if environment is not None:
        policy = unknown_sections(environment.settings.overrides, Spec)
        if policy:  # a typo in frozen would freeze nothing
            where = f"environments.{environment.name}."
            raise SpecError(environment.file, [(where + loc, msg) for loc, msg in policy], "environments file")
        expanded = environment.overlay(expanded)
    try:
        spec = Spec.model_validate(expanded, context={"defer_consistency": True})
    except ValidationError as exc:
        raise SpecError(source, hide_values(problems_from(exc, lines, Spec), used)) from None
    cross = spec.consistency_problems()
    if cross:
        raise SpecError(source, hide_values([(locate(loc, lines), msg) for loc, msg in cross], used))
    spec._source_path = source_path if source_path is not None else source
    spec._environment = environment
    return spec


def load_spec(
    path: str | os.PathLike[str], env: str | None = None, *, environment: Environment | str | None = None
) -> Spec:
    """Read and parse a spec file in an environment.

    ``environment``: an :class:`Environment`, the name of one in the spec's environments file, or None for
    ``MLPUBLISH_ENV``, else the file's default, else the spec as written. ``env`` is the older spelling of a name.
    Every adapter loads specs through this function, so the CLI, Airflow and Dagster all get the environment.
    """
    if env is not None and environment is not None:
        raise TypeError("load_spec() takes environment or env, not both")
    p = Path(path)
    text = read_user_file(p, MAX_SPEC_BYTES)  # a regular file in its folder, read with a hard bound
    if not isinstance(environment, Environment):
        environment = select_environment(p.parent, environment if environment is not None else env)
    return parse_spec(text, str(p), environment)

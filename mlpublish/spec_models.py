"""The sections of a spec, as typed models: features, data, training, validation, promotion, stores.

Every field carries a description: the spec reference of the documentation is
generated from them (:func:`mlpublish.spec.reference_models`), so what a field
means is written once, here. The whole spec is :class:`mlpublish.spec.Spec`;
scoring and monitoring live in :mod:`mlpublish.spec_operations`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlpublish import config
from mlpublish.field_rules import (
    FQN_PART,
    IDENT,
    IDENT_PATTERN,
    NAME_PATTERN,
    PUBLIC_NAME,
    FeatureSourceDataType,
    FeatureType,
    Scalar,
    check_location,
)


class SpecModel(BaseModel):
    """Base of every spec section: unknown fields are refused, values are frozen once read."""

    # NaN and infinity are refused: every comparison with NaN is false, so a NaN gate would never fail
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, allow_inf_nan=False)


class FeatureSource(SpecModel):
    """A column a feature is derived from: the lineage edge source table -> training table."""

    name: str = Field(min_length=1, description="Source column name.")
    dataType: FeatureSourceDataType = Field(
        description="OpenMetadata FeatureSourceDataType: integer, number, string, array, date, timestamp, "
        "object or boolean."
    )
    dataSourceFqn: str | None = Field(
        default=None,
        description="FQN of the source table: <service>.<database>.<schema>.<table>, e.g. "
        "warehouse.main.main.orders; each part letters, digits, '_' or '-'.",
    )
    description: str | None = Field(default=None, description="What the source column holds.")

    @field_validator("dataSourceFqn")
    @classmethod
    def _four_parts(cls, v: str | None) -> str | None:
        if v is not None and (len(v.split(".")) != 4 or not all(v.split("."))):
            raise ValueError(f"expected <service>.<database>.<schema>.<table>, got {v!r}")
        if v is not None and not all(FQN_PART.fullmatch(part) for part in v.split(".")):
            raise ValueError("each part must be letters, digits, '_' or '-' (no quotes, spaces, ';' or '/')")
        return v


class MlFeature(SpecModel):
    """One feature: a column of the training table, as OpenMetadata's MlFeature."""

    name: str = Field(
        pattern=IDENT_PATTERN, description="Column of the training table (an ASCII identifier), e.g. recency_days."
    )
    dataType: FeatureType = Field(
        default="numerical", description="numerical or categorical (categoricals are one-hot encoded)."
    )
    description: str | None = Field(default=None, description="What the feature means (catalog and model card).")
    featureAlgorithm: str | None = Field(default=None, description="How the feature is computed (catalog).")
    featureSources: list[FeatureSource] = Field(
        default=[],
        description="Where the feature comes from: lineage source -> training table. validation.requireMetadata "
        "asks for at least one per feature.",
    )


class HyperParameter(SpecModel):
    """A fixed estimator parameter (also shown in the catalog)."""

    name: str = Field(
        pattern=IDENT_PATTERN,
        description="Parameter of the estimator or trainer, e.g. n_estimators; not also in training.candidates.",
    )
    value: Scalar = Field(
        description="A plain YAML scalar: a string of at most 1000 characters, an integer, a finite float, "
        "a boolean or null."
    )
    description: str | None = Field(default=None, description="What the parameter does, e.g. 'Trees in the forest.'")


class MlStore(SpecModel):
    """Where the model is stored, as OpenMetadata's mlStore."""

    storage: str | None = Field(
        default=None,
        description="Accepted for OpenMetadata compatibility; the catalog's storage is the registered model's "
        "artifact URI.",
    )
    imageRepository: str | None = Field(default=None, description="Container image repository of the model (catalog).")


class DataSpec(SpecModel):
    """The warehouse: where the training rows are read and the predictions written."""

    connection: str = Field(
        default=config.DEFAULT_WAREHOUSE_URL,
        repr=False,
        description="SQLAlchemy URL of the warehouse, e.g. ${WAREHOUSE_URL:-sqlite:///warehouse.db} "
        "(may hold a password: kept out of reprs, never sent to MLflow or the catalog).",
    )
    service: str = Field(
        default="warehouse",
        pattern=NAME_PATTERN,
        description="Catalog database service name, the first part of table FQNs.",
    )
    database: str | None = Field(
        default=None, pattern=IDENT_PATTERN, description="Default: main (SQLite), the URL's database (PostgreSQL)."
    )
    schema_: str | None = Field(
        default=None, alias="schema", pattern=IDENT_PATTERN, description="Default: main (SQLite), public (PostgreSQL)."
    )
    trainingTable: str = Field(pattern=IDENT_PATTERN, description="Table holding the features and the target.")
    keyColumns: list[str] = Field(
        default=[],
        description="Key of the training table, e.g. [customer_id]: the held-out rows are chosen by a hash of the "
        "key and the seed, so a row stays on its side as the table grows and a champion is never "
        "evaluated on rows it was trained on. Without keys the split is random.",
    )
    predictionsTable: str | None = Field(
        default=None, pattern=IDENT_PATTERN, description="Where the score step writes, e.g. churn_predictions."
    )
    timeColumn: str | None = Field(
        default=None,
        pattern=IDENT_PATTERN,
        description="Date or timestamp column of the training table: the model card "
        "records the time range of the rows trained on.",
    )

    @field_validator("keyColumns")
    @classmethod
    def _idents(cls, v: list[str]) -> list[str]:
        for col in v:
            if not IDENT.fullmatch(col):
                raise ValueError(f"column name {col!r} must match {IDENT_PATTERN}")
        return v


class Split(SpecModel):
    """How the rows are split into training, validation and held-out (test) parts."""

    testSize: float = Field(default=0.25, gt=0, lt=1, description="Share of the rows held out for evaluation.")
    validationSize: float = Field(
        default=0.2,
        ge=0,
        lt=1,
        description="Share of the training part held out to choose among candidates (only with several).",
    )
    seed: int = Field(default=42, description="Seed of the split (and of the key hash with data.keyColumns).")
    stratify: bool = Field(default=True, description="Stratify a classification split by the target.")


class Training(SpecModel):
    """What is trained and how the best candidate is chosen."""

    estimator: str = Field(
        description="Dotted path of an sklearn-API class (pkg.mod.Class, e.g. "
        "sklearn.ensemble.RandomForestClassifier) or a trainer function (pkg.mod:function) returning a "
        "fitted model; every part a public Python name, the module sklearn or in "
        "MLPUBLISH_ALLOWED_MODULES (see the estimator import rules)."
    )
    task: Literal["classification", "regression"] | None = Field(
        default=None,
        description="classification or regression; inferred for sklearn classes, required for a trainer function.",
    )
    positiveLabel: str | int | None = Field(
        default=None,
        description="Positive class of a binary target (default 1 for 0/1 labels, required for other "
        "labels such as churn/stay; quote yes/no).",
    )
    candidates: dict[str, list[Scalar]] = Field(
        default={},
        description="Grid of parameter values, e.g. {max_depth: [4, 8]}: every combination is a candidate, and "
        "the best by selectBy on a validation split goes on.",
    )
    selectBy: str | None = Field(
        default=None,
        description="Metric choosing among candidates (default roc_auc for classification, rmse for regression).",
    )
    split: Split = Field(default=Split(), description="The train/validation/test split.")
    maxCandidates: int = Field(default=50, ge=1, le=1000, description="Largest grid allowed.")

    @field_validator("estimator")
    @classmethod
    def _dotted(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z_][\w.]*(:[A-Za-z_]\w*|\.[A-Za-z_]\w*)$", v):
            raise ValueError("expected a dotted path such as sklearn.ensemble.RandomForestClassifier or pkg.mod:train")
        # the import rules' syntax part, checked at load so DAG files and code locations refuse it too
        if not all(PUBLIC_NAME.fullmatch(part) for part in re.split(r"[.:]", v)):
            raise ValueError(f"{v!r}: every part must be a public Python name (no leading underscore)")
        return v

    @field_validator("positiveLabel", mode="before")
    @classmethod
    def _not_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError(
                "YAML read this as a boolean (yes/no/true/false are booleans): quote the label, "
                'e.g. positiveLabel: "yes"'
            )
        return v

    @field_validator("candidates")
    @classmethod
    def _grid(cls, v: dict[str, list[Scalar]]) -> dict[str, list[Scalar]]:
        for key, values in v.items():
            if not IDENT.fullmatch(key):
                raise ValueError(f"parameter name {key!r} must match {IDENT_PATTERN}")
            if not values:
                raise ValueError(f"candidates.{key} is empty: give at least one value")
        return v

    def grid(self) -> list[dict[str, Scalar]]:
        """Every combination of the candidate values, in spec order."""
        combos: list[dict[str, Scalar]] = [{}]
        for key, values in self.candidates.items():
            combos = [{**c, key: val} for c in combos for val in values]
        return combos


GATE_KINDS = ("min", "max", "maxDropVsChampion", "minGainVsChampion")


class Gate(SpecModel):
    """One validation gate: a metric and exactly one threshold.

    Absolute gates (min, max) compare the candidate's held-out metric with a number;
    relative gates (maxDropVsChampion, minGainVsChampion) compare it with the champion's
    on the same rows, following the metric's direction. Metrics: classification roc_auc,
    accuracy, precision, recall, f1, log_loss, brier; regression rmse, mae, r2 (for
    log_loss, brier, rmse and mae lower is better).
    """

    metric: str = Field(description="Metric name, e.g. roc_auc.")
    min: float | None = Field(default=None, description="Absolute: the metric must be at least this, e.g. 0.75.")
    max: float | None = Field(default=None, description="Absolute: the metric must be at most this.")
    maxDropVsChampion: float | None = Field(
        default=None, ge=0, description="Relative: tolerate a drop of at most this vs the champion, e.g. 0.01."
    )
    minGainVsChampion: float | None = Field(
        default=None, ge=0, description="Relative: demand a strict gain of at least this vs the champion."
    )
    perSlice: str | None = Field(
        default=None,
        pattern=IDENT_PATTERN,
        description="Name of a validation.slices entry: the gate then holds for every slice of it with at least "
        "minRows held-out rows, each compared with the champion on that slice's rows (e.g. perSlice: plan with "
        "maxDropVsChampion: 0.02: no plan may lose more than 0.02). Its weakest slice decides.",
    )

    @model_validator(mode="after")
    def _one_threshold(self) -> Gate:
        set_ = [k for k in GATE_KINDS if getattr(self, k) is not None]
        if len(set_) != 1:
            raise ValueError(
                "a gate needs exactly one of min, max, maxDropVsChampion, minGainVsChampion"
                + (f" (got {', '.join(set_)})" if set_ else "")
            )
        return self

    @property
    def kind(self) -> str:
        for k in GATE_KINDS:
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated gate without threshold")

    @property
    def threshold(self) -> float:
        return float(getattr(self, self.kind))

    @property
    def relative(self) -> bool:
        return self.kind in ("maxDropVsChampion", "minGainVsChampion")

    def describe(self) -> str:
        return f"{self.metric} {self.kind} {self.threshold:g}" + (f" per {self.perSlice}" if self.perSlice else "")


class SliceBin(SpecModel):
    """A named range of a numerical slice column: the values below ``below`` that no earlier bin took."""

    name: str = Field(min_length=1, max_length=100, description="Bin name shown in checks and the card, e.g. new.")
    below: float | None = Field(
        default=None, description="Exclusive upper bound, e.g. 90; only the last bin has none (it takes the rest)."
    )


class Slice(SpecModel):
    """A column whose values (or named bins) cut the held-out rows into slices, each gated on its own rows."""

    column: str = Field(
        pattern=IDENT_PATTERN,
        description="Column of the training table (need not be a feature), e.g. plan; categorical values are "
        "taken as they are.",
    )
    name: str | None = Field(
        default=None, pattern=IDENT_PATTERN, description="What gates call this slice set (perSlice); default: column."
    )
    bins: list[SliceBin] = Field(
        default=[],
        description="Cut a numerical column into named bins, e.g. [{name: new, below: 90}, {name: loyal}]; "
        "without bins every distinct value is a slice.",
    )
    minRows: int = Field(
        default=30,
        ge=1,
        description="A slice with fewer held-out rows is reported (in the checks and the card), not gated.",
    )

    @property
    def set_name(self) -> str:
        return self.name or self.column

    @field_validator("bins")
    @classmethod
    def _ordered_bins(cls, v: list[SliceBin]) -> list[SliceBin]:
        if not v:
            return v
        if len(v) < 2:
            raise ValueError("give at least two bins (one bin is the whole column)")
        if any(b.below is None for b in v[:-1]) or v[-1].below is not None:
            raise ValueError("every bin but the last needs 'below'; the last has none and takes the rest")
        bounds = [b.below for b in v[:-1]]
        if any(a >= b for a, b in zip(bounds, bounds[1:])):
            raise ValueError(f"the bins' 'below' bounds must increase, got {bounds}")
        names = [b.name for b in v]
        if len(set(names)) != len(names):
            raise ValueError(f"bin names must differ, got {names}")
        return v


FAIRNESS_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate")


class Fairness(SpecModel):
    """A disparity bound on a metric between the groups of a sensitive column (binary classification).

    The disparity is fairlearn's MetricFrame ``difference`` (largest minus smallest group value,
    0 is parity: lower is better) or ``ratio`` (smallest over largest, 1 is parity: higher is better),
    over the groups with at least minRows held-out rows.
    """

    sensitiveColumn: str = Field(
        pattern=IDENT_PATTERN, description="Column of the training table (need not be a feature), e.g. gender."
    )
    metric: Literal["selection_rate", "true_positive_rate", "false_positive_rate"] = Field(
        description="selection_rate (share predicted positive), true_positive_rate or false_positive_rate."
    )
    measure: Literal["difference", "ratio"] = Field(
        default="difference", description="difference (max - min, at most bound) or ratio (min / max, at least bound)."
    )
    bound: float = Field(
        ge=0, description="The candidate's disparity: a difference of at most this, or a ratio of at least this."
    )
    maxWorseVsChampion: float | None = Field(
        default=None,
        ge=0,
        description="Also: not worse than the champion's disparity on the same rows by more than this (skipped "
        "without a champion).",
    )
    minRows: int = Field(default=30, ge=1, description="Groups with fewer held-out rows are reported, not compared.")

    @property
    def name(self) -> str:
        op = "<=" if self.measure == "difference" else ">="
        return f"{self.metric} {self.measure} by {self.sensitiveColumn} {op} {self.bound:g}"


class Validation(SpecModel):
    """The checks a candidate must pass before it may be registered and promoted."""

    gates: list[Gate] = Field(default=[], description="The gates; no gates means FAILED.")
    slices: list[Slice] = Field(
        default=[],
        description="Slice sets of the held-out rows, e.g. [{column: plan}]: metrics per slice for candidate and "
        "champion on the same rows; gates name one with perSlice.",
    )
    fairness: list[Fairness] = Field(
        default=[], description="Disparity bounds between the groups of a sensitive column, e.g. by gender."
    )
    allowFirstWithoutChampion: bool = Field(
        default=True,
        description="With no champion yet, relative gates are skipped (said in the output) and "
        "absolute gates decide: at least one must then apply.",
    )
    registerFailed: bool = Field(default=False, description="Register FAILED candidates for audit (never aliased).")
    requireMetadata: bool = Field(
        default=True, description="Require a description, owners and a source for every feature."
    )
    smokeTestRows: int = Field(
        default=50, ge=1, le=10000, description="Held-out rows the logged model, loaded back, must score."
    )
    onFailure: Literal["fail", "skip"] = Field(
        default="fail", description="How an orchestrator ends a rejected candidate: a failed or a skipped task."
    )

    @model_validator(mode="after")
    def _slices_named(self) -> Validation:
        names = [s.set_name for s in self.slices]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two slices are called {name!r}: give one a name")
        for i, gate in enumerate(self.gates):
            if gate.perSlice is not None and gate.perSlice not in names:
                raise ValueError(
                    f"gates[{i}].perSlice {gate.perSlice!r} names no slice; validation.slices has {names or 'none'}"
                )
        return self

    def slice_set(self, name: str) -> Slice:
        return next(s for s in self.slices if s.set_name == name)

    @property
    def group_columns(self) -> list[str]:
        """Columns the held-out rows need beside the features: slice and sensitive columns."""
        return list(dict.fromkeys([s.column for s in self.slices] + [f.sensitiveColumn for f in self.fairness]))


class Promotion(SpecModel):
    """How a PASSED candidate becomes champion."""

    mode: Literal["auto", "manual"] = Field(
        default="auto",
        description="auto: the chain promotes; manual: someone approves (mlpublish promote, the "
        "Airflow approval task).",
    )


class MlflowSpec(SpecModel):
    """The MLflow stores of this model (each defaults to the environment, then the working directory)."""

    trackingUri: str | None = Field(
        default=None,
        description="Default: MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db. No control characters "
        "or '..' path segments.",
    )
    registryUri: str | None = Field(default=None, description="Default: MLFLOW_REGISTRY_URI, else the tracking URI.")
    experiment: str | None = Field(default=None, description="Default: mlpublish/<name>.")

    _location = field_validator("trackingUri", "registryUri", "experiment")(
        classmethod(lambda cls, v: check_location(v))
    )


class CatalogSpec(SpecModel):
    """Where the catalog metadata goes."""

    url: str | None = Field(
        default=None,
        description="Local catalog file or sqlite:///path (also the OpenMetadata outbox); default: "
        "MLPUBLISH_CATALOG, else ./mlpublish-catalog.db. An unknown kind is refused.",
    )
    pipelineService: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="OpenMetadata PipelineService of lineage edges (default: MLPUBLISH_CATALOG_PIPELINE_SERVICE).",
    )

    _location = field_validator("url")(classmethod(lambda cls, v: check_location(v)))

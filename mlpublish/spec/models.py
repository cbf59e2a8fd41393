"""The sections of a spec, as typed models: features, data, training, validation, promotion, stores.

Every field carries a description: the spec reference of the documentation is
generated from them (:func:`mlpublish.spec.reference_models`), so what a field
means is written once, here. The whole spec is :class:`mlpublish.spec.Spec`;
scoring and monitoring live in :mod:`mlpublish.spec.operations`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mlpublish import config
from mlpublish.spec.contract import ColumnRules, ContractSpec
from mlpublish.spec.field_rules import (
    EXPANDS,
    FQN_PART,
    IDENT,
    IDENT_PATTERN,
    NAME_PATTERN,
    PUBLIC_NAME,
    FeatureSourceDataType,
    FeatureType,
    Scalar,
    SpecModel,
    check_location,
)
from mlpublish.spec.promotion import Promotion, ShadowPromotion

__all__ = [
    "ColumnRules",
    "ContractSpec",
    "DataSpec",
    "FeatureSource",
    "HyperParameter",
    "MlFeature",
    "MlStore",
    "MlflowSpec",
    "Promotion",
    "ShadowPromotion",
    "SpecModel",
    "Split",
    "Training",
]


class FeatureSource(SpecModel):
    """A column a feature is derived from: the lineage edge source table -> training table."""

    name: str = Field(min_length=1, description="Source column name.")
    dataType: FeatureSourceDataType = Field(
        description="OpenMetadata FeatureSourceDataType: integer, number, string, array, date, timestamp, "
        "object or boolean."
    )
    dataSourceFqn: str | None = Field(
        default=None,
        json_schema_extra=EXPANDS,
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
        json_schema_extra=EXPANDS,
        description="SQLAlchemy URL of the warehouse, e.g. ${WAREHOUSE_URL:-sqlite:///warehouse.db} "
        "(may hold a password: kept out of reprs, never sent to MLflow or the catalog).",
    )
    service: str = Field(
        default="warehouse",
        pattern=NAME_PATTERN,
        description="Catalog database service name, the first part of table FQNs.",
    )
    database: str | None = Field(
        default=None,
        pattern=IDENT_PATTERN,
        json_schema_extra=EXPANDS,
        description="Default: main (SQLite), the URL's database (PostgreSQL).",
    )
    schema_: str | None = Field(
        default=None,
        alias="schema",
        pattern=IDENT_PATTERN,
        json_schema_extra=EXPANDS,
        description="Default: main (SQLite), public (PostgreSQL).",
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
    contract: ContractSpec = Field(
        default=ContractSpec(),
        description="The features' data contract: learned at training, checked at scoring and monitoring, "
        "compared with the champion's at validate (docs/data-contracts.md).",
    )

    @field_validator("keyColumns")
    @classmethod
    def _idents(cls, v: list[str]) -> list[str]:
        for col in v:
            if not IDENT.fullmatch(col):
                raise ValueError(f"column name {col!r} must match {IDENT_PATTERN}")
        return v


DEFAULT_TIMEOUT_MINUTES = 120.0
# Parameters that multiply the work of one fit (trees, boosting rounds, iterations, epochs).
SIZE_PARAMETERS = ("n_estimators", "max_iter", "n_iter", "num_boost_round", "iterations", "num_trees", "epochs")


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

    estimator: str | None = Field(
        default=None,
        description="Dotted path of an sklearn-API class (pkg.mod.Class, e.g. "
        "sklearn.ensemble.RandomForestClassifier) or a trainer function (pkg.mod:function) returning a "
        "fitted model with predict (and predict_proba for a classifier gated on probabilities); every part a "
        "public Python name, the module sklearn or in MLPUBLISH_ALLOWED_MODULES (see the estimator import "
        "rules). Exactly one of estimator and existingModel.",
    )
    existingModel: str | None = Field(
        default=None,
        json_schema_extra=EXPANDS,
        description="An MLflow model trained elsewhere, published instead of training one: runs:/<run id>/<path>, "
        "models:/<name>/<version> or a local MLflow model directory. Training is skipped; the rows are split "
        "and held out as usual, and evaluate, validate, register and promote run unchanged. Needs "
        "training.task; no training.candidates.",
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
    timeoutMinutes: float = Field(
        default=DEFAULT_TIMEOUT_MINUTES,
        gt=0,
        le=7 * 24 * 60,
        description="Bound of training (every candidate's fit and the final one) and of scoring: past it the "
        "step stops with an error and its MLflow run ends FAILED. A RUNNING training run older than this is "
        "not counted as in flight by the monitor (its process is gone).",
    )

    @model_validator(mode="after")
    def _one_model(self) -> Training:
        if (self.estimator is None) == (self.existingModel is None):
            raise ValueError("give exactly one of training.estimator (train here) and training.existingModel")
        if self.existingModel is not None:
            if self.task is None:
                raise ValueError("training.existingModel needs training.task: classification or regression")
            if self.candidates:
                raise ValueError("training.existingModel is published as it is: remove training.candidates")
        return self

    @field_validator("existingModel")
    @classmethod
    def _model_uri(cls, v: str | None) -> str | None:
        if v is None:
            return v
        check_location(v)
        if "://" in v and not v.startswith("runs:/"):
            raise ValueError(f"{v!r}: expected runs:/<run id>/<path>, models:/<name>/<version> or a directory")
        if v.startswith("models:") and not re.fullmatch(r"models:/[^/@]+(/[0-9]+|@[A-Za-z0-9_\-]+)", v):
            raise ValueError(f"{v!r}: expected models:/<name>/<version> or models:/<name>@<alias>")
        return v

    @field_validator("estimator")
    @classmethod
    def _dotted(cls, v: str | None) -> str | None:
        if v is None:
            return v
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

    def fit_cost(self, fixed: dict[str, Scalar]) -> tuple[int, list[str]]:
        """(estimated cost, why): every candidate's size-like parameters multiplied, summed over the grid.

        A rough count of trees or iterations to fit, for ``mlpublish check`` to warn on an extreme grid
        (``n_estimators: 2000000000`` or a grid of thousands): one unit per candidate without such parameters.
        """
        total, biggest = 0, (0, "")
        for combo in self.grid() or [{}]:
            params = {**fixed, **combo}
            units, sizes = 1, []
            for name in SIZE_PARAMETERS:
                value = params.get(name)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 1:
                    units *= int(value)
                    sizes.append(f"{name}={int(value):,}")
            total += units
            biggest = max(biggest, (units, " x ".join(sizes)))
        return total, [f"{len(self.grid()) or 1} candidate(s)"] + ([f"the largest {biggest[1]}"] if biggest[1] else [])

    def grid(self) -> list[dict[str, Scalar]]:
        """Every combination of the candidate values, in spec order."""
        combos: list[dict[str, Scalar]] = [{}]
        for key, values in self.candidates.items():
            combos = [{**c, key: val} for c in combos for val in values]
        return combos


class MlflowSpec(SpecModel):
    """The MLflow stores of this model (each defaults to the environment, then the working directory)."""

    trackingUri: str | None = Field(
        default=None,
        json_schema_extra=EXPANDS,
        description="Default: MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db. No control characters "
        "or '..' path segments.",
    )
    registryUri: str | None = Field(
        default=None, json_schema_extra=EXPANDS, description="Default: MLFLOW_REGISTRY_URI, else the tracking URI."
    )
    experiment: str | None = Field(default=None, description="Default: mlpublish/<name>.")

    _location = field_validator("trackingUri", "registryUri", "experiment")(
        classmethod(lambda cls, v: check_location(v))
    )


class CatalogSpec(SpecModel):
    """Where the catalog metadata goes."""

    url: str | None = Field(
        default=None,
        json_schema_extra=EXPANDS,
        description="Catalog store (the mirror and the OpenMetadata outbox): a file path, sqlite:///path or "
        "postgresql://host/db (one store shared by every worker); default: MLPUBLISH_CATALOG, else "
        "./mlpublish-catalog.db. An unknown kind is refused.",
    )
    pipelineService: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="OpenMetadata PipelineService of lineage edges (default: MLPUBLISH_CATALOG_PIPELINE_SERVICE).",
    )

    _location = field_validator("url")(classmethod(lambda cls, v: check_location(v)))

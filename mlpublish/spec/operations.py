"""The spec's sections for a model in service: batch scoring, drift monitoring and the retraining rule."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlpublish.spec.field_rules import EXPANDS, IDENT, IDENT_PATTERN, SpecModel, check_cron


class ScoringSpec(SpecModel):
    """Where the score step reads the rows to score, and how much it holds at once."""

    schedule: str | None = Field(
        default=None,
        description="Batch scoring cron (five fields) for the orchestrators: the Dagster "
        "<model>_scoring job, the Airflow mlpublish__<model>__score DAG.",
    )

    sourceTable: str | None = Field(
        default=None, pattern=IDENT_PATTERN, description="Table to score (default: data.trainingTable)."
    )
    query: str | None = Field(
        default=None,
        min_length=1,
        description="A SELECT returning the key and feature columns (instead of sourceTable).",
    )
    chunkSize: int = Field(
        default=50_000, ge=1, le=1_000_000, description="Rows read, predicted and written at a time."
    )
    predictionsTable: str | None = Field(
        default=None, pattern=IDENT_PATTERN, description="Default: data.predictionsTable."
    )
    engine: Literal["local", "spark"] = Field(
        default="local",
        description="Who scores and monitors: local (one process, chunks streamed through the warehouse) or "
        "spark (a Spark session from the deployment, see docs/spark.md; `--engine` on the command line wins).",
    )
    sourceParquet: str | None = Field(
        default=None,
        min_length=1,
        json_schema_extra=EXPANDS,
        description="Spark engine: a Parquet dataset (path or URI) to score and monitor instead of the warehouse.",
    )
    sourceSparkTable: str | None = Field(
        default=None,
        json_schema_extra=EXPANDS,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$",
        description="Spark engine: a table of the Spark catalog to score and monitor instead of the warehouse.",
    )
    predictionsParquet: str | None = Field(
        default=None,
        min_length=1,
        json_schema_extra=EXPANDS,
        description="Spark engine: write the predictions to this Parquet dataset, partitioned by scoring_run_id "
        "(default: the warehouse's predictions table over JDBC).",
    )
    predictionsSparkTable: str | None = Field(
        default=None,
        json_schema_extra=EXPANDS,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$",
        description="Spark engine: write the predictions to this Spark table, partitioned by scoring_run_id.",
    )

    onContractViolation: Literal["fail", "warn", "quarantine"] = Field(
        default="warn",
        description="Rows breaking the champion's data contract (data.contract): fail (the run writes nothing), "
        "warn (scored, the violations reported) or quarantine (written to scoring.quarantineTable with the rule "
        "each broke, the rest scored).",
    )
    quarantineTable: str | None = Field(
        default=None,
        pattern=IDENT_PATTERN,
        description="Where onContractViolation: quarantine puts the rows it holds back "
        "(default: <predictions table>_quarantine).",
    )
    shadow: bool = Field(
        default=False,
        description="The challenger scores the same rows in the same run; each row carries model_role "
        "(champion or challenger) and model_version, consumers read the champion's rows.",
    )

    _cron = field_validator("schedule")(classmethod(lambda cls, v: check_cron(v)))

    @model_validator(mode="after")
    def _one_source(self) -> ScoringSpec:
        sources = [f for f in ("sourceTable", "query", "sourceParquet", "sourceSparkTable") if getattr(self, f)]
        if len(sources) == 2:
            raise ValueError(f"give scoring.{sources[0]} or scoring.{sources[1]}, not both")
        if len(sources) > 2:
            raise ValueError(f"give one of scoring.{', scoring.'.join(sources)}, not several")
        targets = [f for f in ("predictionsParquet", "predictionsSparkTable") if getattr(self, f)]
        if len(targets) > 1:
            raise ValueError("give scoring.predictionsParquet or scoring.predictionsSparkTable, not both")
        if self.engine == "spark" and self.onContractViolation == "quarantine":  # the run refuses --engine spark too
            raise ValueError(
                "scoring.onContractViolation: quarantine is not available on the Spark engine (fail and warn are): "
                "use scoring.engine: local or another mode"
            )
        return self

    @property
    def spark_only(self) -> list[str]:
        """The fields set here that only the Spark engine can honour."""
        names = ("sourceParquet", "sourceSparkTable", "predictionsParquet", "predictionsSparkTable")
        return [f"scoring.{f}" for f in names if getattr(self, f)]


class MonitoringWindow(SpecModel):
    """Which rows of the source one monitor run compares with the reference."""

    column: str | None = Field(
        default=None,
        pattern=IDENT_PATTERN,
        description="Timestamp column: only rows of the last lookbackHours are compared. "
        "Default: each monitor run compares the whole source and is one window.",
    )
    lookbackHours: float = Field(default=24.0, gt=0, description="Hours of rows one window holds (with column).")


class LabelsSpec(SpecModel):
    """Where the true outcomes of scored rows arrive, later than the predictions."""

    table: str = Field(pattern=IDENT_PATTERN, description="Table of the warehouse holding the labels.")
    keyColumns: list[str] = Field(
        default=[], description="Columns joining a label to its prediction (default: data.keyColumns)."
    )
    labelColumn: str | None = Field(
        default=None, pattern=IDENT_PATTERN, description="The outcome column (default: the spec's target)."
    )
    timeColumn: str = Field(
        pattern=IDENT_PATTERN, description="When the outcome was observed: it puts a label in its window."
    )
    windowHours: float = Field(default=24.0, gt=0, description="Hours one live-metrics window spans.")

    @field_validator("keyColumns")
    @classmethod
    def _idents(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not IDENT.fullmatch(c)]
        if bad:
            raise ValueError(f"column names must match {IDENT_PATTERN}: {bad}")
        return v


class MonitoringSpec(SpecModel):
    """Drift thresholds and the retraining rule (N of the last M windows, cooldown)."""

    schedule: str | None = Field(
        default=None,
        description="Monitoring cron (five fields) for the orchestrators: the Dagster "
        "<model>_monitoring job, the Airflow mlpublish__<model>__monitor DAG.",
    )
    psiThreshold: float = Field(default=0.2, gt=0, description="A feature drifts when its PSI reaches this.")
    ksPValue: float = Field(default=0.01, gt=0, lt=1, description="KS p-value below which a numeric feature drifts...")
    ksMinStatistic: float = Field(
        default=0.1, ge=0, le=1, description="...if its KS statistic is at least this (effect size)."
    )
    minDriftedFeatures: int = Field(default=1, ge=1, description="Drifted features that make a window drifted.")
    maxMetricDrop: float | None = Field(
        default=None,
        ge=0,
        description="Where labels arrived: a drop of the champion's selectBy metric "
        "beyond this (vs its test value) makes the window drifted.",
    )
    windowN: int = Field(
        default=2, ge=1, description="Retrain when N of the last M windows drifted, the latest included: this is N."
    )
    windowM: int = Field(default=3, ge=1, description="The M of windowN (at least windowN).")
    cooldownHours: float = Field(
        default=24.0, ge=0, description="No retraining request this soon after a training run."
    )
    inFlightHours: float = Field(
        default=6.0,
        gt=0,
        description="A RUNNING training run younger than this (and than training.timeoutMinutes plus 5 minutes, "
        "after which its process is gone) is in flight.",
    )
    bins: int = Field(default=10, ge=2, le=100, description="PSI bins (at the reference's quantiles).")
    sampleRows: int = Field(default=200_000, ge=100, description="Rows kept for the KS test and the performance check.")
    window: MonitoringWindow = Field(
        default=MonitoringWindow(), description="The rows one monitor run compares (default: the whole source)."
    )
    labels: LabelsSpec | None = Field(
        default=None,
        description="Live labels: the monitor computes each model's metrics on them per window (champion and, with "
        "scoring.shadow, challenger); promotion.mode: shadow promotes on them.",
    )

    _cron = field_validator("schedule")(classmethod(lambda cls, v: check_cron(v)))

    @model_validator(mode="after")
    def _n_of_m(self) -> MonitoringSpec:
        if self.windowN > self.windowM:
            raise ValueError(f"windowN ({self.windowN}) cannot exceed windowM ({self.windowM})")
        return self

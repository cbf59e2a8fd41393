"""The ``validation`` section of a spec: gates, slices and fairness bounds (docs: Gates, slices and fairness)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlpublish.spec.field_rules import (
    IDENT_PATTERN,
    SpecModel,
)

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


class Importances(SpecModel):
    """Permutation importance of candidate and champion on the held-out rows (the card's "what the model relies on")."""

    enabled: bool = Field(default=True, description="Measure them; false saves (features x repeats x 2) predictions.")
    repeats: int = Field(default=5, ge=1, le=50, description="Shuffles per feature (sklearn's n_repeats).")
    maxRows: int = Field(
        default=10000,
        ge=100,
        description="Held-out rows each shuffle scores, drawn with the split seed (sklearn's max_samples); "
        "all rows when there are fewer.",
    )


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
    importances: Importances = Field(
        default_factory=Importances, description="Permutation importances, e.g. {maxRows: 20000} or {enabled: false}."
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

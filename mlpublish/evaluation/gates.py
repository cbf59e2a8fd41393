"""Gate evaluation: pure functions, thresholds as data.

Absolute gates: ``min`` (value >= min) and ``max`` (value <= max).
Relative gates compare with the champion evaluated on the same rows, in the
metric's own direction (for rmse, mae, log_loss, brier lower is better):

* ``maxDropVsChampion: d`` tolerates getting worse by at most ``d``;
* ``minGainVsChampion: g`` demands a strict improvement of at least ``g``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, field_validator

from mlpublish.evaluation.metrics import higher_is_better
from mlpublish.redact import scrub
from mlpublish.spec import Gate

Outcome = Literal["pass", "fail", "skipped"]

# Metrics are floats: a threshold met "exactly" (0.79 vs 0.80 with maxDrop 0.01)
# must not fail on the last bit of a subtraction.
TOLERANCE = 1e-9


class CheckResult(BaseModel):
    """One validation check, as recorded in MLflow and the catalog."""

    check: str  # "gate", "slice", "fairness", "smoke_test", "metadata"
    name: str
    outcome: Outcome
    metric: str | None = None
    kind: str | None = None
    threshold: float | None = None
    value: float | None = None
    champion_value: float | None = None
    detail: str = ""
    # the spec entry a gate, slice or fairness check stands for: its index in validation.gates
    # (gate, slice) or validation.fairness (fairness); a per-slice gate has one check per slice
    gate: int | None = None
    slice: str | None = None  # "<slice set>=<value>", e.g. plan=premium
    rows: int | None = None  # held-out rows the check measured (slices)

    @field_validator("detail")
    @classmethod
    def _no_secrets(cls, v: str) -> str:
        # details often quote exception text, which can carry connection URLs
        return scrub(v)

    @property
    def passed(self) -> bool:
        return self.outcome != "fail"

    def line(self) -> str:
        return f"{self.outcome.upper():7} {self.name}: {self.detail}"


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def evaluate_gate(
    gate: Gate,
    candidate: dict[str, float],
    champion: dict[str, float] | None,
    champion_version: str | None,
    allow_first: bool,
) -> CheckResult:
    metric, kind, thr = gate.metric, gate.kind, gate.threshold
    value = candidate.get(metric)
    base = dict(check="gate", name=gate.describe(), metric=metric, kind=kind, threshold=thr, value=value)
    if value is None:
        return CheckResult(**base, outcome="fail", detail=f"{metric} was not computed for this candidate")
    if kind == "min":
        ok = value >= thr - TOLERANCE
        return CheckResult(
            **base, outcome="pass" if ok else "fail", detail=f"{metric}={_fmt(value)} {'>=' if ok else '<'} min {thr:g}"
        )
    if kind == "max":
        ok = value <= thr + TOLERANCE
        return CheckResult(
            **base, outcome="pass" if ok else "fail", detail=f"{metric}={_fmt(value)} {'<=' if ok else '>'} max {thr:g}"
        )

    # relative gates
    if champion is None:
        if champion_version is None and allow_first:
            return CheckResult(
                **base,
                outcome="skipped",
                detail="no champion yet: first model is judged on absolute gates alone (validation.allowFirstWithoutChampion)",
            )
        why = (
            "no champion yet and validation.allowFirstWithoutChampion is false"
            if champion_version is None
            else f"champion v{champion_version} could not be evaluated on the candidate's rows"
        )
        return CheckResult(**base, outcome="fail", detail=why)
    champ = champion.get(metric)
    if champ is None:
        return CheckResult(**base, outcome="fail", detail=f"champion v{champion_version} has no {metric}")
    up = higher_is_better(metric)
    gain = (value - champ) if up else (champ - value)  # positive = candidate better
    if kind == "maxDropVsChampion":
        ok = gain >= -thr - TOLERANCE
        detail = (
            f"{metric}={_fmt(value)} vs champion v{champion_version} {_fmt(champ)}: "
            f"{'gain' if gain >= 0 else 'drop'} {abs(gain):.4f} {'within' if ok else 'exceeds'} maxDrop {thr:g}"
        )
    else:  # minGainVsChampion
        ok = gain > TOLERANCE and gain >= thr - TOLERANCE
        detail = (
            f"{metric}={_fmt(value)} vs champion v{champion_version} {_fmt(champ)}: "
            f"gain {gain:.4f} {'meets' if ok else 'below'} minGain {thr:g}"
        )
    return CheckResult(**base, champion_value=champ, outcome="pass" if ok else "fail", detail=detail)


def evaluate_gates(
    gates: list[Gate],
    candidate: dict[str, float],
    champion: dict[str, float] | None,
    champion_version: str | None,
    allow_first: bool,
    slice_checks: dict[int, list[CheckResult]] | None = None,
) -> list[CheckResult]:
    """Every gate's checks in spec order. A per-slice gate's checks come computed in ``slice_checks``
    (by gate index, see :func:`mlpublish.evaluation.slices.evaluate_slice_gate`)."""
    if not gates:
        return [
            CheckResult(
                check="gate",
                name="gates configured",
                outcome="fail",
                detail="validation.gates is empty: a candidate with no gates is never passed",
            )
        ]
    results: list[CheckResult] = []
    for i, g in enumerate(gates):
        if g.perSlice is None:
            results.append(
                evaluate_gate(g, candidate, champion, champion_version, allow_first).model_copy(update={"gate": i})
            )
        else:
            results += (slice_checks or {}).get(i) or [
                CheckResult(
                    check="slice",
                    gate=i,
                    name=g.describe(),
                    outcome="fail",
                    metric=g.metric,
                    kind=g.kind,
                    threshold=g.threshold,
                    detail=f"no slice metrics of {g.perSlice} were computed by evaluate",
                )
            ]
    if all(r.outcome == "skipped" for r in results):
        results.append(
            CheckResult(
                check="gate",
                name="at least one gate applied",
                outcome="fail",
                detail="every gate is relative and there is no champion yet: add an absolute gate "
                "(min or max) so the first model is judged on something",
            )
        )
    return results

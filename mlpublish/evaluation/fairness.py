"""Fairness gates: a disparity bound between the groups of a sensitive column, for candidate and champion.

The per-group metrics and their disparity are fairlearn's ``MetricFrame`` (``difference`` and
``ratio`` between groups), not arithmetic of our own. Groups with fewer than ``minRows``
held-out rows are left out of the comparison and named in the result.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mlpublish.evaluation.gates import TOLERANCE, CheckResult
from mlpublish.spec import Fairness


class Disparity(BaseModel):
    """The disparity of one fairness entry on the held-out rows, for the candidate and the champion."""

    name: str  # Fairness.name, e.g. "true_positive_rate difference by gender <= 0.1"
    column: str
    metric: str
    measure: str
    candidate: float | None
    champion: float | None = None
    groups: dict[str, float] = {}  # the candidate's metric per group compared
    champion_groups: dict[str, float] | None = None
    rows: dict[str, int] = {}  # held-out rows per group, small groups included
    left_out: list[str] = []  # groups under minRows
    error: str | None = None


def _frame(metric: str, truth: Any, predicted: Any, sensitive: Any) -> Any:
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    fn = {
        "selection_rate": selection_rate,
        "true_positive_rate": true_positive_rate,
        "false_positive_rate": false_positive_rate,
    }[metric]
    return MetricFrame(metrics=fn, y_true=truth, y_pred=predicted, sensitive_features=sensitive)


def _measure(frame: Any, measure: str) -> float | None:
    value = (
        frame.difference(method="between_groups") if measure == "difference" else frame.ratio(method="between_groups")
    )
    value = float(value)
    return value if value == value else None  # NaN: a group without positives (or negatives) for a rate


def compute_disparity(
    spec: Fairness, sensitive: Any, y: Any, candidate_pred: Any, champion_pred: Any, positive: Any
) -> Disparity:
    """``spec``'s disparity over the groups of ``sensitive`` with at least minRows rows (same order as ``y``)."""
    import numpy as np
    import pandas as pd

    groups = pd.Series(sensitive).astype("string").fillna("(missing)").astype(object).to_numpy()
    counts = {str(k): int(v) for k, v in pd.Series(groups).value_counts().sort_index().items()}
    kept = [g for g, n in counts.items() if n >= spec.minRows]
    base = dict(name=spec.name, column=spec.sensitiveColumn, metric=spec.metric, measure=spec.measure, rows=counts)
    base["left_out"] = [g for g in counts if g not in kept]
    if len(kept) < 2:
        return Disparity(
            **base,
            candidate=None,
            error=f"{len(kept)} group(s) of {spec.sensitiveColumn} have at least minRows {spec.minRows} held-out "
            f"rows (rows per group: {counts}); a disparity needs two",
        )
    mask = np.isin(groups, kept)
    truth = np.asarray(y)[mask] == positive

    def frame_of(pred: Any) -> Any:
        return _frame(spec.metric, truth, np.asarray(pred)[mask] == positive, groups[mask])

    cand = frame_of(candidate_pred)
    champ = frame_of(champion_pred) if champion_pred is not None else None
    return Disparity(
        **base,
        candidate=_measure(cand, spec.measure),
        champion=_measure(champ, spec.measure) if champ is not None else None,
        groups={str(k): float(v) for k, v in cand.by_group.items()},
        champion_groups={str(k): float(v) for k, v in champ.by_group.items()} if champ is not None else None,
    )


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def fairness_checks(
    index: int, spec: Fairness, d: Disparity, champion_version: str | None, allow_first: bool
) -> list[CheckResult]:
    """The bound on the candidate's disparity and, with maxWorseVsChampion, the comparison with the champion."""
    groups = ", ".join(f"{g}={v:.4f}" for g, v in d.groups.items())
    left_out = f"; left out (under minRows): {', '.join(d.left_out)}" if d.left_out else ""
    base = dict(
        check="fairness",
        gate=index,
        metric=f"{spec.metric}_{spec.measure}",
        value=d.candidate,
        champion_value=d.champion,
    )
    if d.error or d.candidate is None:
        why = d.error or f"{spec.metric} is undefined in a group (no positive or no negative rows): {groups}"
        return [CheckResult(**base, name=spec.name, kind="bound", threshold=spec.bound, outcome="fail", detail=why)]
    difference = spec.measure == "difference"
    ok = d.candidate <= spec.bound + TOLERANCE if difference else d.candidate >= spec.bound - TOLERANCE
    out = [
        CheckResult(
            **base,
            name=spec.name,
            kind="bound",
            threshold=spec.bound,
            outcome="pass" if ok else "fail",
            detail=f"{spec.metric} {spec.measure} by {spec.sensitiveColumn}={_fmt(d.candidate)} "
            f"{('<=' if ok else '>') if difference else ('>=' if ok else '<')} {spec.bound:g} "
            f"(groups: {groups}{left_out})",
        )
    ]
    if spec.maxWorseVsChampion is None:
        return out
    name = f"{spec.metric} {spec.measure} by {spec.sensitiveColumn} maxWorseVsChampion {spec.maxWorseVsChampion:g}"
    vs = dict(base, name=name, kind="maxWorseVsChampion", threshold=spec.maxWorseVsChampion)
    if d.champion is None:
        if champion_version is None and allow_first:
            return out + [CheckResult(**vs, outcome="skipped", detail="no champion yet: the bound alone decides")]
        why = (
            "no champion yet and validation.allowFirstWithoutChampion is false"
            if champion_version is None
            else f"champion v{champion_version}'s disparity could not be measured on the candidate's rows"
        )
        return out + [CheckResult(**vs, outcome="fail", detail=why)]
    worse = (d.candidate - d.champion) if difference else (d.champion - d.candidate)  # positive = candidate worse
    ok = worse <= spec.maxWorseVsChampion + TOLERANCE
    return out + [
        CheckResult(
            **vs,
            outcome="pass" if ok else "fail",
            detail=f"{spec.metric} {spec.measure} by {spec.sensitiveColumn}={_fmt(d.candidate)} vs champion "
            f"v{champion_version} {_fmt(d.champion)}: {'worse' if worse > 0 else 'better'} by {abs(worse):.4f} "
            f"{'within' if ok else 'exceeds'} {spec.maxWorseVsChampion:g}",
        )
    ]

"""Slices of the held-out rows: metrics per slice for candidate and champion, and the per-slice gates.

A slice set is a column of the training table (``validation.slices``): each distinct value,
or each named bin of a numerical column, is a slice. The candidate and the champion are
compared on the same rows of every slice, so a candidate better on average but worse for
one segment is caught. A slice with fewer than ``minRows`` held-out rows is reported, not gated.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mlpublish.evaluation.gates import CheckResult, evaluate_gate
from mlpublish.evaluation.metrics import Predictions, metrics_from_predictions
from mlpublish.spec import Gate, Slice

MISSING = "(missing)"
# Every slice is a check line, an MLflow tag, a card row and an XCom entry: a column of ids or raw numbers
# without bins would make thousands of them. Past this many distinct values, bins are required.
MAX_SLICE_VALUES = 100


class SliceMetrics(BaseModel):
    """The metrics of one slice of the held-out rows, for the candidate and the champion."""

    slice_set: str  # validation.slices name, e.g. plan
    value: str  # the value or bin name, e.g. premium
    rows: int
    gated: bool  # at least minRows rows
    candidate: dict[str, float]
    champion: dict[str, float] | None = None

    @property
    def label(self) -> str:
        return f"{self.slice_set}={self.value}"


def slice_labels(spec: Slice, values: Any) -> Any:
    """The slice of each row as text: its value, or its bin's name for a binned column."""
    import numpy as np
    import pandas as pd

    series = pd.Series(values)
    if not spec.bins:
        return series.astype("string").fillna(MISSING).astype(object)
    numbers = pd.to_numeric(series, errors="coerce")
    edges = [b.below for b in spec.bins[:-1]]
    index = np.searchsorted(np.asarray(edges, dtype=float), numbers.to_numpy(dtype=float), side="right")
    names = np.asarray([b.name for b in spec.bins], dtype=object)
    labels = names[np.minimum(index, len(names) - 1)]
    labels[numbers.isna().to_numpy()] = MISSING
    return pd.Series(labels, index=series.index, dtype=object)


def too_many_values(slices: list[Slice], frame: Any) -> list[tuple[str, str]]:
    """(field, problem) for each slice set without bins whose column has more than MAX_SLICE_VALUES values."""
    problems = []
    for i, spec in enumerate(slices):
        if spec.bins or spec.column not in frame.columns:
            continue
        n = int(frame[spec.column].nunique(dropna=False))
        if n > MAX_SLICE_VALUES:
            problems.append(
                (
                    f"validation.slices[{i}].column",
                    f"column {spec.column!r} has {n} distinct values, more than {MAX_SLICE_VALUES} slices: "
                    "cut it into named bins (validation.slices[].bins) or slice by a coarser column",
                )
            )
    return problems


def compute_slice_metrics(
    slices: list[Slice],
    groups: Any,
    y: Any,
    candidate: Predictions,
    champion: Predictions | None,
    positive_label: Any = None,
) -> list[SliceMetrics]:
    """Metrics of every slice of every slice set, from predictions made once on all held-out rows.

    ``groups`` holds the slice columns of the held-out rows, in the rows' order.
    """
    import numpy as np

    y = np.asarray(y)
    out: list[SliceMetrics] = []
    for spec in slices:
        labels = np.asarray(slice_labels(spec, groups[spec.column].to_numpy()))
        for value in sorted(set(labels.tolist()), key=str):
            mask = labels == value
            rows = int(mask.sum())
            out.append(
                SliceMetrics(
                    slice_set=spec.set_name,
                    value=str(value),
                    rows=rows,
                    gated=rows >= spec.minRows,
                    candidate=metrics_from_predictions(candidate.take(mask), y[mask], positive_label),
                    champion=None
                    if champion is None
                    else metrics_from_predictions(champion.take(mask), y[mask], positive_label),
                )
            )
    return out


def evaluate_slice_gate(
    index: int,
    gate: Gate,
    slices: list[SliceMetrics],
    min_rows: int,
    champion_version: str | None,
    champion_evaluated: bool,
    allow_first: bool,
) -> list[CheckResult]:
    """One check per slice of the gate's slice set: the gate applied to that slice's rows."""
    mine = [s for s in slices if s.slice_set == gate.perSlice]
    if not mine:
        return [
            CheckResult(
                check="slice",
                gate=index,
                name=gate.describe(),
                outcome="fail",
                metric=gate.metric,
                kind=gate.kind,
                threshold=gate.threshold,
                detail=f"no slice of {gate.perSlice} was measured: the held-out rows carry no {gate.perSlice} column "
                "(a run trained before the slice was added to the spec?)",
            )
        ]
    out = []
    for s in mine:
        if not s.gated:
            out.append(
                CheckResult(
                    check="slice",
                    gate=index,
                    slice=s.label,
                    rows=s.rows,
                    name=f"{gate.metric} {gate.kind} {gate.threshold:g} [{s.label}]",
                    outcome="skipped",
                    metric=gate.metric,
                    kind=gate.kind,
                    threshold=gate.threshold,
                    value=s.candidate.get(gate.metric),
                    detail=f"{s.rows} held-out rows, fewer than minRows {min_rows}: reported, not gated",
                )
            )
            continue
        champion = s.champion if champion_evaluated else None
        result = evaluate_gate(gate, s.candidate, champion, champion_version, allow_first)
        fields = result.model_dump() | {
            "check": "slice",
            "gate": index,
            "slice": s.label,
            "rows": s.rows,
            "name": f"{gate.metric} {gate.kind} {gate.threshold:g} [{s.label}]",
            "detail": f"{s.rows} rows: {result.detail}",
        }
        out.append(CheckResult(**fields))  # validated again: the slice's value is data, scrubbed like any detail
    return out

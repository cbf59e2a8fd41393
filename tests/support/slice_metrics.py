"""Slice measurements of one slice set (plan): a slice the candidate keeps, one it loses, one too small to gate.
Used by the slice-gate tests (tests/unit/evaluation/test_slices.py) and the notification table's (notify)."""

from __future__ import annotations

from mlpublish.evaluation.slices import SliceMetrics


def plan_slices() -> list[SliceMetrics]:
    return [
        SliceMetrics(
            slice_set="plan", value="a", rows=400, gated=True, candidate={"recall": 0.80}, champion={"recall": 0.79}
        ),
        SliceMetrics(
            slice_set="plan", value="c", rows=100, gated=True, candidate={"recall": 0.60}, champion={"recall": 0.70}
        ),
        SliceMetrics(
            slice_set="plan", value="z", rows=5, gated=False, candidate={"recall": 0.0}, champion={"recall": 1.0}
        ),
    ]

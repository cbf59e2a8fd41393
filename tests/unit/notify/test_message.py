"""Notification messages (mlpublish.notify.message): the candidate-vs-champion table, promotion and rollback labels,
the rows of gated slices."""

from __future__ import annotations

import pytest

from mlpublish.evaluation.slices import evaluate_slice_gate
from mlpublish.notify import (
    Source,
    gate_notification,
    promotion_notification,
    render,
)
from mlpublish.notify.message import slice_rows
from mlpublish.results import PromoteResult, ValidateResult
from mlpublish.spec import Gate
from tests.support.notify_results import results
from tests.support.slice_metrics import plan_slices


def test_table_has_every_metric_of_either_side_in_its_own_direction():
    n = gate_notification(*results(), source=Source(orchestrator="cli"))
    rows = {r.metric: r for r in n.metrics}
    assert set(rows) == {"roc_auc", "f1", "log_loss", "brier"}
    assert rows["roc_auc"].candidate == 0.81 and rows["roc_auc"].champion == 0.84
    assert rows["roc_auc"].delta == pytest.approx(-0.03) and rows["roc_auc"].candidate_better is False
    assert rows["log_loss"].candidate_better is True  # lower is better
    assert rows["brier"].champion is None and rows["brier"].delta is None and rows["brier"].candidate_better is None
    assert n.outcome == "FAILED" and n.champion_label == "champion v4"
    text = render.table_text(n)
    for metric in rows:
        assert metric in text
    assert "0.8100" in text and "0.8400" in text and "-0.0300" in text and "worse" in text


def test_promotion_and_rollback_tables_name_their_versions():
    e, _ = results()
    promoted = PromoteResult(
        model_name="churn",
        version="5",
        promoted=True,
        mode="auto",
        champion_before="4",
        champion_after="5",
        reason="v5 beats champion v4 on every relative gate",
    )
    n = promotion_notification(
        promoted,
        source=Source(orchestrator="cli"),
        candidate_metrics=e.metrics,
        champion_metrics=e.champion_metrics,
        compared_version="4",
    )
    assert (n.event, n.outcome, n.version) == ("promotion", "PROMOTED", "5")
    assert (n.candidate_label, n.champion_label) == ("v5 (candidate)", "v4 (champion before)")
    moved = promoted.model_copy(update={"promoted": False, "champion_before": "6", "champion_after": "6"})
    n = promotion_notification(
        moved,
        source=Source(orchestrator="cli"),
        candidate_metrics=e.metrics,
        champion_metrics=e.champion_metrics,
        compared_version="4",
    )
    assert n.outcome == "NOT_PROMOTED" and n.champion_label == "v4 (champion at evaluation)"
    rollback = PromoteResult(
        model_name="churn",
        version="4",
        promoted=True,
        mode="rollback",
        champion_before="5",
        champion_after="4",
        reason="champion rolled back from v5 to v4",
    )
    n = promotion_notification(
        rollback, source=Source(orchestrator="cli"), candidate_metrics={"f1": 0.5}, champion_metrics={"f1": 0.52}
    )
    assert (n.event, n.outcome, n.version, n.candidate_label) == ("rollback", "ROLLED_BACK", "4", "v4 (restored)")


def test_the_notification_table_has_a_row_per_gated_slice_and_disparity():
    gate = Gate(metric="recall", maxDropVsChampion=0.02, perSlice="plan")
    checks = evaluate_slice_gate(0, gate, plan_slices(), 30, "3", True, True)
    rows = slice_rows(ValidateResult(model_name="m", run_id="r", status="FAILED", checks=checks, champion_version="3"))
    assert [(r.metric, r.candidate_better) for r in rows] == [("recall [plan=a]", True), ("recall [plan=c]", False)]

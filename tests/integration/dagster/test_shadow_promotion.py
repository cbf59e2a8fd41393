"""promotion.mode: shadow through Dagster, in process: the first champion is published as in auto mode (nothing to
shadow), the next candidate stops at challenger, and the monitoring job's ``live_promotion`` leaves it challenger
while it loses on live labels, then promotes it once it has won 2 of the last 3 windows.

The live windows are written straight into MLflow with the record's tags (tests/support/live_windows.py)."""

from __future__ import annotations

import sqlalchemy as sa

from mlpublish.registry.contract import CHALLENGER, CHAMPION
from mlpublish_dagster.definitions import build_definitions
from tests.integration.dagster.test_score_monitor import metadata, run_job
from tests.support.dagster_support import spec_folder
from tests.support.live_windows import record_duel

KEY = NAME = "customer_churn_predictor"
EXPERIMENT = f"mlpublish/{NAME}"
LOSS = ({"roc_auc": 0.80, "f1": 0.60}, {"roc_auc": 0.84, "f1": 0.30})  # better, but under the f1 gate
WIN = ({"roc_auc": 0.80, "f1": 0.60}, {"roc_auc": 0.84, "f1": 0.62})


def shadow_folder(root, depth: int):
    return spec_folder(
        root,
        training={"candidates": {"max_depth": [depth]}},
        validation={"gates": [{"metric": "roc_auc", "min": 0.7}, {"metric": "f1", "min": 0.5}]},
        promotion={"mode": "shadow", "shadow": {"windowN": 2, "windowM": 3, "minLabelledRows": 100}},
        scoring={"shadow": True},
        monitoring={"labels": {"table": "churn_labels", "timeColumn": "observed_at"}, "cooldownHours": 0},
    )


def test_a_shadow_challenger_loses_then_wins_on_live_labels_and_is_promoted(workspace):
    with sa.create_engine(workspace.warehouse_url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE churn_labels (customer_id INTEGER, churned INTEGER, observed_at TEXT)"))
    defs = build_definitions(shadow_folder(workspace.root / "dagster", 6), "local")
    first = metadata(run_job(defs, f"{KEY}_publish"), "champion_model")
    assert first["outcome"].value == "PROMOTED" and "has no champion to shadow yet" in first["reason"].value

    defs = build_definitions(shadow_folder(workspace.root / "dagster", 8), "local")  # another candidate
    second = metadata(run_job(defs, f"{KEY}_publish"), "champion_model")
    assert (second["outcome"].value, second["champion_version"].value) == ("SHADOWING", "1")
    reg = workspace.registry()
    assert (reg.alias_version(NAME, CHAMPION), reg.alias_version(NAME, CHALLENGER)) == ("1", "2")

    record_duel(reg.client, EXPERIMENT, NAME, "1", "2", [LOSS, LOSS], last_days_ago=3)
    lost = metadata(run_job(defs, f"{KEY}_monitoring"), "live_promotion")
    assert (lost["outcome"].value, lost["windows_won"].value) == ("WAITING", "0 of 2")
    assert (reg.alias_version(NAME, CHAMPION), reg.alias_version(NAME, CHALLENGER)) == ("1", "2")

    record_duel(reg.client, EXPERIMENT, NAME, "1", "2", [WIN, WIN])  # the last 3: lost, won, won
    won = metadata(run_job(defs, f"{KEY}_monitoring"), "live_promotion")
    assert (won["outcome"].value, won["windows_won"].value, won["champion_version"].value) == (
        "PROMOTED",
        "2 of 3",
        "2",
    )
    assert [r.data["outcome"] for r in won["windows"].value.records] == ["FAIL", "PASS", "PASS"]
    assert (reg.alias_version(NAME, CHAMPION), reg.alias_version(NAME, CHALLENGER)) == ("2", None)
    assert metadata(run_job(defs, f"{KEY}_monitoring"), "live_promotion")["outcome"].value == "NO_CHALLENGER"

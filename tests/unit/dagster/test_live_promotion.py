"""promotion.mode: shadow on Dagster (mlpublish_dagster.live_promotion): the monitoring job of a shadow spec ends
with ``live_promotion`` after ``drift_report``; materialized, it promotes a live winner (and notifies), and leaves
a loser challenger."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import materialize

from mlpublish.registry.contract import CARD_MARKDOWN, CHALLENGER, CHAMPION, PASSED, VALIDATION_TAG
from mlpublish_dagster.assets import spec_assets
from mlpublish_dagster.automation import monitoring_job
from mlpublish_dagster.definitions import build_definitions
from mlpublish_dagster.resources import resources_for
from mlpublish_dagster.specs import survey
from tests.conftest import churn_dict, write_spec
from tests.support.live_windows import record_duel

NAME = "customer_churn_predictor"
SHADOW = {
    "promotion": {"mode": "shadow", "shadow": {"windowN": 2, "windowM": 3, "minLabelledRows": 100}},
    "scoring": {"shadow": True},
    "monitoring": {"labels": {"table": "churn_labels", "timeColumn": "observed_at"}},
    "mlflow": {"experiment": "shadow-dagster"},
}


def shadow_ref(folder: Path):
    folder.mkdir(exist_ok=True)
    spec = churn_dict(**SHADOW)
    spec["validation"]["gates"] = [{"metric": "roc_auc", "min": 0.75}, {"metric": "f1", "min": 0.5}]
    write_spec(folder / "shadow.yaml", spec)
    (ref,), invalid = survey(folder)
    assert not invalid
    return ref


def test_only_a_shadow_spec_gets_live_promotion_after_drift_report_in_its_monitoring_job(tmp_path):
    ref = shadow_ref(tmp_path / "shadow")
    assert ref.shadow
    live = next(a for a in spec_assets(ref) if a.key == ref.asset_key("live_promotion"))
    assert live.asset_deps[live.key] == {ref.asset_key("drift_report")}
    assert {"mlflow", "warehouse", "catalog"} <= set(live.required_resource_keys)
    defs = build_definitions(tmp_path / "shadow", "local")
    job = defs.resolve_job_def(monitoring_job(ref).name)
    assert {n.name for n in job.graph.node_defs} == {
        "customer_churn_predictor__drift_report",
        "customer_churn_predictor__live_promotion",
    }
    (tmp_path / "plain").mkdir()
    write_spec(tmp_path / "plain" / "plain.yaml", churn_dict())
    (plain,), _ = survey(tmp_path / "plain")
    assert not plain.shadow and ref.asset_key("live_promotion") not in {a.key for a in spec_assets(plain)}


@pytest.fixture
def duel(workspace):
    """Champion v1 and challenger v2 (PASSED, each with a training run and a card) in the spec's experiment."""
    reg = workspace.registry()
    exp_id = reg.client.create_experiment("shadow-dagster")
    reg.client.create_registered_model(NAME)
    for _ in range(2):
        run = reg.client.create_run(exp_id)
        reg.client.log_text(run.info.run_id, "# card\n\n## How to roll back\n\nold\n", CARD_MARKDOWN)
        reg.client.create_model_version(NAME, "mlpublish:/c", run.info.run_id, tags={VALIDATION_TAG: PASSED})
    reg.set_alias(NAME, CHAMPION, "1")
    reg.set_alias(NAME, CHALLENGER, "2")
    return reg


@pytest.mark.parametrize("wins", [True, False])
def test_live_promotion_promotes_a_winner_and_leaves_a_loser(workspace, duel, monkeypatch, wins):
    from tests.support.notify_receivers import HttpReceiver

    ref = shadow_ref(workspace.root / "specs")
    f1 = 0.62 if wins else 0.30  # under the f1 gate: better on roc_auc, and still a lost window
    record_duel(
        duel.client, "shadow-dagster", NAME, "1", "2", [({"roc_auc": 0.8, "f1": 0.6}, {"roc_auc": 0.86, "f1": f1})] * 2
    )
    live = next(a for a in spec_assets(ref) if a.key == ref.asset_key("live_promotion"))
    with HttpReceiver() as http:
        monkeypatch.setenv("MLPUBLISH_NOTIFY_WEBHOOK_URL", http.url("/hook"))
        result = materialize([live], resources=resources_for("local"))
        sent = [r["json"] for r in http.received("/hook")]
    assert result.success
    (mat,) = result.asset_materializations_for_node(live.op.name)
    meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    assert meta["outcome"] == ("PROMOTED" if wins else "WAITING")
    assert meta["windows_won"] == ("2 of 2" if wins else "0 of 2")
    assert duel.alias_version(NAME, CHAMPION) == ("2" if wins else "1")
    assert duel.alias_version(NAME, CHALLENGER) == (None if wins else "2")
    assert [(n["outcome"], n["version"]) for n in sent] == ([("PROMOTED", "2")] if wins else [])

"""The DAG folder parsed by a real DagBag: one DAG per valid spec, the chain's tasks in order,
each invalid spec its own placeholder DAG naming file and field (the DAG file itself imports cleanly, so
Airflow keeps every other DAG of it), and no heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import churn_dict, write_spec

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
CHAIN = ["train", "evaluate", "validate", "register", "promote"]


def parse_dag_folder(tmp_path: Path, specs: Path) -> dict:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "MLPUBLISH_SPECS_DIR": str(specs),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "MLPUBLISH_AIRFLOW_RETRIES": "2",
    }
    out = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "support" / "dagbag_probe.py"), str(ROOT / "dags")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dagbag")
    specs = tmp / "specs"
    specs.mkdir()
    write_spec(specs / "churn.yaml", churn_dict(monitoring={"schedule": "0 7 * * *"}))
    write_spec(specs / "manual.yaml", churn_dict(name="churn manual", schedule=None, promotion={"mode": "manual"}))
    write_spec(specs / "bad_split.yaml", churn_dict(name="bad_split", training={"split": {"testSize": 1.5}}))
    (specs / "bad_field.yml").write_text(
        (specs / "churn.yaml").read_text().replace("target: churned", "target: churned\ntargett: x")
    )
    (specs / "notes.txt").write_text("not a spec")
    return parse_dag_folder(tmp, specs)


def test_one_dag_per_valid_spec_with_the_chain_in_order(parsed):
    publish = {"mlpublish__customer_churn_predictor", "mlpublish__churn_manual"}
    placeholders = {"mlpublish__invalid__bad_split", "mlpublish__invalid__bad_field"}
    assert set(parsed["dags"]) == publish | {f"{d}__{b}" for d in publish for b in ("score", "monitor")} | placeholders
    tasks = parsed["dags"]["mlpublish__customer_churn_predictor"]["tasks"]
    assert set(tasks) == set(CHAIN)
    for up, down in zip(CHAIN, CHAIN[1:]):
        assert tasks[up]["downstream"] == [down]
    assert tasks["promote"]["downstream"] == []
    assert tasks["train"]["type"] == "TrainModelOperator"
    assert tasks["register"]["type"] == "RegisterModelVersionOperator"
    assert tasks["validate"]["template_fields"] == ["spec_path", "overrides"]
    assert tasks["train"]["retries"] == 2  # MLPUBLISH_AIRFLOW_RETRIES
    assert parsed["dags"]["mlpublish__customer_churn_predictor"]["params"] == ["overrides"]


def test_schedule_is_cron_or_feature_table_asset(parsed):
    churn = parsed["dags"]["mlpublish__customer_churn_predictor"]
    assert churn["timetable"] == "AssetOrTimeSchedule"  # spec has a cron
    assert "warehouse.main.main.customer_features" in churn["asset"]
    manual = parsed["dags"]["mlpublish__churn_manual"]
    assert manual["timetable"] == "AssetTriggeredTimetable"  # no cron: data-aware only
    assert "warehouse.main.main.customer_features" in manual["asset"]


def test_manual_promotion_waits_for_human_approval(parsed):
    tasks = parsed["dags"]["mlpublish__churn_manual"]["tasks"]
    assert tasks["register"]["downstream"] == ["approve_promotion"]
    assert tasks["approve_promotion"]["type"] == "ApprovalOperator"
    assert tasks["approve_promotion"]["downstream"] == ["promote"]


def test_each_invalid_spec_is_its_own_placeholder_dag_and_the_file_has_no_import_error(parsed):
    # an import error would make Airflow mark every DAG of mlpublish_models.py stale: the fleet would vanish
    assert parsed["import_errors"] == {}
    split, field = parsed["dags"]["mlpublish__invalid__bad_split"], parsed["dags"]["mlpublish__invalid__bad_field"]
    for dag in (split, field):
        assert dag["timetable"] == "NullTimetable"  # never scheduled
        assert {t: v["type"] for t, v in dag["tasks"].items()} == {"spec_error": "InvalidSpecOperator"}
        assert "mlpublish:invalid-spec" in dag["tags"]
    assert "bad_split.yaml" in split["doc_md"] and "training.split.testSize" in split["doc_md"]
    assert "bad_field.yml" in field["doc_md"] and "unknown field 'targett'" in field["doc_md"]


def test_parsing_imports_no_mlflow_sklearn_or_openmetadata(parsed):
    assert parsed["heavy_modules"] == []


def test_score_and_monitor_dags_after_the_champion(parsed):
    score = parsed["dags"]["mlpublish__customer_churn_predictor__score"]
    assert {t: v["type"] for t, v in score["tasks"].items()} == {"score": "ScoreModelOperator"}
    assert score["timetable"] == "NullTimetable"  # no scoring.schedule: triggered by hand or API
    monitor = parsed["dags"]["mlpublish__customer_churn_predictor__monitor"]
    assert monitor["timetable"] == "CronTriggerTimetable"  # monitoring.schedule
    tasks = monitor["tasks"]
    assert tasks["monitor"] == {**tasks["monitor"], "type": "MonitorModelOperator", "downstream": ["retrain_requested"]}
    assert tasks["retrain_requested"]["type"] == "ShortCircuitOperator"
    assert tasks["retrain_requested"]["downstream"] == ["trigger_retraining"]
    assert tasks["trigger_retraining"]["type"] == "TriggerDagRunOperator"
    assert monitor["trigger"] == {
        "trigger_dag_id": "mlpublish__customer_churn_predictor",
        "skip_when_already_exists": True,
    }

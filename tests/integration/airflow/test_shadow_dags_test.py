"""promotion.mode: shadow through ``airflow dags test``: after the CLI published champion v1 (nothing to shadow)
and v2 waits as challenger, the monitor DAG's ``promote_on_live_labels`` task leaves v2 challenger while it loses on
live labels, then promotes it once it has won 2 of the last 3 windows (each task through the Task SDK).

The live windows are written straight into MLflow with the record's tags (tests/support/live_windows.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlpublish.cli import EXIT_OK, main
from mlpublish.registry.contract import CHALLENGER, CHAMPION, PASSED, SHADOW_TAG, SHADOWING, VALIDATION_TAG
from tests.conftest import churn_dict, write_spec
from tests.support.live_windows import record_duel

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
NAME = "customer_churn_predictor"
DAG_ID = f"mlpublish__{NAME}__monitor"
LOSS = ({"roc_auc": 0.80, "f1": 0.60}, {"roc_auc": 0.84, "f1": 0.30})  # better, but under the f1 gate
WIN = ({"roc_auc": 0.80, "f1": 0.60}, {"roc_auc": 0.84, "f1": 0.62})


def shadow_spec(path: Path) -> Path:
    spec = churn_dict(
        promotion={"mode": "shadow", "shadow": {"windowN": 2, "windowM": 3, "minLabelledRows": 100}},
        scoring={"shadow": True},
        monitoring={"labels": {"table": "churn_labels", "timeColumn": "observed_at"}, "cooldownHours": 0},
    )
    spec["validation"]["gates"] = [{"metric": "roc_auc", "min": 0.7}, {"metric": "f1", "min": 0.5}]
    return write_spec(path, spec)


def challenger(reg) -> None:
    """v2, as the chain leaves a candidate in shadow mode (the chain's own path: test_shadow_promotion_sqlite):
    PASSED, challenger, SHADOWING; v1's model under another training run (a second fit would only cost time)."""
    champion = reg.get_version(NAME, "1")
    run = reg.client.create_run(reg.run(champion.run_id).info.experiment_id)
    reg.client.create_model_version(NAME, champion.source, run.info.run_id, tags={VALIDATION_TAG: PASSED})
    reg.set_alias(NAME, CHALLENGER, "2")
    reg.set_version_tag(NAME, "2", SHADOW_TAG, SHADOWING)


def test_the_monitor_dag_leaves_a_loser_challenger_and_promotes_a_winner(workspace):
    home = workspace.root / "airflow-home"
    env = {
        **workspace.env(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "MLPUBLISH_SPECS_DIR": str(workspace.root / "specs"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }
    env.pop("MLFLOW_REGISTRY_URI", None)
    airflow = str(Path(sys.executable).parent / "airflow")
    migrate = subprocess.Popen(  # while the CLI publishes
        [airflow, "db", "migrate"], env=env, cwd=workspace.root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    with sa.create_engine(workspace.warehouse_url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE churn_labels (customer_id INTEGER, churned INTEGER, observed_at TEXT)"))
    (workspace.root / "specs").mkdir()
    spec = shadow_spec(workspace.root / "specs" / "churn.yaml")
    assert main(["-q", "run", str(spec)]) == EXIT_OK  # the first champion: nothing to shadow
    reg = workspace.registry()
    challenger(reg)
    assert (reg.alias_version(NAME, CHAMPION), reg.alias_version(NAME, CHALLENGER)) == ("1", "2")
    assert migrate.wait(timeout=300) == 0, migrate.stderr.read()[-3000:]

    def dags_test() -> str:
        out = subprocess.run(
            [airflow, "dags", "test", DAG_ID], env=env, cwd=workspace.root, capture_output=True, text=True, timeout=600
        )
        log = out.stdout + out.stderr
        assert out.returncode == 0, "\n".join(line for line in log.splitlines() if "rror" in line)[-6000:]
        assert "[DAG TEST] end task task_id=promote_on_live_labels" in log
        assert "state=success" in log.split("DagRun Finished", 1)[1][:2000]
        return log

    record_duel(reg.client, f"mlpublish/{NAME}", NAME, "1", "2", [LOSS, LOSS], last_days_ago=3)
    lost = dags_test()
    assert "WAITING: challenger v2 vs champion v1 on live roc_auc: won 0 of the last 2" in lost
    assert (reg.alias_version(NAME, CHAMPION), reg.alias_version(NAME, CHALLENGER)) == ("1", "2")

    record_duel(reg.client, f"mlpublish/{NAME}", NAME, "1", "2", [WIN, WIN])  # the last 3: lost, won, won
    won = dags_test()
    assert "PROMOTED: promoted on live labels: challenger v2 vs champion v1 on live roc_auc: won 2 of the last 3" in won
    assert (reg.alias_version(NAME, CHAMPION), reg.alias_version(NAME, CHALLENGER)) == ("2", None)
    history = reg.model_tags(NAME)["mlpublish.champion_history"]
    assert '"action":"shadow"' in history

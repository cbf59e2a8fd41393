"""``airflow dags test`` of the demo DAG runs the whole chain (each task through the Task SDK)
and leaves the same registry and catalog state as ``mlpublish run``.

The model is a team's plain Python class (no scikit-learn base, logged as a ``python`` pyfunc with its code):
Airflow publishes, scores and monitors it like any other (the real-Airflow tests run the scikit-learn demo)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from mlflow import MlflowClient

from mlpublish.catalog.local import LocalCatalog
from mlpublish.cli import EXIT_OK, main
from mlpublish.demo.data import shift_feature_distribution
from mlpublish.registry import Registry
from mlpublish.registry.retraining import retrain_requests
from tests.conftest import Workspace, churn_dict, write_spec
from tests.integration.test_notify_delivery import assert_no_secret, env_for
from tests.support.notify_receivers import notify_receivers  # noqa: F401 (fixture)
from tests.support.team_models import write_team_models

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
DAG_ID = "mlpublish__customer_churn_predictor"
MODEL = "customer_churn_predictor"
VOLATILE = ("id", "updatedAt", "changeDescription", "href", "at")


def normalized(value: Any) -> Any:
    """Drop what differs between any two runs: ids, timestamps, run ids, artifact paths, pipeline identity."""
    if isinstance(value, dict):
        return {
            k: ("<storage>" if k == "storage" and v else normalized(v))
            for k, v in value.items()
            if k not in VOLATILE and not k.endswith(("RunId", "At")) and k != "pipeline"
        }
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def registry_state(tracking_uri: str) -> dict[str, Any]:
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)  # never the environment's
    out = {}
    for found in client.search_model_versions(f"name='{MODEL}'"):
        mv = client.get_model_version(MODEL, found.version)  # search results may leave aliases out
        tags = {k: v for k, v in mv.tags.items() if k not in ("mlpublish.run_id", "mlpublish.champion_since")}
        out[str(mv.version)] = {"aliases": sorted(mv.aliases), "tags": tags}
    model = client.get_registered_model(MODEL)
    history = [normalized(e) for e in json.loads(model.tags.get("mlpublish.champion_history", "[]"))]
    return {"versions": out, "history": history}


def catalog_state(path: Path) -> dict[str, Any]:
    catalog = LocalCatalog(path)
    entity = catalog.find_model(MODEL)
    # the description is the champion's model card, which names its run: compare its title line
    entity["description"] = (entity.get("description") or "").split("\n", 1)[0]
    return {
        "entity": normalized(entity),
        "edges": normalized(catalog.edges()),
        "versions": [v["version"] for v in catalog.versions(f"mlflow-local.{MODEL}")],
    }


def cheap_spec(path: Path) -> Path:
    # one drifted monitor window is enough to request retraining (the batch DAGs are tested too)
    spec = churn_dict(
        monitoring={"windowN": 1, "windowM": 1, "cooldownHours": 0},
        validation={"gates": [{"metric": "roc_auc", "min": 0.5}]},
        mlHyperParameters=[{"name": "scale", "value": 2.0}],
    )
    spec["training"] = {"estimator": "teammodels.plain:train_threshold", "task": "classification"}
    return write_spec(path, spec)


def test_dags_test_leaves_the_same_state_as_the_cli(
    workspace, tmp_path_factory, mlflow_template, notify_receivers, monkeypatch
):
    team = write_team_models(workspace.root / "team", monkeypatch).parent
    # Airflow gets a second workspace with the same warehouse and an empty MLflow store; its
    # metadata DB migrates in the background while the CLI publishes in the first workspace
    other = Workspace(tmp_path_factory.mktemp("dags-test"))
    shutil.copy(workspace.warehouse, other.warehouse)
    shutil.copy(mlflow_template, other.root / "mlflow.db")
    specs = other.root / "specs"
    specs.mkdir()
    cheap_spec(specs / "churn.yaml")
    home = other.root / "airflow-home"
    env = {
        **other.env(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "MLPUBLISH_SPECS_DIR": str(specs),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        # notifications: the validate and promote task callbacks send them (see check_notifications)
        **env_for(*notify_receivers),
        "AIRFLOW__API__BASE_URL": "http://airflow.local:8080/",
        # the team's package on the workers' path, as a deployment installs it for the train task
        "PYTHONPATH": os.pathsep.join(p for p in (str(team), os.environ.get("PYTHONPATH", "")) if p),
    }
    env.pop("MLFLOW_REGISTRY_URI", None)
    airflow = str(Path(sys.executable).parent / "airflow")
    migrate = subprocess.Popen(
        [airflow, "db", "migrate"], env=env, cwd=other.root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )

    (workspace.root / "specs").mkdir()
    spec = cheap_spec(workspace.root / "specs" / "churn.yaml")
    assert main(["-q", "run", str(spec), "--pipeline-name", DAG_ID, "--pipeline-run-id", "cli"]) == EXIT_OK

    assert migrate.wait(timeout=300) == 0, migrate.stderr.read()[-3000:]

    def dags_test(dag_id: str) -> str:
        out = subprocess.run(
            [airflow, "dags", "test", dag_id], env=env, cwd=other.root, capture_output=True, text=True, timeout=600
        )
        log = out.stdout + out.stderr
        assert out.returncode == 0, "\n".join(line for line in log.splitlines() if "rror" in line)[-6000:]
        return log

    log = dags_test(DAG_ID)
    for task in ("train", "evaluate", "validate", "register", "promote"):
        assert f"[DAG TEST] end task task_id={task}" in log
    assert_quiet(log)
    assert "DagRun Finished" in log and "state=success" in log
    check_notifications(*notify_receivers)

    airflow_registry, cli_registry = registry_state(other.tracking_uri), registry_state(workspace.tracking_uri)
    assert list(airflow_registry["versions"]) == ["1"] and airflow_registry["versions"]["1"]["aliases"] == ["champion"]
    assert airflow_registry == cli_registry
    assert catalog_state(other.catalog_path) == catalog_state(workspace.catalog_path)
    # the Airflow run is named by its DAG and run id in the lineage details
    edge = next(e for e in LocalCatalog(other.catalog_path).edges() if e["toEntity"]["type"] == "mlmodel")
    assert edge["lineageDetails"]["pipeline"]["name"] == DAG_ID
    assert edge["lineageDetails"]["pipeline"]["runId"].startswith("manual__")

    # the same DAG again on unchanged data: NOTHING NEW skips register (and promote), notifies nobody
    again = dags_test(DAG_ID)
    assert "NOTHING NEW: run " in again and "reproduces champion v1" in again
    assert "state=success" in again.split("DagRun Finished", 1)[1][:2000]
    assert registry_state(other.tracking_uri) == airflow_registry
    assert len([r for r in notify_receivers[0].received("/hook")]) == 2

    # after the champion: batch scoring, then monitoring that triggers retraining only on drift
    log = dags_test(f"{DAG_ID}__score")
    assert "state=success" in log
    engine = sa.create_engine(f"sqlite:///{other.warehouse}")
    with engine.connect() as conn:
        runs = dict(conn.execute(sa.text("SELECT scoring_run_id, COUNT(*) FROM churn_predictions GROUP BY 1")).all())
        features = conn.execute(sa.text("SELECT COUNT(*) FROM customer_features")).scalar()
    engine.dispose()
    [(run_id, rows)] = runs.items()
    assert run_id.startswith(f"{DAG_ID}__score__manual__") and rows == features

    calm = dags_test(f"{DAG_ID}__monitor")
    assert "retrain=False" in calm
    assert "[DAG TEST] end task task_id=trigger_retraining" not in calm  # short-circuited
    shift_feature_distribution(f"sqlite:///{other.warehouse}")
    drifted = dags_test(f"{DAG_ID}__monitor")
    assert "retrain=True" in drifted
    assert "[DAG TEST] end task task_id=trigger_retraining" in drifted, drifted[-4000:]
    assert "DagRun Finished" in drifted and "state=success" in drifted.split("DagRun Finished", 1)[1][:2000]
    # the publish DAG got exactly one run for the drift decision, named after the monitor run
    db = sqlite3.connect(home / "airflow.db")
    triggered = [
        r for (r,) in db.execute("SELECT run_id FROM dag_run WHERE dag_id = ?", (DAG_ID,)) if r.startswith("retrain__")
    ]
    db.close()
    request = retrain_requests(
        Registry(other.tracking_uri), "mlpublish/customer_churn_predictor", "customer_churn_predictor"
    )
    assert triggered == [f"retrain__{request[-1].request_id}"]

    # a FAILED gate (trigger-time override) fails validate: its failure callback notifies the rejected checks
    overrides = {"overrides": {"validation": {"gates": [{"metric": "roc_auc", "min": 0.999}]}}}
    out = subprocess.run(
        [airflow, "dags", "test", DAG_ID, "-c", json.dumps(overrides)],
        env=env,
        cwd=other.root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    check_rejected_notification(*notify_receivers, out.stdout + out.stderr)


def check_notifications(http: Any, smtp: Any) -> None:
    """The publish run notified the gate (validate's success callback) and the promotion (promote's), once each."""
    from urllib.parse import quote

    hooks = [r["json"] for r in http.received("/hook")]
    assert [(h["event"], h["outcome"]) for h in hooks] == [("gate", "PASSED"), ("promotion", "PROMOTED")]
    gate, promotion = hooks
    assert gate["source"]["orchestrator"] == "airflow" and gate["source"]["name"] == DAG_ID
    run_id = gate["source"]["run_id"]
    links = {link["label"]: link["url"] or link["command"] for link in promotion["links"]}
    assert links["Airflow DAG run"] == f"http://airflow.local:8080/dags/{DAG_ID}/runs/{quote(run_id, safe='')}"
    assert links["Catalog entity"] == f"mlpublish catalog show mlflow-local.{MODEL}"
    assert {r["metric"] for r in gate["metrics"]} >= {"roc_auc", "f1", "accuracy"}
    assert (promotion["version"], promotion["champion_after"]) == ("1", "1")
    assert len(http.received("/services/")) == 2 and len(smtp.wait_for(2)) == 2


# What a publish run's log may hold: what mlpublish did and decided, Airflow's own lines, no third-party
# noise. Measured at about 60 KB for the five tasks; before mlpublish.registry.session filtered them, skops's
# module lookup added about 1,160 DeprecatedImportWarning lines (580 KB) to each task that saves a model.
PUBLISH_LOG_BYTES = 200_000


def assert_quiet(log: str) -> None:
    print(f"publish DAG run log: {len(log.encode())} bytes, {log.count(chr(10))} lines")
    assert "DeprecatedImportWarning" not in log, [line for line in log.splitlines() if "Deprecated" in line][:3]
    assert "Downloading artifacts" not in log  # MLflow's progress bars: no terminal here
    assert len(log.encode()) < PUBLISH_LOG_BYTES, log[-3000:]


def check_rejected_notification(http: Any, smtp: Any, log: str) -> None:
    [rejected] = [r["json"] for r in http.received("/hook")][2:]
    assert (rejected["event"], rejected["outcome"], rejected["champion_label"]) == ("gate", "FAILED", "champion v1"), (
        log[-3000:]
    )
    assert [c["outcome"] for c in rejected["checks"] if c["name"] == "roc_auc min 0.999"] == ["fail"]
    assert all(r["champion"] is not None for r in rejected["metrics"])
    assert len(smtp.wait_for(3)) == 3 and len(http.received("/services/")) == 3
    assert_no_secret(*[r["raw"] for r in http.requests], *[m["raw"] for m in smtp.messages], log)

"""A real dagster-webserver and dagster-daemon (storage in PostgreSQL) publishing through a real mlflow server.

One deployment for the module: a run launched through GraphQL, its materializations
and checks read back through GraphQL; then the daemon's sensor turns one drift
decision into exactly one run.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request

import pytest
from mlflow import MlflowClient

from mlpublish.catalog.local import LocalCatalog
from mlpublish.demo.data import build_demo_warehouse
from mlpublish.registry import Registry
from mlpublish.registry.retraining import decision_tags
from tests.support.canary_secrets import MLFLOW_TOKEN
from tests.support.dagster_deployment import LOCATION, REPOSITORY, dagster_deployment
from tests.support.dagster_support import spec_folder
from tests.support.mlflow_server import mlflow_server, postgres_database

pytestmark = pytest.mark.integration

NAME = "customer_churn_predictor"
JOB = "customer_churn_predictor_publish"
SENSOR = "customer_churn_predictor_retraining_sensor"
FQN = "mlflow-local.customer_churn_predictor"
TOKEN = MLFLOW_TOKEN

LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
STATUS = """query($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run { status tags { key value } } } }"""
EVENTS = """query($runId: ID!) { logsForRun(runId: $runId, limit: 5000) { __typename ... on EventConnection { events {
  __typename
  ... on MaterializationEvent { assetKey { path } metadataEntries { label __typename
      ... on TextMetadataEntry { text } ... on UrlMetadataEntry { url } ... on MarkdownMetadataEntry { mdStr }
      ... on IntMetadataEntry { intValue } ... on JsonMetadataEntry { jsonString }
      ... on TableMetadataEntry { table { records } } ... on BoolMetadataEntry { boolValue } } }
  ... on AssetCheckEvaluationEvent { evaluation { checkName success severity description } } } } } }"""
RUNS_WITH_TAG = """query($key: String!, $value: String!) { runsOrError(filter: {tags: [{key: $key, value: $value}]}) {
  __typename ... on Runs { results { runId status } } } }"""
START_SENSOR = """mutation($selector: SensorSelector!) { startSensor(sensorSelector: $selector) {
  __typename ... on Sensor { name } ... on PythonError { message } } }"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, warehouse_template):
    root = tmp_path_factory.mktemp("dagster_deployment")
    shutil.copy(warehouse_template, root / "warehouse.db")
    folder = spec_folder(root, schedule=None)
    with (
        postgres_database("mlp_dagster_mlflow") as backend,
        mlflow_server(backend, root / "artifacts", root / "mlflow.log") as tracking,
    ):
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": tracking,
            "MLFLOW_TRACKING_TOKEN": TOKEN,
            "MLPUBLISH_CATALOG": str(root / "catalog.db"),
            "WAREHOUSE_URL": f"sqlite:///{root / 'warehouse.db'}",
            "MLPUBLISH_SPECS_DIR": str(folder),
            "MLPUBLISH_DEPLOYMENT": "local",
            "MLPUBLISH_SENSOR_INTERVAL": "3",
        }
        env.pop("MLFLOW_REGISTRY_URI", None)
        with dagster_deployment(root, env) as dep:
            dep.tracking = tracking
            dep.root = root
            yield dep


def wait_for_run(dep, run_id: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = dep.graphql(STATUS, runId=run_id)["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s:\n{dep.log_tail()}")


def run_events(dep, run_id: str) -> tuple[dict[str, dict], dict[str, dict]]:
    events = dep.graphql(EVENTS, runId=run_id)["logsForRun"]["events"]
    mats = {
        e["assetKey"]["path"][-1]: {m["label"]: m for m in e["metadataEntries"]}
        for e in events
        if e["__typename"] == "MaterializationEvent"
    }
    checks = {
        e["evaluation"]["checkName"]: e["evaluation"] for e in events if e["__typename"] == "AssetCheckEvaluationEvent"
    }
    return mats, checks


def messages(dep, run_id: str) -> list[str]:
    events = dep.graphql(
        """query($runId: ID!) { logsForRun(runId: $runId, limit: 5000) {
        ... on EventConnection { events { ... on MessageEvent { message } } } } }""",
        runId=run_id,
    )["logsForRun"]["events"]
    return [e.get("message") or "" for e in events]


def test_run_launched_through_graphql_materializes_the_chain(deployment):
    dep = deployment
    launched = dep.graphql(
        LAUNCH,
        params={
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": JOB},
            # one process per step here (the sensor's run below uses the job's default, in process)
            "runConfigData": {"execution": {"config": {"multiprocess": {}}}},
        },
    )
    assert launched["launchRun"]["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["launchRun"]["run"]["runId"]
    assert wait_for_run(dep, run_id) == "SUCCESS", dep.log_tail()

    mats, checks = run_events(dep, run_id)
    assert set(mats) == {
        "trained_model",
        "model_evaluation",
        "validated_model",
        "registered_model_version",
        "champion_model",
    }
    assert set(checks) >= {"roc_auc_min", "f1_min", "smoke_test"} and all(c["success"] for c in checks.values())
    assert {c["severity"] for c in checks.values()} == {"ERROR"}

    trained = mats["trained_model"]
    mlflow_run = trained["mlflow_run_id"]["text"]
    assert trained["mlflow_run"]["url"].startswith(f"{dep.tracking}/#/experiments/")
    assert trained["mlflow_run"]["url"].endswith(f"/runs/{mlflow_run}")
    assert trained["train_rows"]["intValue"] > 0
    metrics = {json.loads(r)["metric"]: json.loads(r) for r in mats["model_evaluation"]["metrics"]["table"]["records"]}
    assert 0.5 < metrics["roc_auc"]["candidate"] <= 1
    assert mats["validated_model"]["validation_status"]["text"] == "PASSED"
    assert mats["registered_model_version"]["model_version"]["text"] == "1"
    champion = mats["champion_model"]
    assert champion["champion_version"]["text"] == "1" and champion["promoted"]["boolValue"] is True
    assert json.loads(champion["aliases"]["jsonString"]) == {"champion": "1"}
    assert champion["catalog_fqn"]["text"] == FQN
    assert champion["catalog_validation_tag"]["text"] == "ModelValidation.PASSED"

    # the plot is an image the UI can load from the MLflow server
    plot_url = mats["model_evaluation"]["plot_url"]["url"]
    assert f"![ROC curve]({plot_url})" in mats["model_evaluation"]["plot"]["mdStr"]
    with urllib.request.urlopen(plot_url, timeout=30) as resp:
        assert resp.status == 200 and resp.read(8) == b"\x89PNG\r\n\x1a\n"

    # the steps ran in separate processes (read back from MLflow) and still produced the CLI's end state
    assert sum("in subprocess" in m for m in messages(dep, run_id)) == 5
    client = MlflowClient(tracking_uri=dep.tracking, registry_uri=dep.tracking)
    mv = client.get_model_version_by_alias(NAME, "champion")
    assert mv.run_id == mlflow_run and mv.tags["model_validation_status"] == "PASSED"
    tags = client.get_run(mlflow_run).data.tags
    assert tags["mlpublish.pipeline.name"] == JOB and tags["mlpublish.pipeline.runId"] == run_id
    catalog = LocalCatalog(dep.root / "catalog.db")
    assert catalog.get(FQN)["extension"]["championVersion"] == "1"
    edges = catalog.lineage(FQN)["upstreamEdges"]
    assert edges and all(e["lineageDetails"]["pipeline"] == {"name": JOB, "runId": run_id} for e in edges)

    assert not any(TOKEN in r for r in dep.responses)


def test_daemon_sensor_turns_one_drift_decision_into_one_run(deployment):
    dep = deployment
    # drift means the data moved: on unchanged data the retrained candidate would be the champion again
    build_demo_warehouse(f"sqlite:///{dep.root / 'warehouse.db'}", customers=800, seed=11, append=True)
    registry = Registry(dep.tracking)
    exp = registry.ensure_experiment(f"mlpublish/{NAME}", None)
    monitor = registry.client.create_run(exp, tags=decision_tags(NAME, retrain=True, reasons=["psi(plan)=0.41"]))
    registry.client.set_terminated(monitor.info.run_id)

    started = dep.graphql(
        START_SENSOR, selector={"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": SENSOR}
    )
    assert started["startSensor"]["__typename"] == "Sensor", started

    def runs():
        return dep.graphql(RUNS_WITH_TAG, key="mlpublish/retrain_request", value=monitor.info.run_id)["runsOrError"][
            "results"
        ]

    deadline = time.monotonic() + 120
    while not runs():
        assert time.monotonic() < deadline, f"the sensor started no run within 120 s:\n{dep.log_tail()}"
        time.sleep(1)
    run_id = runs()[0]["runId"]
    assert wait_for_run(dep, run_id) == "SUCCESS", dep.log_tail()
    # the sensor ticked again meanwhile (every 3 s) without new drift: still exactly one run
    assert [r["runId"] for r in runs()] == [run_id]
    tags = {t["key"]: t["value"] for t in dep.graphql(STATUS, runId=run_id)["runOrError"]["tags"]}
    assert "psi(plan)=0.41" in tags["mlpublish/retrain_reasons"]
    mats, _ = run_events(dep, run_id)
    assert mats["registered_model_version"]["model_version"]["text"] == "2"
    assert any(m.startswith("Executing steps in process") for m in messages(dep, run_id))  # the job's default

"""The DAG on a real Airflow: PostgreSQL metadata DB, api-server, scheduler, dag-processor and a
Celery worker (Redis broker), with a real ``mlflow server``. Runs are triggered and checked
through the REST API v2, and the registry is checked through MLflow.

One deployment for the whole module (starting Airflow is the expensive part). The spec has no cron
schedule (the demo's ``0 3 * * 1`` would let the scheduler start a run of its own on some days): the
DAG runs only when a test triggers it or updates its feature table, and each test asserts that the DAG
holds exactly the runs the tests made.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from mlflow import MlflowClient

from tests.conftest import churn_dict, write_spec
from tests.support.airflow_deployment import airflow_deployment, q
from tests.support.helpers import GATES
from tests.support.mlflow_server import mlflow_server, postgres_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env(tmp_path_factory, warehouse_template):
    root = tmp_path_factory.mktemp("real-airflow")
    model = f"churn_af_{uuid.uuid4().hex[:6]}"
    specs = root / "specs"
    specs.mkdir()
    # no cron: whatever the date and hour, the scheduler starts no run that a test did not make
    write_spec(specs / "churn.yaml", churn_dict(name=model, validation=GATES, schedule=None))
    shutil.copy(warehouse_template, root / "warehouse.db")
    # the Airflow metadata DB migrates while the mlflow server starts
    with (
        airflow_deployment(root) as start,
        postgres_database("mlp_airflow_mlflow") as mlflow_db,
        mlflow_server(mlflow_db, root / "artifacts", root / "mlflow-server.log") as tracking,
    ):
        airflow = start(
            {
                "MLPUBLISH_SPECS_DIR": str(specs),
                "WAREHOUSE_URL": f"sqlite:///{root / 'warehouse.db'}",
                "MLPUBLISH_CATALOG": str(root / "catalog.db"),
                # the provider's own connection type (http://host:port as a URI of type mlpublish_mlflow)
                "AIRFLOW_CONN_MLFLOW_DEFAULT": tracking.replace("http://", "mlpublish-mlflow://", 1),
                "MLPUBLISH_AIRFLOW_RETRIES": "1",
                "MLPUBLISH_AIRFLOW_RETRY_DELAY_SECONDS": "1",
                "MLFLOW_LOGGING_LEVEL": "WARNING",
            }
        )
        dag_id = f"mlpublish__{model}"
        airflow.wait_dag(dag_id)
        client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
        yield {
            "airflow": airflow,
            "dag_id": dag_id,
            "model": model,
            "client": client,
            "catalog": root / "catalog.db",
            "home": airflow.home,
            "made": {},  # run id -> run type of every run the tests made
            "tracking": tracking,
            "specs": specs,
            "root": root,
        }


def trigger(env, conf):
    run_id = env["airflow"].trigger(env["dag_id"], conf)
    env["made"][run_id] = "manual"
    return run_id


def assert_only_the_runs_the_tests_made(env):
    assert env["airflow"].runs(env["dag_id"]) == env["made"]


def versions(client, model):
    return sorted(int(v.version) for v in client.search_model_versions(f"name='{model}'"))


def test_trigger_with_conf_runs_the_chain_and_a_register_retry_makes_no_second_version(env):
    """One run proves both: conf reaches the steps, and register dies once after creating the version."""
    af, dag_id, model, client = env["airflow"], env["dag_id"], env["model"], env["client"]
    conf = {
        "overrides": {
            "mlHyperParameters": [
                {"name": "n_estimators", "value": 25},
                {"name": "random_state", "value": 0},
                {"name": "n_jobs", "value": 1},
            ]
        },
        "fail_register_once": True,
    }
    run_id = trigger(env, conf)
    assert af.wait_run(dag_id, run_id) == "success", af.tasks(dag_id, run_id)
    assert_only_the_runs_the_tests_made(env)
    tasks = af.tasks(dag_id, run_id)
    assert {t: s["state"] for t, s in tasks.items()} == dict.fromkeys(
        ["train", "evaluate", "validate", "register", "promote"], "success"
    )
    train = af.xcom(dag_id, run_id, "train")
    assert train["params"]["n_estimators"] == 25  # the conf override reached the step
    # retry: the first try of register died after the version existed; the second found it
    assert tasks["register"]["try_number"] == 2
    first_try = af.task_log(dag_id, run_id, "register", 1, "injected failure", "registered version 1")
    assert "injected failure" in first_try and "registered version 1" in first_try
    reg = af.xcom(dag_id, run_id, "register")
    assert reg["version"] == "1" and reg["created"] is False
    assert versions(client, model) == [1]
    assert str(client.get_model_version_by_alias(model, "champion").version) == "1"
    # pipeline identity: MLflow run tags and catalog lineage name the DAG and the run
    run = client.get_run(train["run_id"])
    assert run.data.tags["mlpublish.pipeline.name"] == dag_id
    assert run.data.tags["mlpublish.pipeline.runId"] == run_id
    from mlpublish.catalog.local import LocalCatalog

    catalog = LocalCatalog(env["catalog"])
    assert catalog.find_model(model)["extension"]["championVersion"] == "1"
    edge = next(e for e in catalog.edges() if e["toEntity"]["type"] == "mlmodel" and model in e["toEntity"]["fqn"])
    assert edge["lineageDetails"]["pipeline"] == {"name": dag_id, "runId": run_id}
    env["first_run"] = run_id


def links(env, run_id, task_id):
    path = f"/dags/{env['dag_id']}/dagRuns/{q(run_id)}/taskInstances/{task_id}/links"
    return env["airflow"].request("GET", path)["extra_links"]


def test_tasks_link_to_the_mlflow_run_and_the_model_version(env):
    """Extra links as the UI gets them (REST), computed on the worker from the tasks' XComs."""
    run_id, tracking, model = env["first_run"], env["tracking"], env["model"]
    train = env["airflow"].xcom(env["dag_id"], run_id, "train")
    assert links(env, run_id, "train") == {"MLflow run": f"{tracking}/#/runs/{train['run_id']}"}
    register = links(env, run_id, "register")
    assert register["Model version"] == f"{tracking}/#/models/{model}/versions/1"
    promote = links(env, run_id, "promote")
    assert promote["Model version"] == f"{tracking}/#/models/{model}/versions/1"
    assert promote["Catalog entity"] is None  # no OpenMetadata server here: the local catalog has no page


def test_a_champion_move_emits_the_model_asset_event_with_version_and_metrics(env):
    af, dag_id, run_id = env["airflow"], env["dag_id"], env["first_run"]
    events = af.request("GET", f"/assets/events?source_dag_id={dag_id}&source_run_id={q(run_id)}")["asset_events"]
    assert [(e["source_task_id"], e["uri"]) for e in events] == [
        ("promote", f"mlpublish-model://mlflow-local/{env['model']}")
    ]
    extra = events[0]["extra"]
    evaluate = af.xcom(dag_id, run_id, "evaluate")
    assert (extra["model"], extra["version"], extra["champion_before"]) == (env["model"], "1", None)
    assert extra["metrics"] == evaluate["metrics"] and "roc_auc" in extra["metrics"]


def test_the_trigger_refuses_a_misspelled_or_frozen_override_and_no_run_is_made(env):
    af, dag_id = env["airflow"], env["dag_id"]
    for overrides in ({"validaton": {"gates": []}}, {"name": "someone_else"}):
        with pytest.raises(AssertionError, match="HTTP 400") as err:
            af.trigger(dag_id, {"overrides": overrides})
        assert next(iter(overrides)) in str(err.value)
    assert_only_the_runs_the_tests_made(env)  # nothing was created, not even a failed run


def test_a_misspelled_conf_key_fails_the_first_task_instead_of_running_the_file_green(env):
    """Airflow 3 keeps a conf key it has no param for (no schema to refuse it at trigger time): the first
    task refuses it, naming it, before anything is read or written."""
    af, dag_id, model, client = env["airflow"], env["dag_id"], env["model"], env["client"]
    before = versions(client, model)
    run_id = trigger(env, {"override": {"validation": {"gates": [{"metric": "roc_auc", "min": 0.5}]}}})
    assert af.wait_run(dag_id, run_id) == "failed"
    tasks = af.tasks(dag_id, run_id)
    assert tasks["train"]["state"] == "failed" and tasks["train"]["try_number"] == 1  # not retried
    assert tasks["evaluate"]["state"] == "upstream_failed"
    log = af.task_log(dag_id, run_id, "train", 1, "conf.override")
    assert "conf.override" in log and "did you mean 'overrides'?" in log
    assert versions(client, model) == before
    assert_only_the_runs_the_tests_made(env)


def test_the_dag_shows_the_specs_owners_and_whole_description(env):
    dag = env["airflow"].request("GET", f"/dags/{env['dag_id']}")
    details = env["airflow"].request("GET", f"/dags/{env['dag_id']}/details")
    spec = churn_dict(name=env["model"])
    assert dag["owners"] == [", ".join(spec["owners"])]
    assert spec["description"].strip() in details["doc_md"]


def test_failing_gate_fails_validate_and_promote_never_runs(env):
    af, dag_id, model, client = env["airflow"], env["dag_id"], env["model"], env["client"]
    before = versions(client, model)
    conf = {"overrides": {"validation": {"gates": [{"metric": "roc_auc", "min": 0.999}]}}}
    run_id = trigger(env, conf)
    assert af.wait_run(dag_id, run_id) == "failed"
    assert_only_the_runs_the_tests_made(env)
    tasks = af.tasks(dag_id, run_id)
    assert tasks["validate"]["state"] == "failed"
    assert tasks["validate"]["try_number"] == 1  # a rejected candidate is not retried
    assert tasks["register"]["state"] == "upstream_failed"
    assert tasks["promote"]["state"] == "upstream_failed"
    rejected = af.xcom(dag_id, run_id, "validate", key="rejected")
    gate = next(c for c in rejected["checks"] if c["check"] == "gate")
    assert rejected["status"] == "FAILED" and gate["outcome"] == "fail" and gate["threshold"] == 0.999
    log = af.task_log(dag_id, run_id, "validate", 1, "CandidateRejected", "< min 0.999")
    assert "CandidateRejected" in log and "roc_auc=" in log and "< min 0.999" in log
    # the registry: nothing registered, champion untouched, the run tagged FAILED
    assert versions(client, model) == before
    assert str(client.get_model_version_by_alias(model, "champion").version) == "1"
    train = af.xcom(dag_id, run_id, "train")
    assert client.get_run(train["run_id"]).data.tags["model_validation_status"] == "FAILED"


def test_feature_table_update_starts_a_retraining(env):
    af, dag_id = env["airflow"], env["dag_id"]
    assets = af.request("GET", "/assets?name_pattern=customer_features")["assets"]
    asset = next(a for a in assets if a["name"] == "warehouse.main.main.customer_features")
    af.request("POST", "/assets/events", {"asset_id": asset["id"], "extra": {"from": "test"}})
    deadline = time.monotonic() + 120
    runs = []
    while time.monotonic() < deadline and not runs:
        runs = [
            r for r in af.request("GET", f"/dags/{dag_id}/dagRuns")["dag_runs"] if r["run_type"] == "asset_triggered"
        ]
        time.sleep(1)
    assert runs, "the asset event did not start a run"
    env["made"][runs[0]["dag_run_id"]] = "asset_triggered"
    assert_only_the_runs_the_tests_made(env)
    # the chain itself is proven by the runs above: stop this one rather than wait for it
    af.request("PATCH", f"/dags/{dag_id}/dagRuns/{q(runs[0]['dag_run_id'])}", {"state": "failed"})


def listed(af) -> dict[str, dict[str, Any]]:
    """The DAGs the REST API lists (stale DAGs excluded, as the UI's list does), by id."""
    return {d["dag_id"]: d for d in af.request("GET", "/dags?limit=100&dag_id_pattern=mlpublish")["dags"]}


def wait_for(what: str, check: Callable[[], Any], timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_invalid_spec_dropped_in_while_a_run_is_in_flight_hides_nothing(env):
    """Issue 32: the bad spec becomes its own placeholder DAG naming file and field; the DAG file has no import
    error, so every good DAG stays listed (none goes stale) and the run in flight finishes."""
    af, dag_id, specs = env["airflow"], env["dag_id"], env["specs"]
    good = {dag_id, f"{dag_id}__score", f"{dag_id}__monitor"}
    assert good <= set(listed(af))
    release = env["root"] / "release-held-train"
    # a small, seeded model judged by one absolute gate: the run's outcome depends on nothing but the parse
    # (a relative gate against the champion would reject an unlucky candidate and fail the run)
    overrides = {
        "mlHyperParameters": [
            {"name": "n_estimators", "value": 10},
            {"name": "random_state", "value": 0},
            {"name": "n_jobs", "value": 1},
        ],
        "validation": {"gates": [{"metric": "roc_auc", "min": 0.5}]},
    }
    run_id = trigger(env, {"overrides": overrides, "hold_until": str(release)})
    wait_for("train to start (and hold)", lambda: af.tasks(dag_id, run_id).get("train", {}).get("state") == "running")

    bad = specs / "broken_model.yaml"
    write_spec(bad, churn_dict(name="broken_model", training={"split": {"testSize": 1.5}}))
    placeholder = "mlpublish__invalid__broken_model"
    wait_for("the placeholder DAG of the invalid spec", lambda: placeholder in listed(af))
    # the DAG file was parsed with the bad spec in the folder: every good DAG is still listed, none stale
    now = listed(af)
    assert good <= set(now) and not any(now[d]["is_stale"] for d in good)
    assert af.request("GET", "/importErrors")["import_errors"] == []
    details = af.request("GET", f"/dags/{placeholder}/details")
    assert str(bad) in details["doc_md"] and "training.split.testSize" in details["doc_md"]
    assert "mlpublish:invalid-spec" in {t["name"] for t in now[placeholder]["tags"]}
    assert af.tasks(dag_id, run_id)["train"]["state"] == "running"  # the run was in flight across the parse

    release.touch()
    assert af.wait_run(dag_id, run_id) == "success", af.tasks(dag_id, run_id)
    assert_only_the_runs_the_tests_made(env)

    bad.unlink()
    wait_for("the placeholder to go once the file is removed", lambda: placeholder not in listed(af))
    assert good <= set(listed(af))
    assert af.request("GET", "/importErrors")["import_errors"] == []

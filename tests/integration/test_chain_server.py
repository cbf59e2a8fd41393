"""The chain against a real ``mlflow server`` process whose backend store is PostgreSQL."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from mlpublish.cli import EXIT_OK, EXIT_REJECTED, main
from tests.support.helpers import registered_candidate, run_steps, weak_champion_spec
from tests.support.mlflow_server import mlflow_server, postgres_database
from tests.support.workers import run_together

pytestmark = pytest.mark.integration
SUPPORT = Path(__file__).resolve().parents[1] / "support"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-server")
    with postgres_database("mlpublish_it") as db:
        with mlflow_server(db, root / "artifacts", root / "server.log") as url:
            yield url


@pytest.fixture
def remote(workspace, server, monkeypatch):
    """A workspace whose tracking server is the real mlflow server; a fresh model name per test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    workspace.tracking_uri = server
    workspace.model = f"churn_{uuid.uuid4().hex[:8]}"
    return workspace


def versions(name):
    return sorted(int(v.version) for v in MlflowClient().search_model_versions(f"name='{name}'"))


def test_chain_twice_then_rollback_on_server(remote, capsys):
    name = remote.model
    spec = remote.spec(name=name)
    assert main(["-q", "run", str(spec)]) == EXIT_OK
    from mlpublish.demo.data import build_demo_warehouse

    build_demo_warehouse(remote.warehouse_url, customers=800, seed=11, append=True)
    assert main(["-q", "run", str(spec)]) == EXIT_OK
    client = MlflowClient()
    assert versions(name) == [1, 2]
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    # artifacts went through the server (mlflow-artifacts:), and the model loads back from the registry
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert model.metadata.signature is not None
    assert main(["-q", "rollback", name]) == EXIT_OK
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    entity = remote.catalog().find_model(name)
    assert entity["extension"]["championVersion"] == "1"
    assert [t["tagFQN"] for t in entity["tags"]] == ["ModelValidation.PASSED"]


def test_failed_gate_on_server_moves_nothing(remote, capsys):
    name = remote.model
    assert main(["-q", "run", str(remote.spec(name=name))]) == EXIT_OK
    strict = remote.spec("strict.yaml", name=name, validation={"gates": [{"metric": "roc_auc", "min": 0.99}]})
    assert main(["-q", "run", str(strict)]) == EXIT_REJECTED
    assert "roc_auc=0." in capsys.readouterr().out
    client = MlflowClient()
    assert versions(name) == [1]
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    exp = client.get_experiment_by_name(f"mlpublish/{name}")
    statuses = sorted(
        r.data.tags["model_validation_status"]
        for r in client.search_runs([exp.experiment_id], "tags.`mlpublish.model` != ''")
        if "model_validation_status" in r.data.tags
    )
    assert statuses == ["FAILED", "PASSED"]
    entity = remote.catalog().find_model(name)
    assert [t["tagFQN"] for t in entity["tags"]] == ["ModelValidation.FAILED"]
    assert entity["extension"]["championVersion"] == "1"


def _run_workers(script: str, jobs: list[list[str]], env) -> list[dict]:
    outputs = run_together(  # every worker has imported and connected by then
        [lambda start, args=args: [sys.executable, str(SUPPORT / script), *args, str(start)] for args in jobs],
        lead=3.0,
        timeout=300,
        env=env,
    )
    return [json.loads(stdout.strip().splitlines()[-1]) for stdout in outputs]


def test_concurrent_promotion_of_two_challengers(remote, tmp_path):
    """Two processes promote at once: exactly one champion at the end, the better one; history is a chain."""
    name = remote.model
    assert main(["-q", "run", str(weak_champion_spec(remote, name=name))]) == EXIT_OK
    mid = registered_candidate(remote, 1, 2, name=name)
    strong = registered_candidate(remote, 8, 64, name=name)
    assert strong["evaluate"].metrics["roc_auc"] > mid["evaluate"].metrics["roc_auc"] + 0.01
    jobs = []
    for label, c in (("mid", mid), ("strong", strong)):
        state = tmp_path / f"{label}.json"
        state.write_text(json.dumps({k: c[k].to_json() for k in ("evaluate", "validate", "register")}))
        jobs.append([c["spec"], str(state)])
    results = _run_workers("promote_worker.py", jobs, remote.env() | {"MLFLOW_TRACKING_URI": remote.tracking_uri})

    client = MlflowClient()
    champion = client.get_model_version_by_alias(name, "champion").version
    assert champion == strong["register"].version
    history = json.loads(client.get_registered_model(name).tags["mlpublish.champion_history"])
    assert history[0]["to"] == "1" and history[-1]["to"] == champion
    for before, after in zip(history, history[1:]):
        assert after["from"] == before["to"], history  # no lost update: every move starts where the last ended
    promoted = [r for r in results if r["promoted"]]
    assert strong["register"].version in {r["version"] for r in promoted}
    assert all(r["promoted"] or "no longer beats" in r["reason"] for r in results)
    assert len(history) == 1 + len(promoted)


def test_concurrent_register_retries_make_one_version(remote, tmp_path):
    """Two retries of the same register task racing each other: one version."""
    name = remote.model
    spec = remote.spec(name=name)
    s = run_steps(spec, register=False)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({k: s[k].to_json() for k in ("train", "evaluate", "validate")}))
    results = _run_workers(
        "register_worker.py", [[str(spec), str(state)]] * 3, remote.env() | {"MLFLOW_TRACKING_URI": remote.tracking_uri}
    )
    assert versions(name) == [1]
    assert {r["version"] for r in results} == {"1"}
    assert sorted(r["created"] for r in results) == [False, False, True]
    assert MlflowClient().get_registered_model(name).aliases == {"challenger": "1"}


def test_postgres_warehouse_names_tables_like_openmetadata(remote, monkeypatch):
    """The warehouse itself in PostgreSQL: FQNs are <service>.<database>.public.<table>."""
    from mlpublish.demo.data import build_demo_warehouse
    from tests.support.mlflow_server import postgres_database

    with postgres_database("mlpublish_wh") as url:
        build_demo_warehouse(url, customers=1200, seed=7)
        db = url.rsplit("/", 1)[1]
        spec = remote.spec(name=remote.model)
        monkeypatch.setenv("WAREHOUSE_URL", url)
        # the demo spec's feature sources follow the warehouse's database and schema (as the compose stack sets them)
        monkeypatch.setenv("WAREHOUSE_DATABASE", db)
        monkeypatch.setenv("WAREHOUSE_SCHEMA", "public")
        assert main(["-q", "run", str(spec)]) == EXIT_OK
        lineage = remote.catalog().lineage(f"mlflow-local.{remote.model}")
        froms = {e["fromEntity"]["fqn"] for e in lineage["upstreamEdges"]}
        assert f"warehouse.{db}.public.customer_features" in froms
        assert f"warehouse.{db}.public.orders" in froms
        # connection URL (credentials included) never reaches MLflow tags or the catalog
        run = MlflowClient().get_run(remote.catalog().find_model(remote.model)["extension"]["latestRunId"])
        assert not any("postgresql://" in str(v) for v in {**run.data.tags, **run.data.params}.values())
        entity_text = json.dumps(remote.catalog().find_model(remote.model))
        assert "postgresql://" not in entity_text

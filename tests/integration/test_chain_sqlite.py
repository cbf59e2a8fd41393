"""The whole chain on the embedded defaults: SQLite warehouse, MLflow on SQLite, the local catalog."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from mlpublish.cli import EXIT_ERROR, EXIT_OK, EXIT_REJECTED, main
from mlpublish.demo.data import build_demo_warehouse
from tests.conftest import churn_dict
from tests.support.canary_secrets import MLFLOW_PASSWORD
from tests.support.helpers import registered_candidate, run_steps, weak_champion_spec

NAME = "customer_churn_predictor"
FQN = "mlflow-local.customer_churn_predictor"


def run_cli(*args: str) -> int:
    return main(["-q", *args])


def grow(ws, seed: int = 11) -> None:
    build_demo_warehouse(ws.warehouse_url, customers=800, seed=seed, append=True)


def test_first_publish_registers_promotes_and_catalogs(workspace, capsys):
    spec = workspace.spec()
    assert run_cli("run", str(spec)) == EXIT_OK
    out = capsys.readouterr().out
    assert "first champion" in out and "validation PASSED" in out

    client = MlflowClient()
    mv = client.get_model_version_by_alias(NAME, "champion")
    assert str(mv.version) == "1"
    assert mv.tags["model_validation_status"] == "PASSED"
    run = client.get_run(mv.run_id)
    assert run.data.tags["model_validation_status"] == "PASSED"
    assert run.data.metrics["test_roc_auc"] > 0.75
    assert run.inputs.dataset_inputs[0].dataset.name == "warehouse.main.main.customer_features"
    artifacts = {a.path for a in client.list_artifacts(mv.run_id, "evaluation")}
    assert {"evaluation/roc_curve.png", "evaluation/confusion_matrix.png", "evaluation/metrics.json"} <= artifacts
    checks = json.loads(Path(client.download_artifacts(mv.run_id, "validation/checks.json")).read_text())
    assert {c["check"] for c in checks} == {"gate", "smoke_test", "contract", "metadata"}

    entity = workspace.catalog().find_model(NAME)
    assert entity["fullyQualifiedName"] == FQN
    assert [t["tagFQN"] for t in entity["tags"]] == ["ModelValidation.PASSED"]
    assert entity["algorithm"] == "RandomForestClassifier" and entity["target"] == "churned"
    assert entity["extension"]["championVersion"] == "1"
    assert entity["extension"]["latestRunId"] == mv.run_id
    storage = entity["mlStore"]["storage"]
    assert storage.startswith("file://") and Path(storage[len("file://") :], "MLmodel").exists()
    hp = {h["name"]: h["value"] for h in entity["mlHyperParameters"]}
    assert hp["n_estimators"] == "30" and hp["max_depth"] == "6"
    recency = next(f for f in entity["mlFeatures"] if f["name"] == "recency_days")
    assert recency["featureSources"][0]["dataSource"]["fullyQualifiedName"] == "warehouse.main.main.orders"

    assert run_cli("catalog", "lineage", NAME) == EXIT_OK
    lineage = json.loads(capsys.readouterr().out)
    edges = {(e["fromEntity"]["fqn"], e["toEntity"]["fqn"]): e for e in lineage["upstreamEdges"]}
    assert set(edges) == {
        ("warehouse.main.main.customer_features", FQN),
        ("warehouse.main.main.orders", "warehouse.main.main.customer_features"),
        ("warehouse.main.main.customers", "warehouse.main.main.customer_features"),
        ("warehouse.main.main.support_tickets", "warehouse.main.main.customer_features"),
    }
    orders = edges[("warehouse.main.main.orders", "warehouse.main.main.customer_features")]["lineageDetails"]
    assert {
        "fromColumns": ["warehouse.main.main.orders.amount"],
        "toColumn": "warehouse.main.main.customer_features.monetary",
    } in orders["columnsLineage"]
    # the source tables were registered from the warehouse's real schema
    customers = workspace.catalog().get("warehouse.main.main.customers")
    assert {c["name"] for c in customers["columns"]} >= {"customer_id", "signup_date", "plan"}


def test_second_publish_compares_with_champion_and_rollback_restores(workspace, capsys):
    spec = workspace.spec()
    assert run_cli("run", str(spec)) == EXIT_OK
    capsys.readouterr()
    grow(workspace)
    assert run_cli("run", "--json", str(spec)) == EXIT_OK, (
        "800 more customers should give a candidate within maxDrop 0.01"
    )
    result = json.loads(capsys.readouterr().out)
    assert result["evaluation"]["champion_version"] == "1"
    assert result["promotion"]["promoted"] and result["promotion"]["champion_before"] == "1"
    client = MlflowClient()
    run2 = client.get_run(result["training"]["run_id"])
    assert run2.data.tags["mlpublish.compared_champion"] == "1"
    assert "champion_test_roc_auc" in run2.data.metrics
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "2"

    assert run_cli("rollback", NAME) == EXIT_OK
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    hist = json.loads(client.get_registered_model(NAME).tags["mlpublish.champion_history"])
    assert [(h["from"], h["to"], h["action"]) for h in hist] == [
        (None, "1", "promote"),
        ("1", "2", "promote"),
        ("2", "1", "rollback"),
    ]
    catalog_hist = workspace.catalog().alias_history(FQN)
    assert [(h["previous"], h["version"], h["action"]) for h in catalog_hist] == [
        (None, "1", "promote"),
        ("1", "2", "promote"),
        ("2", "1", "rollback"),
    ]
    assert workspace.catalog().find_model(NAME)["extension"]["championVersion"] == "1"
    # nothing earlier than v1: a clear error, champion untouched
    assert run_cli("rollback", NAME) == EXIT_ERROR
    assert "no earlier champion" in capsys.readouterr().err
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"

    assert run_cli("status", NAME, "--json") == EXIT_OK
    status = json.loads(capsys.readouterr().out)
    assert status["champion"] == "1"
    assert [(v["version"], v["status"], v["aliases"]) for v in status["versions"]] == [
        ("1", "PASSED", ["champion"]),
        ("2", "PASSED", []),
    ]
    assert "roc_auc" in status["versions"][0]["metrics"]


def test_failed_gate_exits_3_and_moves_nothing(workspace, capsys):
    assert run_cli("run", str(workspace.spec())) == EXIT_OK
    strict = workspace.spec("strict.yaml", validation={"gates": [{"metric": "roc_auc", "min": 0.99}]})
    assert run_cli("run", str(strict)) == EXIT_REJECTED
    out = capsys.readouterr().out
    assert "FAIL    roc_auc min 0.99" in out and "< min 0.99" in out
    # a refused candidate is worded as refused, never as "registered"; the smoke test names the rows it scored
    assert "\nrefused    run " in out and "FAILED validation: not registered" in out and "registered run" not in out
    smoke = next(line for line in out.splitlines() if "loads through mlflow.pyfunc" in line)
    scored, predictions = re.search(r"scores (\d+) rows\s+(\d+) predictions", smoke).groups()
    assert scored == predictions, smoke

    client = MlflowClient()
    assert [str(v.version) for v in client.search_model_versions(f"name='{NAME}'")] == ["1"]  # FAILED is not registered
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    failed_run = client.search_runs(
        [client.get_experiment_by_name(f"mlpublish/{NAME}").experiment_id], "tags.model_validation_status = 'FAILED'"
    )
    assert len(failed_run) == 1
    entity = workspace.catalog().find_model(NAME)
    assert [t["tagFQN"] for t in entity["tags"]] == ["ModelValidation.FAILED"]
    assert entity["extension"]["championVersion"] == "1"
    assert "roc_auc min 0.99" in entity["extension"]["validationSummary"]


def test_no_gates_is_failed_not_silently_passed(workspace, capsys):
    spec = workspace.spec(validation={"gates": []})
    assert run_cli("run", str(spec)) == EXIT_REJECTED
    assert "validation.gates is empty" in capsys.readouterr().out
    assert MlflowClient().search_registered_models(f"name='{NAME}'") == []


def test_register_failed_for_audit_never_aliased(workspace):
    spec = workspace.spec(validation={"registerFailed": True, "gates": [{"metric": "roc_auc", "min": 0.999}]})
    assert run_cli("run", str(spec)) == EXIT_REJECTED
    client = MlflowClient()
    (mv,) = client.search_model_versions(f"name='{NAME}'")
    assert mv.tags["model_validation_status"] == "FAILED"
    assert client.get_registered_model(NAME).aliases == {}


def test_register_retry_returns_same_version(workspace):
    from mlpublish.deployment.context import PublishContext
    from mlpublish.spec import load_spec
    from mlpublish.steps import register_version

    s = run_steps(workspace.spec(), register=False)
    args = (s["train"], s["evaluate"], s["validate"])
    first = register_version(s["ctx"], *args)
    # a retry in a fresh process: nothing cached
    second = register_version(PublishContext.create(load_spec(workspace.spec())), *args)
    assert first.created and not second.created
    assert first.version == second.version == "1"
    assert len(MlflowClient().search_model_versions(f"name='{NAME}'")) == 1


def test_manual_mode_waits_then_promote_by_command(workspace, capsys):
    spec = workspace.spec(promotion={"mode": "manual"})
    assert run_cli("run", str(spec)) == EXIT_OK
    out = capsys.readouterr().out
    assert f"mlpublish promote {NAME} --version 1" in out
    client = MlflowClient()
    assert {k: str(v) for k, v in client.get_registered_model(NAME).aliases.items()} == {"challenger": "1"}
    assert run_cli("promote", NAME, "--version", "1") == EXIT_OK
    assert {k: str(v) for k, v in client.get_registered_model(NAME).aliases.items()} == {"champion": "1"}
    assert workspace.catalog().find_model(NAME)["extension"]["championVersion"] == "1"


def test_approval_required_ends_at_challenger_and_an_approver_moves_it(workspace, capsys, monkeypatch):
    """promotion.approval: required through the CLI: the chain's identity cannot approve its own run; an
    approver can, and the catalog says who approved."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "svc-chain")  # no server: the identity is recorded, not proven
    spec = workspace.spec(promotion={"approval": "required", "approvers": ["ada"]})
    assert run_cli("run", str(spec)) == EXIT_OK
    assert f"mlpublish approve {NAME} 1" in capsys.readouterr().out
    client = MlflowClient()
    assert {k: str(v) for k, v in client.get_registered_model(NAME).aliases.items()} == {"challenger": "1"}
    assert client.get_model_version(NAME, "1").tags["mlpublish.approval.requested_by"] == "svc-chain"
    assert run_cli("approve", NAME, "1") == 4
    assert "'svc-chain' registered" in capsys.readouterr().err
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ada")
    assert run_cli("approve", NAME, "1", "--reason", "gates reviewed") == EXIT_OK
    assert {k: str(v) for k, v in client.get_registered_model(NAME).aliases.items()} == {"champion": "1"}
    extension = workspace.catalog().find_model(NAME)["extension"]
    assert (extension["championApprovedBy"], extension["championApprovalReason"]) == ("ada", "gates reviewed")


def test_promote_refuses_failed_version(workspace, capsys):
    spec = workspace.spec(validation={"registerFailed": True, "gates": [{"metric": "roc_auc", "min": 0.999}]})
    run_cli("run", str(spec))
    assert run_cli("promote", NAME, "--version", "1") == EXIT_REJECTED
    assert "only PASSED versions" in capsys.readouterr().err
    assert MlflowClient().get_registered_model(NAME).aliases == {}


def test_bad_spec_writes_nothing(workspace, capsys):
    spec = workspace.spec(mlFeatures=[{"name": "no_such_column", "dataType": "numerical"}])
    before = sorted(p.name for p in workspace.root.iterdir())
    mlflow_db = (workspace.root / "mlflow.db").read_bytes()
    assert run_cli("run", str(spec)) == EXIT_ERROR
    err = capsys.readouterr().err
    assert str(spec) in err and "mlFeatures[0].name" in err and "no_such_column" in err
    assert sorted(p.name for p in workspace.root.iterdir()) == before  # no catalog file, no artifacts
    assert (workspace.root / "mlflow.db").read_bytes() == mlflow_db


def test_champion_moved_after_validation_is_recompared(workspace):
    """Compare-and-set: a candidate validated against v1 must beat whatever is champion when it is promoted."""
    from mlpublish.steps import promote_challenger

    assert run_cli("run", str(weak_champion_spec(workspace))) == EXIT_OK  # v1: a weak champion
    mid = registered_candidate(workspace, 1, 2)
    strong = registered_candidate(workspace, 8, 64)
    assert mid["evaluate"].champion_version == strong["evaluate"].champion_version == "1"
    assert strong["evaluate"].metrics["roc_auc"] > mid["evaluate"].metrics["roc_auc"] + 0.01

    def promote(c):
        return promote_challenger(c["ctx"], c["evaluate"], c["validate"], c["register"])

    # the strong one is promoted first; the mid one, validated against v1, must now be refused
    p_strong, p_mid = promote(strong), promote(mid)
    assert p_strong.promoted and p_strong.champion_after == strong["register"].version
    assert not p_mid.promoted and "no longer beats" in p_mid.reason and f"v{strong['register'].version}" in p_mid.reason
    (contract,) = [c for c in p_mid.checks if c.check == "contract"]  # against the new champion's contract too
    assert contract.outcome == "pass" and contract.detail == f"same contract as champion v{strong['register'].version}"
    assert str(MlflowClient().get_model_version_by_alias(NAME, "champion").version) == strong["register"].version
    # promoting again is a no-op, not a second move
    assert promote(strong).reason.endswith("(nothing to move)")
    assert len(json.loads(MlflowClient().get_registered_model(NAME).tags["mlpublish.champion_history"])) == 2


def test_regression_task(workspace, capsys):
    spec = workspace.spec(
        target="monetary",
        algorithm="Ridge",
        mlFeatures=[
            {
                "name": "frequency",
                "dataType": "numerical",
                "featureSources": [
                    {"name": "order_id", "dataType": "integer", "dataSourceFqn": "warehouse.main.main.orders"}
                ],
            },
            {
                "name": "tenure_days",
                "dataType": "numerical",
                "featureSources": [
                    {"name": "signup_date", "dataType": "date", "dataSourceFqn": "warehouse.main.main.customers"}
                ],
            },
            {
                "name": "plan",
                "dataType": "categorical",
                "featureSources": [
                    {"name": "plan", "dataType": "string", "dataSourceFqn": "warehouse.main.main.customers"}
                ],
            },
        ],
        replace={
            "training": {
                "estimator": "sklearn.linear_model.Ridge",
                "candidates": {"alpha": [0.1, 10.0]},
                "selectBy": "rmse",
            }
        },
        mlHyperParameters=[],
        validation={"gates": [{"metric": "r2", "min": 0.3}, {"metric": "rmse", "maxDropVsChampion": 5.0}]},
    )
    assert run_cli("run", str(spec)) == EXIT_OK
    client = MlflowClient()
    mv = client.get_model_version_by_alias(NAME, "champion")
    run = client.get_run(mv.run_id)
    assert {"test_rmse", "test_mae", "test_r2"} <= set(run.data.metrics)
    assert "evaluation/residuals.png" in {a.path for a in client.list_artifacts(mv.run_id, "evaluation")}
    children = client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")
    assert len(children) == 2 and all("val_rmse" in c.data.metrics for c in children)


def test_cli_help_is_fast_and_imports_nothing_heavy():
    code = "import sys; from mlpublish.cli.commands import _parser; _parser().format_help(); print(sorted(m for m in ('mlflow','sklearn','pandas','sqlalchemy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_check_command_validates_without_writing(workspace, capsys):
    spec = workspace.spec()
    assert run_cli("check", str(spec)) == EXIT_OK
    assert "OK: customer_churn_predictor (classification" in capsys.readouterr().out
    assert not workspace.catalog_path.exists()


def test_check_warns_about_sources_it_cannot_check_in_another_database(workspace, monkeypatch, capsys, caplog):
    """A source FQN under the warehouse's service but another database (e.g. the SQLite names against a
    PostgreSQL warehouse) cannot be checked through this connection: said, not silently skipped."""
    monkeypatch.setenv("WAREHOUSE_DATABASE", "analytics")
    spec = workspace.spec()
    assert run_cli("check", str(spec)) == EXIT_OK
    unchecked = [r.getMessage() for r in caplog.records if "is not checked" in r.getMessage()]
    assert (
        len(unchecked) == 6
        and "warehouse.analytics.main.orders is not checked: this warehouse connection is warehouse.main"
        in unchecked[0]
    )


def test_unreachable_tracking_server_is_a_clear_error_without_secrets(workspace, monkeypatch, capsys):
    from tests.support.mlflow_server import free_port

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://alice:{MLFLOW_PASSWORD}@127.0.0.1:{free_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    assert run_cli("run", str(workspace.spec())) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "127.0.0.1" in err and "alice:***@" in err
    assert MLFLOW_PASSWORD not in err
    assert not workspace.catalog_path.exists()  # failed before the first catalog event: nothing written


def test_missing_training_table_is_a_spec_error(workspace, capsys):
    spec = workspace.spec(data={"trainingTable": "no_such_table"})
    assert run_cli("check", str(spec)) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "data.trainingTable" in err and "'no_such_table' not found" in err


def _chain(ws, path):
    from mlpublish.spec import load_spec
    from mlpublish.workflows.chain import run_chain

    return run_chain(load_spec(path))


def test_rejected_candidate_leaves_the_champion_entity_alone(workspace):
    _chain(workspace, workspace.spec())
    catalog = workspace.catalog()
    before = catalog.find_model(NAME)
    edges_before = catalog.lineage(FQN)["upstreamEdges"]
    strict = workspace.spec(
        "strict.yaml",
        mlHyperParameters=[{"name": "n_estimators", "value": 7}],
        mlFeatures=churn_dict()["mlFeatures"][:5],
        validation={"gates": [{"metric": "roc_auc", "min": 0.99}]},
    )
    result = _chain(workspace, strict)
    assert result.status == "FAILED"
    after = catalog.find_model(NAME)
    for field in ("mlStore", "mlHyperParameters", "mlFeatures", "algorithm"):
        assert after[field] == before[field], field
    assert catalog.lineage(FQN)["upstreamEdges"] == edges_before
    assert json.loads(after["extension"]["latestHyperParameters"])["n_estimators"] == 7
    assert after["extension"]["latestRunId"] == result.training.run_id


def test_retried_promote_does_not_undo_a_rollback(workspace):
    from mlpublish.deployment.context import PublishContext
    from mlpublish.spec import load_spec
    from mlpublish.steps import promote_challenger

    spec = workspace.spec()
    first = _chain(workspace, spec)
    grow(workspace)
    second = _chain(workspace, spec)
    assert second.promotion.promoted and second.promotion.champion_after == "2"
    assert run_cli("rollback", NAME) == EXIT_OK
    v1_store = MlflowClient().get_logged_model(first.training.model_id).artifact_location
    assert workspace.catalog().find_model(NAME)["mlStore"]["storage"] == v1_store  # v1's own entity is back

    retry = promote_challenger(
        PublishContext.create(load_spec(spec)), second.evaluation, second.validation, second.registration
    )
    assert not retry.promoted and "has since been replaced" in retry.reason
    assert str(MlflowClient().get_model_version_by_alias(NAME, "champion").version) == "1"


def test_retry_completes_an_interrupted_champion_move(workspace):
    """The process died right after moving the alias: the retry writes the history and the catalog."""
    from mlpublish.registry import Registry
    from mlpublish.steps import promote_challenger

    s = run_steps(workspace.spec())
    Registry(workspace.tracking_uri).set_alias(NAME, "champion", s["register"].version)  # ... and then the crash
    assert "championVersion" not in workspace.catalog().find_model(NAME)["extension"]
    p = promote_challenger(s["ctx"], s["evaluate"], s["validate"], s["register"])
    assert p.promoted and "nothing to move" in p.reason
    hist = json.loads(MlflowClient().get_registered_model(NAME).tags["mlpublish.champion_history"])
    assert [(h["to"], h["action"]) for h in hist] == [("1", "recovered")]
    assert workspace.catalog().find_model(NAME)["extension"]["championVersion"] == "1"
    assert [h["version"] for h in workspace.catalog().alias_history(FQN)] == ["1"]


def test_registry_lock_breaks_stale_locks_and_spares_live_ones(workspace):
    import time

    from mlpublish.errors import RegistryConflict
    from mlpublish.registry import Registry
    from mlpublish.registry.lock import LOCK_PREFIX, take_down

    reg = Registry(workspace.tracking_uri)
    lock = f"{LOCK_PREFIX}m"
    reg.client.create_registered_model(lock, tags={"owner": "dead-host:1:x", "expires_at": str(time.time() - 1)})
    with reg.lock("m", timeout=10):  # the dead holder's lock is taken down
        assert reg.client.get_registered_model(lock).tags["owner"] != "dead-host:1:x"
    assert reg.client.search_registered_models(f"name LIKE '{LOCK_PREFIX}%'") == []

    reg.client.create_registered_model(lock, tags={"owner": "live-host:1:y", "expires_at": str(time.time() + 300)})
    assert take_down(reg, lock, "someone-else") is False  # not ours: untouched
    assert reg.client.get_registered_model(lock).tags["owner"] == "live-host:1:y"
    with pytest.raises(RegistryConflict, match="locked by another publish"):
        with reg.lock("m", timeout=0.5):
            pass


def test_changed_split_makes_the_champion_comparison_fail_loudly(workspace, capsys):
    assert run_cli("run", str(workspace.spec())) == EXIT_OK
    reseeded = workspace.spec("reseeded.yaml", training={"split": {"seed": 7}})
    assert run_cli("run", str(reseeded)) == EXIT_REJECTED
    out = capsys.readouterr().out
    assert "was split with" in out and "would not be fair" in out
    assert str(MlflowClient().get_model_version_by_alias(NAME, "champion").version) == "1"


def test_check_in_an_empty_folder_names_the_missing_warehouse_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from tests.conftest import write_spec

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    spec = write_spec(
        tmp_path / "s.yaml", churn_dict(training={"candidates": {"max_depth": [2, 4]}, "split": {"validationSize": 0}})
    )
    assert run_cli("check", str(spec)) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "data.connection: no SQLite warehouse file at" in err
    assert "training.split.validationSize: must be > 0 to choose among the 2 candidates" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_retry_after_manual_approval_and_rollback_does_not_move_back(workspace):
    from mlpublish.deployment.context import PublishContext
    from mlpublish.spec import load_spec
    from mlpublish.steps import promote_challenger

    assert run_cli("run", str(workspace.spec())) == EXIT_OK
    grow(workspace)
    manual = workspace.spec("manual.yaml", promotion={"mode": "manual"})
    second = _chain(workspace, manual)
    assert run_cli("promote", NAME, "--version", "2") == EXIT_OK
    assert run_cli("rollback", NAME) == EXIT_OK
    auto = second.model_copy()
    retry = promote_challenger(
        PublishContext.create(load_spec(workspace.spec())), auto.evaluation, auto.validation, auto.registration
    )
    assert not retry.promoted and "was champion before (manual" in retry.reason
    assert str(MlflowClient().get_model_version_by_alias(NAME, "champion").version) == "1"


def test_champion_without_split_record_is_not_compared(workspace, capsys):
    assert run_cli("run", str(workspace.spec())) == EXIT_OK
    client = MlflowClient()
    client.delete_tag(client.get_model_version_by_alias(NAME, "champion").run_id, "mlpublish.split")
    assert run_cli("run", str(workspace.spec())) == EXIT_REJECTED
    assert "records no split" in capsys.readouterr().out


def test_rollback_that_cannot_reach_the_catalog_says_how_to_finish(workspace, monkeypatch, capsys):
    from mlpublish.catalog.local import LocalCatalog

    spec = workspace.spec()
    assert run_cli("run", str(spec)) == EXIT_OK
    grow(workspace)
    assert run_cli("run", str(spec)) == EXIT_OK
    real = LocalCatalog.publish
    monkeypatch.setattr(LocalCatalog, "publish", lambda self, events: (_ for _ in ()).throw(OSError("disk full")))
    assert run_cli("rollback", NAME) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "champion of customer_churn_predictor is v1 in the registry, but the catalog was not updated" in err
    assert f"finish with: mlpublish promote {NAME} --version 1" in err
    monkeypatch.setattr(LocalCatalog, "publish", real)
    assert run_cli("promote", NAME, "--version", "1") == EXIT_OK  # finishes, does not roll back again
    assert str(MlflowClient().get_model_version_by_alias(NAME, "champion").version) == "1"
    extension = workspace.catalog().find_model(NAME)["extension"]
    assert extension["championVersion"] == "1" and extension["previousChampionVersion"] == "2"


def test_lost_catalog_is_rebuilt_from_the_champion_not_a_rejected_candidate(workspace):
    first = _chain(workspace, workspace.spec())
    champion_store = workspace.catalog().find_model(NAME)["mlStore"]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{workspace.catalog_path}{suffix}").unlink(missing_ok=True)
    strict = workspace.spec("strict.yaml", validation={"gates": [{"metric": "roc_auc", "min": 0.99}]})
    assert _chain(workspace, strict).status == "FAILED"
    entity = workspace.catalog().find_model(NAME)
    assert entity["mlStore"] == champion_store
    assert first.training.run_id != entity["extension"]["latestRunId"]


def test_a_lost_lock_stops_the_guarded_write(workspace):
    from mlpublish.errors import RegistryConflict
    from mlpublish.registry import Registry
    from mlpublish.registry.lock import LOCK_PREFIX

    reg = Registry(workspace.tracking_uri)
    with pytest.raises(RegistryConflict, match="lost the lock"):
        with reg.lock("m"):
            # our lease ran out and another publish broke the lock and took it
            reg.client.delete_registered_model(f"{LOCK_PREFIX}m")
            reg.client.create_registered_model(f"{LOCK_PREFIX}m", tags={"owner": "other:1:z"})
            reg.set_alias("m", "champion", "1")


def test_lock_of_a_killed_holder_on_this_host_is_broken_at_once(workspace):
    """A task SIGKILLed while holding the lock: its retry must not wait out the 5-minute lease (longer
    than the lock timeout), while a live holder's lock stays untouched."""
    import subprocess
    import sys

    from mlpublish.errors import RegistryConflict
    from mlpublish.registry import Registry
    from mlpublish.registry.lock import LOCK_PREFIX

    holder = (
        "import os, sys; from mlpublish.registry import Registry\n"
        "with Registry(sys.argv[1]).lock('m'):\n    print('held', flush=True); os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run([sys.executable, "-c", holder, workspace.tracking_uri], capture_output=True, text=True)
    assert done.returncode == -9 and "held" in done.stdout
    reg = Registry(workspace.tracking_uri)
    assert reg.client.get_registered_model(f"{LOCK_PREFIX}m").tags["expires_at"]  # left behind, lease running
    with reg.lock("m", timeout=5):  # the dead holder's lock is taken down, lease or not
        pass
    assert reg.client.search_registered_models(f"name LIKE '{LOCK_PREFIX}%'") == []

    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import socket
        import time

        from mlpublish.registry.lock import pid_namespace

        reg.client.create_registered_model(
            f"{LOCK_PREFIX}m",
            tags={
                "owner": f"{socket.gethostname()}:{alive.pid}:x",
                "expires_at": str(time.time() + 300),
                "pidns": pid_namespace(),
            },
        )
        with pytest.raises(RegistryConflict, match="locked by another publish"):
            with reg.lock("m", timeout=0.5):
                pass
    finally:
        alive.kill()
        alive.wait()


def test_unchanged_retrain_is_nothing_new(workspace, capsys, monkeypatch):
    """The same data, parameters, estimator and code again: no version, no move, no notification, exit 0."""
    import mlpublish.cli.commands

    spec = workspace.spec()
    assert run_cli("run", str(spec)) == EXIT_OK
    capsys.readouterr()
    sent = []
    monkeypatch.setattr(mlpublish.cli.commands, "_notify", lambda *a: sent.append(a))
    assert run_cli("run", str(spec)) == EXIT_OK
    out = capsys.readouterr().out
    assert "outcome    NOTHING NEW: run " in out and "reproduces champion v1" in out
    assert "champion   v1 (unchanged, nothing registered, nobody notified)" in out
    assert "registered version" not in out and "PROMOTED" not in out
    assert sent == []
    client = MlflowClient()
    assert [str(v.version) for v in client.search_model_versions(f"name='{NAME}'")] == ["1"]
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    assert [h["to"] for h in json.loads(client.get_registered_model(NAME).tags["mlpublish.champion_history"])] == ["1"]

    # new rows: a new model, promoted, and the reason gives the numbers instead of "beats" on a tie
    grow(workspace)
    assert run_cli("run", "--json", str(spec)) == EXIT_OK
    promotion = json.loads(capsys.readouterr().out)["promotion"]
    assert promotion["promoted"] and promotion["same_as_champion"] is None
    assert "roc_auc " in promotion["reason"] and "maxDropVsChampion 0.01" in promotion["reason"]
    assert ("within tolerance" in promotion["reason"]) != promotion["reason"].startswith("v2 beats champion v1")

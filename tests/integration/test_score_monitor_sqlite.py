"""score and monitor on the embedded defaults: SQLite warehouse, MLflow on SQLite, the local catalog."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlpublish.cli import EXIT_ERROR, EXIT_OK, main
from mlpublish.errors import WarehouseError
from mlpublish.registry.retraining import retrain_requests
from tests.support import contract_scenarios
from tests.support.score_fixtures import FQN, NAME, context, copy_of, prediction_rows, publish_champion

PRED_FQN = "warehouse.main.main.churn_predictions"


@pytest.fixture(scope="module")
def published(tmp_path_factory, warehouse_template) -> Path:
    root = tmp_path_factory.mktemp("published")
    shutil.copy(warehouse_template, root / "warehouse.db")
    publish_champion(root, f"sqlite:///{root / 'warehouse.db'}")
    return root


@pytest.fixture
def ws(published, tmp_path, monkeypatch):
    return copy_of(published, tmp_path, monkeypatch)


def engine(ws):
    return sa.create_engine(ws.warehouse_url)


def test_score_twice_with_same_run_id_gives_same_rows_and_lineage(ws, capsys):
    spec = ws.spec(scoring={"chunkSize": 400})
    assert main(["-q", "score", str(spec), "--run-id", "run-1", "--json"]) == EXIT_OK
    first = json.loads(capsys.readouterr().out)
    assert first["rows"] == 1500 and first["version"] == "1" and first["table_fqn"] == PRED_FQN
    rows_1 = prediction_rows(engine(ws))
    assert main(["-q", "score", str(spec), "--run-id", "run-1"]) == EXIT_OK
    assert prediction_rows(engine(ws)) == rows_1  # replaced, not duplicated
    assert len(rows_1) == 1500 and len({r[0] for r in rows_1}) == 1500
    assert {r[1] for r in rows_1} == {0, 1} and all(0.0 <= r[2] <= 1.0 for r in rows_1)
    assert {r[3:] for r in rows_1} == {(NAME, "1", first["model_run_id"], "run-1")}
    # the probability is the positive class's: it agrees with the predicted label
    assert all((r[2] >= 0.5) == (r[1] == 1) for r in rows_1 if abs(r[2] - 0.5) > 1e-9)

    assert main(["-q", "score", str(spec), "--run-id", "run-2"]) == EXIT_OK  # another run appends
    capsys.readouterr()
    with engine(ws).connect() as conn:
        counts = dict(
            conn.execute(sa.text("SELECT scoring_run_id, COUNT(*) FROM churn_predictions GROUP BY 1")).fetchall()
        )
    assert counts == {"run-1": 1500, "run-2": 1500}

    assert main(["-q", "catalog", "lineage", NAME]) == EXIT_OK
    lineage = json.loads(capsys.readouterr().out)
    down = {(e["fromEntity"]["fqn"], e["toEntity"]["fqn"]): e for e in lineage["downstreamEdges"]}
    edge = down[(FQN, PRED_FQN)]["lineageDetails"]["columnsLineage"]
    assert {c["toColumn"] for c in edge} == {f"{PRED_FQN}.prediction", f"{PRED_FQN}.probability"}
    assert f"{FQN}.recency_days" in edge[0]["fromColumns"]
    assert {(e["fromEntity"]["fqn"], e["toEntity"]["fqn"]) for e in lineage["upstreamEdges"]} >= {
        ("warehouse.main.main.customer_features", FQN)
    }
    table = ws.catalog().get(PRED_FQN)
    assert {c["name"] for c in table["columns"]} >= {
        "customer_id",
        "prediction",
        "probability",
        "model_version",
        "scored_at",
    }
    assert ws.catalog().find_model(NAME)["extension"]["lastScoringRunId"] == "run-2"


def test_failure_mid_stream_leaves_the_earlier_rows_untouched(ws):
    from mlpublish.steps import score_batch

    spec = ws.spec(scoring={"chunkSize": 100})
    score_batch(context(spec), scoring_run_id="nightly")
    before = prediction_rows(engine(ws))
    with engine(ws).begin() as conn:  # SQLite keeps a text value in a REAL column: found only when its chunk is read
        conn.execute(sa.text("UPDATE customer_features SET monetary = 'n/a' WHERE customer_id = 1234"))
    written = []
    with pytest.raises(WarehouseError) as err:
        score_batch(context(spec), scoring_run_id="nightly", on_chunk=lambda n, rows: written.append(rows))
    msg = str(err.value)
    # the champion's data contract finds it before the model does: column, rule and the value
    assert "warehouse.main.main.customer_features" in msg and "monetary: type" in msg and "'n/a'" in msg
    assert written and written[-1] >= 1200  # it failed after writing twelve chunks...
    assert prediction_rows(engine(ws)) == before  # ...and the retry's delete and inserts were all rolled back


def test_missing_column_wrong_type_and_no_predictions_table(ws, capsys):
    with engine(ws).begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE no_plan AS SELECT customer_id, recency_days, frequency, monetary, "
                "tenure_days, support_tickets FROM customer_features"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TABLE text_recency (customer_id INTEGER, recency_days TEXT, frequency INTEGER, "
                "monetary REAL, tenure_days INTEGER, support_tickets INTEGER, plan TEXT)"
            )
        )
    assert main(["-q", "score", str(ws.spec("a.yaml", scoring={"sourceTable": "no_plan"}))]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "warehouse.main.main.no_plan" in err and "'plan' not found" in err
    assert main(["-q", "score", str(ws.spec("b.yaml", scoring={"sourceTable": "text_recency"}))]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "warehouse.main.main.text_recency" in err and "'recency_days' is declared numerical" in err and "TEXT" in err
    assert not sa.inspect(engine(ws)).has_table("churn_predictions")  # nothing was written


def test_no_champion_is_a_clear_error(workspace, capsys):
    assert main(["-q", "score", str(workspace.spec())]) == EXIT_ERROR
    assert f"model {NAME!r} has no champion yet" in capsys.readouterr().err
    assert main(["-q", "monitor", str(workspace.spec())]) == EXIT_ERROR
    assert "no champion yet" in capsys.readouterr().err


def test_no_drift_on_a_resample_of_the_same_data(ws):
    import pandas as pd

    from mlpublish.steps import monitor_drift

    eng = engine(ws)
    frame = pd.read_sql_table("customer_features", eng)
    frame.sample(frac=1.0, replace=True, random_state=3).to_sql("resampled", eng, index=False)
    result = monitor_drift(context(ws.spec(scoring={"sourceTable": "resampled"})))
    assert result.rows == 1500 and result.drifted_features == [] and not result.window_drifted
    assert all(f.psi < 0.1 for f in result.features), result.features
    assert not result.retrain and result.reasons[0] == "no drift in the latest window"
    assert result.performance["current_roc_auc"] > 0.7  # labels present: the champion is measured on them


def test_drift_requests_retraining_once_and_the_retrained_champion_resets_it(ws, capsys):
    from mlflow import MlflowClient

    from mlpublish.spec import load_spec
    from mlpublish.steps import monitor_drift
    from mlpublish.workflows.chain import run_chain

    spec = ws.spec()
    assert main(["-q", "demo-drift", "--warehouse", ws.warehouse_url]) == EXIT_OK
    decisions = [monitor_drift(context(spec)) for _ in range(4)]
    assert all(d.window_drifted for d in decisions)
    assert {"recency_days", "support_tickets"} <= set(decisions[0].drifted_features)
    assert [d.retrain for d in decisions] == [False, True, False, False]
    assert "1 of the last 1 window(s) (needs 2 of 3): not yet" in decisions[0].reasons[0]
    assert "already requested" in decisions[2].reasons[0]
    ctx = context(spec)
    requests = retrain_requests(ctx.registry, ctx.spec.experiment_name, NAME)
    assert [r.request_id for r in requests] == [decisions[1].monitor_run_id]
    assert any("recency_days: PSI" in r for r in requests[0].reasons)
    run = MlflowClient(ws.tracking_uri).get_run(decisions[1].monitor_run_id)
    assert run.data.metrics["psi_recency_days"] > 0.2 and run.data.tags["mlpublish.drift"] == "true"
    entity = ws.catalog().find_model(NAME)["extension"]
    assert entity["retrainRequested"] is False and entity["driftDetected"] is True
    assert json.loads(entity["driftSummary"])["recency_days"] > 0.2

    # the scheduler retrains: the new version passes the same gates and becomes champion
    result = run_chain(load_spec(spec))
    assert result.promotion.promoted and result.promotion.champion_after == "2"
    after = monitor_drift(context(spec))
    assert after.version == "2" and not after.window_drifted and not after.retrain
    assert retrain_requests(ctx.registry, ctx.spec.experiment_name, NAME, after=requests[0].cursor) == []


def test_cooldown_blocks_a_request_soon_after_training(ws):
    from mlpublish.steps import monitor_drift

    spec = ws.spec(monitoring={"cooldownHours": 12, "windowN": 1, "windowM": 1})
    main(["-q", "demo-drift", "--warehouse", ws.warehouse_url])
    result = monitor_drift(context(spec))
    assert result.window_drifted and not result.retrain
    assert "in cooldown" in result.reasons[0] and "< cooldownHours 12" in result.reasons[0]


def test_a_running_training_run_holds_requests_back_until_it_ends(ws):
    from mlflow import MlflowClient

    from mlpublish.steps import monitor_drift

    spec = ws.spec(monitoring={"cooldownHours": 0, "windowN": 1, "windowM": 1})
    main(["-q", "demo-drift", "--warehouse", ws.warehouse_url])
    client = MlflowClient(ws.tracking_uri)
    exp = client.get_experiment_by_name(f"mlpublish/{NAME}").experiment_id
    training = client.create_run(exp, tags={"mlpublish.model": NAME, "mlpublish.select_by": "roc_auc"})  # RUNNING
    held = monitor_drift(context(spec))
    assert not held.retrain and f"training run {training.info.run_id} is RUNNING" in held.reasons[0]
    client.set_terminated(training.info.run_id)
    assert monitor_drift(context(spec)).retrain


def test_reference_falls_back_to_the_held_out_rows_then_says_what_is_missing(ws):
    from urllib.parse import urlparse

    from mlpublish.errors import StepError
    from mlpublish.steps import monitor_drift
    from mlpublish.steps.monitor import load_reference

    ctx = context(ws.spec())
    run_id = ctx.registry.get_version(NAME, ctx.registry.alias_version(NAME, "champion")).run_id
    data = Path(urlparse(ctx.registry.run(run_id).info.artifact_uri).path) / "data"
    backup = ws.root / "artifacts-backup"
    shutil.copytree(data, backup)  # the module's published artifacts are shared: restore them after
    try:
        full = load_reference(ctx, run_id)
        (data / "reference.parquet").unlink()  # a champion trained before the reference existed
        older = load_reference(ctx, run_id)
        assert list(older.columns) == list(full.columns) and len(older) < len(full)  # the held-out part only
        (data / "holdout.parquet").unlink()
        with pytest.raises(StepError, match=r"has neither data/reference.parquet nor data/holdout.parquet"):
            monitor_drift(ctx)
    finally:
        shutil.rmtree(data)
        shutil.copytree(backup, data)


# The champion's data contract enforced (tests/support/contract_scenarios.py; the same on PostgreSQL)
def test_contract_fail_writes_nothing(ws, monkeypatch):
    contract_scenarios.fail_writes_nothing(ws, monkeypatch)


def test_contract_warn_scores_every_row_and_reports(ws, monkeypatch):
    contract_scenarios.warn_scores_every_row(ws, monkeypatch, 1500)


def test_contract_quarantine_holds_back_the_broken_rows(ws):
    contract_scenarios.quarantine_holds_back_the_broken_rows(ws, 1500)


def test_contract_missing_column_or_changed_type_fails_every_mode(ws):
    contract_scenarios.unscorable_fails_in_every_mode(ws)


def test_contract_monitor_counts_and_never_fails(ws, monkeypatch):
    contract_scenarios.monitor_counts_without_failing(ws, monkeypatch, 1500)


def test_contract_counts_printed_by_the_command_line(ws, capsys):
    with contract_scenarios.broken_source(ws):
        spec = ws.spec(scoring={"sourceTable": contract_scenarios.BROKEN, "onContractViolation": "quarantine"})
        assert main(["-q", "score", str(spec), "--run-id", "cli-q"]) == EXIT_OK
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith("scored 1497 rows of ")
        assert out[1] == (
            f"contract   {NAME} v1 (quarantine): 1500 rows checked, 3 violating, 3 quarantined in "
            "warehouse.main.main.churn_predictions_quarantine"
        )
        assert [line.split()[:2] for line in out[2:]] == [
            ["recency_days", "not_null"],
            ["monetary", "in_range"],
            ["plan", "in_set"],
        ]
        spec = ws.spec(scoring={"sourceTable": contract_scenarios.BROKEN, "onContractViolation": "fail"})
        assert main(["-q", "score", str(spec), "--run-id", "cli-f"]) == EXIT_ERROR
        assert "onContractViolation: fail" in capsys.readouterr().err

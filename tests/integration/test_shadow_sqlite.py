"""Shadow scoring and live metrics on labels, on SQLite (and one PostgreSQL case): a champion (v1, the chain)
and a challenger (v2, registered with the alias) score the same rows; labels arrive; monitor records each
model's metrics per complete window, once, equal to sklearn's on the joined rows."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from tests.support.score_fixtures import NAME, context, copy_of, publish_champion
from tests.support.shadow_fixtures import register_challenger

pytestmark = pytest.mark.integration

PRED_FQN = "warehouse.main.main.churn_predictions"
DAY = 24 * 3600
LABELS = {"table": "churn_labels", "timeColumn": "observed_at", "windowHours": 24}


@pytest.fixture(scope="module")
def published(tmp_path_factory, warehouse_template) -> Path:
    root = tmp_path_factory.mktemp("shadow")
    shutil.copy(warehouse_template, root / "warehouse.db")
    url = f"sqlite:///{root / 'warehouse.db'}"
    publish_champion(root, url)
    assert register_challenger(root, url) == "2"
    return root


@pytest.fixture
def ws(published, tmp_path, monkeypatch):
    return copy_of(published, tmp_path, monkeypatch)


def rows_by_role(eng, run: str | None = None) -> dict[str, pd.DataFrame]:
    where = "" if run is None else f" WHERE scoring_run_id = '{run}'"
    frame = pd.read_sql_query(sa.text(f"SELECT * FROM churn_predictions{where}"), eng)
    return {role: part.sort_values("customer_id").reset_index(drop=True) for role, part in frame.groupby("model_role")}


def insert_labels(eng, scored_at: pd.Timestamp) -> tuple[pd.Timestamp, pd.DataFrame]:
    """Labels of three windows after the scoring: two complete by monitor's clock, one not. Returns the first
    window's start and the labels."""
    first = (scored_at + pd.Timedelta(days=1)).floor("D")
    truth = pd.read_sql_query(sa.text("SELECT customer_id, churned FROM customer_features ORDER BY customer_id"), eng)
    parts = []
    for i, (lo, hi) in enumerate([(0, 400), (400, 800), (800, 900)]):
        part = truth.iloc[lo:hi].copy()
        stamps = first + pd.Timedelta(days=i) + pd.to_timedelta(np.arange(len(part)) % 20, unit="h")
        part["observed_at"] = stamps.strftime("%Y-%m-%dT%H:%M:%S+00:00")  # ISO text with an offset
        parts.append(part)
    labels = pd.concat(parts, ignore_index=True)
    labels.to_sql("churn_labels", eng, index=False, if_exists="replace")
    return first, labels


def by_hand(labels: pd.DataFrame, preds: pd.DataFrame, start: pd.Timestamp) -> dict[str, float]:
    from sklearn import metrics as m

    window = labels[
        (pd.to_datetime(labels["observed_at"], utc=True) >= start)
        & (pd.to_datetime(labels["observed_at"], utc=True) < start + pd.Timedelta(days=1))
    ]
    joined = window.merge(preds, on="customer_id")
    y, pred, prob = joined["churned"], joined["prediction"], joined["probability"]
    return {
        "rows": len(joined),
        "roc_auc": m.roc_auc_score(y == 1, prob),
        "accuracy": m.accuracy_score(y, pred),
        "f1": m.f1_score(y, pred),
        "log_loss": m.log_loss(y, np.column_stack([1 - prob, prob]), labels=[0, 1]),
    }


def test_shadow_scoring_then_live_windows_once(ws):
    from mlpublish.registry.live_metrics import live_windows
    from mlpublish.steps import monitor_drift, score_batch

    eng = sa.create_engine(ws.warehouse_url)
    spec = ws.spec(scoring={"shadow": True, "chunkSize": 400}, monitoring={"labels": LABELS})
    first = score_batch(context(spec), scoring_run_id="shadow-1")
    assert (first.version, first.challenger_version) == ("1", "2")
    assert first.rows == first.challenger_rows == 1500
    again = score_batch(context(spec), scoring_run_id="shadow-1")  # a retry replaces both roles' rows
    assert (again.rows, again.challenger_rows) == (1500, 1500)
    roles = rows_by_role(eng)
    assert set(roles) == {"champion", "challenger"} and all(len(r) == 1500 for r in roles.values())
    champion, challenger = roles["champion"], roles["challenger"]
    assert set(champion["model_version"]) == {"1"} and set(challenger["model_version"]) == {"2"}
    assert set(champion["model_run_id"]).isdisjoint(set(challenger["model_run_id"]))
    assert (champion["customer_id"] == challenger["customer_id"]).all()  # the same rows
    assert not np.allclose(champion["probability"], challenger["probability"])  # by two models
    view = pd.read_sql_query(sa.text("SELECT * FROM churn_predictions_champion ORDER BY customer_id"), eng)
    assert len(view) == 1500 and set(view["model_role"]) == {"champion"}
    assert np.allclose(view["probability"], champion["probability"])

    reg = ws.registry()
    lineage = ws.catalog().lineage(f"mlflow-local.{NAME}")
    edge = {(e["fromEntity"]["fqn"], e["toEntity"]["fqn"]): e for e in lineage["downstreamEdges"]}
    assert "champion v1 and challenger v2" in edge[(f"mlflow-local.{NAME}", PRED_FQN)]["lineageDetails"]["description"]

    scored_at = pd.Timestamp(champion["scored_at"].iloc[0], tz="UTC")
    start, labels = insert_labels(eng, scored_at)
    now = (start + pd.Timedelta(days=2, hours=1)).timestamp()  # windows 1 and 2 complete, window 3 not
    result = monitor_drift(context(spec), now=now)
    recorded = {(w.window_start, w.role, w.version) for w in result.live_windows}
    iso = [(start + pd.Timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ") for d in (0, 1)]
    assert recorded == {(s, r, v) for s in iso for r, v in (("champion", "1"), ("challenger", "2"))}
    assert monitor_drift(context(spec), now=now + 3600).live_windows == []  # once per window

    stored = live_windows(reg, f"mlpublish/{NAME}", NAME)
    assert [(w.window_start, w.role) for w in stored] == [
        (s, r) for s in iso for r in ("challenger", "champion")
    ]  # oldest first
    for w in stored:
        preds = champion if w.role == "champion" else challenger
        expected = by_hand(labels, preds, pd.Timestamp(w.window_start))
        assert w.labelled_rows == expected["rows"] == 400
        for name in ("roc_auc", "accuracy", "f1", "log_loss"):
            assert w.metrics[name] == pytest.approx(expected[name], abs=1e-9), (w.role, name)
        run = reg.run(w.run_id)
        assert run.info.run_name == f"{NAME}-live-{w.role}-{w.window_start}" and run.info.status == "FINISHED"
        assert run.data.tags["mlpublish.model_name"] == NAME and run.data.tags["mlpublish.live.version"] == w.version
    assert live_windows(reg, f"mlpublish/{NAME}", NAME, role="challenger", version="2") == [
        w for w in stored if w.role == "challenger"
    ]

    # the third window closes: the next monitor records it, and only it
    later = monitor_drift(context(spec), now=now + DAY)
    assert {(w.window_start, w.role) for w in later.live_windows} == {
        ((start + pd.Timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"), r) for r in ("champion", "challenger")
    }
    assert all(w.labelled_rows == 100 for w in later.live_windows)


def test_without_a_challenger_the_champion_scores_alone_and_old_tables_get_model_role(ws, caplog):
    from mlpublish.steps import score_batch

    eng = sa.create_engine(ws.warehouse_url)
    with eng.begin() as conn:  # a predictions table from before model_role
        conn.execute(
            sa.text(
                "CREATE TABLE churn_predictions (customer_id BIGINT, prediction BIGINT, probability FLOAT, "
                "model_name TEXT NOT NULL, model_version TEXT NOT NULL, model_run_id TEXT NOT NULL, "
                "scoring_run_id TEXT NOT NULL, scored_at TIMESTAMP NOT NULL)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO churn_predictions VALUES (1, 0, 0.1, :n, '1', 'r', 'old', '2026-01-01 00:00:00')"),
            {"n": NAME},
        )
    ws.registry().client.delete_registered_model_alias(NAME, "challenger")
    spec = ws.spec(scoring={"shadow": True})
    with caplog.at_level("INFO", logger="mlpublish.score"):
        result = score_batch(context(spec), scoring_run_id="alone")
    assert result.challenger_version is None and result.challenger_rows == 0 and result.rows == 1500
    assert "has no challenger apart from the champion" in caplog.text
    with eng.connect() as conn:
        counts = dict(conn.execute(sa.text("SELECT model_role, COUNT(*) FROM churn_predictions GROUP BY 1")).all())
        assert counts == {"champion": 1501}  # the old row is the champion's
        assert conn.execute(sa.text("SELECT COUNT(*) FROM churn_predictions_champion")).scalar_one() == 1501


def test_a_missing_labels_table_or_column_is_named(ws):
    from mlpublish.errors import WarehouseError
    from mlpublish.steps import monitor_drift

    spec = ws.spec(monitoring={"labels": LABELS})
    with pytest.raises(WarehouseError, match=r"labels table .*churn_labels.*not found"):
        monitor_drift(context(spec), now=time.time())
    with sa.create_engine(ws.warehouse_url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE churn_labels (customer_id INTEGER, churned INTEGER)"))
    with pytest.raises(
        WarehouseError, match=r"churn_labels has no column 'observed_at' \(monitoring.labels.timeColumn\)"
    ):
        monitor_drift(context(spec), now=time.time())


def test_shadow_on_postgres(published, tmp_path, monkeypatch):
    from mlpublish.steps import score_batch
    from mlpublish.steps.live_labels import record_live_windows
    from tests.support.mlflow_server import postgres_database

    with postgres_database("mlp_shadow") as url:
        source = sa.create_engine(f"sqlite:///{published / 'warehouse.db'}")
        eng = sa.create_engine(url)
        pd.read_sql_table("customer_features", source).to_sql("customer_features", eng, index=False)
        ws = copy_of(published, tmp_path, monkeypatch, warehouse_url=url)
        with eng.begin() as conn:  # a predictions table from before model_role, one row in it
            conn.execute(
                sa.text(
                    "CREATE TABLE churn_predictions (customer_id BIGINT, prediction BIGINT, probability FLOAT, "
                    "model_name TEXT NOT NULL, model_version TEXT NOT NULL, model_run_id TEXT NOT NULL, "
                    "scoring_run_id TEXT NOT NULL, scored_at TIMESTAMPTZ NOT NULL)"
                )
            )
            conn.execute(sa.text("INSERT INTO churn_predictions VALUES (-1, 0, 0.5, 'm', '0', 'r', 'old', now())"))
        ctx = context(ws.spec(scoring={"shadow": True}, monitoring={"labels": LABELS}))
        result = score_batch(ctx, scoring_run_id="pg-shadow")
        assert (result.rows, result.challenger_version, result.challenger_rows) == (1500, "2", 1500)
        roles = rows_by_role(eng, "pg-shadow")
        assert {r: set(f["model_version"]) for r, f in roles.items()} == {"champion": {"1"}, "challenger": {"2"}}
        with eng.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM churn_predictions_champion")).scalar_one() == 1501
            old = "SELECT model_role FROM churn_predictions WHERE scoring_run_id = 'old'"
            assert conn.execute(sa.text(old)).scalar_one() == "champion"
        start, labels = insert_labels(eng, pd.Timestamp(roles["champion"]["scored_at"].iloc[0]).tz_convert("UTC"))
        with eng.begin() as conn:  # a timestamptz label time this time
            conn.execute(
                sa.text(
                    "ALTER TABLE churn_labels ALTER COLUMN observed_at TYPE timestamptz USING observed_at::timestamptz"
                )
            )
        now = (start + pd.Timedelta(days=2, hours=1)).timestamp()
        windows = record_live_windows(ctx, now=now)  # what monitor runs first (the drift part is tested above)
        assert len(windows) == 4 and record_live_windows(ctx, now=now) == []
        for w in windows:
            expected = by_hand(labels, roles[w.role], pd.Timestamp(w.window_start))
            assert w.labelled_rows == expected["rows"] == 400
            assert w.metrics["roc_auc"] == pytest.approx(expected["roc_auc"], abs=1e-9)
        ctx.preflight.warehouse.dispose()
        eng.dispose()

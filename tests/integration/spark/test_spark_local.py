"""The Spark engine on local[2] against a real PostgreSQL warehouse: the local engine's predictions and drift,
partition overwrite by scoring run for Parquet and Spark tables, and the warehouse via staging + one transaction."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mlpublish.errors import WarehouseError
from tests.integration.spark.conftest import assert_same_predictions, by_key, openmetadata_seeded, shifted_copy
from tests.support.contract_scenarios import BROKEN, EXPECTED, broken_source, rows_of
from tests.support.score_fixtures import context, copy_of
from tests.support.spark_cluster import LOCAL_CONF, session

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    with session("local[2]", LOCAL_CONF, tmp_path_factory.mktemp("spark_warehouse")) as s:
        yield s


def test_warehouse_predictions_equal_the_local_engine_and_a_retry_replaces_its_rows(ws, spark, pg_published):
    from mlpublish.steps import score_batch

    eng = sa.create_engine(ws.warehouse_url)
    spec = ws.spec()
    local = score_batch(context(spec), scoring_run_id="local-1")
    first = score_batch(context(spec), scoring_run_id="spark-1", engine="spark", spark=spark)
    assert first.rows == local.rows == pg_published[2]
    assert first.table_fqn == local.table_fqn
    assert_same_predictions(by_key(eng, "local-1"), by_key(eng, "spark-1"))
    again = score_batch(context(spec), scoring_run_id="spark-1", engine="spark", spark=spark)
    assert again.rows == first.rows
    with eng.connect() as conn:
        per_run = dict(
            conn.execute(sa.text("SELECT scoring_run_id, COUNT(*) FROM churn_predictions GROUP BY 1")).fetchall()
        )
        staging = conn.execute(sa.text("SELECT COUNT(*) FROM pg_tables WHERE tablename LIKE 'mlp_stage_%'")).scalar()
    assert per_run == {"local-1": local.rows, "spark-1": local.rows}
    assert staging == 0


def test_a_failed_job_leaves_the_warehouse_as_it_was(ws, spark):
    from mlpublish.steps import score_batch

    eng = sa.create_engine(ws.warehouse_url)
    score_batch(context(ws.spec()), scoring_run_id="keep", engine="spark", spark=spark)
    before = by_key(eng, "keep")
    # the query fails on the executors while they read (division by zero from customer 1201 on)
    query = (
        "SELECT customer_id, recency_days, frequency, tenure_days, support_tickets, plan, "
        "monetary / CASE WHEN customer_id > 1200 THEN 0 ELSE 1 END AS monetary FROM customer_features"
    )
    with pytest.raises(WarehouseError, match="nothing written"):
        score_batch(context(ws.spec(scoring={"query": query})), scoring_run_id="keep", engine="spark", spark=spark)
    assert by_key(eng, "keep") == before
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM pg_tables WHERE tablename LIKE 'mlp_stage_%'")).scalar() == 0


@pytest.mark.parametrize("target", ["predictionsParquet", "predictionsSparkTable"])
def test_files_overwrite_only_their_own_run_partition_and_reach_the_catalog(ws, spark, tmp_path, target):
    """Each run replaces only its partition; the target is a catalog entity (a Parquet dataset a Container, a Spark
    table a Table of the Spark service) downstream of the model, in the local catalog and in OpenMetadata."""
    from pyspark.sql import functions as F

    from mlpublish.catalog import open_catalog
    from mlpublish.catalog.entity import container_event, spark_table_fqn
    from mlpublish.config import OpenMetadataSettings
    from mlpublish.deployment.context import PublishContext
    from mlpublish.spec import load_spec
    from mlpublish.steps import score_batch
    from tests.support.openmetadata_server import serve_emulator

    where = str(tmp_path / "predictions") if target == "predictionsParquet" else f"preds_{tmp_path.name[-8:]}"
    spec = load_spec(ws.spec(scoring={"engine": "spark", target: where}))
    with serve_emulator() as server:
        settings = OpenMetadataSettings(host_port=server.host_port, jwt_token=server.token, deliver_in_step=True)
        catalog, training = openmetadata_seeded(open_catalog(None), spec, settings)
        runs = {}
        for run_id in ("run-a", "run-b", "run-a"):
            runs[run_id] = score_batch(PublishContext.create(spec, catalog=catalog), scoring_run_id=run_id, spark=spark)
        assert catalog.outbox.counts()["failed"] == 0 and catalog.outbox.counts()["pending"] == 0
        emulator = server.emulator
    a = runs["run-a"]
    df = spark.read.parquet(where) if target == "predictionsParquet" else spark.table(where)
    counts = {r[0]: r[1] for r in df.groupBy("scoring_run_id").count().collect()}
    assert counts == {"run-a": a.rows, "run-b": a.rows}
    assert df.where(F.col("scoring_run_id") == "run-a").select("customer_id").distinct().count() == a.rows
    assert {"customer_id", "prediction", "probability", "model_version", "scored_at"} <= set(df.columns)

    if target == "predictionsParquet":
        kind, fqn = "container", container_event(where, {}, [], "").fqn
    else:
        kind, fqn = "table", spark_table_fqn("spark_catalog", "default", where)
    local = catalog.local
    assert local.get(fqn)["version"] == 0.1  # three runs, one entity, one version
    upstream = {e["fromEntity"]["fqn"]: e for e in local.lineage(fqn, depth=1)["upstreamEdges"]}
    assert set(upstream) == {spec.fqn, training}
    assert {e["toEntity"]["type"] for e in upstream.values()} == {kind}
    assert {c["toColumn"] for c in upstream[spec.fqn]["lineageDetails"]["columnsLineage"]} == {
        f"{fqn}.prediction",
        f"{fqn}.probability",
    }
    held = emulator.find(kind, fqn)
    columns = held["dataModel"]["columns"] if kind == "container" else held["columns"]
    assert {"customer_id", "prediction", "probability", "scoring_run_id"} <= {c["name"] for c in columns}
    assert emulator.versions_of(kind, fqn) == [0.1]
    edges = {(a_, b): d for a_, b, d in emulator.edge_list() if b == fqn}
    assert set(edges) == {(spec.fqn, fqn), (training, fqn)}
    assert edges[(training, fqn)]["columnsLineage"] == [
        {"fromColumns": [f"{training}.customer_id"], "toColumn": f"{fqn}.customer_id"}
    ]


def test_monitor_on_spark_takes_the_local_engines_decision(spark, pg_published, tmp_path, monkeypatch):
    from mlpublish.steps import monitor_drift

    root, url, _ = pg_published
    shifted_copy(url, "shifted_features")
    for table in ("customer_features", "shifted_features"):
        results = []
        for engine in ("local", "spark"):  # each in a registry of its own: one's request does not hold the other
            where = tmp_path / f"{table}-{engine}"
            where.mkdir()
            ws = copy_of(root, where, monkeypatch, warehouse_url=url)
            spec = ws.spec(scoring={"sourceTable": table}, monitoring={"windowN": 1, "windowM": 1, "cooldownHours": 0})
            results.append(monitor_drift(context(spec), engine=engine, spark=spark))
        local, on_spark = results
        assert on_spark.rows == local.rows
        assert on_spark.drifted_features == local.drifted_features
        assert (on_spark.window_drifted, on_spark.retrain, on_spark.reasons) == (
            local.window_drifted,
            local.retrain,
            local.reasons,
        )
        for a, b in zip(local.features, on_spark.features, strict=True):
            assert (a.feature, a.psi, a.ks_statistic, a.drifted) == (b.feature, b.psi, b.ks_statistic, b.drifted)
        assert on_spark.performance == pytest.approx(local.performance, abs=1e-9)
        assert local.retrain == (table == "shifted_features")  # the shift is seen, and only the shift


# The champion's data contract checked in each Arrow batch (tests/support/contract_scenarios.py)
def test_contract_fail_on_spark_writes_nothing(ws, spark):
    from mlpublish.steps import score_batch

    with broken_source(ws) as (eng, _):
        spec = ws.spec(scoring={"sourceTable": BROKEN, "onContractViolation": "fail"})
        with pytest.raises(WarehouseError, match=r"onContractViolation: fail\): .*in 1 row\(s\)"):
            score_batch(context(spec), scoring_run_id="c-spark-fail", engine="spark", spark=spark)
        assert rows_of(eng, "churn_predictions", "c-spark-fail") == 0


def test_contract_warn_on_spark_scores_and_counts_and_quarantine_is_refused(ws, spark, pg_published):
    from mlpublish.errors import StepError
    from mlpublish.steps import score_batch
    from mlpublish.steps.monitor import monitor_drift

    total = pg_published[2]
    with broken_source(ws) as (eng, _):
        spec = ws.spec(scoring={"sourceTable": BROKEN, "onContractViolation": "warn"})
        result = score_batch(context(spec), scoring_run_id="c-spark-warn", engine="spark", spark=spark)
        assert result.rows == total and rows_of(eng, "churn_predictions", "c-spark-warn") == total
        c = result.contract
        assert (c.rows_checked, c.rows_violating) == (total, 3)
        assert {(v.column, v.rule) for v in c.violations} == EXPECTED and all(v.count == 1 for v in c.violations)
        monitored = monitor_drift(context(spec), engine="spark", spark=spark)
        assert monitored.contract.rows_checked == total and monitored.contract.rows_violating == 3
        spec = ws.spec(scoring={"sourceTable": BROKEN, "onContractViolation": "quarantine"})
        with pytest.raises(StepError, match="quarantine is not available on the Spark engine"):
            score_batch(context(spec), scoring_run_id="c-spark-q", engine="spark", spark=spark)

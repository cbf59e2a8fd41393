"""The Spark engine on a real standalone cluster on loopback: a master and two workers (1 core, 1 GB each)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from tests.integration.spark.conftest import assert_same_predictions, by_key
from tests.support.score_fixtures import context
from tests.support.services import wait_for
from tests.support.spark_cluster import CLUSTER_CONF, session, spark_cluster

pytestmark = pytest.mark.integration

BIG_COPIES = 150  # 1500 customers x 150 = 225,000 rows: long enough to lose a worker in the middle


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with spark_cluster(tmp_path_factory.mktemp("spark_cluster")) as c:
        yield c


@pytest.fixture(scope="module")
def spark(cluster, tmp_path_factory):
    with session(cluster.url, CLUSTER_CONF, tmp_path_factory.mktemp("cluster_warehouse")) as s:
        yield s


def test_two_workers_predict_what_the_local_engine_predicts(ws, spark, cluster):
    from mlpublish.steps import score_batch

    eng = sa.create_engine(ws.warehouse_url)
    spec = ws.spec()
    score_batch(context(spec), scoring_run_id="local")
    on_cluster = score_batch(context(spec), scoring_run_id="cluster", engine="spark", spark=spark)
    assert_same_predictions(by_key(eng, "local"), by_key(eng, "cluster"))
    assert on_cluster.rows == 1500 and cluster.alive_workers() == 2
    assert spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() == 3  # the driver and one per worker


def test_a_worker_killed_mid_job_each_row_lands_once(ws, spark, cluster, pg_published):
    from mlpublish.steps import score_batch

    url = pg_published[1]
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS big_features"))
        conn.execute(
            sa.text(
                "CREATE TABLE big_features AS SELECT customer_id + 100000 * g AS customer_id, recency_days, "
                "frequency, monetary, tenure_days, support_tickets, plan "
                f"FROM customer_features, generate_series(0, {BIG_COPIES - 1}) g"
            )
        )
        expected = conn.execute(sa.text("SELECT COUNT(*) FROM big_features")).scalar_one()
    spec = ws.spec(scoring={"sourceTable": "big_features"})
    tracker = spark.sparkContext.statusTracker()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = score_batch(context(spec), scoring_run_id="lost-worker", engine="spark", spark=spark)
        except BaseException as exc:  # reported by the assertion below
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()

    def both_busy():
        stages = [tracker.getStageInfo(s) for s in tracker.getActiveStageIds()]
        return any(s is not None and s.numActiveTasks >= 2 for s in stages)

    wait_for("tasks running on both workers", both_busy, timeout=240, every=0.1)
    cluster.kill_worker(1)
    killed_mid_job = worker.is_alive()
    worker.join(600)
    assert killed_mid_job, "the job ended before the worker was killed: the test proved nothing"
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].rows == expected
    with eng.connect() as conn:
        total, distinct = conn.execute(
            sa.text(
                "SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM churn_predictions WHERE scoring_run_id = 'lost-worker'"
            )
        ).one()
    assert total == distinct == expected
    # every row, whichever worker (or retry) computed it, is the local engine's prediction of its customer
    score_batch(context(ws.spec()), scoring_run_id="local")
    base = by_key(eng, "local")
    with eng.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT customer_id % 100000, prediction, probability FROM churn_predictions "
                "WHERE scoring_run_id = 'lost-worker'"
            )
        ).fetchall()
    assert len(rows) == expected
    for key, prediction, probability in rows:
        assert prediction == base[key][0] and abs(probability - base[key][1]) <= 1e-9, key
    with eng.begin() as conn:
        conn.execute(sa.text("DROP TABLE big_features"))

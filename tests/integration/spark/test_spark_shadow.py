"""Shadow scoring on the Spark engine (local[2], PostgreSQL warehouse): both roles' rows in one transaction,
each role's predictions equal to the local engine's (a retry's replacing its rows is the same statement as
without shadow: tests/integration/spark/test_spark_local.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support.score_fixtures import context
from tests.support.shadow_fixtures import register_challenger
from tests.support.spark_cluster import LOCAL_CONF, session

pytestmark = pytest.mark.integration


def by_role(engine, run_id):
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT model_role, customer_id, prediction, probability, model_version, model_run_id "
                "FROM churn_predictions WHERE scoring_run_id = :r"
            ),
            {"r": run_id},
        ).fetchall()
    out: dict[str, dict] = {}
    for role, key, *rest in rows:
        assert key not in out.setdefault(role, {}), "a key was written twice"
        out[role][key] = rest
    return out


def test_shadow_on_spark_equals_the_local_engine(ws, tmp_path_factory):
    from mlpublish.steps import score_batch

    version = register_challenger(ws.root, ws.warehouse_url)
    eng = sa.create_engine(ws.warehouse_url)
    spec = ws.spec(scoring={"shadow": True})
    try:
        local = score_batch(context(spec), scoring_run_id="local-shadow")
        with session("local[2]", LOCAL_CONF, tmp_path_factory.mktemp("spark_shadow")) as spark:
            first = score_batch(context(spec), scoring_run_id="spark-shadow", engine="spark", spark=spark)
        assert (first.rows, first.challenger_version, first.challenger_rows) == (local.rows, version, local.rows)
        on_spark, on_local = by_role(eng, "spark-shadow"), by_role(eng, "local-shadow")
        assert set(on_spark) == {"champion", "challenger"} and len(on_spark["challenger"]) == local.rows
        for role in on_spark:
            assert on_spark[role].keys() == on_local[role].keys()
            for key, (pred, proba, *model) in on_local[role].items():
                s_pred, s_proba, *s_model = on_spark[role][key]
                assert (s_pred, s_model) == (pred, model) and abs(s_proba - proba) <= 1e-9, (role, key)
        assert {m[2] for m in on_spark["challenger"].values()} == {version}
        with eng.connect() as conn:
            view = "SELECT COUNT(*) FROM churn_predictions_champion WHERE scoring_run_id = 'spark-shadow'"
            assert conn.execute(sa.text(view)).scalar_one() == local.rows
    finally:
        with eng.begin() as conn:  # the view depends on the table the shared fixture drops
            conn.execute(sa.text("DROP VIEW IF EXISTS churn_predictions_champion"))
        eng.dispose()

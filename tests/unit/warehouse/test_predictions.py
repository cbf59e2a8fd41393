"""The predictions table's roles (mlpublish.warehouse.predictions, .scoring): each role's rows with its own
version and run id, a retry replacing both, the champion view, an older table given model_role."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from mlpublish.errors import WarehouseError
from mlpublish.warehouse import Warehouse
from mlpublish.warehouse.predictions import ScoringRun, by_role, ensure_table, predictions_table
from mlpublish.warehouse.scoring import ScoringSource, write_predictions

STAMP = datetime(2026, 3, 1, 10, tzinfo=UTC)


def shadow_run(**kw) -> ScoringRun:
    args = dict(challenger_version="2", challenger_run_id="run-b", shadow=True)
    return ScoringRun("m", "1", "run-a", "s-1", STAMP, **{**args, **kw})


def test_each_role_has_its_constant_columns_in_the_table_order():
    run = shadow_run()
    assert run.roles == ("champion", "challenger")
    assert list(run.columns("sqlite", "challenger").items()) == [
        ("model_name", "m"),
        ("model_role", "challenger"),
        ("model_version", "2"),
        ("model_run_id", "run-b"),
        ("scoring_run_id", "s-1"),
        ("scored_at", "2026-03-01 10:00:00.000000"),
    ]
    names = [c.name for c in predictions_table("p", None, {"id": sa.BigInteger()}, sa.BigInteger(), True).columns]
    assert names[-6:] == list(run.columns("postgresql"))  # the CSV fast path needs them last, in this order
    alone = ScoringRun("m", "1", "run-a", "s-1", STAMP)
    assert alone.roles == ("champion",)
    with pytest.raises(ValueError, match="no challenger"):
        alone.columns("sqlite", "challenger")


def test_by_role_splits_a_shadow_chunk_and_keeps_a_champion_chunk_whole():
    alone = pd.DataFrame({"id": [1, 2], "prediction": [0, 1]})
    assert [(r, len(f)) for r, f in by_role(alone)] == [("champion", 2)] and by_role(alone)[0][1] is alone
    both = pd.DataFrame(
        {"id": [1, 2, 1, 2], "prediction": [0, 1, 1, 1], "model_role": ["champion"] * 2 + ["challenger"] * 2}
    )
    parts = dict(by_role(both))
    assert list(parts) == ["champion", "challenger"]
    assert parts["challenger"].to_dict("list") == {"id": [1, 2], "prediction": [1, 1]}


@pytest.fixture
def wh(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    pd.DataFrame({"id": range(1, 251), "x": [float(i % 7) for i in range(250)]}).to_sql(
        "src", sa.create_engine(url), index=False
    )
    return Warehouse(url, "w")


def shadow_predict(frame: pd.DataFrame) -> pd.DataFrame:
    champion = pd.DataFrame(
        {"id": frame["id"], "prediction": (frame["x"] > 3).astype("int64"), "probability": frame["x"] / 7}
    )
    challenger = champion.assign(prediction=(frame["x"] > 2).astype("int64"), probability=frame["x"] / 10)
    return pd.concat([champion.assign(model_role="champion"), challenger.assign(model_role="challenger")])


def score(wh, run, predict=shadow_predict):
    source = ScoringSource(wh, ["id", "x"], table="src", query=None)
    return write_predictions(
        wh, source, predict, table_name="preds", keys=["id"], probability=True, run=run, chunk_size=60
    )


def roles(wh, table="preds"):
    with wh.engine.connect() as conn:
        return conn.execute(
            sa.text(
                f"SELECT model_role, model_version, model_run_id, COUNT(*) FROM {table} GROUP BY 1, 2, 3 ORDER BY 1"
            )
        ).all()


def test_a_shadow_run_writes_both_roles_once_and_a_retry_replaces_them(wh):
    written = score(wh, shadow_run())
    assert (written.rows, written.shadow_rows, written.chunks) == (250, 250, 5)
    expected = [("challenger", "2", "run-b", 250), ("champion", "1", "run-a", 250)]
    assert roles(wh) == expected
    score(wh, shadow_run())
    assert roles(wh) == expected  # replaced, not duplicated
    assert roles(wh, "preds_champion") == [("champion", "1", "run-a", 250)]
    with wh.engine.connect() as conn:
        probs = conn.execute(
            sa.text("SELECT model_role, probability FROM preds WHERE id = 5 ORDER BY model_role")
        ).all()
    assert probs == [("challenger", pytest.approx(0.4)), ("champion", pytest.approx(4 / 7))]  # x = 4


def test_without_shadow_no_view_is_made(wh):
    def champion_only(frame):
        return shadow_predict(frame).query("model_role == 'champion'").drop(columns="model_role")

    written = score(wh, ScoringRun("m", "1", "run-a", "s-1", STAMP), champion_only)
    assert (written.rows, written.shadow_rows) == (250, 0)
    assert roles(wh) == [("champion", "1", "run-a", 250)]
    assert sa.inspect(wh.engine).get_view_names() == []


def test_an_older_table_gets_model_role_and_its_rows_are_the_champions(wh):
    with wh.engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE preds (id BIGINT, prediction BIGINT, probability FLOAT, model_name TEXT NOT NULL, "
                "model_version TEXT NOT NULL, model_run_id TEXT NOT NULL, scoring_run_id TEXT NOT NULL, "
                "scored_at TIMESTAMP NOT NULL)"
            )
        )
        conn.execute(sa.text("INSERT INTO preds VALUES (1, 0, 0.5, 'm', '0', 'old', 'before', '2026-01-01')"))
    score(wh, shadow_run())
    assert roles(wh)[1] == ("champion", "0", "old", 1)
    assert len(roles(wh, "preds_champion")) == 2


def test_a_table_in_the_views_place_is_named(wh):
    with wh.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE preds_champion (x INTEGER)"))
        table = predictions_table("preds", None, {"id": sa.BigInteger()}, sa.BigInteger(), True)
        with pytest.raises(WarehouseError, match="a table named preds_champion exists"):
            ensure_table(conn, table, "w.main.main.preds", champion_view=True)

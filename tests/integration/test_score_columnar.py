"""The columnar read from a real PostgreSQL (binary COPY parsed by numpy) gives the frames the cursor path gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from mlpublish.warehouse import Warehouse
from mlpublish.warehouse.scoring import ScoringRun, ScoringSource, read_chunks, write_predictions

pytestmark = pytest.mark.integration

COLUMNS = ["id", "code", "small", "big", "x", "amount", "flag", "plan", "label", "grade"]


@pytest.fixture(scope="module")
def url():
    from tests.support.mlflow_server import postgres_database

    with postgres_database("mlp_columnar") as url:
        with sa.create_engine(url).begin() as conn:
            conn.execute(
                sa.text(
                    "CREATE TABLE t (id bigint, code integer, small smallint, big bigint, x double precision, "
                    "amount numeric(12, 2), flag boolean, plan text, label varchar(20), grade char(3))"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO t SELECT g, g * 7, (g % 100)::smallint, g::bigint * 1000000007, g / 3.0, "
                    "(g * 1.25)::numeric(12, 2), g % 2 = 0, (ARRAY['basic', 'premium', 'Zürich ✓', ''])[g % 4 + 1], "
                    "repeat('v', g % 20), 'a' FROM generate_series(1, 2500) g"
                )
            )
            # NULLs in every column but the key
            conn.execute(
                sa.text("INSERT INTO t (id) VALUES (2501); INSERT INTO t (id, plan, flag) VALUES (2502, 'basic', true)")
            )
            conn.execute(sa.text("CREATE TABLE empty_t AS SELECT * FROM t WHERE false"))
        yield url


@pytest.fixture(params=["psycopg2", "psycopg"])
def driver_url(url, request):
    """The database through psycopg2 (SQLAlchemy's default) and through psycopg 3: their COPY APIs differ."""
    return url if request.param == "psycopg2" else url.replace("postgresql://", "postgresql+psycopg://", 1)


def cursor_frames(wh: Warehouse, source: ScoringSource, size: int) -> list[pd.DataFrame]:
    with wh.engine.connect() as conn:
        return [
            pd.DataFrame.from_records(b, columns=source.columns)
            for b in read_chunks(conn, source.sql(conn.dialect), size)
        ]


def test_columnar_frames_equal_the_cursor_frames(driver_url):
    wh = Warehouse(driver_url, "pg")
    source = ScoringSource(wh, COLUMNS, table="t", query=None)
    source.check(COLUMNS[1:], ["plan", "label", "grade", "flag"])
    got, expected = list(source.frames(1000)), cursor_frames(wh, source, 1000)
    assert [len(f) for f in got] == [len(f) for f in expected] == [1000, 1000, 502]
    got_all, expected_all = pd.concat(got, ignore_index=True), pd.concat(expected, ignore_index=True)
    # the one deliberate difference: a NUMERIC numerical feature arrives as float64 (prepare_features' type)
    assert got_all["amount"].dtype == "float64" and expected_all["amount"].dtype == object
    expected_all["amount"] = pd.to_numeric(expected_all["amount"]).astype("float64")
    pd.testing.assert_frame_equal(got_all, expected_all)
    assert list(ScoringSource(wh, COLUMNS, table="empty_t", query=None).frames(1000)) == []


def test_a_numeric_key_or_an_unsupported_type_keeps_the_cursor_path(url):
    """NUMERIC not declared a numerical feature keeps its Decimals; a date has no columnar reading."""
    wh = Warehouse(url, "pg")
    numeric_key = ScoringSource(wh, ["amount"], table="t", query=None)
    assert [type(v).__name__ for v in list(numeric_key.frames(1000))[0]["amount"][:10]] == ["Decimal"] * 10
    dated = ScoringSource(wh, ["id", "d"], table=None, query="SELECT id, current_date AS d FROM t")
    dated.check(["d"], ["d"])
    assert type(list(dated.frames(1000))[0]["d"][0]).__name__ == "date"


def test_a_failure_mid_stream_leaves_nothing_and_no_connection_behind(driver_url):
    wh = Warehouse(driver_url, "pg")
    source = ScoringSource(wh, ["id", "x", "plan"], table="t", query=None)
    source.check(["x", "plan"], ["plan"])
    calls = []

    def predict(frame: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(frame))
        if len(calls) == 3:
            raise RuntimeError("the model failed on chunk 3")
        return pd.DataFrame({"id": frame["id"], "prediction": (frame["x"] > 1).astype("int64"), "probability": 0.5})

    run = ScoringRun("m", "1", "run", "scoring-1", datetime.now(UTC))
    with pytest.raises(RuntimeError, match="chunk 3"):
        write_predictions(
            wh, source, predict, table_name="preds", keys=["id"], probability=True, run=run, chunk_size=100
        )
    with wh.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT to_regclass('preds')")).scalar_one() is None
        busy = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        assert conn.execute(sa.text(busy + " AND state <> 'idle'")).scalar_one() == 0
    assert wh.engine.pool.checkedout() == 0
    calls.append("retry")  # the model now succeeds: the retry reads the whole table on a fresh reader
    written = write_predictions(
        wh, source, predict, table_name="preds", keys=["id"], probability=True, run=run, chunk_size=1000
    )
    assert written.rows == 2502
    with wh.engine.begin() as conn:  # the module's database is shared by both drivers' runs
        assert conn.execute(sa.text("SELECT COUNT(*) FROM preds")).scalar_one() == 2502
        conn.execute(sa.text("DROP TABLE preds"))
    wh.dispose()

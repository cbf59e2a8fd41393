"""SQLite scoring through ADBC (Arrow batches read, predictions bound from Arrow) writes what the row reader writes."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from mlpublish.warehouse import Warehouse
from mlpublish.warehouse.scoring import ScoringRun, ScoringSource, write_predictions
from mlpublish.warehouse.sqlite_arrow import SWITCH, columnar_engine

pytestmark = pytest.mark.integration

WIDE = [f"f{i}" for i in range(40)]  # a wide table: forty more numerical features
ROWS = 2503  # not a multiple of the chunk or of the rows per INSERT statement


def make_warehouse(path, journal: str = "delete") -> str:
    """Integer and text keys, NULLs in every feature, texts with accents and empty strings, a wide table; the
    database in the ``journal`` mode."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "id": np.arange(ROWS, dtype=np.int64),
            "code": [f"c-{i:05d}" for i in range(ROWS)],
            "x": rng.normal(size=ROWS),
            "n": rng.integers(0, 50, ROWS).astype("float64"),
            "plan": rng.choice(["basic", "premium", "Zürich ✓", ""], ROWS).astype(object),
        }
        | {f: rng.normal(size=ROWS) for f in WIDE}
    )
    frame.loc[frame.index % 97 == 3, ["x", "plan"]] = None
    frame.loc[frame.index % 89 == 5, "n"] = None
    con = sqlite3.connect(path)
    assert con.execute(f"PRAGMA journal_mode = {journal}").fetchone()[0] == journal
    columns = ", ".join(f"{c} REAL" for c in WIDE)
    con.execute(f"CREATE TABLE t (id INTEGER, code TEXT, x REAL, n INTEGER, plan TEXT, {columns})")
    con.executemany(
        f"INSERT INTO t VALUES ({', '.join('?' * len(frame.columns))})",
        [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)],
    )
    con.commit()
    con.close()
    return f"sqlite:///{path}"


class Predict:
    """A deterministic model of the frame; it records the frames' dtypes and counts rows (reset: starts over)."""

    def __init__(self, keys: list[str]):
        self.keys, self.rows, self.dtypes = keys, 0, []

    def reset(self) -> None:
        self.rows, self.dtypes = 0, []

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.rows += len(frame)
        self.dtypes.append({c: str(t) for c, t in frame.dtypes.items()})
        score = frame["x"].fillna(0).to_numpy() + frame[WIDE].sum(axis=1).to_numpy() / 10
        out = frame[self.keys].copy()
        out["prediction"] = (score > 0).astype("int64")
        out["probability"] = 1 / (1 + np.exp(-score))
        return out


def score(wh: Warehouse, table: str, keys: list[str], run_id: str, chunk: int = 400) -> tuple[int, Predict]:
    source = ScoringSource(wh, list(dict.fromkeys([*keys, "x", "n", "plan", *WIDE])), table="t", query=None)
    source.check(["x", "n", "plan", *WIDE], ["plan"])
    predict = Predict(keys)
    run = ScoringRun("m", "1", "model-run", run_id, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    written = write_predictions(
        wh, source, predict, table_name=table, keys=keys, probability=True, run=run, chunk_size=chunk
    )
    return written.rows, predict


def table_rows(url: str, table: str) -> list[tuple]:
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    names = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
    typed = ", ".join(f"{n}, typeof({n})" for n in names)
    try:
        return con.execute(f"SELECT {typed} FROM {table} ORDER BY 1").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("keys", [["id"], ["code"], ["id", "code"]])
def test_columnar_and_row_runs_write_the_same_rows(tmp_path, monkeypatch, caplog, keys):
    url = make_warehouse(tmp_path / "w.db")
    wh = Warehouse(url, "sqlite")
    engine = columnar_engine(wh)
    assert engine is not None, "a SQLite file with the driver installed scores columnar"
    engine.dispose()
    with caplog.at_level(logging.INFO, logger="mlpublish.score"):
        rows, columnar = score(wh, "by_arrow", keys, "run-a")
    assert "reading rows instead" not in caplog.text, "the columnar run went through without starting over"
    monkeypatch.setenv(SWITCH, "0")
    assert columnar_engine(wh) is None
    rows_again, by_rows = score(wh, "by_rows", keys, "run-a")
    assert rows == rows_again == columnar.rows == by_rows.rows == ROWS
    # the model saw the same chunks with the same dtypes on both paths
    assert columnar.dtypes == by_rows.dtypes and len(columnar.dtypes) == 7
    assert columnar.dtypes[0]["x"] == "float64" and columnar.dtypes[0]["n"] == "float64"
    assert columnar.dtypes[0].get("id", "int64") == "int64"
    # the same values of the same SQLite storage classes (integer keys, real probabilities, text stamps)
    assert table_rows(url, "by_arrow") == table_rows(url, "by_rows")
    assert len(table_rows(url, "by_arrow")) == ROWS
    wh.dispose()


def test_a_database_in_wal_mode_is_scored_by_the_row_reader(tmp_path):
    """ADBC's own copy of SQLite, closing its last connection to a WAL database, deletes the -shm file under the
    stdlib's connections in the same process (their next statement: "disk I/O error"): WAL is left to rows."""
    url = make_warehouse(tmp_path / "w.db", journal="wal")
    wh = Warehouse(url, "sqlite")
    assert columnar_engine(wh) is None
    held = wh.engine.connect()  # a stdlib connection of this process open across the run, as a worker's pool
    rows, _ = score(wh, "preds", ["id", "code"], "run-w")
    assert rows == ROWS
    assert held.exec_driver_sql("SELECT COUNT(*) FROM preds").scalar() == ROWS
    held.close()
    assert len(table_rows(url, "preds")) == ROWS
    wh.dispose()


def test_a_value_of_another_type_starts_the_run_over_on_rows(tmp_path, caplog):
    url = make_warehouse(tmp_path / "w.db")
    con = sqlite3.connect(tmp_path / "w.db")
    con.execute("UPDATE t SET n = 'twelve' WHERE id = 2000")  # SQLite keeps the text: a later chunk's surprise
    con.execute("UPDATE t SET n = 12.5 WHERE id = 2001")
    con.commit()
    con.close()
    wh = Warehouse(url, "sqlite")
    with caplog.at_level(logging.INFO, logger="mlpublish.score"):
        rows, predict = score(wh, "preds", ["id"], "run-b")
    assert "Type mismatch" in caplog.text and "reading rows instead" in caplog.text
    assert rows == ROWS and predict.rows == ROWS, "the first attempt's rows are forgotten, each row counted once"
    assert len(table_rows(url, "preds")) == ROWS
    wh.dispose()


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_a_failure_mid_run_leaves_nothing_and_the_file_unlocked(tmp_path, journal):
    url = make_warehouse(tmp_path / "w.db", journal)
    wh = Warehouse(url, "sqlite")
    source = ScoringSource(wh, ["id", "x"], table="t", query=None)
    source.check(["x"], [])
    calls = []

    def predict(frame: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(frame))
        if len(calls) == 3:
            raise RuntimeError("the model failed on chunk 3")
        return pd.DataFrame({"id": frame["id"], "prediction": (frame["x"] > 0).astype("int64"), "probability": 0.5})

    run = ScoringRun("m", "1", "model-run", "run-c", datetime.now(UTC))
    with pytest.raises(RuntimeError, match="chunk 3"):
        write_predictions(
            wh, source, predict, table_name="preds", keys=["id"], probability=True, run=run, chunk_size=500
        )
    con = sqlite3.connect(tmp_path / "w.db", timeout=0)
    assert con.execute("SELECT name FROM sqlite_master WHERE name = 'preds'").fetchall() == []
    con.execute("BEGIN IMMEDIATE")  # nobody holds the write lock any more
    con.rollback()
    con.close()
    calls.append("retry")
    written = write_predictions(
        wh, source, predict, table_name="preds", keys=["id"], probability=True, run=run, chunk_size=500
    )
    again = write_predictions(
        wh, source, predict, table_name="preds", keys=["id"], probability=True, run=run, chunk_size=500
    )
    assert written.rows == again.rows == ROWS
    assert len(table_rows(url, "preds")) == ROWS, "a run scored again replaces its own rows"
    wh.dispose()


def test_the_row_reader_serves_where_columnar_cannot(tmp_path, monkeypatch):
    assert columnar_engine(Warehouse("sqlite://", "sqlite")) is None  # in memory: no second connection can see it
    assert columnar_engine(Warehouse("postgresql://u@localhost/db", "pg")) is None
    url = make_warehouse(tmp_path / "w.db")
    # a URI's parameters (mode=ro, ...) are the stdlib driver's: the row reader honours them
    assert columnar_engine(Warehouse(f"sqlite:///file:{tmp_path / 'w.db'}?mode=ro&uri=true", "sqlite")) is None
    monkeypatch.setenv(SWITCH, "0")
    assert columnar_engine(Warehouse(url, "sqlite")) is None

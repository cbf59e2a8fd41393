"""SQLite multi-row appends (mlpublish.warehouse.sqliterows) store exactly what one INSERT per row stores."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from mlpublish.warehouse.sqliterows import ROWS_PER_STATEMENT, insert_rows

NAMES = ["customer_id", "prediction", "probability", "model_name", "scoring_run_id", "scored_at"]


def table(con: sqlite3.Connection, name: str) -> None:
    con.execute(
        f"CREATE TABLE {name} (customer_id BIGINT, prediction TEXT, probability FLOAT, model_name TEXT NOT NULL, "
        "scoring_run_id TEXT NOT NULL, scored_at DATETIME NOT NULL)"
    )


@pytest.mark.parametrize("rows", [0, 1, ROWS_PER_STATEMENT - 1, ROWS_PER_STATEMENT, ROWS_PER_STATEMENT + 1, 1234])
@pytest.mark.parametrize("run_id", ["run-1", "it's 'quoted'", "nul\x00inside"])
def test_rows_and_constants_are_stored_exactly(rows, run_id):
    rng = np.random.default_rng(rows)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(rows, dtype="int64") * 7,
            "prediction": rng.choice(["churn", "stay", "l'autre"], rows),
            "probability": rng.random(rows),
        }
    )
    constant = {"model_name": "m", "scoring_run_id": run_id, "scored_at": "2026-11-30 00:00:00.000000"}
    con = sqlite3.connect(":memory:")
    table(con, "ours")
    table(con, "reference")
    insert_rows(con, f"INSERT INTO ours ({', '.join(NAMES)}) VALUES", NAMES, frame, constant)
    con.executemany(
        "INSERT INTO reference VALUES (?, ?, ?, ?, ?, ?)",
        [(*r, *constant.values()) for r in frame.itertuples(index=False)],
    )
    ours = con.execute("SELECT *, typeof(customer_id), typeof(probability) FROM ours ORDER BY rowid").fetchall()
    reference = con.execute("SELECT *, typeof(customer_id), typeof(probability) FROM reference ORDER BY rowid")
    assert ours == reference.fetchall() and len(ours) == rows


def test_a_small_variable_limit_is_respected():
    con = sqlite3.connect(":memory:")
    con.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 10)  # 3 variable columns: 3 rows a statement
    table(con, "ours")
    frame = pd.DataFrame({"customer_id": range(10), "prediction": ["a"] * 10, "probability": [0.5] * 10})
    constant = {"model_name": "m", "scoring_run_id": "r", "scored_at": "t"}
    insert_rows(con, f"INSERT INTO ours ({', '.join(NAMES)}) VALUES", NAMES, frame, constant)
    assert con.execute("SELECT COUNT(*), SUM(customer_id) FROM ours").fetchone() == (10, 45)

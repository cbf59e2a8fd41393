"""The rows to score (mlpublish.warehouse.sources): the query checked again before it runs, and SQLite reads that
cannot write even on the scoring transaction's own connection."""

from __future__ import annotations

import sqlite3

import pytest

from mlpublish.errors import WarehouseError
from mlpublish.warehouse.sources import checked_query, sqlite_query_only


def test_the_reader_checks_the_query_itself():
    assert checked_query("SELECT a FROM t;  ", "sqlite") == "SELECT a FROM t"
    assert checked_query(None, "postgresql") is None
    with pytest.raises(WarehouseError, match=r"^scoring\.query holds 2 statements .*: refused$"):
        checked_query("SELECT a FROM t; DROP TABLE t", "postgresql")


def test_a_statement_started_under_query_only_cannot_write_and_the_connection_can_after(tmp_path):
    db = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    db.execute("CREATE TABLE t (a int)")
    db.execute("BEGIN IMMEDIATE")  # as the scoring loop: the write lock first, then read and write
    with sqlite_query_only(db), pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("INSERT INTO t VALUES (1)")
    with sqlite_query_only(db):
        rows = db.execute("SELECT a FROM t")
    db.execute("INSERT INTO t VALUES (2)")  # the writer's own statements still write
    assert rows.fetchall() == [] and db.execute("PRAGMA query_only").fetchone() == (0,)
    db.execute("COMMIT")
    db.execute("PRAGMA query_only = ON")
    with sqlite_query_only(db):
        pass
    assert db.execute("PRAGMA query_only").fetchone() == (1,)  # as it was before: a read engine's stays on
    db.close()

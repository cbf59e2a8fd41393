"""SQLite scoring, columnar: the rows read as Arrow record batches and the predictions appended by ADBC ingest.

The stdlib ``sqlite3`` driver makes a Python object of every value read and binds every value written from one:
for 1M rows of seven columns, fetching costs 1.7 CPU s, turning the tuples into frames 1.0 s, the multi-row
``INSERT`` 1.0 s, all holding the GIL. The ADBC SQLite driver (``adbc-driver-sqlite``, C) reads the same rows
into Arrow batches for 0.7 CPU s, and binds the predictions from Arrow (:func:`append`): 0.84 CPU s per 1M
rows where the row writer takes 1.14 (bench/score_throughput.py).

A scoring run is one transaction on one connection (a second connection would wait for the first's write lock),
so the whole run goes through ONE ADBC connection: :func:`columnar_engine` gives an SQLAlchemy engine whose
connections are ADBC's (SQLAlchemy's SQLite dialect creates the predictions table, its view, clears an earlier
attempt and writes the quarantine through it as through the stdlib driver), in autocommit mode with the
transaction explicit (``BEGIN IMMEDIATE`` ... ``COMMIT``). The source is read through
:func:`record_batches` and turned into frames by :func:`batch_frame` (the same dtypes as the row reader's:
integers int64, float64 with NaN where some are NULL, texts as str); predictions are appended by :func:`append`.

The driver brings its own copy of the SQLite library (3.53 where the stdlib's is 3.40), and two copies in one
process do not see each other's POSIX locks on a file (sqlite.org/howtocorrupt.html, "multiple copies of SQLite
linked into the same application"). Hence: the warehouse engine's idle stdlib connections are closed before the
ADBC connection opens (closing a descriptor of the file while ADBC holds the write lock would release that lock),
and a database in WAL mode is scored by the row reader: there the last ADBC connection to close deletes the
``-shm`` file under the stdlib connections of the same process, whose next statement fails with "disk I/O error"
(found trying a second, reading ADBC connection beside the writing one, which WAL would allow: 1M rows read and
1M predictions written in 1.0-1.1 s together, 1.6-1.8 s one after the other).

SQLite columns may hold any type in any row. The columnar reader takes each column's type from the first chunk,
and a later value of another type (a float in a column of integers) stops it: :class:`ColumnarMismatch`. The
run is then rolled back and starts over on the row reader (:mod:`mlpublish.warehouse.scoring`).
``MLPUBLISH_COLUMNAR=0`` keeps every run on the row reader.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from mlpublish.errors import WarehouseError
from mlpublish.warehouse.sqliterows import sql_text

BATCH_ROWS_OPTION = "adbc.sqlite.query.batch_rows"
SWITCH = "MLPUBLISH_COLUMNAR"
ROWS_PER_STATEMENT = 100  # measured: 0.84 CPU s per 1M predictions at 100 rows a statement (the row writer's 500: 1.14)
DEFAULT_BUSY_SECONDS = 5.0  # the stdlib driver's default wait for another writer's lock


class ColumnarMismatch(Exception):
    """A value does not fit the column type the columnar reader took from the first chunk: read rows instead."""


def columnar_engine(wh: Any) -> sa.Engine | None:
    """An engine of ADBC connections to ``wh``'s SQLite file, or None where the row reader must serve.

    None: not SQLite, an in-memory or attached-schema database, a ``file:`` URI (its parameters, ``mode=ro`` and
    the like, are the stdlib driver's), a database in WAL mode (see the module docstring), ``MLPUBLISH_COLUMNAR=0``,
    or the driver not installed. The engine keeps no pool; dispose of it after the run."""
    if wh.dialect != "sqlite" or wh._sql_schema() is not None or os.environ.get(SWITCH, "1").strip() == "0":
        return None
    path = wh._url.database
    if not path or path == ":memory:" or path.startswith("file:"):  # a URI's parameters are the stdlib driver's
        return None
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
    except ImportError:
        return None
    try:
        with wh.engine.connect() as conn:  # the same checks as the row reader's (the file exists)
            wal = in_wal_mode(conn)
    except sa.exc.SQLAlchemyError:
        return None  # the row reader reports what is wrong with the file its own way
    wh.engine.dispose()  # no idle stdlib descriptor of the file is closed while the ADBC connection holds its lock
    if wal:
        return None
    timeout = wh._url.query.get("timeout")
    busy = float(timeout if isinstance(timeout, str) else DEFAULT_BUSY_SECONDS)
    uri = os.path.abspath(path)

    def connect() -> Any:
        return _connect(uri, busy)

    return sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.NullPool)


def _connect(uri: str, busy_seconds: float) -> Any:
    """An ADBC SQLite connection in autocommit mode whose commit and rollback end an explicit transaction."""
    import adbc_driver_manager
    from adbc_driver_sqlite import connect as open_database
    from adbc_driver_sqlite.dbapi import AdbcSqliteConnection

    class Connection(AdbcSqliteConnection):
        def create_function(self, *args: Any, **kwargs: Any) -> None:
            """SQLAlchemy registers a REGEXP function on stdlib connections; ADBC has none to register."""

        def commit(self) -> None:
            self._end("COMMIT")

        def rollback(self) -> None:
            self._end("ROLLBACK")

        def _end(self, sql: str) -> None:
            cur = self.cursor()
            try:
                cur.execute(sql)
            except adbc_driver_manager.Error as exc:
                if "no transaction is active" not in str(exc):
                    raise
            finally:
                cur.close()

    db = open_database(uri)
    try:
        raw = adbc_driver_manager.AdbcConnection(db)
    except BaseException:
        db.close()
        raise
    conn = Connection(db, raw, autocommit=True)
    _run(conn, f"PRAGMA busy_timeout = {int(busy_seconds * 1000)}")
    return conn


def _run(dbapi: Any, sql: str) -> None:
    cur = dbapi.cursor()
    try:
        cur.execute(sql)
    finally:
        cur.close()


def is_columnar(conn: sa.Connection) -> bool:
    """Whether ``conn`` (an SQLAlchemy connection) is one of :func:`columnar_engine`'s."""
    return type(conn.connection.driver_connection).__module__ == __name__


def in_wal_mode(conn: sa.Connection) -> bool:
    """Whether ``conn``'s database is in write-ahead-log mode (``PRAGMA journal_mode``)."""
    return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower() == "wal"


def record_batches(conn: sa.Connection, sql: str, size: int, label: str) -> Iterator[Any]:
    """The rows of ``sql`` as Arrow record batches of ``size`` rows, read on ``conn``.

    The statement starts under ``PRAGMA query_only`` (as the row reader's: whether a statement may write is
    settled when it starts), so the read cannot write. A value of another type than its column's first chunk
    raises :class:`ColumnarMismatch`; any other failure of the driver a WarehouseError naming ``label``.
    """
    import adbc_driver_manager

    dbapi = conn.connection.driver_connection
    cur = dbapi.cursor()
    try:
        cur.adbc_statement.set_options(**{BATCH_ROWS_OPTION: str(max(1, size))})
        _run(dbapi, "PRAGMA query_only = ON")
        try:
            cur.execute(sql)
            reader = cur.fetch_record_batch()
        finally:
            _run(dbapi, "PRAGMA query_only = OFF")
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (OSError, adbc_driver_manager.Error) as exc:
                if "type mismatch" in str(exc).lower():
                    raise ColumnarMismatch(f"{label}: {exc}") from None
                raise WarehouseError(f"reading {label} failed: {exc}") from None
            if batch.num_rows:
                yield batch
    except adbc_driver_manager.Error as exc:
        raise WarehouseError(f"reading {label} failed: {exc}") from None
    finally:
        cur.close()


def batch_frame(batch: Any) -> Any:
    """A record batch as a DataFrame with the row reader's dtypes (NULL integers make float64 with NaN, texts str)."""
    import pandas as pd

    columns = {name: column.to_numpy(zero_copy_only=False) for name, column in zip(batch.schema.names, batch.columns)}
    return pd.DataFrame(columns, copy=False)


def append(conn: sa.Connection, table: sa.Table, frame: Any, constant: dict[str, str]) -> None:
    """Append ``frame`` and the run's ``constant`` columns to ``table``, the values bound from Arrow.

    As the row writer (:mod:`mlpublish.warehouse.sqliterows`), multi-row ``INSERT`` statements with the constant
    columns as SQL literals; the statement runs once per row of a record batch whose columns are the statement's
    parameters (row ``i * ROWS_PER_STATEMENT + r`` of ``frame`` is statement ``i``'s ``r``-th row). Per 1M rows
    with its index: 0.84 CPU s, where ADBC's own ingest (every column bound per row) takes 1.87 and the row
    writer 1.14."""
    import numpy as np
    import pyarrow as pa

    names = [c.name for c in table.columns]
    literal = {c: sql_text(v) for c, v in constant.items() if "\x00" not in v}  # a NUL would end the literal
    values = {c: pa.array(frame[c], from_pandas=True) for c in names if c not in literal and c not in constant}
    values.update({c: pa.repeat(pa.scalar(constant[c], pa.string()), len(frame)) for c in constant if c not in literal})
    variable = [c for c in names if c in values]
    row = "(" + ", ".join(literal.get(c, "?") for c in names) + ")"
    prep = conn.dialect.identifier_preparer
    head = f"INSERT INTO {prep.format_table(table)} ({', '.join(prep.quote(c) for c in names)}) VALUES "
    per = max(1, min(ROWS_PER_STATEMENT, 32766 // max(1, len(variable))))
    whole = len(frame) // per * per
    cur = conn.connection.driver_connection.cursor()
    try:
        if whole:
            # each column reordered once (all statements' first rows, then their second rows, ...), then sliced
            # without copying into the statement's per x columns parameters
            statements = whole // per
            order = np.arange(whole).reshape(statements, per).T.ravel()
            ordered = {c: values[c].take(order) for c in variable}
            params = [ordered[c].slice(r * statements, statements) for r in range(per) for c in variable]
            batch = pa.RecordBatch.from_arrays(params, names=[f"p{i}" for i in range(len(params))])
            cur.execute(head + ", ".join([row] * per), batch)
        if whole < len(frame):  # the last rows, a statement each
            rest = [values[c].slice(whole) for c in variable]
            cur.execute(head + row, pa.RecordBatch.from_arrays(rest, names=[f"p{i}" for i in range(len(rest))]))
    finally:
        cur.close()

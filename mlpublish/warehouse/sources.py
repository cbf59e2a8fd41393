"""The rows to score or monitor: a table or a query of the warehouse, checked, then read a chunk at a time.

PostgreSQL reads through a binary ``COPY`` parsed into columns (:mod:`mlpublish.warehouse.pgread`) when every
column's type allows, else a server-side cursor; the other databases through a cursor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mlpublish.errors import WarehouseError
from mlpublish.redact import redact_url
from mlpublish.spec.sql_query import query_problem, sql_dialect
from mlpublish.warehouse import Warehouse, first_line
from mlpublish.warehouse.pgread import pg_frames
from mlpublish.warehouse.sqlite_arrow import batch_frame, is_columnar, record_batches

if TYPE_CHECKING:
    import pandas as pd

# Declared types that cannot hold a numerical feature (checked before anything is written).
_NON_NUMERIC = ("CHAR", "TEXT", "CLOB", "STRING", "DATE", "TIME", "BOOL", "BLOB", "BYTEA", "JSON", "UUID", "BINARY")


def require_columns(label: str, wanted: list[str], found: Any) -> None:
    """WarehouseError naming every column of ``wanted`` missing from ``found`` (and what there is)."""
    missing = [c for c in wanted if c not in found]
    if missing:
        raise WarehouseError(
            f"{label}: column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"not found (has: {', '.join(sorted(found))})"
        )


def read_chunks(conn: sa.Connection, sql: str, size: int) -> Iterator[list[tuple]]:
    """Rows ``size`` at a time. PostgreSQL: a named (server-side) cursor, so the client never holds the table.

    SQLite reads on the scoring transaction's own connection: the statement starts under ``PRAGMA query_only``
    (whether a statement may write is settled when it starts), so the read cannot write.
    """
    dbapi = conn.connection.driver_connection
    server_side = conn.dialect.name == "postgresql"
    cur = dbapi.cursor(name=f"mlp_score_{uuid.uuid4().hex[:8]}") if server_side else dbapi.cursor()
    if server_side:
        cur.itersize = size
    try:
        if conn.dialect.name == "sqlite":
            with sqlite_query_only(dbapi):
                cur.execute(sql)
        else:
            cur.execute(sql)
        while True:
            rows = cur.fetchmany(size)
            if not rows:
                return
            yield rows
    finally:
        cur.close()


@contextmanager
def sqlite_query_only(dbapi: Any) -> Iterator[None]:
    """``PRAGMA query_only`` on the sqlite3 connection ``dbapi`` for the block, then as it was."""
    before = dbapi.execute("PRAGMA query_only").fetchone()[0]
    dbapi.execute("PRAGMA query_only = ON")
    try:
        yield
    finally:
        dbapi.execute(f"PRAGMA query_only = {'ON' if before else 'OFF'}")


def checked_query(query: str | None, dialect: str) -> str | None:
    """``query`` without its trailing ``;``, once it is one read-only SELECT (checked again at run time)."""
    if not query:
        return None
    problem = query_problem(query, sql_dialect(dialect))
    if problem:
        raise WarehouseError(f"scoring.query {problem}: refused")
    return query.strip().rstrip(";").strip()


class ScoringSource:
    """The rows to score or monitor: a table (checked by its declared column types) or a query."""

    def __init__(self, wh: Warehouse, columns: list[str], *, table: str | None, query: str | None):
        self.wh = wh
        self.columns = columns
        self.query = checked_query(query, wh.dialect)
        self.table = None if self.query else table
        self.label = wh.table_fqn(self.table) if self.table else "scoring.query"
        self.fqn = wh.table_fqn(self.table) if self.table else None
        self.numerical: set[str] = set()  # numerical features (set by check): read as float64 in any case

    def types(self) -> dict[str, str]:
        """Column name -> declared type ('' for a query's columns: their values are checked chunk by chunk)."""
        if self.table:
            return self.wh.columns(self.table)
        try:
            with self.wh.read_engine.connect() as conn:
                keys = conn.exec_driver_sql(f"SELECT * FROM ({self.query}\n) mlp_q WHERE 1=0").keys()
        except sa.exc.SQLAlchemyError as exc:
            raise WarehouseError(
                f"scoring.query fails on {redact_url(self.wh.url, database=True)}: {first_line(exc)}"
            ) from None
        return {k: "" for k in keys}

    def check(self, features: list[str], categorical: list[str]) -> None:
        """Every column is there, and numerical features have numeric types."""
        types = self.types()
        self.numerical = set(features) - set(categorical)
        require_columns(self.label, self.columns, types)
        for col in features:
            declared = types[col].upper()
            if col not in categorical and any(t in declared for t in _NON_NUMERIC):
                raise WarehouseError(
                    f"{self.label}: feature {col!r} is declared numerical but the column is {types[col]}"
                )

    def sql(self, dialect: Any) -> str:
        q = dialect.identifier_preparer.quote
        cols = ", ".join(q(c) for c in self.columns)
        if self.query:
            return f"SELECT {cols} FROM ({self.query}\n) mlp_q"  # a newline ends a trailing -- comment
        schema = self.wh._sql_schema()
        return f"SELECT {cols} FROM {q(schema) + '.' if schema else ''}{q(self.table)}"

    def frames(self, size: int) -> Iterator[pd.DataFrame]:
        """The rows as DataFrames of at most ``size`` rows, read in one read-only pass."""
        with self.wh.read_engine.connect() as conn, self.batches(conn, conn, size, keys=[]) as (batches, to_frame):
            for batch in batches:
                yield to_frame(batch)
            conn.rollback()

    @contextmanager
    def batches(
        self, conn: sa.Connection, reader: sa.Connection, size: int, keys: list[str]
    ) -> Iterator[tuple[Iterator[Any], Callable[[Any], pd.DataFrame]]]:
        """(chunks of at most ``size`` rows, how a chunk becomes a DataFrame).

        PostgreSQL: a binary COPY on ``reader`` (a connection of :attr:`Warehouse.read_engine`, whose transactions
        are read-only) parsed into columns (:mod:`mlpublish.warehouse.pgread`), when every column's type allows;
        else a cursor on ``reader``, whose Python tuples make the frames. SQLite reads on ``conn``, which may be
        the writing one, under ``PRAGMA query_only``: Arrow record batches when ``conn`` is a columnar one
        (:mod:`mlpublish.warehouse.sqlite_arrow`), else rows (:func:`read_chunks`).
        ``keys`` are never cast (their type is the predictions table's).
        """
        import pandas as pd

        def as_is(frame: pd.DataFrame) -> pd.DataFrame:
            return frame

        def rows_frame(batch: list[tuple]) -> pd.DataFrame:
            return pd.DataFrame.from_records(batch, columns=self.columns)

        sql = self.sql(conn.dialect)
        chunks: Any = None
        to_frame: Callable[[Any], pd.DataFrame] = as_is  # PostgreSQL's COPY reader parses into frames itself
        if conn.dialect.name == "postgresql":
            q = conn.dialect.identifier_preparer.quote
            dbapi = reader.connection.driver_connection
            chunks = pg_frames(dbapi, sql, self.columns, self.numerical - set(keys), size, q)
        if chunks is None and is_columnar(reader):
            chunks, to_frame = record_batches(reader, sql, size, self.label), batch_frame
        elif chunks is None:
            chunks, to_frame = read_chunks(reader, sql, size), rows_frame
        try:
            yield chunks, to_frame
        finally:
            chunks.close()  # its statement or cursor closed now, also after a failure: before its connection is

    def count(self) -> int:
        with self.wh.read_engine.connect() as conn:
            try:
                return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM ({self.sql(conn.dialect)}) mlp_c").scalar_one())
            except sa.exc.SQLAlchemyError as exc:
                raise WarehouseError(f"cannot count the rows of {self.label}: {exc.__class__.__name__}") from None

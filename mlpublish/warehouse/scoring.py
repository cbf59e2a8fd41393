"""The scoring run's SQL: the rows to score or monitor, and the predictions table.

Predictions are written in one database transaction per scoring run (see
:func:`write_predictions`): the rows of an earlier attempt with the same scoring
run id are deleted, then every chunk is read (PostgreSQL: a binary ``COPY`` on a
second, read-only connection, parsed into columns in a thread of its own, see
:mod:`mlpublish.warehouse.pgread`, or a server-side cursor when a column's type
has no columnar reading), predicted (two chunks at a time, in threads of their own,
overlapping the reads and writes) and written (binary or CSV ``COPY`` on PostgreSQL,
multi-row ``INSERT`` on SQLite, ``executemany`` elsewhere) in the order read, then the
transaction commits. A failure anywhere rolls everything back, so a failed run leaves no
partial rows and a retried run replaces its own rows instead of duplicating them. Memory
holds a few chunks whatever the table's size: one being read, one parsed and waiting, two
predicting, one being written.
"""

from __future__ import annotations

import io
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mlpublish.errors import WarehouseError

if TYPE_CHECKING:
    import pandas as pd


from mlpublish.warehouse import Warehouse, first_line, redact_url
from mlpublish.warehouse.pgcopy import copy_binary
from mlpublish.warehouse.pgread import pg_frames
from mlpublish.warehouse.sqliterows import insert_rows

# Declared types that cannot hold a numerical feature (checked before anything is written).
_NON_NUMERIC = ("CHAR", "TEXT", "CLOB", "STRING", "DATE", "TIME", "BOOL", "BLOB", "BYTEA", "JSON", "UUID", "BINARY")

# Chunks predicted at once. Each chunk is predicted whole by one thread with the model's own settings (so
# the predictions are those of one predict_proba call on the chunk); the trees release the GIL, so a second
# chunk predicts while the first is framed and prepared. 1M rows on PostgreSQL, 2 cores: 4.5 s with one
# predicting thread, 3.85 s with two, 3.86 s with three; SQLite unchanged (its driver holds the GIL).
PREDICTING_THREADS = 2


def require_columns(label: str, wanted: list[str], found: Any) -> None:
    """WarehouseError naming every column of ``wanted`` missing from ``found`` (and what there is)."""
    missing = [c for c in wanted if c not in found]
    if missing:
        raise WarehouseError(
            f"{label}: column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"not found (has: {', '.join(sorted(found))})"
        )


def read_chunks(conn: sa.Connection, sql: str, size: int) -> Iterator[list[tuple]]:
    """Rows ``size`` at a time. PostgreSQL: a named (server-side) cursor, so the client never holds the table."""
    dbapi = conn.connection.driver_connection
    server_side = conn.dialect.name == "postgresql"
    cur = dbapi.cursor(name=f"mlp_score_{uuid.uuid4().hex[:8]}") if server_side else dbapi.cursor()
    if server_side:
        cur.itersize = size
    try:
        cur.execute(sql)
        while True:
            rows = cur.fetchmany(size)
            if not rows:
                return
            yield rows
    finally:
        cur.close()


class ScoringSource:
    """The rows to score or monitor: a table (checked by its declared column types) or a query."""

    def __init__(self, wh: Warehouse, columns: list[str], *, table: str | None, query: str | None):
        self.wh = wh
        self.columns = columns
        self.query = query.strip().rstrip(";") if query else None
        self.table = None if self.query else table
        self.label = wh.table_fqn(self.table) if self.table else "scoring.query"
        self.fqn = wh.table_fqn(self.table) if self.table else None
        self.numerical: set[str] = set()  # numerical features (set by check): read as float64 in any case

    def types(self) -> dict[str, str]:
        """Column name -> declared type ('' for a query's columns: their values are checked chunk by chunk)."""
        if self.table:
            return self.wh.columns(self.table)
        try:
            with self.wh.engine.connect() as conn:
                keys = conn.exec_driver_sql(f"SELECT * FROM ({self.query}) mlp_q WHERE 1=0").keys()
        except sa.exc.SQLAlchemyError as exc:
            raise WarehouseError(f"scoring.query fails on {redact_url(self.wh.url)}: {first_line(exc)}") from None
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
            return f"SELECT {cols} FROM ({self.query}) mlp_q"
        schema = self.wh._sql_schema()
        return f"SELECT {cols} FROM {q(schema) + '.' if schema else ''}{q(self.table)}"

    def frames(self, size: int) -> Iterator[pd.DataFrame]:
        """The rows as DataFrames of at most ``size`` rows, read in one read-only pass."""
        with self.wh.engine.connect() as conn, self.batches(conn, conn, size, keys=[]) as (batches, to_frame):
            for batch in batches:
                yield to_frame(batch)
            conn.rollback()

    @contextmanager
    def batches(
        self, conn: sa.Connection, reader: sa.Connection, size: int, keys: list[str]
    ) -> Iterator[tuple[Iterator[Any], Callable[[Any], pd.DataFrame]]]:
        """(chunks of at most ``size`` rows, how a chunk becomes a DataFrame).

        PostgreSQL: a binary COPY on ``reader`` parsed into columns (:mod:`mlpublish.warehouse.pgread`),
        when every column's type allows; else a cursor on ``conn``, whose Python tuples make the frames.
        ``keys`` are never cast (their type is the predictions table's).
        """
        import pandas as pd

        if conn.dialect.name == "postgresql":
            q = conn.dialect.identifier_preparer.quote
            dbapi = reader.connection.driver_connection
            frames = pg_frames(dbapi, self.sql(conn.dialect), self.columns, self.numerical - set(keys), size, q)
            if frames is not None:
                try:
                    yield frames, lambda frame: frame
                finally:
                    frames.close()
                return

        def to_frame(batch: list[tuple]) -> pd.DataFrame:
            return pd.DataFrame.from_records(batch, columns=self.columns)

        yield read_chunks(conn, self.sql(conn.dialect), size), to_frame

    def count(self) -> int:
        with self.wh.engine.connect() as conn:
            try:
                return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM ({self.sql(conn.dialect)}) mlp_c").scalar_one())
            except sa.exc.SQLAlchemyError as exc:
                raise WarehouseError(f"cannot count the rows of {self.label}: {exc.__class__.__name__}") from None


# Writing predictions ------------------------------------------------------------
@dataclass(frozen=True)
class ScoringRun:
    """What is the same on every row one scoring run writes."""

    model_name: str
    model_version: str
    model_run_id: str
    scoring_run_id: str
    scored_at: datetime

    def columns(self, dialect: str) -> dict[str, str]:
        """The run's columns, in the predictions table's order (the COPY fast path relies on it)."""
        stamp = (
            self.scored_at.isoformat() if dialect == "postgresql" else self.scored_at.strftime("%Y-%m-%d %H:%M:%S.%f")
        )
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "model_run_id": self.model_run_id,
            "scoring_run_id": self.scoring_run_id,
            "scored_at": stamp,
        }


@dataclass(frozen=True)
class WrittenPredictions:
    rows: int
    chunks: int
    columns: dict[str, str]  # the predictions table's columns and their SQL types


def sql_type(values: Any) -> Any:
    """The SQL type of a predictions column holding ``values`` (a pandas Series)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(values):
        return sa.Boolean()
    if pd.api.types.is_integer_dtype(values):
        return sa.BigInteger()
    if pd.api.types.is_float_dtype(values):
        return sa.Float()
    return sa.Text()


def predictions_table(
    name: str, schema: str | None, keys: dict[str, Any], prediction: Any, probability: bool
) -> sa.Table:
    cols = [sa.Column(k, t) for k, t in keys.items()]
    cols.append(sa.Column("prediction", prediction))
    if probability:
        cols.append(sa.Column("probability", sa.Float()))
    cols += [
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("model_run_id", sa.Text(), nullable=False),
        sa.Column("scoring_run_id", sa.Text(), nullable=False, index=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    ]
    return sa.Table(name, sa.MetaData(), *cols, schema=schema)


def write_predictions(
    wh: Warehouse,
    source: ScoringSource,
    predict: Callable[[pd.DataFrame], pd.DataFrame],
    *,
    table_name: str,
    keys: list[str],
    probability: bool,
    run: ScoringRun,
    chunk_size: int,
    on_chunk: Callable[[int, int], None] | None = None,
) -> WrittenPredictions:
    """Stream ``source`` through ``predict`` into the predictions table, in ONE transaction (see module docstring).

    ``predict(frame)`` returns the key columns, ``prediction`` and (when
    ``probability``) ``probability`` of a chunk; a WarehouseError it raises is
    reported with the chunk's row range. ``on_chunk(chunk number, rows so far)``
    is called after each chunk is written.
    """

    table_fqn = wh.table_fqn(table_name)
    rows = chunks = 0
    columns: dict[str, str] = {}
    # The model predicts chunks k and k+1 in threads of their own while the connection writes chunk k-1 and reads
    # chunk k+2: the drivers and the trees release the GIL. A few chunks at most are held, whatever the table's size.
    predictor = ThreadPoolExecutor(PREDICTING_THREADS, thread_name_prefix="mlp-predict")
    # PostgreSQL reads through a COPY of its own, so on a second (read-only) connection
    reader = wh.engine.connect() if wh.dialect == "postgresql" else None
    ok = False
    with wh.engine.connect() as conn:
        try:
            if wh.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock now: no reader-writer deadlock later
            writer: _Writer | None = None
            constant = run.columns(wh.dialect)
            pending: deque[tuple[Future, int, int]] = deque()  # (prediction, first row, row count), in read order
            read = 0

            def write(chunk: tuple[Future, int, int]) -> None:
                nonlocal writer, columns, rows, chunks
                out = _predicted(chunk, source.label)
                if writer is None:
                    writer, columns = _open_table(conn, wh, table_name, keys, probability, run, out)
                writer.write(out, constant)
                rows += len(out)
                chunks += 1
                if on_chunk:
                    on_chunk(chunks, rows)

            with source.batches(conn, reader or conn, chunk_size, keys) as (batches, to_frame):

                def frame_and_predict(batch: Any) -> pd.DataFrame:
                    return predict(to_frame(batch))

                for batch in batches:
                    # the rows become a frame in the predictor's thread too: this one is busy with the connection
                    pending.append((predictor.submit(frame_and_predict, batch), read, len(batch)))
                    read += len(batch)
                    del batch  # the predictor holds the chunk now: memory stays at a few chunks
                    if len(pending) > PREDICTING_THREADS:
                        write(pending.popleft())
            while pending:
                write(pending.popleft())
            if writer is None:  # nothing to score: still clear an earlier attempt of this run
                table = predictions_table(
                    table_name, wh._sql_schema(), {k: sa.Text() for k in keys}, sa.Float(), probability
                )
                columns = _ensure_table(conn, table, table_fqn)
                _delete_run(conn, table, run.scoring_run_id)
            conn.commit()
            ok = True
        except sa.exc.SQLAlchemyError as exc:
            _rollback(conn)
            raise WarehouseError(f"scoring into {table_fqn} failed, nothing written: {first_line(exc)}") from None
        except BaseException as exc:
            _rollback(conn)
            if type(exc).__module__.split(".")[0] in ("psycopg2", "psycopg", "sqlite3"):
                raise WarehouseError(
                    f"scoring {source.label} into {table_fqn} failed, nothing written: {first_line(exc)}"
                ) from None
            raise
        finally:
            predictor.shutdown(wait=True, cancel_futures=True)
            if reader is not None:  # after a failure its COPY may be cut mid-stream: never back to the pool
                if ok:
                    _rollback(reader)
                else:
                    reader.invalidate()
                reader.close()
    return WrittenPredictions(rows, chunks, columns)


def _predicted(pending: tuple[Future, int, int], label: str) -> Any:
    """The predicted chunk; a WarehouseError of ``predict`` names the chunk's rows."""
    future, first, count = pending
    try:
        return future.result()
    except WarehouseError as exc:
        raise WarehouseError(f"{label} (rows {first + 1}-{first + count}): {exc}") from None


def _open_table(
    conn: sa.Connection, wh: Warehouse, name: str, keys: list[str], probability: bool, run: ScoringRun, first: Any
) -> tuple[_Writer, dict[str, str]]:
    """Create the predictions table (typed by the first predicted chunk) if needed, clear this run's earlier rows."""
    table = predictions_table(
        name, wh._sql_schema(), {k: sql_type(first[k]) for k in keys}, sql_type(first["prediction"]), probability
    )
    columns = _ensure_table(conn, table, wh.table_fqn(name))
    _delete_run(conn, table, run.scoring_run_id)
    return _Writer(conn, table, columns), columns


def _ensure_table(conn: sa.Connection, table: sa.Table, fqn: str) -> dict[str, str]:
    insp = sa.inspect(conn)
    if not insp.has_table(table.name, schema=table.schema):
        table.create(conn)
        insp = sa.inspect(conn)
    existing = {c["name"]: str(c["type"]) for c in insp.get_columns(table.name, schema=table.schema)}
    missing = [c.name for c in table.columns if c.name not in existing]
    if missing:
        raise WarehouseError(
            f"predictions table {fqn} exists without the column(s) {', '.join(missing)}: "
            "drop it or set scoring.predictionsTable to a new table"
        )
    return existing


def _delete_run(conn: sa.Connection, table: sa.Table, run_id: str) -> None:
    conn.execute(table.delete().where(table.c.scoring_run_id == run_id))


def _rollback(conn: sa.Connection) -> None:
    """Roll the scoring transaction back without hiding why it failed.

    When the warehouse dropped the connection (server restart, pg_terminate_backend,
    network cut), the server has rolled the transaction back already and the
    client's rollback fails with "connection already closed": that error must
    not replace the original one, which says what happened.
    """
    try:
        conn.rollback()
    except sa.exc.SQLAlchemyError:
        conn.invalidate()  # the connection is gone: never hand it back to the pool


class _Writer:
    """Appends chunks to the predictions table on the scoring transaction's connection."""

    def __init__(self, conn: sa.Connection, table: sa.Table, declared: dict[str, str]):
        self.conn = conn
        self.table = table
        self.declared = declared  # the table's column types as the warehouse has them
        self.names = [c.name for c in table.columns]
        self.dialect = conn.dialect.name
        prep = conn.dialect.identifier_preparer
        target = prep.format_table(table)
        cols = ", ".join(prep.quote(c) for c in self.names)
        self.copy_sql = f"COPY {target} ({cols}) FROM STDIN WITH (FORMAT csv)"
        self.binary_copy_sql = f"COPY {target} ({cols}) FROM STDIN WITH (FORMAT binary)"
        self.insert_sql = f"INSERT INTO {target} ({cols}) VALUES ({', '.join('?' * len(self.names))})"

    def write(self, frame: Any, constant: dict[str, str]) -> None:
        """Append ``frame`` with the ``constant`` columns (the same value on every row of a scoring run)."""
        if self.dialect == "postgresql":
            dbapi = self.conn.connection.driver_connection
            binary = copy_binary(frame, constant, self.names, self.declared, getattr(dbapi, "encoding", ""))
            sql, data = (
                (self.copy_sql, self._csv(frame, constant)) if binary is None else (self.binary_copy_sql, binary)
            )
            with dbapi.cursor() as cur:
                if hasattr(cur, "copy_expert"):  # psycopg2
                    buf = io.StringIO(data) if isinstance(data, str) else io.BytesIO(data)
                    cur.copy_expert(sql, buf, size=1 << 20)
                else:  # psycopg 3
                    with cur.copy(sql) as copy:
                        copy.write(data)
            return
        if self.dialect == "sqlite":
            head = self.insert_sql[: self.insert_sql.rindex("VALUES") + len("VALUES")]
            insert_rows(self.conn.connection.driver_connection, head, self.names, frame, constant)
        else:
            frame = frame.assign(**constant)[self.names]
            self.conn.execute(self.table.insert(), frame.to_dict("records"))

    def _csv(self, frame: Any, constant: dict[str, str]) -> str:
        import csv

        import pandas as pd

        variable = [c for c in self.names if c not in constant]
        if all(pd.api.types.is_numeric_dtype(frame[c]) for c in variable) and self.names[-len(constant) :] == list(
            constant
        ):
            # Numbers never need quoting, so each line can simply be extended by the run's constant
            # columns: formatting them once instead of once per row halves the CSV cost.
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow(constant.values())
            text = frame[variable].to_csv(index=False, header=False, lineterminator="\n")
            return text.replace("\n", "," + out.getvalue() + "\n")
        return frame.assign(**constant)[self.names].to_csv(index=False, header=False, lineterminator="\n")


# PostgreSQL's binary COPY format: a fixed header, then per row a field count and (length, big-endian value)
# per field, then -1. Predictions are numbers and the run's constant texts, so every row has the same layout
# and numpy lays a whole chunk out at once, where CSV formats each number as text and the server parses it back.

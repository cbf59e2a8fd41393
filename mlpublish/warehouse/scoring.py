"""The local scoring loop: a scoring run's rows read, predicted and written in one transaction.

The rows come from :mod:`mlpublish.warehouse.sources`, the predictions table is
:mod:`mlpublish.warehouse.predictions`'s. Predictions are written in one database
transaction per scoring run (see :func:`write_predictions`): the rows of an earlier
attempt with the same scoring run id are deleted, then every chunk is read
(PostgreSQL: a binary ``COPY`` on a second connection whose transactions are read-only, parsed into columns
in a thread of its own, see :mod:`mlpublish.warehouse.pgread`, or a server-side cursor
when a column's type has no columnar reading), predicted (two chunks at a time, in
threads of their own, overlapping the reads and writes) and written (binary or CSV
``COPY`` on PostgreSQL, multi-row ``INSERT`` bound from Arrow or from rows on SQLite, ``executemany`` elsewhere) in
the order read, then the transaction commits. A failure anywhere rolls everything back,
so a failed run leaves no partial rows and a retried run replaces its own rows instead
of duplicating them. Memory holds a few chunks whatever the table's size: one being
read, one parsed and waiting, two predicting, one being written.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mlpublish.contracts.enforce import QUARANTINED
from mlpublish.errors import WarehouseError
from mlpublish.warehouse import Warehouse, first_line
from mlpublish.warehouse.predictions import (
    CHAMPION_ROLE,
    PredictionsWriter,
    ScoringRun,
    WrittenPredictions,
    by_role,
    delete_run,
    ensure_table,
    open_table,
    predictions_table,
    sql_type,
)
from mlpublish.warehouse.quarantine import QuarantineWriter
from mlpublish.warehouse.sources import ScoringSource, read_chunks, require_columns
from mlpublish.warehouse.sqlite_arrow import ColumnarMismatch, columnar_engine

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PREDICTING_THREADS",
    "ScoringRun",
    "ScoringSource",
    "WrittenPredictions",
    "predictions_table",
    "read_chunks",
    "require_columns",
    "sql_type",
    "write_predictions",
]

log = logging.getLogger("mlpublish.score")

# Chunks predicted at once. Each chunk is predicted whole by one thread with the model's own settings (so
# the predictions are those of one predict_proba call on the chunk); the trees release the GIL, so a second
# chunk predicts while the first is framed and prepared. 1M rows on PostgreSQL, 2 cores: 4.5 s with one
# predicting thread, 3.85 s with two, 3.86 s with three; SQLite unchanged (its driver holds the GIL).
PREDICTING_THREADS = 2


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
    quarantine: QuarantineWriter | None = None,
) -> WrittenPredictions:
    """Stream ``source`` through ``predict`` into the predictions table, in ONE transaction (see module docstring).

    ``predict(frame)`` returns the key columns, ``prediction`` and (when
    ``probability``) ``probability`` of a chunk; a WarehouseError it raises is
    reported with the chunk's row range. ``on_chunk(chunk number, rows so far)``
    is called after each chunk is written. ``quarantine``: where the rows ``predict`` held back go (a predicted
    chunk carries them in ``attrs[QUARANTINED]``), in the same transaction.

    SQLite runs columnar when it can (:mod:`mlpublish.warehouse.sqlite_arrow`); when a value does not fit the
    columnar reader's column type, that attempt is rolled back and the run starts over on the row reader
    (``predict.reset()``, when it has one, forgets what the first attempt counted).
    """
    args = (wh, source, predict, table_name, keys, probability, run, chunk_size, on_chunk, quarantine)
    columnar = columnar_engine(wh)
    if columnar is not None:
        try:
            return _write_run(columnar, *args)
        except ColumnarMismatch as exc:
            log.info("%s; scoring again, reading rows instead of Arrow batches", exc)
            reset = getattr(predict, "reset", None)
            if reset is not None:
                reset()
            if quarantine is not None:
                quarantine.reset()
        finally:
            columnar.dispose()
    return _write_run(wh.engine, *args)


def _write_run(
    engine: sa.Engine,
    wh: Warehouse,
    source: ScoringSource,
    predict: Callable[[pd.DataFrame], pd.DataFrame],
    table_name: str,
    keys: list[str],
    probability: bool,
    run: ScoringRun,
    chunk_size: int,
    on_chunk: Callable[[int, int], None] | None,
    quarantine: QuarantineWriter | None,
) -> WrittenPredictions:
    """One attempt of :func:`write_predictions` on ``engine``'s connection (the warehouse's, or a columnar one)."""
    table_fqn = wh.table_fqn(table_name)
    rows = chunks = shadow_rows = 0
    columns: dict[str, str] = {}
    # The model predicts chunks k and k+1 in threads of their own while the connection writes chunk k-1 and reads
    # chunk k+2: the drivers and the trees release the GIL. A few chunks at most are held, whatever the table's size.
    predictor = ThreadPoolExecutor(PREDICTING_THREADS, thread_name_prefix="mlp-predict")
    # PostgreSQL reads through a COPY of its own, so on a second (read-only) connection
    reader = wh.read_engine.connect() if wh.dialect == "postgresql" else None
    ok = False
    with engine.connect() as conn:
        try:
            if wh.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock now: no reader-writer deadlock later
            if quarantine is not None:
                quarantine.begin(conn)  # a retry replaces its own quarantined rows, as its predictions
            constants = {role: run.columns(wh.dialect, role) for role in run.roles}
            writer: PredictionsWriter | None = None
            pending: deque[tuple[Future, int, int]] = deque()  # (prediction, first row, row count), in read order
            read = 0

            def write(chunk: tuple[Future, int, int]) -> None:
                nonlocal writer, columns, rows, chunks, shadow_rows
                out = _predicted(chunk, source.label)
                held = out.attrs.pop(QUARANTINED, None)  # rows the data contract held back (quarantine)
                if quarantine is not None:  # written in this same transaction: a failed run leaves none either
                    quarantine.write(conn, held)
                # scoring.shadow: the chunk holds the champion's and the challenger's rows (model_role); each
                # role's rows are appended with its own constant columns (version, run id). `rows` counts the
                # source rows scored: the champion's. A chunk whose rows were all held back has none.
                for role, part in by_role(out) if len(out) else []:
                    if writer is None:
                        writer, columns = open_table(conn, wh, table_name, keys, probability, run, part)
                    writer.write(part, constants[role])
                    if role == CHAMPION_ROLE:
                        rows += len(part)
                    else:
                        shadow_rows += len(part)
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
                columns = ensure_table(conn, table, table_fqn, champion_view=run.shadow)
                delete_run(conn, table, run.scoring_run_id)
            conn.commit()
            ok = True
        except sa.exc.SQLAlchemyError as exc:
            _rollback(conn)
            raise WarehouseError(f"scoring into {table_fqn} failed, nothing written: {first_line(exc)}") from None
        except BaseException as exc:
            _rollback(conn)
            if type(exc).__module__.split(".")[0] in ("psycopg2", "psycopg", "sqlite3", "adbc_driver_manager"):
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
    return WrittenPredictions(rows, chunks, columns, shadow_rows)


def _predicted(pending: tuple[Future, int, int], label: str) -> Any:
    """The predicted chunk; a WarehouseError of ``predict`` names the chunk's rows."""
    future, first, count = pending
    try:
        return future.result()
    except WarehouseError as exc:
        raise WarehouseError(f"{label} (rows {first + 1}-{first + count}): {exc}") from None


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

"""The predictions table: its columns, its creation, and appending a scoring run's chunks to it.

Every row carries ``model_role`` (``champion``, or ``challenger`` with ``scoring.shadow``) and the
``model_version`` / ``model_run_id`` of that role's model; consumers read the champion's rows through the view
``<table>_champion`` (:func:`ensure_champion_view`, created by shadow scoring runs) or filter on ``model_role``.
A table created before ``model_role`` existed gets it on the next scoring run
(``ALTER TABLE ... ADD COLUMN model_role ... DEFAULT 'champion'``: its rows were the champion's).

Appending is the fastest each database allows: binary (or CSV) ``COPY`` on PostgreSQL
(:mod:`mlpublish.warehouse.pgcopy`), multi-row ``INSERT`` on SQLite, bound from Arrow
(:mod:`mlpublish.warehouse.sqlite_arrow`) or from rows (:mod:`mlpublish.warehouse.sqliterows`),
``executemany`` elsewhere. The transaction around it is :func:`mlpublish.warehouse.scoring.write_predictions`'s.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mlpublish.errors import WarehouseError
from mlpublish.warehouse import Warehouse
from mlpublish.warehouse.pgcopy import copy_binary
from mlpublish.warehouse.sqlite_arrow import append, is_columnar
from mlpublish.warehouse.sqliterows import insert_rows

CHAMPION_ROLE = "champion"
CHALLENGER_ROLE = "challenger"
ROLE_COLUMN = "model_role"
# the columns the same on every row of one role in a scoring run, in the predictions table's order
RUN_COLUMNS = ("model_name", ROLE_COLUMN, "model_version", "model_run_id", "scoring_run_id", "scored_at")


@dataclass(frozen=True)
class ScoringRun:
    """What is the same on every row one scoring run writes for one role (the champion's or the challenger's)."""

    model_name: str
    model_version: str
    model_run_id: str
    scoring_run_id: str
    scored_at: datetime
    # scoring.shadow: the challenger scoring the same rows in the same run (None: the champion alone)
    challenger_version: str | None = None
    challenger_run_id: str | None = None
    # scoring.shadow is on (with a challenger or not): the table gets its champion view (ensure_champion_view)
    shadow: bool = False

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles scoring in this run: the champion, and the challenger with scoring.shadow."""
        return (CHAMPION_ROLE,) if self.challenger_version is None else (CHAMPION_ROLE, CHALLENGER_ROLE)

    def version_of(self, role: str) -> tuple[str, str]:
        """(model version, model run id) of ``role``'s model."""
        if role == CHALLENGER_ROLE:
            if self.challenger_version is None or self.challenger_run_id is None:
                raise ValueError(f"scoring run {self.scoring_run_id} has no challenger")
            return self.challenger_version, self.challenger_run_id
        return self.model_version, self.model_run_id

    def columns(self, dialect: str, role: str = CHAMPION_ROLE) -> dict[str, str]:
        """``role``'s constant columns, in the predictions table's order (the COPY fast path relies on it)."""
        stamp = (
            self.scored_at.isoformat() if dialect == "postgresql" else self.scored_at.strftime("%Y-%m-%d %H:%M:%S.%f")
        )
        version, run_id = self.version_of(role)
        return {
            "model_name": self.model_name,
            ROLE_COLUMN: role,
            "model_version": version,
            "model_run_id": run_id,
            "scoring_run_id": self.scoring_run_id,
            "scored_at": stamp,
        }


def by_role(predicted: Any) -> list[tuple[str, Any]]:
    """A predicted chunk split by ``model_role``: [(role, its rows without that column)].

    A chunk without the column (the champion alone) is the champion's whole; a shadow predictor's chunk
    (:class:`mlpublish.steps.predictor.ShadowPredictor`) holds both roles' rows."""
    if ROLE_COLUMN not in predicted:
        return [(CHAMPION_ROLE, predicted)]
    roles = predicted[ROLE_COLUMN].to_numpy()
    rows = predicted.drop(columns=[ROLE_COLUMN])
    return [
        (role, rows[roles == role].reset_index(drop=True))
        for role in (CHAMPION_ROLE, CHALLENGER_ROLE)
        if (roles == role).any()
    ]


@dataclass(frozen=True)
class WrittenPredictions:
    rows: int
    chunks: int
    columns: dict[str, str]  # the predictions table's columns and their SQL types
    shadow_rows: int = 0  # the challenger's rows (scoring.shadow); ``rows`` are the champion's


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
        sa.Column(ROLE_COLUMN, sa.Text(), nullable=False, server_default=CHAMPION_ROLE),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("model_run_id", sa.Text(), nullable=False),
        sa.Column("scoring_run_id", sa.Text(), nullable=False, index=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    ]
    return sa.Table(name, sa.MetaData(), *cols, schema=schema)


def open_table(
    conn: sa.Connection, wh: Warehouse, name: str, keys: list[str], probability: bool, run: ScoringRun, first: Any
) -> tuple[PredictionsWriter, dict[str, str]]:
    """Create the predictions table (typed by the first predicted chunk) if needed, clear this run's earlier rows."""
    table = predictions_table(
        name, wh._sql_schema(), {k: sql_type(first[k]) for k in keys}, sql_type(first["prediction"]), probability
    )
    columns = ensure_table(conn, table, wh.table_fqn(name), champion_view=run.shadow)
    delete_run(conn, table, run.scoring_run_id)
    return PredictionsWriter(conn, table, columns), columns


def ensure_table(conn: sa.Connection, table: sa.Table, fqn: str, *, champion_view: bool = False) -> dict[str, str]:
    """Create the predictions table if needed (an older one gets ``model_role``) and, with ``champion_view``
    (scoring.shadow), its champion view; the table's columns and their SQL types."""
    insp = sa.inspect(conn)
    if not insp.has_table(table.name, schema=table.schema):
        table.create(conn)
        insp = sa.inspect(conn)
    existing = {c["name"]: str(c["type"]) for c in insp.get_columns(table.name, schema=table.schema)}
    if ROLE_COLUMN not in existing:  # a table from before model_role: its rows were all the champion's
        target = conn.dialect.identifier_preparer.format_table(table)
        conn.exec_driver_sql(f"ALTER TABLE {target} ADD COLUMN {ROLE_COLUMN} TEXT NOT NULL DEFAULT '{CHAMPION_ROLE}'")
        existing[ROLE_COLUMN] = "TEXT"
    missing = [c.name for c in table.columns if c.name not in existing]
    if missing:
        raise WarehouseError(
            f"predictions table {fqn} exists without the column(s) {', '.join(missing)}: "
            "drop it or set scoring.predictionsTable to a new table"
        )
    if champion_view:
        ensure_champion_view(conn, table, fqn)
    return existing


def champion_view_name(table: str) -> str:
    """The view consumers read: the champion's rows of the predictions table ``table``."""
    return f"{table}_champion"


def ensure_champion_view(conn: sa.Connection, table: sa.Table, fqn: str) -> None:
    """``<table>_champion``: the rows with ``model_role = 'champion'`` (created once, in the scoring transaction).

    Only with scoring.shadow (the table then holds more than the champion's rows): a view is a dependent object,
    so on PostgreSQL the table can then only be dropped with ``CASCADE``."""
    view = champion_view_name(table.name)
    insp = sa.inspect(conn)
    if view in insp.get_view_names(schema=table.schema):
        return
    if insp.has_table(view, schema=table.schema):
        raise WarehouseError(
            f"{fqn}: a table named {view} exists where the champion's view of the predictions goes: "
            "rename it, or set scoring.predictionsTable to another table"
        )
    prep = conn.dialect.identifier_preparer
    source = prep.format_table(table)
    target = f"{prep.quote_schema(table.schema)}.{prep.quote(view)}" if table.schema else prep.quote(view)
    conn.exec_driver_sql(f"CREATE VIEW {target} AS SELECT * FROM {source} WHERE {ROLE_COLUMN} = '{CHAMPION_ROLE}'")


def delete_run(conn: sa.Connection, table: sa.Table, run_id: str) -> None:
    conn.execute(table.delete().where(table.c.scoring_run_id == run_id))


class PredictionsWriter:
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
        if self.dialect == "sqlite" and is_columnar(self.conn):  # ADBC: appended from Arrow
            append(self.conn, self.table, frame, constant)
        elif self.dialect == "sqlite":
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

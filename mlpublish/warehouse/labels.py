"""Labels joined to the predictions they judge (monitoring.labels): read-only SQL on the warehouse.

A label (its keys, its outcome, the time it was observed) is matched to the **latest scoring run that scored
its keys at or before the label time**: that run's rows for those keys, one per role (the champion's and, with
``scoring.shadow``, the challenger's), each with its ``model_version``. So both roles are judged on the same
labelled rows, and a retired version's old predictions are not matched once a later run scored the keys.

Times are compared in UTC: on PostgreSQL the session's time zone is UTC and the label time is cast to
``timestamptz`` (a ``timestamp`` column is read as UTC, text is parsed); on SQLite both sides go through
``strftime('%Y-%m-%d %H:%M:%f', ...)``, which reads ISO-8601 text (with or without ``T`` and an offset).
For big tables, an index of the predictions table on the key columns helps the join.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mlpublish.errors import WarehouseError
from mlpublish.warehouse import Warehouse, first_line
from mlpublish.warehouse.predictions import CHAMPION_ROLE, ROLE_COLUMN

if TYPE_CHECKING:
    import pandas as pd

# the columns of the joined rows
JOINED = ("label", "label_time", ROLE_COLUMN, "model_version", "prediction", "probability")


def _time(dialect: str, expr: str) -> str:
    if dialect == "sqlite":
        return f"strftime('%Y-%m-%d %H:%M:%f', {expr})"
    if dialect == "postgresql":
        return f"CAST({expr} AS TIMESTAMPTZ)"
    return expr


def _bound(dialect: str, stamp: datetime) -> Any:
    return stamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if dialect == "sqlite" else stamp


def check_columns(wh: Warehouse, table: str, needed: dict[str, str], what: str) -> dict[str, str]:
    """The columns of ``table``; a WarehouseError names the table (``what``) or the missing column and its field."""
    try:
        columns = wh.columns(table)
    except WarehouseError as exc:
        raise WarehouseError(f"{what} {wh.table_fqn(table)}: {exc}") from None
    for column, field in needed.items():
        if column not in columns:
            raise WarehouseError(
                f"{what} {wh.table_fqn(table)} has no column {column!r} ({field}); it has {sorted(columns)}"
            )
    return columns


def labelled_predictions(
    wh: Warehouse,
    *,
    labels_table: str,
    predictions_table: str,
    keys: list[str],
    label_column: str,
    time_column: str,
    until: datetime,
    since: datetime | None = None,
) -> pd.DataFrame:
    """The labels observed in [since, until) joined to their predictions (see the module docstring): one row per
    label and role, columns :data:`JOINED` (``label_time`` in UTC)."""
    import pandas as pd

    needed = {k: "monitoring.labels.keyColumns" for k in keys}
    needed[label_column] = "monitoring.labels.labelColumn"
    needed[time_column] = "monitoring.labels.timeColumn"
    check_columns(wh, labels_table, needed, "the labels table (monitoring.labels.table)")
    if not wh.has_table(predictions_table):  # nothing scored yet: no prediction to judge, not a mistake
        return pd.DataFrame(columns=list(JOINED))
    predicted = check_columns(
        wh,
        predictions_table,
        {**{k: "the key columns" for k in keys}, "prediction": "", "model_version": "", "scored_at": ""},
        "the predictions table",
    )
    dialect = wh.dialect
    prep = wh.engine.dialect.identifier_preparer
    schema = wh._sql_schema()

    def table(name: str) -> str:
        return f"{prep.quote_schema(schema)}.{prep.quote(name)}" if schema else prep.quote(name)

    q = prep.quote
    key_cols = [q(k) for k in keys]
    on_l_p = " AND ".join(f"p.{k} = l.{k}" for k in key_cols)
    on_l_m = " AND ".join(f"m.{k} = l.{k}" for k in key_cols)
    on_m_p = " AND ".join(f"p.{k} = m.{k}" for k in key_cols)
    time = _time(dialect, f"lt.{q(time_column)}")
    where = [f"lt.{q(label_column)} IS NOT NULL", f"{time} < :until"]
    params: dict[str, Any] = {"until": _bound(dialect, until)}
    if since is not None:
        where.append(f"{time} >= :since")
        params["since"] = _bound(dialect, since)
    role = (
        f"p.{q(ROLE_COLUMN)}" if ROLE_COLUMN in predicted else f"'{CHAMPION_ROLE}'"
    )  # before model_role: all champion
    probability = "p.probability" if "probability" in predicted else "NULL"
    sql = f"""
WITH l AS (
  SELECT {", ".join(f"lt.{k}" for k in key_cols)}, lt.{q(label_column)} AS label, {time} AS label_time
  FROM {table(labels_table)} lt WHERE {" AND ".join(where)}
),
m AS (
  SELECT {", ".join(f"l.{k}" for k in key_cols)}, l.label_time, MAX(p.scored_at) AS scored_at
  FROM l JOIN {table(predictions_table)} p ON {on_l_p} AND {_time(dialect, "p.scored_at")} <= l.label_time
  GROUP BY {", ".join(f"l.{k}" for k in key_cols)}, l.label_time
)
SELECT l.label, l.label_time, {role} AS {q(ROLE_COLUMN)}, p.model_version, p.prediction, {probability} AS probability
FROM l
JOIN m ON {on_l_m} AND m.label_time = l.label_time
JOIN {table(predictions_table)} p ON {on_m_p} AND p.scored_at = m.scored_at
"""
    try:
        with wh.read_engine.connect() as conn:
            if dialect == "postgresql":
                conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
            frame = pd.read_sql_query(sa.text(sql), conn, params=params)
            conn.rollback()
    except sa.exc.SQLAlchemyError as exc:
        raise WarehouseError(
            f"joining the labels {wh.table_fqn(labels_table)} to the predictions {wh.table_fqn(predictions_table)} "
            f"failed: {first_line(exc)}"
        ) from None
    frame["label_time"] = pd.to_datetime(frame["label_time"], utc=True, format="mixed")
    frame["model_version"] = frame["model_version"].astype(str)
    return frame

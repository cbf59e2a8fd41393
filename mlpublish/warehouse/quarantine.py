"""The quarantine table: rows held back by ``scoring.onContractViolation: quarantine``, with the rules they broke.

Written on the scoring transaction's connection, beside the predictions (:func:`mlpublish.warehouse.scoring.
write_predictions`): a failed run leaves no quarantined row either, and a retried run replaces its own rows
(they are deleted when the transaction starts, as its predictions are). Its columns: the key columns and the
feature columns as text (a null stays NULL), ``violated_rules`` (``"age.in_range; plan.in_set"``), then
``model_name``, ``model_version``, ``scoring_run_id`` and ``scored_at``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from mlpublish.contracts.enforce import RULES_COLUMN
from mlpublish.errors import WarehouseError
from mlpublish.warehouse import Warehouse
from mlpublish.warehouse.predictions import ScoringRun

RUN_COLUMNS = ("model_name", "model_version", "scoring_run_id", "scored_at")


def quarantine_table(name: str, schema: str | None, columns: list[str]) -> sa.Table:
    cols = [sa.Column(c, sa.Text()) for c in columns]
    cols += [
        sa.Column(RULES_COLUMN, sa.Text(), nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("scoring_run_id", sa.Text(), nullable=False, index=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    ]
    return sa.Table(name, sa.MetaData(), *cols, schema=schema)


class QuarantineWriter:
    """Appends a scoring run's quarantined rows to ``name`` on the scoring transaction's connection."""

    def __init__(self, wh: Warehouse, name: str, columns: list[str], run: ScoringRun):
        self.fqn = wh.table_fqn(name)
        self.columns = list(dict.fromkeys(columns))  # keys then features; a key that is a feature once
        self.table = quarantine_table(name, wh._sql_schema(), self.columns)
        self.run = run
        self.rows = 0
        self.ready = False

    def reset(self) -> None:
        """Forget an attempt that was rolled back (its rows and any table it made are gone with it)."""
        self.rows = 0
        self.ready = False

    def begin(self, conn: sa.Connection) -> None:
        """At the start of the transaction: clear an earlier attempt's rows (the table is made when needed)."""
        if sa.inspect(conn).has_table(self.table.name, schema=self.table.schema):
            self._check(conn)
            conn.execute(self.table.delete().where(self.table.c.scoring_run_id == self.run.scoring_run_id))
            self.ready = True

    def _check(self, conn: sa.Connection) -> None:
        existing = {c["name"] for c in sa.inspect(conn).get_columns(self.table.name, schema=self.table.schema)}
        missing = [c.name for c in self.table.columns if c.name not in existing]
        if missing:
            raise WarehouseError(
                f"quarantine table {self.fqn} exists without the column(s) {', '.join(missing)}: "
                "drop it or set scoring.quarantineTable to a new table"
            )

    def write(self, conn: sa.Connection, held: Any) -> None:
        """Append ``held`` (its columns as text, plus ``violated_rules``: ContractGuard.held_back's frame)."""
        if held is None or not len(held):
            return
        if not self.ready:
            self.table.create(conn, checkfirst=True)
            self._check(conn)
            self.ready = True
        constant = {
            "model_name": self.run.model_name,
            "model_version": self.run.model_version,
            "scoring_run_id": self.run.scoring_run_id,
            "scored_at": self.run.scored_at,
        }
        names = [*self.columns, RULES_COLUMN]
        rows = [dict(zip(names, r, strict=True), **constant) for r in held[names].itertuples(index=False)]
        conn.execute(self.table.insert(), rows)
        self.rows += len(rows)

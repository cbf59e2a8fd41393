"""The rows the Spark engine scores or monitors: a Parquet dataset, a Spark table, or the warehouse over JDBC."""

from __future__ import annotations

from typing import Any

from mlpublish.errors import WarehouseError
from mlpublish.redact import redact_url
from mlpublish.spark_engine.session import SparkEngineError, jdbc_jar, spark_error
from mlpublish.warehouse import Warehouse
from mlpublish.warehouse.sources import checked_query, require_columns

# Spark's JDBC reads of the warehouse run in sessions whose transactions are read-only: the query is the
# spec's (checked as one SELECT, see mlpublish.spec.sql_query), and the PostgreSQL driver would run stacked
# statements. Only the reads: the staging writes use jdbc_options alone.
READ_ONLY_SESSION = "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"

ROWS_PER_TASK = 50_000  # key range of one JDBC read at least (a task costs ~0.1 s to start)

# Spark's simple type names that cannot hold a numerical feature
_NON_NUMERIC = ("string", "date", "timestamp", "boolean", "binary", "array", "map", "struct")


def jdbc_options(wh: Warehouse) -> dict[str, str]:
    """Spark's JDBC options for the warehouse (PostgreSQL). The password travels only in the options, never logged."""
    if wh.dialect != "postgresql":
        raise SparkEngineError(
            f"the Spark engine reaches the warehouse over JDBC, for PostgreSQL only; {redact_url(wh.url)} is "
            f"{wh.dialect}: use a PostgreSQL warehouse, or scoring.sourceParquet / scoring.predictionsParquet"
        )
    jdbc_jar()
    url = wh._url
    opts = {
        # reWriteBatchedInserts: the driver sends a batch as multi-row INSERTs (the staging writes), several times faster
        "url": f"jdbc:postgresql://{url.host or 'localhost'}:{url.port or 5432}/{url.database or 'postgres'}"
        "?reWriteBatchedInserts=true",
        "driver": "org.postgresql.Driver",
    }
    if url.username:
        opts["user"] = url.username
    if url.password:
        opts["password"] = str(url.password)
    return opts


class SparkSource:
    """A DataFrame of the rows, with what the step records about them (``label``, ``table``, ``fqn``, ``types``)."""

    def __init__(self, spark: Any, scoring: Any, wh: Warehouse, columns: list[str], *, table: str | None):
        self.spark, self.wh, self.columns = spark, wh, list(columns)
        self.parquet, self.spark_table = scoring.sourceParquet, scoring.sourceSparkTable
        self.query = checked_query(scoring.query, "postgresql") if scoring.query else None
        warehouse = not (self.parquet or self.spark_table)
        self.table = table if warehouse and not self.query else None
        self.fqn = wh.table_fqn(self.table) if self.table else None
        if self.parquet:
            self.label = f"parquet:{self.parquet}"
        elif self.spark_table:
            self.label = f"spark table {self.spark_table}"
        else:
            self.label = self.fqn or "scoring.query"
        self._frame: Any = None

    def frame(self) -> Any:
        """The whole source as a DataFrame (every column; :meth:`select` narrows it)."""
        if self._frame is None:
            self._frame = self._read()
        return self._frame

    def _read(self) -> Any:
        try:
            if self.parquet:
                return self.spark.read.parquet(self.parquet)
            if self.spark_table:
                return self.spark.table(self.spark_table)
        except Exception as exc:  # AnalysisException: path or table not found
            raise WarehouseError(f"cannot read {self.label}: {spark_error(exc)}") from None
        opts = jdbc_options(self.wh)
        schema = self.wh._sql_schema()
        q = '"{}"'.format
        dbtable = f"({self.query}\n) mlp_q" if self.query else f"{q(schema) + '.' if schema else ''}{q(self.table)}"
        reader = self.spark.read.format("jdbc").options(
            **opts, dbtable=dbtable, fetchsize="10000", sessionInitStatement=READ_ONLY_SESSION
        )
        reader = self._partitioned(reader, dbtable)
        try:
            return reader.load()
        except Exception as exc:
            raise WarehouseError(
                f"cannot read {self.label} over JDBC from {redact_url(self.wh.url)}: {spark_error(exc)}"
            ) from None

    def _partitioned(self, reader: Any, dbtable: str) -> Any:
        """Split an integer first key into ranges, one JDBC read per task (else the table is one task)."""
        import sqlalchemy as sa

        key = self.columns[0] if self.columns else None
        if not key or self.query:
            return reader
        declared = self.wh.columns(self.table).get(key, "").upper()
        if not any(t in declared for t in ("INT", "SERIAL")):
            return reader
        with self.wh.read_engine.connect() as conn:
            lo, hi = conn.execute(sa.text(f'SELECT MIN("{key}"), MAX("{key}") FROM {dbtable}')).one()
        if lo is None or lo == hi:
            return reader
        # two tasks per core, but no task for fewer than ROWS_PER_TASK keys: a small table is one read
        parts = min(self.spark.sparkContext.defaultParallelism * 2, (hi - lo) // ROWS_PER_TASK + 1)
        if parts < 2:
            return reader
        return reader.options(partitionColumn=key, lowerBound=str(lo), upperBound=str(hi + 1), numPartitions=parts)

    def types(self) -> dict[str, str]:
        """Column name -> Spark type name."""
        return {f.name: f.dataType.simpleString() for f in self.frame().schema.fields}

    def check(self, features: list[str], categorical: list[str]) -> None:
        types = self.types()
        require_columns(self.label, self.columns, types)
        for col in features:
            if col not in categorical and types[col].startswith(_NON_NUMERIC):
                raise WarehouseError(
                    f"{self.label}: feature {col!r} is declared numerical but the column is {types[col]}"
                )

    def select(self) -> Any:
        return self.frame().select(*self.columns)

    def count(self) -> int:
        return int(self.select().count())

"""Scoring on Spark: the champion on every executor, predictions into Parquet, a Spark table or the warehouse.

Each task predicts its Arrow batches with the local engine's own :class:`ChampionPredictor`
(the champion broadcast once, deserialised once per executor Python worker), so the two
engines give the same prediction and probability on the same row. Where they land:

* Parquet dataset / Spark table: partitioned by ``scoring_run_id``; the run overwrites only its
  own partition (dynamic partition overwrite), and Spark's commit protocol publishes the files
  at job commit, so a failed job leaves nothing behind.
* the warehouse (PostgreSQL over JDBC): the tasks write a staging table; then ONE transaction
  deletes the run's earlier rows, copies the staging rows (``DISTINCT``: a task that committed and
  was then re-run after its executor died does not count twice) and drops the staging table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mlpublish.errors import WarehouseError
from mlpublish.spark_engine.session import spark_error
from mlpublish.spark_engine.sources import SparkSource, jdbc_options
from mlpublish.warehouse import Warehouse, first_line
from mlpublish.warehouse.predictions import (
    CHALLENGER_ROLE,
    CHAMPION_ROLE,
    ROLE_COLUMN,
    ScoringRun,
    ensure_table,
    predictions_table,
)

# the run's columns the warehouse's INSERT ... SELECT sets (model_role comes with the staged rows)
SQL_RUN_COLUMNS = ("model_name", "model_version", "model_run_id", "scoring_run_id", "scored_at")


@dataclass(frozen=True)
class SparkWritten:
    rows: int
    columns: dict[str, str]  # the predictions' columns and their types
    target: str  # the warehouse table's FQN, or the Parquet path / Spark table
    in_warehouse: bool
    parquet: str | None = None  # the Parquet dataset's path, as written
    spark_table: tuple[str, str, str] | None = None  # the Spark table's (catalog, database, name)
    shadow_rows: int = 0  # the challenger's rows (scoring.shadow); ``rows`` are the champion's


def prediction_type(model: Any, classifier: bool) -> Any:
    """The Spark type of ``prediction``: the dtype of the classes a classifier predicts, else double."""
    import numpy as np
    from pyspark.sql import types as T

    if not classifier or not hasattr(model, "classes_"):
        return T.DoubleType()
    kind = np.asarray(model.classes_).dtype.kind
    return {"i": T.LongType(), "u": T.LongType(), "f": T.DoubleType(), "b": T.BooleanType()}.get(kind, T.StringType())


def _predict_batches(predictor_bc: Any, as_text: bool, tally: Any = None):
    def run(batches: Any) -> Any:
        import pandas as pd

        predict = predictor_bc.value.fresh()
        for frame in batches:
            if len(frame):
                out = predict(frame)
                if as_text:
                    out["prediction"] = out["prediction"].astype(str)
                # the champion alone gets its role (a ShadowPredictor gives both roles' rows); object dtype: Arrow
                # cannot take pandas' own string columns from a worker
                role = out[ROLE_COLUMN].to_numpy(dtype=object) if ROLE_COLUMN in out else CHAMPION_ROLE
                out[ROLE_COLUMN] = pd.Series(role, index=out.index, dtype=object)
                yield out
        if tally is not None:  # the data contract's checks of this task, back to the driver
            tally.add(predict.guard.counts())

    return run


class ContractTally:
    """A Spark ``AccumulatorParam`` (duck-typed: pyspark stays a lazy import) of the data contract's tallies (``ContractGuard.counts``), summed over the tasks.
    A task re-run after a failure adds its tally again: the counts are a report, never a decision."""

    def zero(self, value: Any) -> dict[str, Any]:
        return {"rows": 0, "violating": 0, "quarantined": 0, "violations": []}

    def addInPlace(self, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        return {
            "rows": a["rows"] + b["rows"],
            "violating": a["violating"] + b["violating"],
            "quarantined": a["quarantined"] + b["quarantined"],
            "violations": a["violations"] + b["violations"],
        }


def contract_tally(spark: Any) -> Any:
    """An accumulator to hand :func:`predicted_frame` (read it after the write: ``guard.merge(acc.value)``)."""
    param = ContractTally()
    return spark.sparkContext.accumulator(param.zero(None), param)


def predicted_frame(spark: Any, source: SparkSource, predictor: Any, tally: Any = None) -> Any:
    """The DataFrame of keys, prediction (and probability), computed lazily on the executors.

    ``predictor``: the local engine's ChampionPredictor (picklable), broadcast once and deserialised once
    per executor Python worker; each task predicts with a fresh copy of it. A GuardedPredictor checks each
    Arrow batch against the champion's data contract first (fail raises in the task: the job fails, nothing
    is written); its tallies come back through ``tally`` (:func:`contract_tally`)."""
    from pyspark.sql import types as T

    df = source.select()
    pos_index = predictor.pos_index
    pred_type = prediction_type(predictor.model, pos_index is not None)
    fields = [df.schema[k] for k in predictor.keys] + [T.StructField("prediction", pred_type)]
    if pos_index is not None:
        fields.append(T.StructField("probability", T.DoubleType()))
    fields.append(T.StructField(ROLE_COLUMN, T.StringType()))  # champion, or challenger with scoring.shadow
    bc = spark.sparkContext.broadcast(predictor)
    run = _predict_batches(bc, isinstance(pred_type, T.StringType), tally)
    return df.mapInPandas(run, T.StructType(fields))


def with_run_columns(df: Any, run: ScoringRun) -> Any:
    """The predicted rows with the run's columns; model_version and model_run_id are those of each row's role."""
    from pyspark.sql import functions as F

    def of_role(i: int) -> Any:
        value = F.lit(run.model_version if i == 0 else run.model_run_id)
        if run.challenger_version is None:
            return value
        challenger = run.version_of(CHALLENGER_ROLE)[i]
        return F.when(F.col(ROLE_COLUMN) == CHALLENGER_ROLE, F.lit(challenger)).otherwise(value)

    return df.select(
        *df.columns,
        F.lit(run.model_name).alias("model_name"),
        of_role(0).alias("model_version"),
        of_role(1).alias("model_run_id"),
        F.lit(run.scored_at).cast("timestamp").alias("scored_at"),
        F.lit(run.scoring_run_id).alias("scoring_run_id"),
    )


def write_files(spark: Any, predicted: Any, run: ScoringRun, *, parquet: str | None, table: str | None) -> SparkWritten:
    """Overwrite this run's partition of a Parquet dataset or a Spark table (other runs' partitions stay)."""
    from pyspark.sql import functions as F

    out = with_run_columns(predicted, run)
    try:
        if parquet:
            writer = out.write.mode("overwrite").option("partitionOverwriteMode", "dynamic")
            writer.partitionBy("scoring_run_id").parquet(parquet)
            # older runs' files may lack model_role (written before it): merged, their rows read it as null
            written = spark.read.option("mergeSchema", "true").parquet(parquet)
        else:
            if spark.catalog.tableExists(table):
                existing = spark.table(table).columns
                missing = [c for c in out.columns if c not in existing]
                if missing:
                    raise WarehouseError(
                        f"Spark table {table} exists without the column(s) {', '.join(missing)}: "
                        "drop it or set scoring.predictionsSparkTable to a new table"
                        + (
                            f" (or ALTER TABLE {table} ADD COLUMNS ({ROLE_COLUMN} STRING))"
                            if missing == [ROLE_COLUMN]
                            else ""
                        )
                    )
                out.select(*existing).write.insertInto(table, overwrite=True)
            else:
                out.write.partitionBy("scoring_run_id").format("parquet").saveAsTable(table)
            written = spark.table(table)
        counts = dict(
            written.where(F.col("scoring_run_id") == run.scoring_run_id).groupBy(ROLE_COLUMN).count().collect()
        )
        rows, shadow = counts.get(CHAMPION_ROLE, 0), counts.get(CHALLENGER_ROLE, 0)
        located = None if parquet else _table_location(spark, table)
    except WarehouseError:
        raise
    except Exception as exc:
        where = parquet or table
        raise WarehouseError(f"scoring into {where} on Spark failed: {spark_error(exc)}") from None
    columns = {f.name: f.dataType.simpleString() for f in out.schema.fields}
    return SparkWritten(
        rows,
        columns,
        parquet or f"spark table {table}",
        False,
        parquet=parquet,
        spark_table=located,
        shadow_rows=shadow,
    )


def _table_location(spark: Any, table: str) -> tuple[str, str, str]:
    """(catalog, database, name) of a Spark table as the session's catalog resolves it (the catalog entry)."""
    found = spark.catalog.getTable(table)
    database = found.database or ".".join(found.namespace or []) or spark.catalog.currentDatabase()
    return found.catalog or spark.catalog.currentCatalog(), database, found.name


_SA_TYPES = {"bigint": sa.BigInteger, "int": sa.BigInteger, "double": sa.Float, "float": sa.Float}


def _sa_type(spark_type: str) -> Any:
    if spark_type == "boolean":
        return sa.Boolean()
    return _SA_TYPES.get(spark_type, sa.Text)()


def staging_name(run: ScoringRun) -> str:
    return "mlp_stage_" + hashlib.sha1(f"{run.model_name}/{run.scoring_run_id}".encode()).hexdigest()[:16]


def write_warehouse(wh: Warehouse, predicted: Any, run: ScoringRun, *, table_name: str, keys: list) -> SparkWritten:
    """Tasks -> staging table over JDBC; then one transaction moves the rows into the predictions table."""
    opts = jdbc_options(wh)
    schema = wh._sql_schema()
    types = {f.name: f.dataType.simpleString() for f in predicted.schema.fields}
    probability = "probability" in types
    table = predictions_table(
        table_name, schema, {k: _sa_type(types[k]) for k in keys}, _sa_type(types["prediction"]), probability
    )
    stage = staging_name(run)
    with wh.engine.connect() as conn:
        prep = conn.dialect.identifier_preparer
        staged = f"{prep.quote(schema) + '.' if schema else ''}{prep.quote(stage)}"
        target = prep.format_table(table)
    try:
        try:
            predicted.write.format("jdbc").options(**opts, dbtable=staged, batchsize="10000").mode("overwrite").save()
        except Exception as exc:
            raise WarehouseError(
                f"scoring into {wh.table_fqn(table_name)} on Spark failed, nothing written: {spark_error(exc)}"
            ) from None
        with wh.engine.connect() as conn:
            try:
                # created or migrated (model_role), with its champion view, as the local engine does
                existing = ensure_table(conn, table, wh.table_fqn(table_name), champion_view=run.shadow)
                conn.execute(table.delete().where(table.c.scoring_run_id == run.scoring_run_id))
                moved = [*keys, "prediction", *(["probability"] if probability else []), ROLE_COLUMN]
                cols = ", ".join(prep.quote(c) for c in [*moved, *SQL_RUN_COLUMNS])
                picked = ", ".join(prep.quote(c) for c in moved)
                role = f"d.{prep.quote(ROLE_COLUMN)}"
                result = conn.execute(
                    sa.text(
                        f"INSERT INTO {target} ({cols}) SELECT d.*, :model_name, "
                        f"CASE WHEN {role} = :challenger THEN :challenger_version ELSE :model_version END, "
                        f"CASE WHEN {role} = :challenger THEN :challenger_run_id ELSE :model_run_id END, "
                        f":scoring_run_id, :scored_at FROM (SELECT DISTINCT {picked} FROM {staged}) d"
                    ),
                    {
                        **{c: getattr(run, c) for c in SQL_RUN_COLUMNS},
                        "challenger": CHALLENGER_ROLE,
                        "challenger_version": run.challenger_version or run.model_version,
                        "challenger_run_id": run.challenger_run_id or run.model_run_id,
                    },
                )
                rows, shadow = result.rowcount, 0
                if run.challenger_version is not None:  # the champion's rows: the source rows scored
                    shadow = conn.execute(
                        sa.text(
                            f"SELECT COUNT(*) FROM (SELECT DISTINCT {picked} FROM {staged}) d WHERE {role} = :challenger"
                        ),
                        {"challenger": CHALLENGER_ROLE},
                    ).scalar_one()
                    rows -= shadow
                conn.exec_driver_sql(f"DROP TABLE {staged}")
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
    except sa.exc.SQLAlchemyError as exc:
        raise WarehouseError(
            f"scoring into {wh.table_fqn(table_name)} on Spark failed, nothing written: {first_line(exc)}"
        ) from None
    finally:
        _drop_quietly(wh, staged)
    return SparkWritten(rows, existing, wh.table_fqn(table_name), True, shadow_rows=shadow)


def _drop_quietly(wh: Warehouse, staged: str) -> None:
    try:
        with wh.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {staged}")
    except sa.exc.SQLAlchemyError:
        pass  # the warehouse is gone: the next attempt of this run drops it (mode overwrite)

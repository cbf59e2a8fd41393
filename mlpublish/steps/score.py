"""score: the champion's batch predictions, streamed from the warehouse into the predictions table.

One database transaction per scoring run: the rows of an earlier attempt with
the same scoring run id are deleted, then every chunk is read (server-side
cursor on PostgreSQL), predicted and written (``COPY`` on PostgreSQL,
``executemany`` elsewhere), then the transaction commits. A failure anywhere
rolls everything back, so a failed run leaves no partial rows and a retried
run replaces its own rows instead of duplicating them. Memory holds one chunk.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from mlpublish.catalog.entity import table_event
from mlpublish.catalog.events import AddLineage, ColumnLineage, SetModelProperties
from mlpublish.context import PublishContext, pipeline_tags
from mlpublish.errors import NoChampion, StepError, WarehouseError
from mlpublish.metrics import positive_class
from mlpublish.modelling import prepare_features
from mlpublish.registry import CHAMPION, _q, now_iso
from mlpublish.results import ScoreResult
from mlpublish.retraining import MODEL_TAG, STEP_TAG
from mlpublish.warehouse import _first_line, redact_url

log = logging.getLogger("mlpublish.score")

SCORING_RUN_TAG = "mlpublish.scoring_run_id"
# Declared types that cannot hold a numerical feature (checked before anything is written).
_NON_NUMERIC = ("CHAR", "TEXT", "CLOB", "STRING", "DATE", "TIME", "BOOL", "BLOB", "BYTEA", "JSON", "UUID", "BINARY")


def load_champion(ctx: PublishContext) -> tuple[str, str, Any]:
    """(version, run id, fitted model) of ``models:/<name>@champion``; NoChampion names the model."""
    import mlflow.sklearn

    name = ctx.name
    version = ctx.registry.alias_version(name, CHAMPION)
    if version is None:
        raise NoChampion(f"model {name!r} has no champion yet: publish it first (mlpublish run SPEC), "
                         "then score or monitor")
    mv = ctx.registry.get_version(name, version)
    key = ("version_model", version)
    model = ctx.cache.get(key)
    if model is None:
        # the version, not the alias: the alias may move while we load
        model = ctx.cache[key] = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    _check_signature(ctx, version)
    return str(version), mv.run_id, model


def _check_signature(ctx: PublishContext, version: str) -> None:
    from mlflow.models import get_model_info

    try:
        sig = get_model_info(f"models:/{ctx.name}/{version}").signature
        expected = list(sig.inputs.input_names()) if sig is not None else None
    except Exception:  # no signature recorded: the features of the spec are all we know
        return
    if expected and expected != ctx.spec.feature_names:
        raise StepError(f"champion version {version} of model {ctx.name!r} expects features {expected}, "
                        f"but the spec lists {ctx.spec.feature_names}: publish a model for this spec first")


class Source:
    """The rows to score: a table (checked by its declared column types) or a query."""

    def __init__(self, ctx: PublishContext, columns: list[str]):
        spec, wh = ctx.spec, ctx.preflight.warehouse
        self.wh = wh
        self.columns = columns
        self.query = spec.scoring.query.strip().rstrip(";") if spec.scoring.query else None
        self.table = None if self.query else (spec.scoring.sourceTable or spec.data.trainingTable)
        self.label = wh.table_fqn(self.table) if self.table else "scoring.query"
        self.fqn = wh.table_fqn(self.table) if self.table else None

    def types(self) -> dict[str, str]:
        """Column name -> declared type ('' for a query's columns: their values are checked chunk by chunk)."""
        if self.table:
            return self.wh.columns(self.table)
        try:
            with self.wh.engine.connect() as conn:
                keys = conn.exec_driver_sql(f"SELECT * FROM ({self.query}) mlp_q WHERE 1=0").keys()
        except sa.exc.SQLAlchemyError as exc:
            raise WarehouseError(f"scoring.query fails on {redact_url(self.wh.url)}: {_first_line(exc)}") from None
        return {k: "" for k in keys}

    def check(self, ctx: PublishContext) -> None:
        """Every key and feature column is there, and numerical features have numeric types."""
        types = self.types()
        missing = [c for c in self.columns if c not in types]
        if missing:
            raise WarehouseError(f"{self.label}: column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                                 f"not found (has: {', '.join(sorted(types))})")
        for col in ctx.spec.feature_names:
            declared = types[col].upper()
            if col not in ctx.spec.categorical_features and any(t in declared for t in _NON_NUMERIC):
                raise WarehouseError(f"{self.label}: feature {col!r} is declared numerical but the column is {types[col]}")

    def sql(self, dialect: Any) -> str:
        q = dialect.identifier_preparer.quote
        cols = ", ".join(q(c) for c in self.columns)
        if self.query:
            return f"SELECT {cols} FROM ({self.query}) mlp_q"
        schema = self.wh._sql_schema()
        return f"SELECT {cols} FROM {q(schema) + '.' if schema else ''}{q(self.table)}"


def _chunks(conn: sa.Connection, sql: str, size: int) -> Iterator[list[tuple]]:
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


def _sql_type(values: Any) -> Any:
    import pandas as pd

    if pd.api.types.is_bool_dtype(values):
        return sa.Boolean()
    if pd.api.types.is_integer_dtype(values):
        return sa.BigInteger()
    if pd.api.types.is_float_dtype(values):
        return sa.Float()
    return sa.Text()


def predictions_table(name: str, schema: str | None, keys: dict[str, Any], prediction: Any, probability: bool) -> sa.Table:
    cols = [sa.Column(k, t) for k, t in keys.items()]
    cols.append(sa.Column("prediction", prediction))
    if probability:
        cols.append(sa.Column("probability", sa.Float()))
    cols += [sa.Column("model_name", sa.Text(), nullable=False), sa.Column("model_version", sa.Text(), nullable=False),
             sa.Column("model_run_id", sa.Text(), nullable=False),
             sa.Column("scoring_run_id", sa.Text(), nullable=False, index=True),
             sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False)]
    return sa.Table(name, sa.MetaData(), *cols, schema=schema)


def _ensure_table(conn: sa.Connection, table: sa.Table, fqn: str) -> dict[str, str]:
    insp = sa.inspect(conn)
    if not insp.has_table(table.name, schema=table.schema):
        table.create(conn)
        insp = sa.inspect(conn)
    existing = {c["name"]: str(c["type"]) for c in insp.get_columns(table.name, schema=table.schema)}
    missing = [c.name for c in table.columns if c.name not in existing]
    if missing:
        raise WarehouseError(f"predictions table {fqn} exists without the column(s) {', '.join(missing)}: "
                             "drop it or set scoring.predictionsTable to a new table")
    return existing


class _Writer:
    """Appends chunks to the predictions table on the scoring transaction's connection."""

    def __init__(self, conn: sa.Connection, table: sa.Table):
        self.conn = conn
        self.table = table
        self.names = [c.name for c in table.columns]
        self.dialect = conn.dialect.name
        prep = conn.dialect.identifier_preparer
        target = prep.format_table(table)
        cols = ", ".join(prep.quote(c) for c in self.names)
        self.copy_sql = f"COPY {target} ({cols}) FROM STDIN WITH (FORMAT csv)"
        self.insert_sql = f"INSERT INTO {target} ({cols}) VALUES ({', '.join('?' * len(self.names))})"

    def write(self, frame: Any, constant: dict[str, str]) -> None:
        """Append ``frame`` with the ``constant`` columns (the same value on every row of a scoring run)."""
        if self.dialect == "postgresql":
            buf = io.StringIO(self._csv(frame, constant))
            with self.conn.connection.driver_connection.cursor() as cur:
                if hasattr(cur, "copy_expert"):  # psycopg2
                    buf.seek(0)
                    cur.copy_expert(self.copy_sql, buf)
                else:  # psycopg 3
                    with cur.copy(self.copy_sql) as copy:
                        copy.write(buf.getvalue())
            return
        frame = frame.assign(**constant)[self.names]
        if self.dialect == "sqlite":
            rows = list(zip(*(frame[c].tolist() for c in self.names)))
            self.conn.connection.driver_connection.cursor().executemany(self.insert_sql, rows)
        else:
            self.conn.execute(self.table.insert(), frame.to_dict("records"))

    def _csv(self, frame: Any, constant: dict[str, str]) -> str:
        import csv

        import pandas as pd

        variable = [c for c in self.names if c not in constant]
        if all(pd.api.types.is_numeric_dtype(frame[c]) for c in variable) and self.names[-len(constant):] == list(constant):
            # Numbers never need quoting, so each line can simply be extended by the run's constant
            # columns: formatting them once instead of once per row halves the CSV cost.
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow(constant.values())
            text = frame[variable].to_csv(index=False, header=False, lineterminator="\n")
            return text.replace("\n", "," + out.getvalue() + "\n")
        return frame.assign(**constant)[self.names].to_csv(index=False, header=False, lineterminator="\n")


def score_batch(ctx: PublishContext, *, scoring_run_id: str | None = None,
                on_chunk: Callable[[int, int], None] | None = None) -> ScoreResult:
    """Write the champion's predictions for every row of the scoring source.

    ``scoring_run_id`` names this scoring run (an Airflow or Dagster run id);
    running again with the same id replaces that run's rows. ``on_chunk(chunk
    number, rows so far)`` is called after each chunk is written (progress).
    """
    import pandas as pd

    spec, wh = ctx.spec, ctx.preflight.warehouse
    t0 = time.perf_counter()
    keys = spec.data.keyColumns
    if not keys:
        raise StepError(f"{spec.source_path}: data.keyColumns is empty: predictions need key columns to join back to")
    table_name = spec.scoring.predictionsTable or spec.data.predictionsTable
    if not table_name:
        raise StepError(f"{spec.source_path}: no predictions table: set data.predictionsTable or scoring.predictionsTable")
    features, categorical = spec.feature_names, spec.categorical_features
    source = Source(ctx, list(dict.fromkeys(keys + features)))
    source.check(ctx)
    version, model_run_id, model = load_champion(ctx)
    run_id = scoring_run_id or uuid.uuid4().hex
    classifier = ctx.preflight.task == "classification"
    classes = list(getattr(model, "classes_", []))
    pos_index = None
    if classifier and hasattr(model, "predict_proba") and classes:
        pos_index = classes.index(positive_class(classes, spec.training.positiveLabel)) if len(classes) == 2 else -1
    table_fqn = wh.table_fqn(table_name)
    scored_at = datetime.now(timezone.utc)
    stamp = scored_at.isoformat() if wh.dialect == "postgresql" else scored_at.strftime("%Y-%m-%d %H:%M:%S.%f")
    meta = {"model_name": spec.name, "model_version": version, "model_run_id": model_run_id,
            "scoring_run_id": run_id, "scored_at": stamp}

    rows = chunks = 0
    columns: dict[str, str] = {}
    with wh.engine.connect() as conn:
        try:
            if wh.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock now: no reader-writer deadlock later
            writer: _Writer | None = None
            for batch in _chunks(conn, source.sql(conn.dialect), spec.scoring.chunkSize):
                frame = pd.DataFrame.from_records(batch, columns=source.columns)
                try:
                    X = prepare_features(frame, features, categorical)
                except WarehouseError as exc:
                    raise WarehouseError(f"{source.label} (rows {rows + 1}-{rows + len(frame)}): {exc}") from None
                out = frame[keys].copy()
                out["prediction"] = model.predict(X)
                if pos_index is not None:
                    proba = model.predict_proba(X)
                    out["probability"] = proba[:, pos_index] if pos_index >= 0 else proba.max(axis=1)
                if writer is None:
                    table = predictions_table(table_name, wh._sql_schema(), {k: _sql_type(out[k]) for k in keys},
                                              _sql_type(out["prediction"]), pos_index is not None)
                    columns = _ensure_table(conn, table, table_fqn)
                    _delete_run(conn, table, run_id)
                    writer = _Writer(conn, table)
                writer.write(out, meta)
                rows += len(out)
                chunks += 1
                if on_chunk:
                    on_chunk(chunks, rows)
            if writer is None:  # nothing to score: still clear an earlier attempt of this run
                table = predictions_table(table_name, wh._sql_schema(), {k: sa.Text() for k in keys},
                                          sa.Float(), pos_index is not None)
                columns = _ensure_table(conn, table, table_fqn)
                _delete_run(conn, table, run_id)
            conn.commit()
        except sa.exc.SQLAlchemyError as exc:
            _rollback(conn)
            raise WarehouseError(f"scoring into {table_fqn} failed, nothing written: {_first_line(exc)}") from None
        except BaseException as exc:
            _rollback(conn)
            if type(exc).__module__.split(".")[0] in ("psycopg2", "psycopg", "sqlite3"):
                raise WarehouseError(f"scoring {source.label} into {table_fqn} failed, nothing written: "
                                     f"{_first_line(exc)}") from None
            raise
    seconds = time.perf_counter() - t0
    result = ScoreResult(model_name=spec.name, version=version, model_run_id=model_run_id, scoring_run_id=run_id,
                         rows=rows, table_fqn=table_fqn, source=source.label, seconds=round(seconds, 3))
    _record(ctx, result, columns, source)
    log.info("%s: scored %d rows of %s with version %s into %s in %.1fs (%d chunks)", spec.name, rows,
             source.label, version, table_fqn, seconds, chunks)
    return result


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


def _delete_run(conn: sa.Connection, table: sa.Table, run_id: str) -> None:
    conn.execute(table.delete().where(table.c.scoring_run_id == run_id))


def _record(ctx: PublishContext, result: ScoreResult, columns: dict[str, str], source: Source) -> None:
    """An MLflow run for the scoring (reused by a retry of the same scoring run) and the catalog entries."""
    from mlpublish import config

    spec, reg = ctx.spec, ctx.registry
    exp = reg.ensure_experiment(spec.experiment_name, config.artifact_root(reg.tracking_uri))
    found = reg._call("scoring runs", reg.client.search_runs, [exp],
                      filter_string=f"tags.`{SCORING_RUN_TAG}` = '{_q(result.scoring_run_id)}'", max_results=1)
    if found:
        mlflow_run = found[0].info.run_id
    else:
        tags = {STEP_TAG: "score", MODEL_TAG: spec.name, SCORING_RUN_TAG: result.scoring_run_id,
                "mlpublish.champion_version": result.version, "mlpublish.predictions_fqn": result.table_fqn}
        tags.update(pipeline_tags(ctx.pipeline))
        mlflow_run = reg._call("create scoring run", reg.client.create_run, exp, run_name=f"{spec.name}-score",
                               tags=tags).info.run_id
    reg._call("log scoring metrics", reg.client.log_metric, mlflow_run, "rows_scored", result.rows)
    reg._call("log scoring metrics", reg.client.log_metric, mlflow_run, "rows_per_second",
              result.rows / result.seconds if result.seconds else 0.0)
    reg._call("end scoring run", reg.client.set_terminated, mlflow_run)

    fqn, model_fqn = result.table_fqn, spec.fqn
    from_model = [f"{model_fqn}.{f}" for f in spec.feature_names]
    model_cols = [ColumnLineage(fromColumns=from_model, toColumn=f"{fqn}.{c}")
                  for c in ("prediction", "probability") if c in columns]
    events: list[Any] = [
        table_event(fqn, columns, f"batch predictions of {spec.name} (champion), one set per scoring run"),
        AddLineage(from_fqn=model_fqn, from_type="mlmodel", to_fqn=fqn, to_type="table", columns=model_cols,
                   pipeline=ctx.pipeline, description=f"batch scoring by {spec.name}"),
    ]
    if source.table and source.table != spec.data.trainingTable:
        # the train step registered the training table; another scoring table must exist before an edge
        events.insert(0, table_event(source.fqn, source.types(), f"rows scored by {spec.name}"))
    if source.fqn:
        events.append(AddLineage(
            from_fqn=source.fqn, from_type="table", to_fqn=fqn, to_type="table",
            columns=[ColumnLineage(fromColumns=[f"{source.fqn}.{k}"], toColumn=f"{fqn}.{k}") for k in spec.data.keyColumns],
            pipeline=ctx.pipeline, description=f"keys of the rows scored by {spec.name}"))
    if ctx.catalog.get(model_fqn) is not None:
        events.append(SetModelProperties(fqn=model_fqn, properties={
            "predictionsTable": fqn, "lastScoredAt": now_iso(), "lastScoringRunId": result.scoring_run_id,
            "lastScoredRows": result.rows, "lastScoredVersion": result.version}))
    ctx.emit(*events)

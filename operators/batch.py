"""The steps after the champion: batch scoring and drift monitoring.

``ScoreModelOperator`` writes the champion's predictions with the Airflow run id
as scoring run id, so a retried task replaces its own rows. ``MonitorModelOperator``
measures drift and records the retraining decision; the monitor DAG then triggers
the model's publish DAG when a retraining request is open (``retrain_requested``),
with a run id derived from the request, so each request starts one run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlpublish_airflow.exceptions import NoChampionYet
from mlpublish_airflow.publish import PublishStepOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


def _champion_required(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from mlpublish.errors import NoChampion

    try:
        return fn(*args, **kwargs)
    except NoChampion as exc:
        raise NoChampionYet(str(exc)) from None


def spark_for(spec: Any) -> Any:
    """The Spark session of a spec scored on Spark, from Airflow's ``spark_default`` connection (host and port:
    the master URL; extra ``conf``: Spark settings). None (the core's session from the environment) for the
    local engine, when ``MLPUBLISH_SPARK_MASTER`` is set, or without the connection."""
    import os

    from mlpublish_airflow.hooks import _optional_connection

    if spec.scoring.engine != "spark" or os.environ.get("MLPUBLISH_SPARK_MASTER"):
        return None
    conn = _optional_connection("spark_default")
    host = (conn.host or "").strip().rstrip("/") if conn is not None else ""
    if not host:
        return None
    if "://" not in host and not host.startswith(("local", "yarn")):
        host = f"spark://{host}"
    master = f"{host}:{conn.port}" if conn.port and "://" in host else host
    conf = (conn.extra_dejson or {}).get("conf") or {}
    from mlpublish.spark_engine import spark_session

    return spark_session(master, {str(k): str(v) for k, v in conf.items()})


class ScoreModelOperator(PublishStepOperator):
    """score: the champion's predictions into the predictions table. XCom: ``ScoreResult`` (row count, version...).
    Declare the predictions table's asset in ``outlets`` (the DAG factory does) and each run emits its event."""

    step = "score"
    lineage_writes_model = False

    def run_step(self, ctx: Any, context: Context) -> Any:
        from mlpublish.steps import score_batch
        from mlpublish_airflow.assets import emit, predictions_asset

        result = _champion_required(
            score_batch,
            ctx,
            scoring_run_id=f"{context['ti'].dag_id}__{context['ti'].run_id}",
            spark=spark_for(ctx.spec),
        )
        # the predictions table's event: which scoring run wrote how many rows, with which version
        extra = {"scoring_run_id": result.scoring_run_id, "rows": result.rows, "model": ctx.spec.name}
        emit(context, predictions_asset(ctx.spec), {**extra, "version": result.version})
        return result.to_json()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from mlpublish.config import tracking_uri
        from mlpublish_airflow.lineage import datasets, operator_lineage, scoring_datasets

        spec = self.load_spec()
        _, model = datasets(spec, tracking_uri(spec.mlflow.trackingUri), reads_tables=False, writes_model=True)
        source, predictions = scoring_datasets(spec)
        return operator_lineage([source, *model], [predictions] if predictions else [])


class MonitorModelOperator(PublishStepOperator):
    """monitor: drift against the champion's training reference and the retraining decision.
    XCom: ``MonitorResult`` (``retrain``, ``reasons``, ``monitor_run_id``)."""

    step = "monitor"
    lineage_writes_model = False

    def run_step(self, ctx: Any, context: Context) -> Any:
        from mlpublish.steps import monitor_drift

        result = _champion_required(monitor_drift, ctx, spark=spark_for(ctx.spec))
        self.log.info("%s: retrain=%s: %s", ctx.spec.name, result.retrain, "; ".join(result.reasons))
        return result.to_json()


def retrain_requested(ti: Any, monitor_task_id: str = "monitor") -> bool:
    """ShortCircuit callable: True when a retraining request is open, the monitor's own (it decided to
    retrain) or an earlier one no training has served (written by the CLI, Dagster, or a monitor whose
    trigger was lost): the trigger then starts the publish DAG once per request id."""
    decision = ti.xcom_pull(task_ids=monitor_task_id) or {}
    return bool(decision.get("request_id"))

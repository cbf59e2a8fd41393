"""Per spec: ``mlpublish__<model name>`` chaining the publish steps, and the batch DAGs after the
champion: ``mlpublish__<model name>__score`` and ``mlpublish__<model name>__monitor``.

Parsing is cheap: specs are read with :mod:`mlpublish.spec` (pydantic and
PyYAML only); no MLflow, scikit-learn or OpenMetadata import, no database or
network access. Every I/O happens when a task runs.

A broken spec must not hide the other models' DAGs. An import error would: Airflow keys it by DAG
file and marks every DAG of that file stale. So each invalid spec becomes its own placeholder DAG,
``mlpublish__invalid__<file stem>``, carrying the spec's error (see :mod:`mlpublish_airflow.invalid_specs`),
and the DAG file itself parses cleanly.
"""

from __future__ import annotations

import functools
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, AssetOrTimeSchedule, CronTriggerTimetable, Param, chain

from mlpublish_airflow.assets import feature_table_asset, model_asset, predictions_asset
from mlpublish_airflow.invalid_specs import invalid_dag_id, invalid_spec_dag
from mlpublish_airflow.notifications import notify_gate, notify_promotion
from mlpublish_airflow.overrides import overrides_json_schema
from mlpublish_airflow.publish import (
    EvaluateModelOperator,
    PromoteModelOperator,
    RegisterModelVersionOperator,
    TrainModelOperator,
    ValidateModelOperator,
)

DAG_ID_PREFIX = "mlpublish__"
SPEC_SUFFIXES = (".yaml", ".yml")
OVERRIDES_TEMPLATE = "{{ params.overrides | tojson }}"


def dag_id_for(model_name: str) -> str:
    """Model names may hold spaces; DAG ids may not."""
    return DAG_ID_PREFIX + re.sub(r"[^A-Za-z0-9_.\-]", "_", model_name)


def schedule_for(spec: Any) -> Any:
    """Cron (if the spec has one) OR an update of the feature table, whichever comes first."""
    asset = feature_table_asset(spec)
    if not spec.schedule:
        return asset
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(spec.schedule, timezone="UTC"), assets=asset)


def _approval(spec: Any, dag: DAG) -> Any:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    # promotion.approvers: only they are offered the approval (Airflow user ids; the promote task checks again)
    assigned = [{"id": user, "name": user} for user in spec.promotion.approvers] or None
    return ApprovalOperator(
        task_id="approve_promotion",
        dag=dag,
        assigned_users=assigned,
        subject=f"Promote {spec.name} v{{{{ ti.xcom_pull(task_ids='register')['version'] }}}} to champion?",
        body=(
            "Validation PASSED. Gates and metrics: see the MLflow run "
            "`{{ ti.xcom_pull(task_ids='register')['run_id'] }}`. Approve to move the `champion` alias."
        ),
    )


def chain_tasks(spec: Any, spec_path: str, dag: DAG) -> list[Any]:
    """The tasks of one model's chain, in order."""
    common = dict(spec_path=spec_path, overrides=OVERRIDES_TEMPLATE, dag=dag)
    tasks: list[Any] = [
        TrainModelOperator(task_id="train", **common),
        EvaluateModelOperator(task_id="evaluate", **common),
        ValidateModelOperator(task_id="validate", **common, **_notifying(notify_gate, on_failure=True)),
        RegisterModelVersionOperator(task_id="register", **common),
    ]
    if spec.promotion.needs_approval:
        tasks.append(_approval(spec, dag))
    tasks.append(
        PromoteModelOperator(
            task_id="promote",
            **common,
            outlets=[model_asset(spec)],  # a champion move emits the model's asset event
            **_notifying(notify_promotion, on_failure=False),
        )
    )
    return tasks


def _notifying(callback: Any, *, on_failure: bool) -> dict[str, Any]:
    """The task callbacks that notify (see mlpublish_airflow.notifications): one per final state, so once per event."""
    out = {"on_success_callback": callback, "on_skipped_callback": callback}
    if on_failure:
        out["on_failure_callback"] = callback
    return out


def build_dag(spec: Any, spec_path: str, *, retries: int = 1, retry_delay: timedelta = timedelta(minutes=1)) -> DAG:
    dag = DAG(
        dag_id=dag_id_for(spec.name),
        description=_summary(spec),
        schedule=schedule_for(spec),
        doc_md=_doc_md(spec, spec_path, f"Publish chain of `{spec.name}`"),
        **_common_args(spec, retries=retries, retry_delay=retry_delay),
    )
    # Set after the DAG is built, before its tasks (which copy it): given to DAG(), the param's default {} would
    # be validated against the whole spec schema, meta-schema check included, at every parse of every publish
    # DAG (half of a publish DAG's parse). {} always passes (tests/unit/airflow); the run's conf is still
    # validated against the schema when the run is created.
    dag.params["overrides"] = overrides_param()
    chain(*chain_tasks(spec, spec_path, dag))
    return dag


class SharedSchema(dict):
    """The overrides schema, one object shared by every param of the parse: nothing writes to it, so a copy is
    the object itself. Airflow deep-copies a DAG's params into each of its tasks (operator defaults): copying
    the whole spec schema ten times per publish DAG was most of its parse. Serialized as the dict it is."""

    def __copy__(self) -> SharedSchema:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedSchema:
        return self


@functools.cache
def _overrides_schema() -> tuple[str, SharedSchema]:
    """The param's description and the rest of the schema: the same for every spec, built once per parse."""
    schema = overrides_json_schema()
    return schema.pop("description"), SharedSchema(schema)


def overrides_param() -> Param:
    """The ``overrides`` param: an object checked against the spec's schema minus the frozen fields, so the
    trigger form and the REST API refuse a misspelled or frozen field before the run exists."""
    description, schema = _overrides_schema()
    return Param({}, description, schema=schema)


def _summary(spec: Any) -> str:
    """The DAG's one-line description (the list view); the whole description is in ``doc_md``."""
    text = (spec.description or spec.name).strip()
    return text.splitlines()[0][:200] if text else spec.name


def _doc_md(spec: Any, spec_path: str, what: str) -> str:
    """The DAG's documentation: the spec's whole description, its owners and where the spec is."""
    parts = [f"{what} from `{spec_path}`."]
    if spec.description and spec.description.strip():
        parts.append(spec.description.strip())
    if spec.owners:
        parts.append("Owners: " + ", ".join(f"`{o}`" for o in spec.owners))
    return "\n\n".join(parts)


def _cron(expr: str | None) -> Any:
    return CronTriggerTimetable(expr, timezone="UTC") if expr else None


def score_dag(spec: Any, spec_path: str, **dag_kwargs: Any) -> DAG | None:
    """``mlpublish__<model>__score``: the champion's batch predictions (None without a predictions table)."""
    from mlpublish_airflow.batch import ScoreModelOperator

    predictions = predictions_asset(spec)
    if predictions is None:
        return None
    dag = DAG(
        dag_id=dag_id_for(spec.name) + "__score",
        schedule=_cron(spec.scoring.schedule),
        description=f"Batch predictions of {spec.name}'s champion",
        doc_md=_doc_md(spec, spec_path, f"Batch predictions of `{spec.name}`'s champion"),
        **_common_args(spec, **dag_kwargs),
    )
    ScoreModelOperator(task_id="score", spec_path=spec_path, dag=dag, outlets=[predictions])
    return dag


def monitor_dag(spec: Any, spec_path: str, **dag_kwargs: Any) -> DAG:
    """``mlpublish__<model>__monitor``: drift and the retraining decision; while a retraining request is
    open it triggers the publish DAG, once per request (the run id is derived from the request id, so a
    retry, or a request written elsewhere, never doubles it). With ``promotion.mode: shadow`` it also decides
    on live labels and promotes the challenger that won (:mod:`mlpublish_airflow.live_promotion`)."""
    from airflow.providers.standard.operators.python import ShortCircuitOperator
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    from mlpublish_airflow.batch import MonitorModelOperator, retrain_requested

    dag = DAG(
        dag_id=dag_id_for(spec.name) + "__monitor",
        schedule=_cron(spec.monitoring.schedule),
        description=f"Drift of {spec.name}'s scoring data; triggers retraining",
        doc_md=_doc_md(spec, spec_path, f"Drift monitoring of `{spec.name}`"),
        **_common_args(spec, **dag_kwargs),
    )
    monitor = MonitorModelOperator(task_id="monitor", spec_path=spec_path, dag=dag)
    if spec.promotion.mode == "shadow":  # beside the retraining branch: the decision on live labels
        from mlpublish_airflow.live_promotion import live_promotion_tasks

        chain(monitor, *live_promotion_tasks(spec, spec_path, dag))
    chain(
        monitor,
        ShortCircuitOperator(task_id="retrain_requested", python_callable=retrain_requested, dag=dag),
        TriggerDagRunOperator(
            task_id="trigger_retraining",
            dag=dag,
            trigger_dag_id=dag_id_for(spec.name),
            trigger_run_id="retrain__{{ ti.xcom_pull(task_ids='monitor')['request_id'] }}",
            conf={"overrides": {}},
            skip_when_already_exists=True,
            # note is not a template field: the reasons are in the monitor task's XCom and MLflow run
            note=f"Retraining of {spec.name} requested by its drift monitor",
        ),
    )
    return dag


def _common_args(spec: Any, *, retries: int = 1, retry_delay: timedelta = timedelta(minutes=1)) -> dict:
    """What every DAG of a model shares. One run at a time: two runs of one model would only queue
    on the registry lock (publish) or race on the same request and rows (score, monitor)."""
    return dict(
        start_date=None,
        catchup=False,
        max_active_runs=1,
        # the owner Airflow shows is the tasks' owner: the spec's owners (Airflow's default "airflow" without)
        default_args={"retries": retries, "retry_delay": retry_delay, **_owner(spec)},
        tags=["mlpublish", *(f"owner:{o}" for o in spec.owners)],
    )


def _owner(spec: Any) -> dict[str, str]:
    """``owner`` for the tasks: the spec's owners (top-level ``owners``), comma-separated as Airflow joins them."""
    return {"owner": ", ".join(spec.owners)} if spec.owners else {}


def spec_files(specs_dir: str | os.PathLike[str]) -> list[Path]:
    root = Path(specs_dir)
    if not root.is_dir():
        return []
    # environments.yaml beside the specs is the environments file (mlpublish/spec/environments.py), not a spec.
    # Not only regular files: a FIFO, a device or a symlink out of the folder is listed so that load_spec
    # refuses it with its name (without reading it), instead of it vanishing from the DAGs unexplained.
    return sorted(
        p
        for p in root.iterdir()
        if p.suffix.lower() in SPEC_SUFFIXES and not p.is_dir() and p.name != "environments.yaml"
    )


def build_dags(specs_dir: str | os.PathLike[str], **dag_kwargs: Any) -> dict[str, DAG]:
    """Every valid spec's DAGs by id, and one placeholder DAG per invalid spec carrying its error."""
    from mlpublish.errors import SpecError
    from mlpublish.spec import load_spec

    dags: dict[str, DAG] = {}
    sources: dict[str, Path] = {}
    invalid: list[tuple[Path, SpecError]] = []
    for path in spec_files(specs_dir):
        try:
            spec = load_spec(path)
            dag_id = dag_id_for(spec.name)
            if dag_id in dags:
                raise SpecError(
                    str(path), [("name", f"model {spec.name!r} (DAG {dag_id}) is already defined by {sources[dag_id]}")]
                )
            dags[dag_id] = build_dag(spec, str(path.resolve()), **dag_kwargs)
            sources[dag_id] = path
            for extra in (
                score_dag(spec, str(path.resolve()), **dag_kwargs),
                monitor_dag(spec, str(path.resolve()), **dag_kwargs),
            ):
                if extra is not None:
                    dags[extra.dag_id] = extra
        except SpecError as exc:
            invalid.append((path, exc))
    # after the good ones, so that a placeholder never takes a model's DAG id
    for path, exc in invalid:
        placeholder = invalid_spec_dag(path, exc, invalid_dag_id(path, dags))
        dags[placeholder.dag_id] = placeholder
    return dags

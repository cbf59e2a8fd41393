"""Retraining requests: the monitor step writes them, schedulers read them.

A request is the monitor's own MLflow run, in the model's experiment, tagged
``mlpublish.step=monitor`` and ``mlpublish.retrain=true`` (with the reasons as a
JSON list). Every deployment that shares the tracking server (the Airflow
monitor DAG, the Dagster sensor, the CLI) therefore sees the same requests, and
the decision sits next to the drift metrics that justified it.

Readers keep a cursor (``RetrainRequest.cursor``) and ask only for requests
after it, so one drift decision starts exactly one retraining run. A request is
*open* until a training run of the model starts after it (or it expires: the run
it started failed before training); ``open_requests`` is what a scheduler that
may have missed a decision (new deployment, reset cursor, retried task) acts on.
Only FINISHED monitor runs count: a monitor that failed half-way requests nothing.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from mlpublish.registry import Registry
from mlpublish.registry.contract import MODEL_TAG, REASONS_TAG, RETRAIN_TAG, SELECT_BY_TAG, STEP_TAG


class RetrainRequest(BaseModel):
    model_name: str
    request_id: str  # the monitor run id
    requested_at: int  # epoch milliseconds (the monitor run's start time)
    reasons: list[str]

    @property
    def cursor(self) -> str:
        """Sortable position of this request: pass it back as ``after``."""
        return f"{self.requested_at:015d}:{self.request_id}"


def decision_tags(model_name: str, *, retrain: bool, reasons: list[str]) -> dict[str, str]:
    """Tags the monitor step puts on its run (retrain or not: the decision is always recorded)."""
    return {
        STEP_TAG: "monitor",
        MODEL_TAG: model_name,
        RETRAIN_TAG: "true" if retrain else "false",
        REASONS_TAG: json.dumps(reasons)[:5000],
    }


def retrain_requests(
    registry: Registry, experiment_name: str, model_name: str, *, after: str | None = None, limit: int = 100
) -> list[RetrainRequest]:
    """Requests for ``model_name`` strictly after the cursor ``after``, oldest first."""
    exp_id = registry.experiment_id(experiment_name)
    if exp_id is None:
        return []
    query = (
        f"tags.`{STEP_TAG}` = 'monitor' and tags.`{RETRAIN_TAG}` = 'true' "
        f"and tags.`{MODEL_TAG}` = '{model_name}' and attributes.status = 'FINISHED'"
    )
    runs = registry.search_runs(
        [exp_id],
        query,
        what=f"retrain requests of {model_name!r}",
        order_by=["attribute.start_time DESC"],
        max_results=limit,
    )
    out = []
    for run in runs:
        try:
            reasons = json.loads(run.data.tags.get(REASONS_TAG, "[]"))
        except ValueError:
            reasons = []
        req = RetrainRequest(
            model_name=model_name,
            request_id=run.info.run_id,
            requested_at=int(run.info.start_time or 0),
            reasons=[str(r) for r in reasons],
        )
        if after is None or req.cursor > after:
            out.append(req)
    return sorted(out, key=lambda r: r.cursor)


def training_runs(registry: Registry, experiment_id: str, model_name: str, limit: int = 50) -> list[Any]:
    """The model's training runs (the train step tags them ``mlpublish.select_by``), newest first."""
    query = f"tags.`{MODEL_TAG}` = '{model_name}' and tags.`{SELECT_BY_TAG}` LIKE '%'"
    return registry.search_runs(
        [experiment_id], query, what="training runs", order_by=["attribute.start_time DESC"], max_results=limit
    )


def open_requests(
    registry: Registry,
    experiment_name: str,
    model_name: str,
    *,
    expire_hours: float,
    now: float | None = None,
    after: str | None = None,
) -> list[RetrainRequest]:
    """Requests (after the cursor) that no training run has served yet and that are younger than
    ``expire_hours`` (an older one started a run that failed before training: ask again)."""
    import time

    exp_id = registry.experiment_id(experiment_name)
    if exp_id is None:
        return []
    last_start = max((r.info.start_time or 0 for r in training_runs(registry, exp_id, model_name)), default=0)
    oldest = ((time.time() if now is None else now) - expire_hours * 3600) * 1000
    return [
        r
        for r in retrain_requests(registry, experiment_name, model_name, after=after)
        if r.requested_at > last_start and r.requested_at >= oldest
    ]

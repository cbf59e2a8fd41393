"""One PublishContext per run and model, shared by the steps that run in the same process.

With the in-process executor a whole run shares it (the fitted model and the
held-out rows stay in memory, as in the CLI); with the multiprocess executor
each step builds its own and the core reads what it needs back from MLflow.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from dagster import Failure

from mlpublish.deployment.context import PublishContext
from mlpublish.errors import MlpublishError
from mlpublish.redact import scrub

_lock = threading.Lock()
_contexts: dict[tuple[str, str], PublishContext] = {}


STEP_RESOURCES = ("mlflow", "warehouse", "catalog")  # what every step asset uses (scoring adds spark)


def resource_keys(ref: Any, *names: str) -> set[str]:
    """The keys ``ref``'s code location binds these resources under (a factory's prefix applied)."""
    return {ref.resource_key(name) for name in names}


def bound(context: Any, ref: Any, *names: str) -> tuple[Any, ...]:
    """The resources ``names`` of a running asset or sensor, looked up under ``ref``'s keys."""
    return tuple(getattr(context.resources, ref.resource_key(name)) for name in names)


def pipeline_identity(context: Any) -> dict[str, str]:
    """What the catalog's lineage details and the MLflow run tags name as the pipeline."""
    return {"name": context.job_name, "runId": context.run_id}


@contextmanager
def step_context(context: Any, ref: Any, mlflow: Any, warehouse: Any, catalog: Any) -> Iterator[PublishContext]:
    """The run's context of ``ref`` for one step: MLflow points at the spec's stores, with the deployment's
    token, until the step ends (a code server runs many steps of many models in one process)."""
    with _lock:
        ctx = _contexts.get((context.run_id, ref.name))
    spec = ctx.spec if ctx is not None else warehouse.apply(mlflow.apply(ref.load()))
    with mlflow.session(spec):
        yield publish_context(context, ref, mlflow, warehouse, catalog, spec)


def publish_context(
    context: Any, ref: Any, mlflow: Any, warehouse: Any, catalog: Any, spec: Any = None
) -> PublishContext:
    key = (context.run_id, ref.name)
    with _lock:
        ctx = _contexts.get(key)
        if ctx is not None:
            return ctx
        # a code server or test session runs many runs: keep only the current run's contexts
        for old in [k for k in _contexts if k[0] != context.run_id]:
            _dispose(_contexts.pop(old))
        spec = spec if spec is not None else warehouse.apply(mlflow.apply(ref.load()))
        ctx = PublishContext.create(spec, pipeline=pipeline_identity(context), catalog=catalog.open(spec))
        _contexts[key] = ctx
        return ctx


def _dispose(ctx: PublishContext) -> None:
    ctx.preflight.warehouse.dispose()
    close = getattr(ctx.catalog, "close", None)
    if callable(close):
        close()


def release(context: Any, ref: Any) -> None:
    """The run is done with this model: drop its context (the last asset of the chain calls this)."""
    with _lock:
        ctx = _contexts.pop((context.run_id, ref.name), None)
    if ctx is not None:
        _dispose(ctx)


def as_failure(exc: MlpublishError) -> Failure:
    """A core error as a Dagster failure whose description is the core's message (file, field, metric...)."""
    return Failure(description=scrub(str(exc)), metadata={"error": exc.__class__.__name__})


def run_step(fn: Callable[..., Any], *args: Any) -> Any:
    """One core step (or core call) in an asset: a core error fails the step with the core's message."""
    try:
        return fn(*args)
    except MlpublishError as exc:
        raise as_failure(exc) from exc

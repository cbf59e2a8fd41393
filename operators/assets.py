"""The Airflow Assets of a model: the feature table it trains on (a producer's event starts a retraining),
the registered model (a champion move emits an event) and its predictions table (each scoring run emits one).

Named by their catalog FQNs, so a DAG of another team can schedule on them by name: tables as
``mlpublish-table://<service>/<database>/<schema>/<table>``, the model as ``mlpublish-model://<service>/<name>``.
Parsing only: no database or network access.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset

TABLE_SCHEME = "mlpublish-table"
MODEL_SCHEME = "mlpublish-model"


def table_asset(spec: Any, table: str, group: str) -> Asset:
    """The Asset of a warehouse table of the spec, named by its catalog FQN."""
    from mlpublish.warehouse import Warehouse

    fqn = Warehouse.from_spec(spec.data).table_fqn(table)
    return Asset(name=fqn, uri=f"{TABLE_SCHEME}://" + fqn.replace(".", "/"), group=group)


def feature_table_asset(spec: Any) -> Asset:
    """The training (feature) table: a producer DAG that lists it in its ``outlets`` starts a retraining."""
    return table_asset(spec, spec.data.trainingTable, "feature_tables")


def predictions_table(spec: Any) -> str | None:
    """The predictions table of the spec (scoring's own, else the data section's), None without one."""
    return spec.scoring.predictionsTable or spec.data.predictionsTable


def predictions_asset(spec: Any) -> Asset | None:
    """The predictions table: every scoring run emits an event (scoring run id, rows, version)."""
    table = predictions_table(spec)
    return table_asset(spec, table, "predictions_tables") if table else None


def model_asset(spec: Any) -> Asset:
    """The registered model, named by its catalog FQN (``<serviceName>.<name>``): a champion move emits an event
    (version and held-out metrics in its extra)."""
    from urllib.parse import quote

    uri = f"{MODEL_SCHEME}://{quote(spec.serviceName, safe='')}/{quote(spec.name, safe='')}"  # names may hold spaces
    return Asset(name=spec.fqn, uri=uri, group="ml_models")


def emit(context: Any, asset: Asset | None, extra: dict[str, Any]) -> None:
    """Put ``extra`` on the event this task emits for ``asset`` when it succeeds (Airflow's ``outlet_events``)."""
    events = context.get("outlet_events") if hasattr(context, "get") else None
    if asset is None or events is None:
        return
    events[asset].extra.update(extra)

"""OpenLineage datasets of a step: the tables it reads and the model it writes.

``datasets`` is plain data (namespace, name) so it can be checked without the
OpenLineage provider; ``operator_lineage`` wraps it in the provider's types and
returns None when the provider is not installed.
"""

from __future__ import annotations

from typing import Any

from mlpublish.redact import scrub


def _namespace(url: str) -> str:
    """OpenLineage namespace of a database: scheme://host:port, no credentials (file path for SQLite)."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:
        return "unknown"
    scheme = u.get_backend_name()
    if scheme == "sqlite":
        return f"sqlite://{u.database or ':memory:'}"
    scheme = {"postgresql": "postgres"}.get(scheme, scheme)
    return f"{scheme}://{u.host or 'localhost'}" + (f":{u.port}" if u.port else "")


def datasets(
    spec: Any, tracking_uri: str | None, *, reads_tables: bool = True, writes_model: bool = True
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(inputs, outputs) as (namespace, name) pairs.

    Inputs: the training table and every feature source table (names without
    the catalog service: database.schema.table). Output: the registered model,
    in the namespace of its tracking server. The predictions table becomes an
    output of the score step (``scoring_datasets``).
    """
    from mlpublish.warehouse import Warehouse

    wh = Warehouse.from_spec(spec.data)
    home = _namespace(spec.data.connection)
    inputs: list[tuple[str, str]] = []
    if reads_tables:
        fqns = [wh.table_fqn(spec.data.trainingTable)]
        fqns += [s.dataSourceFqn for f in spec.mlFeatures for s in f.featureSources if s.dataSourceFqn]
        for fqn in dict.fromkeys(fqns):
            service, rest = fqn.split(".", 1)
            ns = home if service == spec.data.service else f"openmetadata://{service}"
            inputs.append((ns, rest))
    outputs = [(scrub(tracking_uri or "mlflow"), f"models/{spec.name}")] if writes_model else []
    return inputs, outputs


def scoring_datasets(spec: Any) -> tuple[tuple[str, str], tuple[str, str] | None]:
    """(scoring source, predictions table or None) of the score step; a query source is named by its model."""
    from mlpublish.warehouse import Warehouse

    wh = Warehouse.from_spec(spec.data)
    home = _namespace(spec.data.connection)

    def name(table: str) -> str:
        return wh.table_fqn(table).split(".", 1)[1]

    scoring = spec.scoring
    source = (
        (home, f"{spec.name}.scoring_query")
        if scoring.query
        else (home, name(scoring.sourceTable or spec.data.trainingTable))
    )
    target = scoring.predictionsTable or spec.data.predictionsTable
    return source, (home, name(target)) if target else None


def operator_lineage(inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> Any | None:
    """The provider's ``OperatorLineage``, or None without the OpenLineage provider."""
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset
    except ImportError:
        return None
    return OperatorLineage(
        inputs=[Dataset(namespace=ns, name=n) for ns, n in inputs],
        outputs=[Dataset(namespace=ns, name=n) for ns, n in outputs],
    )

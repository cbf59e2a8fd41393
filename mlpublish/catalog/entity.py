"""Build catalog events from the spec and what the chain learned.

The MlModel entity carries the fields of OpenMetadata's CreateMlModelRequest;
lineage goes feature source tables -> training table -> model, with the
column-level detail of which source columns feed which feature.

Scoring targets outside the warehouse are entities of OpenMetadata's own model too:
a Parquet dataset is a Container (entity/data/container.json: "an abstraction for any path storing data in an
object store") of the storage service ``STORAGE_SERVICE``, named by its path; a Spark table is a Table of the
database service ``SPARK_SERVICE``, ``<service>.<Spark catalog>.<Spark database>.<table>``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from mlpublish.catalog.events import AddLineage, Column, ColumnLineage, UpsertContainer, UpsertMlModel, UpsertTable
from mlpublish.spec import Spec

STORAGE_SERVICE = "mlpublish_files"  # storage service of the Parquet datasets Spark scoring writes
SPARK_SERVICE = "spark"  # database service of the Spark catalog's tables (the session's metastore)


def owner_refs(owners: list[str]) -> list[dict[str, str]]:
    """``user:alice`` or ``team:data-science``; a bare name is a team."""
    refs = []
    for o in owners:
        kind, _, name = o.partition(":") if ":" in o else ("team", "", o)
        refs.append({"type": kind, "name": name})
    return refs


def model_entity(spec: Spec, hyperparameters: dict[str, Any], ml_store: str | None) -> dict[str, Any]:
    """The MlModel in the shape of CreateMlModelRequest."""
    entity: dict[str, Any] = {
        "name": spec.name,
        "displayName": spec.displayName or spec.name,
        "description": spec.description or "",
        "algorithm": spec.algorithm,
        "target": spec.target,
        "service": spec.serviceName,
        "mlFeatures": [
            {
                "name": f.name,
                "dataType": f.dataType,
                **({"description": f.description} if f.description else {}),
                **({"featureAlgorithm": f.featureAlgorithm} if f.featureAlgorithm else {}),
                "featureSources": [
                    {
                        "name": s.name,
                        "dataType": s.dataType,
                        **(
                            {"dataSource": {"type": "table", "fullyQualifiedName": s.dataSourceFqn}}
                            if s.dataSourceFqn
                            else {}
                        ),
                    }
                    for s in f.featureSources
                ],
            }
            for f in spec.mlFeatures
        ],
        "mlHyperParameters": [
            {"name": k, "value": str(v), **({"description": d} if (d := _hp_description(spec, k)) else {})}
            for k, v in sorted(hyperparameters.items())
        ],
        "owners": owner_refs(spec.owners),
    }
    store = {}
    if ml_store:
        store["storage"] = ml_store
    if spec.mlStore and spec.mlStore.imageRepository:
        store["imageRepository"] = spec.mlStore.imageRepository
    if store:
        entity["mlStore"] = store
    if spec.server:
        entity["server"] = spec.server
    if spec.dashboard:
        entity["dashboard"] = {"type": "dashboard", "fullyQualifiedName": spec.dashboard}
    return entity


def _hp_description(spec: Spec, name: str) -> str | None:
    return next((h.description for h in spec.mlHyperParameters if h.name == name), None)


def lineage_events(spec: Spec, training_fqn: str, pipeline: dict[str, str] | None) -> list[AddLineage]:
    """source tables -> training table (source columns -> feature columns) -> model (feature columns)."""
    by_table: dict[str, list[ColumnLineage]] = defaultdict(list)
    for f in spec.mlFeatures:
        cols: dict[str, list[str]] = defaultdict(list)
        for s in f.featureSources:
            if s.dataSourceFqn and s.dataSourceFqn != training_fqn:
                cols[s.dataSourceFqn].append(f"{s.dataSourceFqn}.{s.name}")
        for table, from_cols in cols.items():
            by_table[table].append(ColumnLineage(fromColumns=from_cols, toColumn=f"{training_fqn}.{f.name}"))
    events = [
        AddLineage(
            from_fqn=t,
            from_type="table",
            to_fqn=training_fqn,
            to_type="table",
            columns=c,
            pipeline=pipeline,
            description=f"feature engineering for {spec.name}",
        )
        for t, c in sorted(by_table.items())
    ]
    events.append(
        AddLineage(
            from_fqn=training_fqn,
            from_type="table",
            to_fqn=spec.fqn,
            to_type="mlmodel",
            columns=[
                ColumnLineage(fromColumns=[f"{training_fqn}.{f.name}"], toColumn=f"{spec.fqn}.{f.name}")
                for f in spec.mlFeatures
            ],
            pipeline=pipeline,
            description=f"training data of {spec.name}",
        )
    )
    return events


def table_event(fqn: str, columns: dict[str, str], description: str | None = None) -> UpsertTable:
    return UpsertTable(
        fqn=fqn, columns=[Column(name=n, dataType=t) for n, t in columns.items()], description=description
    )


def model_event(spec: Spec, hyperparameters: dict[str, Any], ml_store: str | None) -> UpsertMlModel:
    return UpsertMlModel(fqn=spec.fqn, entity=model_entity(spec, hyperparameters, ml_store))


def quote_name(name: str) -> str:
    """A name as it stands in an FQN (OpenMetadata's FullyQualifiedName.quoteName): quoted when it holds a dot."""
    return f'"{name}"' if "." in name and not (name.startswith('"') and name.endswith('"')) else name


def dataset_path(path: str) -> str:
    """The dataset's path as it names the Container: a URI as written, a local path absolute; no trailing slash."""
    if "://" not in path and not path.startswith("file:"):
        path = os.path.abspath(os.path.expanduser(path))
    return path.rstrip("/") or path


def container_event(path: str, columns: dict[str, str], partitions: list[str], description: str) -> UpsertContainer:
    """The Parquet dataset at ``path`` as a Container of ``STORAGE_SERVICE``, its columns the data model."""
    name = dataset_path(path)
    return UpsertContainer(
        fqn=f"{STORAGE_SERVICE}.{quote_name(name)}",
        service=STORAGE_SERVICE,
        name=name,
        fullPath=name,
        columns=[Column(name=n, dataType=t) for n, t in columns.items()],
        partitionColumns=partitions,
        description=description,
    )


def spark_table_fqn(catalog: str, database: str, table: str) -> str:
    """A Spark table's Table FQN: ``<SPARK_SERVICE>.<catalog>.<database>.<table>``."""
    return ".".join(quote_name(p) for p in (SPARK_SERVICE, catalog, database, table))

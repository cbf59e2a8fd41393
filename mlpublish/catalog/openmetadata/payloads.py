"""Request bodies built from catalog events, without the SDK: what we ask the server to hold.

References to other entities are resolved by the caller (``table_id``, ``pipeline_ref``), which knows
the server; these functions only decide the shape, so they can be read and tested without one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mlpublish.catalog.events import AddLineage, UpsertContainer, UpsertTable
from mlpublish.catalog.openmetadata.errors import Rejected

VALIDATION_CLASSIFICATION_DESCRIPTION = "Validation status of a model version published by mlpublish (exactly one)"
VALIDATION_DESCRIPTIONS = {
    "PENDING": "The candidate is being validated.",
    "PASSED": "The candidate passed every validation gate, the smoke test and the metadata checks.",
    "FAILED": "The candidate failed validation: never promoted.",
}
PIPELINE_SERVICE_DESCRIPTION = "Pipelines (Airflow DAGs, Dagster jobs) that publish models through mlpublish"
STORAGE_SERVICE_DESCRIPTION = "Files (Parquet datasets) that mlpublish's Spark scoring writes"
PIPELINE_DESCRIPTION = (
    "Airflow DAG or Dagster job that publishes models through mlpublish: the lineage edges it "
    "wrote name it, and their description names its run"
)
# Fields of the MlModel entity sent as the spec gives them. A PUT replaces each of them with what it carries
# and removes the ones it omits (MlModelMapper.createToEntity), so every PUT carries all we hold.
MODEL_FIELDS = ("name", "displayName", "description", "algorithm", "target", "mlHyperParameters", "mlStore", "server")
# Marks the table -> model edges the sink draws for feature sources; the server draws them itself only when
# the model is created (MlModelRepository.storeRelationships), with no details.
FEATURE_SOURCE_EDGE = "feature source of"
_TYPE_MAP = [  # SQL type name (from SQLAlchemy reflection) -> OpenMetadata column dataType
    ("BIGINT", "BIGINT"),
    ("SMALLINT", "SMALLINT"),
    ("INT", "INT"),
    ("DOUBLE", "DOUBLE"),
    ("FLOAT", "FLOAT"),
    ("REAL", "FLOAT"),
    ("NUMERIC", "NUMERIC"),
    ("DECIMAL", "DECIMAL"),
    ("BOOL", "BOOLEAN"),
    ("TIMESTAMP", "TIMESTAMP"),
    ("DATETIME", "DATETIME"),
    ("DATE", "DATE"),
    ("TIME", "TIME"),
    ("CHAR", "VARCHAR"),
    ("TEXT", "TEXT"),
    ("CLOB", "TEXT"),
    ("STRING", "STRING"),
    ("BLOB", "BLOB"),
    ("BYTEA", "BYTEA"),
    ("JSON", "JSON"),
]


def column_type(sql_type: str) -> str:
    upper = sql_type.upper()
    return next((om for key, om in _TYPE_MAP if key in upper), "UNKNOWN")


def table_columns(ev: UpsertTable | UpsertContainer) -> list[dict[str, Any]]:
    """The table's columns as CreateTableRequest wants them; the SQL type stays visible as dataTypeDisplay."""
    columns = []
    for c in ev.columns:
        dtype = column_type(c.dataType)
        col: dict[str, Any] = {"name": c.name, "dataType": dtype, "dataTypeDisplay": c.dataType}
        if dtype == "VARCHAR":
            m = re.search(r"\((\d+)\)", c.dataType)
            col["dataLength"] = int(m.group(1)) if m else 65535
        columns.append(col)
    return columns


def container_request(ev: UpsertContainer) -> dict[str, Any]:
    """CreateContainerRequest fields: the storage service by FQN, the columns as the data model."""
    body: dict[str, Any] = {
        "name": ev.name,
        "service": ev.service,
        "fullPath": ev.fullPath,
        "fileFormats": list(ev.fileFormats),
        "dataModel": {"isPartitioned": bool(ev.partitionColumns), "columns": table_columns(ev)},
    }
    if ev.description:
        body["description"] = ev.description
    return body


def comparable(value: Any) -> Any:
    """Comparable form of a description or an owner list (references compare by id only)."""
    if value is None:
        return None
    refs = getattr(value, "root", value)
    if isinstance(refs, list):
        return sorted(str(r.id.root) for r in refs)
    return str(refs)


def model_body(fqn: str, entity: dict[str, Any], table_id: Callable[[str], str | None]) -> dict[str, Any]:
    """CreateMlModelRequest fields of ``entity`` but owners and dashboard, each feature source's table as a
    reference. ``table_id``: the table's id in OpenMetadata, None when the server has no such table."""
    body = {k: entity[k] for k in MODEL_FIELDS if entity.get(k) not in (None, "")}  # "" is no text, [] is none
    body["service"] = entity["service"]
    features = []
    for f in entity.get("mlFeatures", []):
        sources = []
        for s in f.get("featureSources", []):
            src = {k: v for k, v in s.items() if k != "dataSource"}
            ds = s.get("dataSource")
            if ds:
                found = table_id(ds["fullyQualifiedName"])
                if found is None:
                    raise Rejected(
                        f"mlmodel {fqn}: [mlFeatures.{f['name']}.featureSources.{s['name']}.dataSource] "
                        f"table {ds['fullyQualifiedName']} is not in OpenMetadata"
                    )
                src["dataSource"] = {"id": found, "type": "table"}
            sources.append(src)
        features.append({**f, "featureSources": sources})
    if features:
        body["mlFeatures"] = features
    return body


def feature_source_tables(body: dict[str, Any]) -> set[str]:
    """Ids of the tables the model's features come from (``model_body``'s references)."""
    return {s["dataSource"]["id"] for f in body.get("mlFeatures", []) for s in f["featureSources"] if "dataSource" in s}


def stale_feature_source_edges(lineage: dict[str, Any], wanted: set[str]) -> list[str]:
    """Ids of upstream tables whose edge into the model is a feature-source edge no feature needs any more:
    the server's own (no description) or ours (FEATURE_SOURCE_EDGE). Edges others described are left alone."""
    me = lineage["entity"]["id"]
    tables = {n["id"] for n in lineage.get("nodes", []) if n.get("type") == "table"}
    stale = []
    for e in lineage.get("upstreamEdges", []):
        source = e["fromEntity"]
        description = (e.get("lineageDetails") or {}).get("description") or ""
        if e["toEntity"] != me or source not in tables or source in wanted:
            continue
        if not description or description.startswith(FEATURE_SOURCE_EDGE):
            stale.append(source)
    return sorted(stale)


def lineage_details(ev: AddLineage, pipeline_ref: Callable[[str], dict[str, str]]) -> dict[str, Any]:
    """The edge's lineageDetails. ``pipeline_ref``: reference to the Pipeline entity of a DAG or job name."""
    description = ev.description or ""
    details: dict[str, Any] = {"source": "Manual"}
    if ev.pipeline:
        # The Pipeline entity is the DAG or job; one run is not an entity, so the run id stays in the text.
        description += f" (pipeline {ev.pipeline.get('name', '')} run {ev.pipeline.get('runId', '')})"
        if (ev.pipeline.get("name") or "").strip():
            details["pipeline"] = pipeline_ref(ev.pipeline["name"].strip())
    if description:
        details["description"] = description.strip()
    # Column lineage runs between a table's columns and a table's columns or a model's features
    # (LineageRepository.getChildrenNames: an ML model's children are its features, <modelFQN>.<feature>;
    # a container's, the columns of its data model).
    if ev.from_type in ("table", "container") and ev.columns:
        details["columnsLineage"] = [c.model_dump() for c in ev.columns]
    return details

"""OpenMetadata request bodies (mlpublish.catalog.openmetadata.payloads): table columns, model bodies, lineage
details, stale feature-source edges."""

from __future__ import annotations

import pytest

from mlpublish.catalog.events import AddLineage, Column, ColumnLineage, UpsertTable
from mlpublish.catalog.openmetadata.errors import (
    Rejected,
)
from mlpublish.catalog.openmetadata.payloads import (
    lineage_details,
    model_body,
    stale_feature_source_edges,
    table_columns,
)


def test_table_columns_map_sql_types() -> None:
    ev = UpsertTable(
        fqn="s.d.sc.t",
        columns=[
            Column(name="a", dataType="VARCHAR(12)"),
            Column(name="b", dataType="TEXT"),
            Column(name="c", dataType="BIGINT"),
            Column(name="d", dataType="GEOMETRY"),
        ],
    )
    assert table_columns(ev) == [
        {"name": "a", "dataType": "VARCHAR", "dataTypeDisplay": "VARCHAR(12)", "dataLength": 12},
        {"name": "b", "dataType": "TEXT", "dataTypeDisplay": "TEXT"},
        {"name": "c", "dataType": "BIGINT", "dataTypeDisplay": "BIGINT"},
        {"name": "d", "dataType": "UNKNOWN", "dataTypeDisplay": "GEOMETRY"},
    ]


ENTITY = {
    "name": "m",
    "description": "",
    "algorithm": "RF",
    "service": "models",
    "mlHyperParameters": [],
    "mlFeatures": [
        {
            "name": "f",
            "dataType": "numerical",
            "featureSources": [
                {"name": "x", "dataType": "integer", "dataSource": {"type": "table", "fullyQualifiedName": "s.d.sc.t"}}
            ],
        }
    ],
}


def test_model_body_references_feature_tables_and_leaves_out_empty_fields() -> None:
    body = model_body("models.m", ENTITY, {"s.d.sc.t": "id-1"}.get)
    assert body == {
        "name": "m",
        "algorithm": "RF",
        "service": "models",
        "mlHyperParameters": [],  # a PUT removes what it omits: "none" is sent, not left out
        "mlFeatures": [
            {
                "name": "f",
                "dataType": "numerical",
                "featureSources": [{"name": "x", "dataType": "integer", "dataSource": {"id": "id-1", "type": "table"}}],
            }
        ],
    }


def test_model_body_refuses_a_feature_table_the_server_lacks_naming_the_field() -> None:
    with pytest.raises(
        Rejected,
        match=r"mlmodel models.m: \[mlFeatures.f.featureSources.x.dataSource\] "
        r"table s.d.sc.t is not in OpenMetadata",
    ):
        model_body("models.m", ENTITY, lambda fqn: None)


def test_lineage_details_carry_columns_from_a_table_and_name_the_pipeline_run() -> None:
    columns = [ColumnLineage(fromColumns=["a.x"], toColumn="b.x")]
    between_tables = AddLineage(
        from_fqn="a",
        from_type="table",
        to_fqn="b",
        to_type="table",
        columns=columns,
        pipeline={"name": " dag ", "runId": "r1"},
        description="features",
    )
    assert lineage_details(between_tables, lambda name: {"id": name, "type": "pipeline"}) == {
        "source": "Manual",
        "pipeline": {"id": "dag", "type": "pipeline"},
        "description": "features (pipeline  dag  run r1)",
        "columnsLineage": [columns[0].model_dump()],
    }
    into_model = AddLineage(from_fqn="b", from_type="table", to_fqn="m", to_type="mlmodel", columns=columns)
    # a model's features are its children (LineageRepository.getChildrenNames): columns -> features is lineage
    assert lineage_details(into_model, lambda name: pytest.fail("no pipeline")) == {
        "source": "Manual",
        "columnsLineage": [columns[0].model_dump()],
    }


def test_stale_feature_source_edges_are_the_servers_or_ours_never_others() -> None:
    lineage = {
        "entity": {"id": "m"},
        "nodes": [{"id": t, "type": "table"} for t in ("old", "ours", "kept", "described", "training")],
        "upstreamEdges": [
            {"fromEntity": "old", "toEntity": "m"},  # drawn by the server at creation: no details
            {"fromEntity": "ours", "toEntity": "m", "lineageDetails": {"description": "feature source of models.m"}},
            {"fromEntity": "kept", "toEntity": "m"},
            {"fromEntity": "described", "toEntity": "m", "lineageDetails": {"description": "drawn by a person"}},
            {"fromEntity": "training", "toEntity": "m", "lineageDetails": {"description": "training data of m"}},
        ],
    }
    assert stale_feature_source_edges(lineage, {"kept"}) == ["old", "ours"]


def test_container_request_carries_the_data_model() -> None:
    """(The emulator validates it with the SDK's CreateContainerRequest: tests/openmetadata/test_containers_emulated.py.)"""
    from mlpublish.catalog.entity import container_event
    from mlpublish.catalog.openmetadata.payloads import container_request

    ev = container_event("s3a://lake/p", {"customer_id": "bigint", "prediction": "string"}, ["scoring_run_id"], "d")
    body = container_request(ev)
    assert body["service"] == "mlpublish_files" and body["name"] == body["fullPath"] == "s3a://lake/p"
    assert body["dataModel"]["isPartitioned"] is True
    assert [(c["name"], c["dataType"]) for c in body["dataModel"]["columns"]] == [
        ("customer_id", "BIGINT"),
        ("prediction", "STRING"),
    ]


def test_column_lineage_leaves_a_container_like_a_table() -> None:
    edge = AddLineage(
        from_fqn="files.p",
        from_type="container",
        to_fqn="w.d.s.t",
        to_type="table",
        columns=[ColumnLineage(fromColumns=["files.p.k"], toColumn="w.d.s.t.k")],
    )
    assert lineage_details(edge, lambda name: {})["columnsLineage"] == [
        {"fromColumns": ["files.p.k"], "toColumn": "w.d.s.t.k"}
    ]

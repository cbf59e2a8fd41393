"""The OpenMetadata sink's decisions that need no server: failure kinds, request bodies, properties, replay."""

from __future__ import annotations

import pytest

from mlpublish.catalog.events import AddLineage, Column, ColumnLineage, SetModelProperties, UpsertTable
from mlpublish.catalog.openmetadata.delivery import compact
from mlpublish.catalog.openmetadata.errors import (
    AuthRejected,
    Forbidden,
    Misconfigured,
    Outage,
    Rejected,
    VersionMismatch,
    classify,
    classify_connect,
    settings_error,
)
from mlpublish.catalog.openmetadata.payloads import (
    lineage_details,
    model_body,
    stale_feature_source_edges,
    table_columns,
)
from mlpublish.catalog.openmetadata.properties import as_property_type, property_values, undeclared
from mlpublish.catalog.outbox import OutboxRow


class APIError(Exception):
    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class HtmlResponseError(Exception):
    pass


class RestTransportError(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (APIError("nope", 503), Outage),
        (APIError("bad field", 400), Rejected),
        (APIError("missing", 404), Rejected),
        (APIError("token", 401), AuthRejected),
        (APIError("forbidden", 403), Forbidden),  # the bot's role, not the token (a kind of AuthRejected)
        (RuntimeError("Error 502 from the proxy"), Outage),  # status named in the message only
        (RestTransportError("connection refused"), Outage),
        (HtmlResponseError("<html>"), Misconfigured),
        (ValueError("something else"), Rejected),
    ],
)
def test_failures_are_classified_by_status_then_kind(exc: Exception, kind: type) -> None:
    assert type(classify(exc, "table t")) is kind


def test_a_classified_failure_names_what_failed_and_hides_secrets() -> None:
    err = classify(APIError("refused Bearer abc.def.ghi", 400), "mlmodel models.m")
    assert str(err).startswith("mlmodel models.m: HTTP 400 APIError: ")
    assert "abc.def.ghi" not in str(err)
    auth = classify(APIError("Bearer abc.def.ghi", 401), "table t")
    assert str(auth) == "table t: HTTP 401: the server refused the JWT token"


def test_failing_to_connect_is_never_an_events_fault() -> None:
    assert type(classify_connect(ValueError("bad URL"), "http://h/api")) is Misconfigured
    assert type(classify_connect(RestTransportError("down"), "http://h/api")) is Outage


def test_settings_errors_say_what_to_check() -> None:
    assert "OPENMETADATA_JWT_TOKEN" in str(settings_error("http://h/api", AuthRejected("x"), 3))
    wrong = str(settings_error("http://h/api", Misconfigured("x"), 3))
    assert "OPENMETADATA_HOST_PORT" in wrong and "3 event(s) stay queued" in wrong


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


def test_properties_are_sent_as_text_and_declared_once() -> None:
    values = property_values({"a": "x", "b": 3, "c": {"z": 1, "y": [True]}})
    assert values == {"a": "x", "b": "3", "c": '{"y": [true], "z": 1}'}
    assert undeclared(values, {"b"}) == ["a", "c"]


def test_replay_compacts_the_delivered_history_to_its_final_state() -> None:
    def row(seq: int, event: object, state: str = "delivered") -> OutboxRow:
        return OutboxRow(seq, event, state, 1, None)

    t1 = UpsertTable(fqn="t", columns=[Column(name="a", dataType="INT")])
    t2 = UpsertTable(fqn="t", columns=[Column(name="a", dataType="BIGINT")])
    edge = AddLineage(from_fqn="t", from_type="table", to_fqn="m", to_type="mlmodel")
    rows = [
        row(1, t1),
        row(2, SetModelProperties(fqn="m", properties={"a": 1, "b": 1})),
        row(3, edge),
        row(4, t2),
        row(5, SetModelProperties(fqn="m", properties={"b": 2})),
        row(6, SetModelProperties(fqn="m", properties={"c": 3}), state="failed"),
    ]
    assert compact(rows) == [t2, edge, SetModelProperties(fqn="m", properties={"a": 1, "b": 2})]


class VersionMismatchException(Exception):
    pass


def test_a_403_is_not_a_bad_token_and_says_which_operation() -> None:
    err = classify(APIError("Principal: CatalogPrincipal{name='bot'} operations [Create] not allowed", 403), "t")
    assert isinstance(err, Forbidden) and "operations [Create] not allowed" in str(err)
    text = str(settings_error("http://h/api", err, 2))
    assert "lacks a permission" in text and "JWT" not in text and "2 event(s) stay queued" in text


def test_a_version_mismatch_says_both_versions() -> None:
    err = classify(VersionMismatchException("Server version is 2.0.7 vs. Client version 1.9.2."), "connecting")
    assert isinstance(err, VersionMismatch)
    text = str(settings_error("http://h/api", err, 0))
    assert "2.0.7" in text and "1.9.2" in text and "installed SDK: openmetadata-ingestion" in text
    assert "OPENMETADATA_HOST_PORT" not in text  # the address is right: the versions are not


def test_a_value_for_a_property_declared_with_another_type() -> None:
    assert as_property_type("1500", "integer") == 1500
    assert as_property_type("0.5", "number") == 0.5
    assert as_property_type("abc", "string") == "abc"
    for value, kind in (("abc", "integer"), ("x", "number"), ("2024-01-01", "date-cp")):
        with pytest.raises(ValueError):
            as_property_type(value, kind)


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

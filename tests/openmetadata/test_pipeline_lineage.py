"""Lineage edges name their pipeline (the Airflow DAG or Dagster job) by a Pipeline entity reference."""

from __future__ import annotations

import uuid

import pytest
import requests

from mlpublish.catalog import open_catalog
from mlpublish.catalog.entity import table_event
from mlpublish.catalog.events import AddLineage, ColumnLineage, UpsertMlModel
from mlpublish.config import DEFAULT_PIPELINE_SERVICE, OpenMetadataSettings
from mlpublish.errors import CatalogUnavailable
from tests.openmetadata.scenarios import Reader

FEATURES = "wh.db.sch.features"
SCORES = "wh.db.sch.scores"
MODEL = "models.m"
RUN = "manual__2026-11-24T10:00:00+00:00"


@pytest.fixture
def seeded(tmp_path, om_settings):
    catalog = open_catalog(str(tmp_path / "catalog.db"), openmetadata=om_settings)
    entity = {
        "name": "m",
        "algorithm": "RandomForestClassifier",
        "target": "y",
        "service": "models",
        "mlFeatures": [
            {
                "name": "a",
                "dataType": "numerical",
                "featureSources": [
                    {
                        "name": "a",
                        "dataType": "integer",
                        "dataSource": {"type": "table", "fullyQualifiedName": FEATURES},
                    }
                ],
            }
        ],
    }
    catalog.publish(
        [
            table_event(FEATURES, {"a": "INTEGER"}),
            table_event(SCORES, {"x": "FLOAT"}),
            UpsertMlModel(fqn=MODEL, entity=entity),
        ]
    )
    return catalog


def edges(pipeline: dict[str, str] | None) -> list[AddLineage]:
    """One edge of each kind the chain writes: table -> table (with columns), table -> model, model -> table."""
    return [
        AddLineage(
            from_fqn=FEATURES,
            from_type="table",
            to_fqn=SCORES,
            to_type="table",
            pipeline=pipeline,
            columns=[ColumnLineage(fromColumns=[f"{FEATURES}.a"], toColumn=f"{SCORES}.x")],
            description="keys of the rows scored",
        ),
        AddLineage(
            from_fqn=FEATURES,
            from_type="table",
            to_fqn=MODEL,
            to_type="mlmodel",
            pipeline=pipeline,
            description="training data of m",
        ),
        AddLineage(
            from_fqn=MODEL,
            from_type="mlmodel",
            to_fqn=SCORES,
            to_type="table",
            pipeline=pipeline,
            description="batch scoring by m",
        ),
    ]


def edge_details(reader: Reader) -> list[dict]:
    return [
        reader.upstream("table", SCORES)[FEATURES],
        reader.upstream("mlmodel", MODEL)[FEATURES],
        reader.upstream("table", SCORES)[MODEL],
    ]


def pipeline_requests(emulator, start: int) -> list[tuple[str, str]]:
    return [
        (m, p.split("/api/v1/", 1)[1].split("/name/")[0] + ("/name" if "/name/" in p else ""))
        for m, p in emulator.requests[start:]
        if "pipeline" in p.lower()
    ]


def test_every_edge_references_the_pipeline_entity_and_replay_creates_nothing(om_server, om_settings, seeded):
    seeded.publish(edges({"name": "churn_publish", "runId": RUN}))
    reader = Reader(om_settings)
    service = reader.pipeline_service(DEFAULT_PIPELINE_SERVICE)
    assert service is not None and service["serviceType"] == "CustomPipeline"
    p = reader.pipeline("churn_publish")
    assert p["fullyQualifiedName"] == f"{DEFAULT_PIPELINE_SERVICE}.churn_publish"
    assert p["service"]["id"] == service["id"]
    for details in edge_details(reader):
        assert details["pipeline"]["id"] == p["id"] and details["pipeline"]["type"] == "pipeline"
        assert details["pipeline"]["fullyQualifiedName"] == p["fullyQualifiedName"]  # the server's full reference
        assert f"pipeline churn_publish run {RUN}" in details["description"]
    # the local catalog keeps the identity as it was given
    assert [e["lineageDetails"]["pipeline"] for e in seeded.edges() if e["toEntity"]["fqn"] == SCORES] == [
        {"name": "churn_publish", "runId": RUN}
    ] * 2

    before = om_server.emulator.snapshot()
    start = len(om_server.emulator.requests)
    for _ in range(2):
        report = seeded.replay()
        assert report.delivered > 0 and not report.failed and not report.outage
        assert om_server.emulator.snapshot() == before  # no new entity, version or edge
    assert [m for m, _ in pipeline_requests(om_server.emulator, start)] == ["GET", "GET"]  # one lookup per replay
    assert reader.pipeline("churn_publish")["version"] == p["version"]


def test_a_pipeline_costs_one_lookup_per_publish_and_a_create_only_when_missing(om_server, seeded):
    emulator = om_server.emulator
    start = len(emulator.requests)
    seeded.publish(edges({"name": "churn_publish", "runId": "run-1"}))
    assert pipeline_requests(emulator, start) == [
        ("GET", "pipelines/name"),
        ("GET", "services/pipelineServices/name"),
        ("PUT", "services/pipelineServices"),
        ("PUT", "pipelines"),
    ]

    start = len(emulator.requests)
    seeded.publish(edges({"name": "churn_publish", "runId": "run-2"}))
    assert pipeline_requests(emulator, start) == [("GET", "pipelines/name")]

    start = len(emulator.requests)  # two pipelines in one publish; the service is known to this process already
    seeded.publish(
        [*edges({"name": "churn_publish", "runId": "run-3"}), *edges({"name": "churn_score", "runId": "s-1"})]
    )
    assert pipeline_requests(emulator, start) == [
        ("GET", "pipelines/name"),
        ("GET", "pipelines/name"),
        ("PUT", "pipelines"),
    ]
    reader_details = edge_details(Reader(OpenMetadataSettings(om_server.host_port, om_server.token)))
    assert all(d["pipeline"]["name"] == "churn_score" and "run s-1" in d["description"] for d in reader_details)


def test_an_edge_without_a_pipeline_names_none(om_server, om_settings, seeded):
    start = len(om_server.emulator.requests)
    seeded.publish(edges(None))
    assert pipeline_requests(om_server.emulator, start) == []
    assert all("pipeline" not in d for d in edge_details(Reader(om_settings)))


def test_a_dotted_dag_id_is_quoted_in_the_fqn_and_found_again(om_server, om_settings, seeded):
    seeded.publish(edges({"name": "team.churn_publish", "runId": "r1"}))
    p = Reader(om_settings).pipeline("team.churn_publish")
    assert p["fullyQualifiedName"] == f'{DEFAULT_PIPELINE_SERVICE}."team.churn_publish"'
    assert p["name"] == "team.churn_publish"
    start = len(om_server.emulator.requests)
    seeded.publish(edges({"name": "team.churn_publish", "runId": "r2"}))
    assert pipeline_requests(om_server.emulator, start) == [("GET", "pipelines/name")]  # found, not created twice
    assert {d["pipeline"]["id"] for d in edge_details(Reader(om_settings))} == {p["id"]}


def test_a_pipeline_name_openmetadata_cannot_hold_is_refused_with_the_field(om_server, seeded):
    with pytest.raises(CatalogUnavailable, match=r'lineageDetails.pipeline.*churn"publish'):
        seeded.publish(edges({"name": 'churn"publish', "runId": "r1"}))
    assert seeded.outbox.counts()["failed"] == 3


def test_the_configured_service_and_an_ingested_pipeline_are_used(om_server, om_settings, seeded, monkeypatch):
    """With the service an Airflow ingestion fills, the edges point at the ingested DAG entity."""
    from metadata.generated.schema.api.data.createPipeline import CreatePipelineRequest
    from metadata.generated.schema.api.services.createPipelineService import CreatePipelineServiceRequest

    om = Reader(om_settings).om  # as the ingestion would have done
    om.create_or_update(CreatePipelineServiceRequest(name="airflow_prod", serviceType="Airflow"))
    ingested = om.create_or_update(
        CreatePipelineRequest(name="churn_publish", service="airflow_prod", description="ingested")
    )
    monkeypatch.setenv("MLPUBLISH_CATALOG_PIPELINE_SERVICE", "airflow_prod")
    settings = OpenMetadataSettings(
        host_port=om_settings.host_port, jwt_token=om_settings.jwt_token, deliver_in_step=True
    )
    assert settings.pipeline_service == "airflow_prod"
    catalog = open_catalog(str(seeded.local.path), openmetadata=settings)
    start = len(om_server.emulator.requests)
    catalog.publish(edges({"name": "churn_publish", "runId": RUN}))
    assert pipeline_requests(om_server.emulator, start) == [("GET", "pipelines/name")]
    reader = Reader(settings)
    assert {d["pipeline"]["id"] for d in edge_details(reader)} == {str(ingested.id.root)}
    assert reader.pipeline("churn_publish")["description"] == "ingested"  # left alone
    assert reader.pipeline_service(DEFAULT_PIPELINE_SERVICE) is None


def test_the_emulator_refuses_what_the_server_refuses(om_server, om_settings, seeded):
    headers = {"Authorization": f"Bearer {om_server.token}"}
    api = f"{om_server.host_port}/v1"
    reader = Reader(om_settings)
    table_id = reader.table(FEATURES)["id"]
    model_id = reader.model(MODEL)["id"]

    def lineage(pipeline: dict) -> requests.Response:
        return requests.put(
            f"{api}/lineage",
            headers=headers,
            timeout=10,
            json={
                "edge": {
                    "fromEntity": {"id": table_id, "type": "table"},
                    "toEntity": {"id": model_id, "type": "mlmodel"},
                    "lineageDetails": {"pipeline": pipeline, "source": "Manual"},
                }
            },
        )

    unknown = lineage({"id": str(uuid.uuid4()), "type": "pipeline"})
    assert unknown.status_code == 404 and "lineageDetails.pipeline" in unknown.json()["message"]
    wrong_type = lineage({"id": table_id, "type": "pipeline"})  # an existing id, but not a pipeline
    assert wrong_type.status_code == 404
    assert "pipeline" not in reader.upstream("mlmodel", MODEL)[FEATURES]  # nothing stored by the refusals

    bogus = requests.put(
        f"{api}/pipelines",
        headers=headers,
        timeout=10,
        json={"name": "p", "service": DEFAULT_PIPELINE_SERVICE, "bogusField": 1},
    )
    assert bogus.status_code == 400 and "bogusField" in bogus.json()["message"]
    no_service = requests.put(f"{api}/pipelines", headers=headers, timeout=10, json={"name": "p", "service": "nope"})
    assert no_service.status_code == 404 and "pipelineService instance for nope" in no_service.json()["message"]
    bad_type = requests.put(
        f"{api}/services/pipelineServices",
        headers=headers,
        timeout=10,
        json={"name": "s", "serviceType": "NotAnOrchestrator"},
    )
    assert bad_type.status_code == 400 and "serviceType" in bad_type.json()["message"]

"""Scoring targets outside the warehouse in OpenMetadata: a Parquet dataset is a Container of a storage service,
a Spark table a Table of the Spark database service, each downstream of the model.

The emulator's rules are the server's (each named in tests/support/openmetadata_rules.py or the emulator):
ContainerResource PUT /containers and GET /containers/name/{fqn}, ContainerRepository.setFullyQualifiedName,
ContainerRepository.clearFields (dataModel only when asked for), LineageRepository.addLineage (any entity type as an
endpoint, looked up by id) and getChildrenNames (a container's children are its data-model columns).
"""

from __future__ import annotations

import pytest

from mlpublish.catalog import open_catalog
from mlpublish.catalog.entity import STORAGE_SERVICE, container_event, spark_table_fqn, table_event
from mlpublish.catalog.events import AddLineage, ColumnLineage, UpsertMlModel
from tests.openmetadata.scenarios import Reader
from tests.openmetadata.test_emulator_rules import Api

SOURCE = "wh.db.sch.features"
MODEL = "models.m"
COLUMNS = {"customer_id": "bigint", "prediction": "bigint", "probability": "double", "scoring_run_id": "string"}


def model_event() -> UpsertMlModel:
    entity = {
        "name": "m",
        "algorithm": "RandomForestClassifier",
        "target": "y",
        "service": "models",
        "mlFeatures": [{"name": "a", "dataType": "numerical", "featureSources": []}],
    }
    return UpsertMlModel(fqn=MODEL, entity=entity)


def scoring_events(fqn: str, to_type: str) -> list[AddLineage]:
    return [
        AddLineage(
            from_fqn=MODEL,
            from_type="mlmodel",
            to_fqn=fqn,
            to_type=to_type,
            columns=[ColumnLineage(fromColumns=[f"{MODEL}.a"], toColumn=f"{fqn}.prediction")],
            description="batch scoring by m",
        ),
        AddLineage(
            from_fqn=SOURCE,
            from_type="table",
            to_fqn=fqn,
            to_type=to_type,
            columns=[ColumnLineage(fromColumns=[f"{SOURCE}.customer_id"], toColumn=f"{fqn}.customer_id")],
            description="keys of the rows scored by m",
        ),
    ]


@pytest.fixture
def catalog(tmp_path, om_settings):
    cat = open_catalog(str(tmp_path / "catalog.db"), openmetadata=om_settings)
    cat.publish([table_event(SOURCE, {"customer_id": "BIGINT"}), model_event()])
    return cat


def test_container_put_get_by_fqn_and_data_model_like_the_server(om_server):
    """ContainerResource createOrUpdate / getByName; ContainerRepository.setFullyQualifiedName (under the parent
    container, else the service; a name with a dot quoted; data-model columns named under the container)."""
    api = Api(om_server)
    assert api.put("containers", {"name": "a", "service": "files"}).status_code == 404  # no such storage service
    assert api.put("services/storageServices", {"name": "files", "serviceType": "CustomStorage"}).status_code == 201
    body = {
        "name": "/lake/preds.parquet",
        "service": "files",
        "fileFormats": ["parquet"],
        "dataModel": {"isPartitioned": True, "columns": [{"name": "prediction", "dataType": "BIGINT"}]},
    }
    created = api.put("containers", body)
    assert created.status_code == 201, created.text
    fqn = 'files."/lake/preds.parquet"'
    assert created.json()["fullyQualifiedName"] == fqn and created.json()["serviceType"] == "CustomStorage"
    assert api.put("containers", body).json()["version"] == 0.1  # the same PUT changes nothing
    plain = api.get(f"containers/name/{fqn}").json()
    assert "dataModel" not in plain  # ContainerRepository.clearFields
    model = api.get(f"containers/name/{fqn}?fields=dataModel").json()["dataModel"]
    assert model["columns"][0]["fullyQualifiedName"] == f"{fqn}.prediction"
    child = api.put(
        "containers", {"name": "part", "service": "files", "parent": {"id": plain["id"], "type": "container"}}
    )
    assert child.json()["fullyQualifiedName"] == f"{fqn}.part"
    refused = api.put("containers", {**body, "format": "parquet"})  # CreateContainerRequest: no such field
    assert refused.status_code == 400 and "format" in refused.json()["message"]


def test_column_lineage_into_a_container_keeps_only_its_data_model_columns(om_server, catalog, om_settings):
    """LineageRepository.addLineage takes a container as an endpoint; validateLineageDetails filters column
    lineage by getChildrenNames (CONTAINER: dataModel.columns)."""
    dataset = container_event("/lake/preds", COLUMNS, ["scoring_run_id"], "batch predictions of m")
    catalog.publish([dataset])
    api = Api(om_server)
    container = api.get(f"containers/name/{dataset.fqn}").json()["id"]
    table = api.get(f"tables/name/{SOURCE}").json()["id"]
    columns = [
        {"fromColumns": [f"{SOURCE}.customer_id"], "toColumn": f"{dataset.fqn}.customer_id"},
        {"fromColumns": [f"{SOURCE}.customer_id"], "toColumn": f"{dataset.fqn}.nope"},
    ]
    edge = {
        "edge": {
            "fromEntity": {"id": table, "type": "table"},
            "toEntity": {"id": container, "type": "container"},
            "lineageDetails": {"columnsLineage": columns},
        }
    }
    assert api.put("lineage", edge).status_code == 200
    assert Reader(om_settings).upstream("container", dataset.fqn)[SOURCE]["columnsLineage"] == columns[:1]


def test_the_sink_delivers_a_parquet_target_as_a_container_downstream_of_the_model(om_server, catalog, om_settings):
    dataset = container_event("/lake/preds", COLUMNS, ["scoring_run_id"], "batch predictions of m")
    assert dataset.fqn == f"{STORAGE_SERVICE}./lake/preds"
    catalog.publish([dataset, *scoring_events(dataset.fqn, "container")])
    assert catalog.outbox.counts()["failed"] == 0 and catalog.outbox.counts()["pending"] == 0
    emulator = om_server.emulator
    held = emulator.find("container", dataset.fqn)
    assert held["service"]["fullyQualifiedName"] == STORAGE_SERVICE and held["fullPath"] == "/lake/preds"
    assert [c["name"] for c in held["dataModel"]["columns"]] == list(COLUMNS)
    assert held["dataModel"]["isPartitioned"] is True
    upstream = Reader(om_settings).upstream("container", dataset.fqn)
    assert set(upstream) == {MODEL, SOURCE}
    assert upstream[SOURCE]["columnsLineage"] == [
        {"fromColumns": [f"{SOURCE}.customer_id"], "toColumn": f"{dataset.fqn}.customer_id"}
    ]
    before = emulator.snapshot()
    for _ in range(2):  # replaying what the outbox carried changes nothing
        assert not catalog.replay().failed
    assert emulator.snapshot() == before and emulator.versions_of("container", dataset.fqn) == [0.1]


def test_the_sink_delivers_a_spark_table_as_a_table_of_the_spark_service(om_server, catalog, om_settings):
    fqn = spark_table_fqn("spark_catalog", "default", "churn_preds")
    catalog.publish([table_event(fqn, COLUMNS, "batch predictions of m"), *scoring_events(fqn, "table")])
    assert catalog.outbox.counts()["failed"] == 0
    table = om_server.emulator.find("table", fqn)
    assert table["service"]["fullyQualifiedName"] == "spark"
    assert [(c["name"], c["dataType"]) for c in table["columns"]][:2] == [
        ("customer_id", "BIGINT"),
        ("prediction", "BIGINT"),
    ]
    assert set(Reader(om_settings).upstream("table", fqn)) == {MODEL, SOURCE}

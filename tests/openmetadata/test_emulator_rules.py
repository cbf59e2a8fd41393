"""The emulator is as strict as the server on the rules we depend on; the sink handles each refusal."""

from __future__ import annotations

import json

import pytest
import requests

from mlpublish.catalog import open_catalog
from mlpublish.catalog.entity import table_event
from mlpublish.catalog.events import AddLineage, ColumnLineage, SetValidationTag, UpsertMlModel
from mlpublish.errors import CatalogUnavailable
from tests.openmetadata.scenarios import Reader

TABLE = "wh.db.sch.features"


def model_event(**changes) -> UpsertMlModel:
    entity = {
        "name": "m",
        "algorithm": "RandomForestClassifier",
        "target": "y",
        "service": "models",
        "description": "a model",
        "mlFeatures": [
            {
                "name": "a",
                "dataType": "numerical",
                "featureSources": [
                    {"name": "a", "dataType": "integer", "dataSource": {"type": "table", "fullyQualifiedName": TABLE}}
                ],
            }
        ],
        **changes,
    }
    return UpsertMlModel(fqn="models.m", entity=entity)


@pytest.fixture
def seeded(tmp_path, om_settings):
    catalog = open_catalog(str(tmp_path / "catalog.db"), openmetadata=om_settings)
    catalog.publish(
        [
            table_event(TABLE, {"a": "INTEGER", "b": "FLOAT"}),
            model_event(),
            SetValidationTag(fqn="models.m", status="PENDING"),
        ]
    )
    return catalog


def test_request_bodies_are_validated_with_the_sdk_models(om_server, seeded):
    url = f"{om_server.host_port}/v1/mlmodels"
    headers = {"Authorization": f"Bearer {om_server.token}"}
    bad = requests.put(
        url, json={"name": "m2", "service": "models", "algorithm": "x", "bogusField": 1}, headers=headers, timeout=10
    )
    assert bad.status_code == 400 and "bogusField" in bad.json()["message"]
    wrong_type = requests.put(
        url,
        json={"name": "m2", "service": "models", "mlFeatures": [{"name": "a", "dataType": "weird"}]},
        headers=headers,
        timeout=10,
    )
    assert wrong_type.status_code == 400 and "mlFeatures.0.dataType" in wrong_type.json()["message"]
    assert (
        requests.get(
            f"{om_server.host_port}/v1/mlmodels/name/models.m", timeout=10, headers={"Authorization": "Bearer nope"}
        ).status_code
        == 401
    )


def test_versions_move_like_the_server(om_server, om_settings, seeded):
    reader = Reader(om_settings)
    start = reader.model("models.m")["version"]
    seeded.publish([model_event()])
    assert reader.model("models.m")["version"] == start  # nothing changed: no new version
    seeded.publish([model_event(description="better words")])
    assert reader.model("models.m")["version"] == round(start + 0.1, 1)
    seeded.publish([model_event(description="better words", algorithm="GradientBoostingClassifier")])
    assert reader.model("models.m")["version"] == round(start + 1.1, 1)
    assert reader.versions("models.m")[-3:] == [start, round(start + 0.1, 1), round(start + 1.1, 1)]


def test_server_adds_table_to_model_lineage_from_feature_sources(om_settings, seeded):
    assert set(Reader(om_settings).upstream("mlmodel", "models.m")) == {TABLE}


def test_two_exclusive_tags_are_refused_and_the_sink_swaps_instead(om_settings, seeded):
    from metadata.generated.schema.entity.data.mlmodel import MlModel
    from metadata.generated.schema.type.tagLabel import TagLabel

    reader = Reader(om_settings)
    om = reader.om
    current = om.get_by_name(MlModel, "models.m", fields=["tags"])
    both = current.model_copy(deep=True)
    both.tags = [
        *current.tags,
        TagLabel(tagFQN="ModelValidation.PASSED", source="Classification", labelType="Automated", state="Confirmed"),
    ]
    with pytest.raises(RuntimeError, match="mutually exclusive"):
        om.patch(MlModel, current, both, skip_on_failure=False)
    seeded.publish([SetValidationTag(fqn="models.m", status="PASSED")])
    assert reader.validation_tags("models.m") == ["ModelValidation.PASSED"]


def test_a_4xx_is_dead_lettered_with_the_field_at_fault_and_never_retried(om_server, seeded):
    other = TABLE.replace("features", "other")
    bad = AddLineage(
        from_fqn=TABLE,
        from_type="table",
        to_fqn=other,
        to_type="table",
        columns=[ColumnLineage(fromColumns=[f"{TABLE}.nope"], toColumn=f"{other}.x")],
    )
    seeded.publish([table_event(other, {"x": "INTEGER"})])
    with pytest.raises(CatalogUnavailable, match=r"columnsLineage.0.fromColumns.*nope"):
        seeded.publish([bad])
    assert seeded.outbox.counts()["failed"] == 1
    requests_before = len(om_server.emulator.requests)
    assert seeded.sync().delivered == 0  # nothing pending: the refused event is not sent again
    assert len(om_server.emulator.requests) == requests_before
    assert json.dumps(seeded.outbox.failed()[0].last_error).count("nope") >= 1


def test_one_deliverer_at_a_time_and_the_other_picks_up_new_events(om_server, om_settings, seeded):
    from mlpublish.catalog.outbox import Outbox

    other = Outbox(seeded.local, om_settings.host_port)  # another process delivering to the same server
    assert other.acquire()
    seeded.publish([model_event(description="while another process delivers")])
    assert seeded.outbox.counts()["pending"] == 1  # left to the lease holder, not delivered twice or out of order
    other.release()
    assert seeded.sync().delivered == 1
    assert Reader(om_settings).model("models.m")["description"] == "while another process delivers"


def test_connection_refused_queues_the_events(tmp_path, caplog):
    from mlpublish.config import OpenMetadataSettings
    from tests.support.mlflow_server import free_port

    settings = OpenMetadataSettings(host_port=f"http://127.0.0.1:{free_port()}/api", jwt_token="t")
    catalog = open_catalog(str(tmp_path / "c.db"), openmetadata=settings)
    catalog.publish([table_event(TABLE, {"a": "INTEGER"})])
    assert catalog.outbox.counts()["pending"] == 1
    assert "unavailable" in caplog.text and "queued" in caplog.text
    strict = open_catalog(
        str(tmp_path / "c.db"),
        openmetadata=OpenMetadataSettings(host_port=settings.host_port, jwt_token="t", strict=True),
    )
    with pytest.raises(CatalogUnavailable, match="2 event\\(s\\) stay queued"):
        strict.publish([table_event(TABLE, {"a": "INTEGER"})])


def test_a_wrong_address_is_a_clear_error_and_dead_letters_nothing(om_server, tmp_path):
    from mlpublish.config import OpenMetadataSettings

    wrong = OpenMetadataSettings(
        host_port=om_server.host_port.replace("/api", "/nothing-here"), jwt_token=om_server.token
    )
    catalog = open_catalog(str(tmp_path / "c.db"), openmetadata=wrong)
    with pytest.raises(CatalogUnavailable, match="OPENMETADATA_HOST_PORT"):
        catalog.publish([table_event(TABLE, {"a": "INTEGER"})])
    assert catalog.outbox.counts() == {"pending": 1, "delivered": 0, "failed": 0}
    om_server.emulator.unknown_routes.clear()  # the wrong address is the point here


def test_owners_are_resolved_and_a_changed_description_is_patched(om_server, om_settings, seeded):
    team = om_server.emulator.add_team("data-science")
    reader = Reader(om_settings)
    seeded.publish([model_event(owners=[{"type": "team", "name": "data-science"}, {"type": "user", "name": "nobody"}])])
    m = reader.model("models.m")
    assert [o["id"] for o in m["owners"]] == [team]  # the unknown user is left out with a warning
    version = m["version"]
    seeded.publish([model_event(owners=[{"type": "team", "name": "data-science"}])])
    assert reader.model("models.m")["version"] == version  # same owners: no new version
    seeded.publish([model_event(owners=[{"type": "team", "name": "data-science"}], description="new words")])
    m = reader.model("models.m")
    assert m["description"] == "new words" and m["version"] == round(version + 0.1, 1)


def test_a_bot_put_keeps_the_description_and_the_card_arrives_by_json_patch(om_server, om_settings, seeded):
    """OpenMetadata's EntityRepository.updateDescription reverts a bot's PUT of a non-empty description
    ("Description need to be updated with a PATCH request"): the champion's card must go by JSON Patch."""
    from mlpublish.champion import with_card

    reader = Reader(om_settings)
    url = f"{om_server.host_port}/v1/mlmodels"
    headers = {"Authorization": f"Bearer {om_server.token}"}
    body = {k: v for k, v in model_event().entity.items() if k != "mlFeatures"}
    put = requests.put(url, json={**body, "description": "# Model card: m v9"}, headers=headers, timeout=10)
    assert put.status_code == 200 and reader.model("models.m")["description"] == "a model"

    card = "# Model card: m v2\n\n| Check | Outcome |\n|---|---|\n| roc\\_auc min 0.7 | PASS |\n"
    [event] = with_card([model_event()], card)
    before, seen = reader.model("models.m"), len(om_server.emulator.requests)
    seeded.publish([event])
    m = reader.model("models.m")
    assert m["description"] == card and m["version"] == round(before["version"] + 0.1, 1)
    assert ("PATCH", f"/api/v1/mlmodels/{m['id']}") in om_server.emulator.requests[seen:]
    for _ in range(2):  # replaying what the outbox carried changes nothing
        assert not seeded.replay().failed
        assert reader.model("models.m")["version"] == m["version"]

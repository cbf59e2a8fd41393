"""The emulator is as strict as the server on the rules we depend on; the sink handles each refusal.

The second half ports the server's own test cases (openmetadata-service/src/test/java/.../resources/
mlmodels/MlModelResourceTest.java, EntityResourceTest.java with TestUtils.UpdateType, LineageResourceTest.java,
TagResourceTest.java); each test names the server test or method it mirrors.
"""

from __future__ import annotations

import json

import pytest
import requests

from mlpublish.catalog import open_catalog
from mlpublish.catalog.entity import table_event
from mlpublish.catalog.events import SetValidationTag, UpsertMlModel
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
    # every change its own version: the server's tests turn consolidation off the same way
    # (EntityUpdater.setSessionTimeout(0)); test_consolidation_* below cover it on
    om_server.emulator.session_timeout_ms = -1
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
    # An unknown column in column lineage was the 4xx here; the server filters those (see
    # test_column_lineage_into_a_model_is_kept_and_unknown_columns_are_filtered): a disabled tag is a real 400.
    tag = om_server.emulator.fqns[("tag", "ModelValidation.FAILED")]
    om_server.emulator.entities[tag]["disabled"] = True
    with pytest.raises(CatalogUnavailable, match=r"ModelValidation.FAILED is disabled"):
        seeded.publish([SetValidationTag(fqn="models.m", status="FAILED")])
    assert seeded.outbox.counts()["failed"] == 1
    requests_before = len(om_server.emulator.requests)
    assert seeded.sync().delivered == 0  # nothing pending: the refused event is not sent again
    assert len(om_server.emulator.requests) == requests_before
    assert json.dumps(seeded.outbox.failed()[0].last_error).count("ModelValidation.FAILED") >= 1


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

    settings = OpenMetadataSettings(
        host_port=f"http://127.0.0.1:{free_port()}/api", jwt_token="t", deliver_in_step=True
    )
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
        host_port=om_server.host_port.replace("/api", "/nothing-here"), jwt_token=om_server.token, deliver_in_step=True
    )
    catalog = open_catalog(str(tmp_path / "c.db"), openmetadata=wrong)
    with pytest.raises(CatalogUnavailable, match="OPENMETADATA_HOST_PORT"):
        catalog.publish([table_event(TABLE, {"a": "INTEGER"})])
    assert catalog.outbox.counts() == {"pending": 1, "delivered": 0, "failed": 0}
    om_server.emulator.unknown_routes.clear()  # the wrong address is the point here


def test_owners_are_resolved_and_a_changed_description_is_patched(om_server, om_settings, seeded):
    om_server.emulator.session_timeout_ms = -1  # every change its own version (see test_change_consolidated_*)
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
    from mlpublish.promotion import with_card

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


# Ported from the server's own tests ---------------------------------------------------------------


class Api:
    """Raw HTTP against the emulator, as the server's resource tests talk to the server."""

    def __init__(self, server):
        self.base, self.emulator = f"{server.host_port}/v1", server.emulator
        self.headers = {"Authorization": f"Bearer {server.token}"}

    def put(self, path: str, body) -> requests.Response:
        return requests.put(f"{self.base}/{path}", json=body, headers=self.headers, timeout=10)

    def patch(self, path: str, ops) -> requests.Response:
        headers = {**self.headers, "Content-Type": "application/json-patch+json"}
        return requests.patch(f"{self.base}/{path}", data=json.dumps(ops), headers=headers, timeout=10)

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.base}/{path}", headers=self.headers, timeout=10)

    def model(self, **fields) -> dict:
        r = self.put("mlmodels", {"name": "m", "service": "models", "algorithm": "RandomForestClassifier", **fields})
        assert r.status_code in (200, 201), r.text
        return r.json()


@pytest.fixture
def api(om_server, seeded):
    return Api(om_server)


def test_put_MlModelAddServer_200_and_UpdateServer_are_major(api):
    """MlModelResourceTest.put_MlModelAddServer_200 / put_MlModelUpdateServer_200 (MAJOR_UPDATE)."""
    v = api.model()["version"]
    assert api.model(server="http://a")["version"] == round(v + 1.0, 1)
    assert api.model(server="http://b")["version"] == round(v + 2.0, 1)


def test_put_MlModelAddMlStore_200_is_minor_and_a_put_without_it_removes_it(api):
    """MlModelResourceTest.put_MlModelAddMlStore_200 (MINOR_UPDATE); MlModelMapper.createToEntity copies mlStore
    as sent, so a PUT that omits it deletes it (fieldsDeleted)."""
    v = api.model()["version"]
    stored = api.model(mlStore={"storage": "s3://x"})
    assert stored["version"] == round(v + 0.1, 1) and stored["mlStore"] == {"storage": "s3://x"}
    gone = api.model()
    assert "mlStore" not in gone and gone["changeDescription"]["fieldsDeleted"][0]["name"] == "mlStore"


def test_put_MlModelAddInvalidDashboard_200_is_a_404_naming_the_dashboard(api):
    """MlModelResourceTest.put_MlModelAddInvalidDashboard_200: the dashboard is a name the server looks up."""
    r = api.put("mlmodels", {"name": "m", "service": "models", "algorithm": "RF", "dashboard": "invalidDashboard"})
    assert r.status_code == 404 and "dashboard instance for invalidDashboard not found" in r.json()["message"]
    r = api.put("mlmodels", {"name": "m", "service": "models", "dashboard": {"id": TABLE, "type": "dashboard"}})
    assert r.status_code == 400  # an {id, type} object is refused by CreateMlModelRequest itself


def test_put_MlModelWithDashboard_by_name(api):
    """MlModelResourceTest: request.withDashboard(DASHBOARD.getFullyQualifiedName()) is a MINOR_UPDATE."""
    api.emulator.add_dashboard("superset.churn")
    v = api.model()["version"]
    m = api.model(dashboard="superset.churn")
    assert m["version"] == round(v + 0.1, 1)
    assert api.get("mlmodels/name/models.m?fields=dashboard").json()["dashboard"]["fullyQualifiedName"] == (
        "superset.churn"
    )


def test_put_MlModelUpdateMlFeatures_200_replaces_features_and_only_creation_draws_source_lineage(api, om_settings):
    """MlModelResourceTest.put_MlModelUpdateMlFeatures_200 (MINOR_UPDATE); MlModelRepository.storeRelationships
    (setMlFeatureSourcesLineage) runs on create only: a moved source gets no new edge from the server."""
    api.put(
        "tables",
        {"name": "other", "databaseSchema": "wh.db.sch", "columns": [{"name": "a", "dataType": "INT"}]},
    )
    other = api.get("tables/name/wh.db.sch.other").json()["id"]
    before = api.get("mlmodels/name/models.m").json()
    moved = {
        "name": "a",
        "dataType": "numerical",
        "featureSources": [{"name": "a", "dataType": "integer", "dataSource": {"id": other, "type": "table"}}],
    }
    m = api.model(target="y", description="a model", mlFeatures=[moved])
    assert m["version"] == round(before["version"] + 0.1, 1)
    assert set(Reader(om_settings).upstream("mlmodel", "models.m")) == {TABLE}  # the old edge, no new one


def test_a_bot_put_keeps_description_and_extension_and_owners_when_it_carries_none(api):
    """EntityUpdater.updateDescription / updateExtension (bots) and updateOwners (PUT without owners keeps them;
    EntityResourceTest.put_entityUpdateOwner_200: a PUT with owners replaces them)."""
    team = api.emulator.add_team("ds")
    other = api.emulator.add_team("ml")
    m = api.model(target="y", description="a model", owners=[{"id": team, "type": "team"}])
    assert [o["id"] for o in m["owners"]] == [team]
    kept = api.model(target="y", description="words a bot may not write")
    assert kept["description"] == "a model" and [o["id"] for o in kept["owners"]] == [team]
    replaced = api.model(target="y", description="a model", owners=[{"id": other, "type": "team"}])
    assert [o["id"] for o in replaced["owners"]] == [other]


def test_only_a_group_team_can_own(api):
    """EntityRepository.validateOwners, CatalogExceptionMessage.invalidTeamOwner
    (TeamResourceTest: a Department cannot own an entity)."""
    dept = api.emulator.add_team("sales", team_type="Department")
    r = api.put("mlmodels", {"name": "m", "service": "models", "owners": [{"id": dept, "type": "team"}]})
    assert r.status_code == 400
    assert (
        r.json()["message"] == "Team of type Department can't own entities. Only Team of type Group can own entities."
    )


def test_change_consolidated_and_revert(om_server, api):
    """EntityResourceTest with TestUtils.UpdateType CHANGE_CONSOLIDATED and REVERT: a PATCH by the same user
    within the session, past version 0.1, folds into the current version; one undoing it goes back."""
    m = api.get("mlmodels/name/models.m").json()
    assert m["version"] == 0.2  # created 0.1, the PENDING tag patch made 0.2 (first update: not consolidated)
    r = api.patch(f"mlmodels/{m['id']}", [{"op": "replace", "path": "/description", "value": "other"}])
    assert r.json()["version"] == 0.2  # CHANGE_CONSOLIDATED
    assert r.json()["changeDescription"]["previousVersion"] == 0.1
    r = api.patch(f"mlmodels/{m['id']}", [{"op": "replace", "path": "/description", "value": "a model"}])
    assert r.json()["version"] == 0.2  # still the tag's change since 0.1
    tags = [t for t in r.json().get("tags", [])]
    r = api.patch(f"mlmodels/{m['id']}", [{"op": "remove", "path": "/tags/0"}] if tags else [])
    assert r.json()["version"] == 0.1  # REVERT: back to 0.1, and 0.2 leaves the history
    assert om_server.emulator.versions_of("mlmodel", "models.m") == [0.1]


def test_a_put_is_never_consolidated(api):
    """EntityUpdater.consolidateChanges requires operation == PATCH."""
    v = api.get("mlmodels/name/models.m").json()["version"]
    assert api.model(target="y", description="a model", algorithm="XGB")["version"] == round(v + 1.0, 1)


def test_patch_cannot_change_name_or_service(api):
    """MlModelRepository.restorePatchAttributes: the change is ignored, not refused."""
    m = api.get("mlmodels/name/models.m").json()
    r = api.patch(f"mlmodels/{m['id']}", [{"op": "replace", "path": "/name", "value": "renamed"}])
    assert r.status_code == 200 and r.json()["name"] == "m" and r.json()["version"] == m["version"]


def test_mutually_exclusive_message_names_the_later_tag_first_and_cannot_be_flipped(api):
    """TagLabelUtil.checkMutuallyExclusive (CatalogExceptionMessage.mutuallyExclusiveLabels(tagLabel, stored));
    ClassificationRepository.ClassificationUpdater: mutuallyExclusive cannot be updated."""
    m = api.get("mlmodels/name/models.m?fields=tags").json()
    label = {
        "tagFQN": "ModelValidation.PASSED",
        "source": "Classification",
        "labelType": "Automated",
        "state": "Confirmed",
    }
    r = api.patch(f"mlmodels/{m['id']}", [{"op": "add", "path": "/tags/1", "value": label}])
    assert r.status_code == 400
    assert r.json()["message"] == (
        "Tag labels ModelValidation.PASSED and ModelValidation.PENDING are mutually exclusive and can't be assigned "
        "together"
    )
    r = api.put("classifications", {"name": "ModelValidation", "description": "d", "mutuallyExclusive": False})
    assert r.status_code == 200 and r.json()["mutuallyExclusive"] is True


def test_a_disabled_tag_is_refused(api):
    """EntityRepository.checkDisabledTags (CatalogExceptionMessage.disabledTag)."""
    tag = api.get("tags/name/ModelValidation.FAILED").json()
    api.emulator.entities[tag["id"]]["disabled"] = True
    m = api.get("mlmodels/name/models.m?fields=tags").json()
    label = {
        "tagFQN": "ModelValidation.FAILED",
        "source": "Classification",
        "labelType": "Automated",
        "state": "Confirmed",
    }
    r = api.patch(f"mlmodels/{m['id']}", [{"op": "replace", "path": "/tags", "value": [label]}])
    assert r.status_code == 400 and "is disabled and can't be assigned" in r.json()["message"]


def test_extension_values_must_have_the_declared_type(api):
    """EntityRepository.validateExtension: a string value for an integer property is a 400."""
    api.emulator.declare_property("mlmodel", "trainingRows", "integer")
    m = api.get("mlmodels/name/models.m").json()
    bad = api.patch(f"mlmodels/{m['id']}", [{"op": "add", "path": "/extension", "value": {"trainingRows": "12"}}])
    assert bad.status_code == 400 and "trainingRows" in bad.json()["message"]
    good = api.patch(f"mlmodels/{m['id']}", [{"op": "add", "path": "/extension", "value": {"trainingRows": 12}}])
    assert good.status_code == 200


def test_column_lineage_into_a_model_is_kept_and_unknown_columns_are_filtered(api, om_settings):
    """LineageRepository.validateLineageDetails + getChildrenNames: a model's children are its features;
    an unknown toColumn drops its entry, an unknown fromColumn is left out (filtered, never refused)."""
    table = api.get("tables/name/" + TABLE).json()["id"]
    model = api.get("mlmodels/name/models.m").json()["id"]
    columns = [
        {"fromColumns": [f"{TABLE}.a", f"{TABLE}.nope"], "toColumn": "models.m.a"},
        {"fromColumns": [f"{TABLE}.b"], "toColumn": "models.m.nofeature"},
    ]
    edge = {
        "edge": {
            "fromEntity": {"id": table, "type": "table"},
            "toEntity": {"id": model, "type": "mlmodel"},
            "lineageDetails": {"columnsLineage": columns},
        }
    }
    assert api.put("lineage", edge).status_code == 200
    details = Reader(om_settings).upstream("mlmodel", "models.m")[TABLE]
    assert details["columnsLineage"] == [{"fromColumns": [f"{TABLE}.a"], "toColumn": "models.m.a"}]


def test_a_forbidden_operation_is_a_403_naming_it(api):
    """security/DefaultAuthorizer: a bot lacking a permission gets 403 'operations [...] not allowed'."""
    api.emulator.forbidden[("PATCH", "mlmodels/")] = "EditCustomFields"
    m = api.get("mlmodels/name/models.m").json()
    r = api.patch(f"mlmodels/{m['id']}", [{"op": "replace", "path": "/description", "value": "x"}])
    assert r.status_code == 403 and "EditCustomFields" in r.json()["message"]

"""The data contract in OpenMetadata: the emulator's rules (tests/support/openmetadata_quality.py, each citing the
server's file and method) and the sink applying UpsertDataContract and RecordContractResults through the outbox.

Server rules checked here: TestCaseRepository.prepare (the linked table and the test definition must exist,
validateTestParameters, validateColumnTestCase), setFullyQualifiedName; TestCaseResultRepository.addTestCaseResult
(data_quality_data_time_series UNIQUE on timestamp: 409 for a second result at the same time);
DataContractRepository.prepare (validateEntityReference: one contract per entity; validateSchemaFieldsAgainstEntity)
and setFullyQualifiedName.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from mlpublish.catalog import open_catalog
from mlpublish.catalog.entity import table_event
from mlpublish.catalog.openmetadata.quality import RESULTS_PATH
from tests.openmetadata.test_emulator_rules import Api as RulesApi
from tests.unit.catalog.test_contracts import CONTRACT_FQN, NAME, TABLE, contract, results, upsert

COLUMNS = {"tenure": "BIGINT", "plan": "VARCHAR"}


class Api(RulesApi):
    def post(self, path: str, body: Any) -> requests.Response:
        return requests.post(f"{self.base}/{path}", json=body, headers=self.headers, timeout=10)


@pytest.fixture
def catalog(tmp_path, om_settings):
    cat = open_catalog(str(tmp_path / "catalog.db"), openmetadata=om_settings)
    cat.publish([table_event(TABLE, COLUMNS)])
    return cat


@pytest.fixture
def api(om_server, catalog) -> Api:
    return Api(om_server)


def case(name: str = "c1", definition: str = "columnValuesToBeNotNull", column: str | None = "tenure", **kw: Any):
    link = f"<#E::table::{TABLE}::columns::{column}>" if column else f"<#E::table::{TABLE}>"
    return {"name": name, "testDefinition": definition, "entityLink": link, **kw}


def test_test_cases_follow_the_servers_rules(api: Api) -> None:
    created = api.put("dataQuality/testCases", case())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["fullyQualifiedName"] == f"{TABLE}.tenure.c1" and body["entityFQN"] == f"{TABLE}.tenure"
    assert body["testSuite"]["fullyQualifiedName"] == f"{TABLE}.testSuite"  # the table's basic suite
    assert api.put("dataQuality/testCases", case()).json()["version"] == 0.1  # the same PUT changes nothing
    refusals = {
        "unknown column": (case(column="nope"), 400, "Invalid column name nope"),
        "unknown definition": (case(definition="columnValuesToBeFancy"), 404, "testDefinition instance"),
        "unknown table": (
            {**case(), "entityLink": "<#E::table::wh.db.sch.none::columns::a>"},
            404,
            "table instance for wh.db.sch.none",
        ),
        "column test on the table": (case(column=None), 400, "Column test case must have a field name"),
        "unknown parameter": (
            case(definition="columnValuesToBeBetween", parameterValues=[{"name": "low", "value": "1"}]),
            400,
            "Parameter 'low' is not defined",
        ),
        "missing required parameter": (
            case(definition="columnValuesToBeInSet", parameterValues=[]),
            400,
            "Required parameter allowedValues is not passed",
        ),
        "parameters for none": (
            case(parameterValues=[{"name": "x", "value": "1"}]),
            400,
            "Parameter Values doesn't match Test Definition Parameters",
        ),
        "extra field": ({**case(), "testSuite": "x"}, 400, "testSuite"),
    }
    for what, (request, status, message) in refusals.items():
        r = api.put("dataQuality/testCases", request)
        assert (r.status_code, message in r.json()["message"]) == (status, True), (what, r.text)
    table_case = api.put(
        "dataQuality/testCases",
        case("t1", "tableColumnNameToExist", None, parameterValues=[{"name": "columnName", "value": "tenure"}]),
    )
    assert table_case.json()["fullyQualifiedName"] == f"{TABLE}.t1"


def test_a_result_per_timestamp_and_unknown_cases_refused(api: Api) -> None:
    api.put("dataQuality/testCases", case())
    fqn = f"{TABLE}.tenure.c1"
    result = {"timestamp": 1_000, "testCaseStatus": "Failed", "testResultValue": [{"name": "n", "value": "1"}]}
    first = api.post(f"dataQuality/testCases/testCaseResults/{fqn}", result)
    assert first.status_code == 201, first.text
    again = api.post(f"dataQuality/testCases/testCaseResults/{fqn}", {**result, "testCaseStatus": "Success"})
    assert (again.status_code, again.json()["message"]) == (409, "Entity already exists")
    assert api.post(f"dataQuality/testCases/testCaseResults/{fqn}.x", result).status_code == 404
    assert api.post(f"dataQuality/testCases/testCaseResults/{fqn}", {**result, "bogus": 1}).status_code == 400
    assert api.post(f"dataQuality/testCases/testCaseResults/{fqn}", {**result, "timestamp": 2_000}).status_code == 201
    listed = api.get(f"dataQuality/testCases/testCaseResults/{fqn}").json()["data"]
    assert [(r["timestamp"], r["testCaseStatus"]) for r in listed] == [(2_000, "Failed"), (1_000, "Failed")]
    stored = api.get(f"dataQuality/testCases/name/{fqn}?fields=testCaseResult").json()
    assert stored["testCaseStatus"] == "Failed" and stored["testCaseResult"]["timestamp"] == 2_000


def test_data_contracts_follow_the_servers_rules(api: Api, om_server) -> None:
    table_id = om_server.emulator.find("table", TABLE)["id"]
    tc = api.put("dataQuality/testCases", case()).json()
    body = {
        "name": "c",
        "entity": {"id": table_id, "type": "table"},
        "schema": [{"name": "tenure", "dataType": "BIGINT"}],
        "qualityExpectations": [{"id": tc["id"], "type": "testCase"}],
    }
    bad_schema = api.put("dataContracts", {**body, "schema": [{"name": "nope", "dataType": "INT"}]})
    assert bad_schema.status_code == 400 and "do not exist in the table: nope" in bad_schema.json()["message"]
    missing = api.put(
        "dataContracts", {**body, "entity": {"id": "00000000-0000-0000-0000-000000000000", "type": "table"}}
    )
    assert missing.status_code == 404
    created = api.put("dataContracts", body)
    assert created.status_code == 201, created.text
    assert created.json()["fullyQualifiedName"] == f"{TABLE}.dataContract_c"
    assert created.json()["entityStatus"] == "Draft"
    assert api.put("dataContracts", body).json()["version"] == 0.1
    second = api.put("dataContracts", {**body, "name": "other"})
    assert (second.status_code, second.json()["message"]) == (
        400,
        f"A data contract already exists for entity 'table' with ID {table_id}",
    )


def test_the_sink_writes_contract_cases_and_results_idempotently(catalog, om_server) -> None:
    """The events built by hand from a DataContract, through the real sink (and its outbox) to the emulator."""
    emu = om_server.emulator
    catalog.publish([upsert(), results("run-1", "2026-03-02T00:00:00+00:00", {"tenure.in_range": 3})])
    stored = emu.find("dataContract", CONTRACT_FQN)
    rules = contract().rules()
    assert stored["entity"]["fullyQualifiedName"] == TABLE and stored["version"] == 0.1
    assert [c["name"] for c in stored["schema"]] == ["tenure", "plan"]
    cases = {q["fullyQualifiedName"] for q in stored["qualityExpectations"]}
    assert len(cases) == len(rules)
    suite = emu.entities[stored["testSuite"]["id"]]
    assert {t["fullyQualifiedName"] for t in suite["tests"]} == cases
    in_range = f"{TABLE}.tenure.{NAME}_tenure_in_range"
    case_body = emu.find("testCase", in_range)
    assert case_body["testDefinition"]["fullyQualifiedName"] == "columnValuesToBeBetween"
    assert {p["name"]: p["value"] for p in case_body["parameterValues"]} == {"minValue": "0.0", "maxValue": "500.0"}
    assert emu.find("testDefinition", "mlpublishColumnTypeToBe")["testPlatforms"] == ["Other"]
    (failed,) = [
        f for f, by_ts in emu.quality.results.items() for r in by_ts.values() if r["testCaseStatus"] == "Failed"
    ]
    assert failed == in_range and set(emu.quality.results) == cases
    before = emu.snapshot()
    results_before = json.dumps(emu.quality.results, sort_keys=True)
    # a re-delivery (the relay after a crash, a replay) and a second copy of the events change nothing
    catalog.replay()
    catalog.publish([upsert(), results("run-1", "2026-03-02T00:00:00+00:00", {"tenure.in_range": 3})])
    assert emu.snapshot() == before and json.dumps(emu.quality.results, sort_keys=True) == results_before
    # the next run adds one result per rule; a new champion's contract is a new version of the same entity
    catalog.publish([results("run-2", "2026-03-03T00:00:00+00:00")])
    assert all(len(by_ts) == 2 for by_ts in emu.quality.results.values())
    # a new champion's contract: a changed range is a new version of its test case, the contract keeps its cases
    catalog.publish([upsert(contract(maximum=900.0))])
    assert emu.find("testCase", in_range)["version"] == 0.2
    assert emu.versions_of("dataContract", CONTRACT_FQN) == [0.1]
    # a rule gone (no range learned any more) leaves the contract's quality expectations: a new version
    catalog.publish(
        [
            upsert(
                contract(columns=[c.model_copy(update={"maximum": None, "minimum": None}) for c in contract().columns])
            )
        ]
    )
    assert emu.versions_of("dataContract", CONTRACT_FQN) == [0.1, 0.2]
    assert in_range not in {
        q["fullyQualifiedName"] for q in emu.find("dataContract", CONTRACT_FQN)["qualityExpectations"]
    }
    assert catalog.sync().failed == [] and emu.unknown_routes == []
    # the same results read back through the SDK's client, as a user's tools would
    from mlpublish.catalog.openmetadata import connect

    om = connect(catalog.settings)
    data = om.client.get(f"{RESULTS_PATH}/{in_range}")["data"]
    assert [r["testCaseStatus"] for r in data] == ["Success", "Failed"]


def test_a_second_models_contract_on_the_same_table_keeps_its_test_cases(catalog, om_server, caplog) -> None:
    """OpenMetadata holds one DataContract per table: the second model's cases and results still land."""
    emu = om_server.emulator
    catalog.publish([upsert()])
    other = upsert().model_copy(update={"name": "fraud-contract"})
    catalog.publish(
        [other, results("run-9", "2026-03-02T00:00:00+00:00").model_copy(update={"contract_name": "fraud-contract"})]
    )
    assert emu.find("dataContract", f"{TABLE}.dataContract_fraud-contract") is None
    assert emu.find("testCase", f"{TABLE}.tenure.fraud-contract_tenure_in_range") is not None
    assert "already has the data contract" in caplog.text
    assert catalog.sync().failed == []


def test_results_before_their_contract_are_dead_lettered_naming_it(catalog, om_server) -> None:
    """A result for a test case the server does not have (its contract never delivered) is refused (404): the
    event is dead-lettered with a message naming the contract (delivering in the step, the step says so)."""
    from mlpublish.errors import CatalogUnavailable

    with pytest.raises(CatalogUnavailable, match=r"was the data contract churn-contract delivered\?.*dead-lettered"):
        catalog.publish([results("run-1", "2026-03-02T00:00:00+00:00")])
    assert om_server.emulator.quality.results == {}

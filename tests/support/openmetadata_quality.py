"""The emulator's data-quality and data-contract endpoints, each rule ported from the server's source.

Sources are files of ``open-metadata/OpenMetadata`` under ``openmetadata-service/src/main/java/org/openmetadata/
service/`` (``jdbi3/`` repositories, ``resources/`` resources) and the seed data under ``openmetadata-service/src/
main/resources/json/data/tests/``; each rule names its file and method (the pure ones: test parameters, column
tests, a contract's schema, entity links, the seed definitions, are in ``openmetadata_rules``). Request bodies are validated with the
SDK's own models (``extra='forbid'``) and stored entities re-validated with the entity model, as the rest of
the emulator does. Versions follow ``openmetadata_rules.versioned`` (EntityUpdater).

Not emulated (no API call of mlpublish depends on it): the ingestion pipeline DataContractRepository.postCreate
creates to run a contract's tests on the server, contract validation runs (``/dataContracts/{id}/validate``) and
their ``latestResult``, incidents opened by failed results (TestCaseResolutionStatusRepository), search indexes,
and TestCaseRepository.validateParameterRule (rules between parameters, e.g. minValue <= maxValue).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from typing import Any
from urllib.parse import unquote

from metadata.generated.schema.api.data.createDataContract import CreateDataContractRequest
from metadata.generated.schema.api.tests.createTestCase import CreateTestCaseRequest
from metadata.generated.schema.api.tests.createTestCaseResult import CreateTestCaseResult
from metadata.generated.schema.api.tests.createTestDefinition import CreateTestDefinitionRequest
from metadata.generated.schema.entity.data.dataContract import DataContract
from metadata.generated.schema.tests.basic import TestCaseResult
from metadata.generated.schema.tests.testCase import TestCase
from metadata.generated.schema.tests.testDefinition import TestDefinition
from metadata.generated.schema.tests.testSuite import TestSuite
from metadata.utils.fqn import quote_name
from pydantic import ValidationError

from tests.support.openmetadata_rules import (
    SEED_DEFINITIONS,
    RuleError,
    check_column_test,
    check_contract_schema,
    check_parameters,
    parse_entity_link,
    put_update,
    versioned,
)

# TestCaseRepository.getFieldsStrippedFromStorageJson: returned only when asked for with ?fields=
TEST_CASE_FIELDS = {"testSuite", "testSuites", "testDefinition", "testCaseResult"}


def _message(exc: ValidationError) -> str:
    return "; ".join(f"[{'.'.join(str(p) for p in e['loc'])}] {e['msg']}" for e in exc.errors())


def _validated(model: type, body: Any) -> dict[str, Any]:
    try:
        req = model.model_validate(body)
    except ValidationError as exc:
        raise RuleError(400, f"{model.__name__}: {_message(exc)}") from None
    return json.loads(req.model_dump_json(exclude_none=True, by_alias=True))


class Quality:
    """The routes under ``dataQuality/`` and ``dataContracts``, over the emulator's entity store."""

    def __init__(self, emulator: Any, bot: str, now_ms: Any):
        self.emu, self.bot, self.now_ms = emulator, bot, now_ms
        self.seeded = {
            name: {
                # the server ids its seed data when it seeds; here from the name, so that two emulators' snapshots
                # (which replace the ids of stored entities, not of seed data) agree
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"openmetadata-seed/testDefinition/{name}")),
                "name": name,
                "fullyQualifiedName": name,
                "description": f"{name} (server seed data)",
                "testPlatforms": ["OpenMetadata"],
                "provider": "system",
                "enabled": True,
                "version": 0.1,
                "deleted": False,
                **copy.deepcopy(spec),
            }
            for name, spec in SEED_DEFINITIONS.items()
        }
        self.results: dict[str, dict[int, dict[str, Any]]] = {}  # test case FQN -> timestamp -> result

    # Store ----------------------------------------------------------------
    def _find(self, entity_type: str, fqn: str) -> dict[str, Any] | None:
        eid = self.emu.fqns.get((entity_type, fqn))
        return self.emu.entities[eid] if eid else None

    def _upsert(self, entity_type: str, fqn: str, data: dict[str, Any], model: type, path: str) -> tuple[int, Any]:
        """EntityRepository.createOrUpdate: create at 0.1, or a PUT update versioned by EntityUpdater."""
        emu = self.emu
        old = self._find(entity_type, fqn)
        now = self.now_ms()
        if old is None:
            eid = str(uuid.uuid4())
            entity = {
                "_type": entity_type,
                "id": eid,
                **data,
                "fullyQualifiedName": fqn,
                "version": 0.1,
                "updatedAt": now,
                "updatedBy": self.bot,
                "deleted": False,
                "href": f"http://emulator/api/v1/{path}/{eid}",
            }
            self._validate(model, entity)
            emu.entities[eid] = entity
            emu.fqns[(entity_type, fqn)] = eid
            emu.history[eid] = [copy.deepcopy(entity)]
            return 201, entity
        new = put_update(old, data, by_bot=True)
        result = versioned(entity_type, emu.history[old["id"]], new, "PUT", self.bot, now, emu.session_timeout_ms)
        if result is None:
            return 200, old
        history, current = result
        self._validate(model, current)
        emu.entities[old["id"]] = current
        emu.history[old["id"]] = [copy.deepcopy(v) for v in history]
        return 200, current

    def _validate(self, model: type, entity: dict[str, Any]) -> None:
        try:
            model.model_validate({k: v for k, v in entity.items() if not k.startswith("_")})
        except ValidationError as exc:
            raise RuleError(400, f"{model.__name__}: {_message(exc)}") from None

    def definition(self, fqn: str) -> dict[str, Any]:
        """A test definition by FQN: one declared through the API, else the seed (404 for neither)."""
        found = self._find("testDefinition", fqn) or self.seeded.get(fqn)
        if found is None:
            raise RuleError(404, f"testDefinition instance for {fqn} not found")
        return found

    def _table(self, fqn: str) -> dict[str, Any]:
        """EntityUtil.validateEntityLink / Entity.getEntity(entityLink): the linked table must exist."""
        table = self._find("table", fqn)
        if table is None:
            raise RuleError(404, f"table instance for {fqn} not found")
        return table

    @staticmethod
    def _ref(entity: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": entity["id"],
            "type": entity["_type"],
            "name": entity["name"],
            "fullyQualifiedName": entity["fullyQualifiedName"],
        }

    def _public(self, entity: dict[str, Any], hidden: set[str] = frozenset()) -> dict[str, Any]:
        return {k: v for k, v in entity.items() if not k.startswith("_") and k not in hidden}

    # Routes ---------------------------------------------------------------
    def route(self, method: str, route: str, args: Any, body: Any) -> tuple[int, Any] | None:
        """The answer for a route of this module, or None when the route is not one of them."""
        fields = set(filter(None, (args.get("fields") or "").split(",")))
        m = re.fullmatch(r"dataQuality/testCases/testCaseResults/(.+)", route)
        if m and method == "POST":
            return self.add_result(unquote(m.group(1)), body)
        if m and method == "GET":
            return 200, self.list_results(unquote(m.group(1)), args.get("startTs"), args.get("endTs"))
        if route == "dataQuality/testDefinitions" and method == "PUT":
            return self.put_definition(body)
        m = re.fullmatch(r"dataQuality/testDefinitions/name/(.+)", route)
        if m and method == "GET":
            return 200, self._public(self.definition(unquote(m.group(1))))
        if route == "dataQuality/testCases" and method == "PUT":
            status, entity = self.put_test_case(body)  # the answer carries what prepare set
            return status, self._public(entity, {"testSuites", "testCaseResult"})
        m = re.fullmatch(r"dataQuality/testCases/name/(.+)", route)
        if m and method == "GET":
            fqn = unquote(m.group(1))
            found = self._find("testCase", fqn)
            if found is None:
                raise RuleError(404, f"testCase instance for {fqn} not found")
            return 200, self._public(found, TEST_CASE_FIELDS - fields)
        m = re.fullmatch(r"dataQuality/testSuites/name/(.+)", route)
        if m and method == "GET":
            fqn = unquote(m.group(1))
            found = self._find("testSuite", fqn)
            if found is None:
                raise RuleError(404, f"testSuite instance for {fqn} not found")
            return 200, self._public(found, set() if "tests" in fields else {"tests"})
        if route == "dataContracts" and method == "PUT":
            status, entity = self.put_contract(body)
            return status, self._public(entity)
        m = re.fullmatch(r"dataContracts/name/(.+)", route)
        if m and method == "GET":
            fqn = unquote(m.group(1))
            found = self._find("dataContract", fqn)
            if found is None:
                raise RuleError(404, f"dataContract instance for {fqn} not found")
            return 200, self._public(found)
        if route == "dataContracts/entity" and method == "GET":
            found = self.contract_of(args.get("entityId", ""))
            if found is None:
                raise RuleError(404, f"Data contract for entity {args.get('entityId')} not found")
            return 200, self._public(found)
        return None

    # Test definitions -----------------------------------------------------
    def put_definition(self, body: Any) -> tuple[int, Any]:
        """resources/dqtests/TestDefinitionResource.createOrUpdate; TestDefinitionRepository: FQN = quoted name."""
        data = _validated(CreateTestDefinitionRequest, body)
        fqn = quote_name(data["name"])
        if fqn in self.seeded:  # a system definition is the server's (TestDefinitionRepository: provider system)
            raise RuleError(400, f"System entity [{fqn}] of type testDefinition can not be updated")
        status, entity = self._upsert("testDefinition", fqn, data, TestDefinition, "dataQuality/testDefinitions")
        return status, self._public(entity)

    # Test cases -----------------------------------------------------------
    def put_test_case(self, body: Any) -> tuple[int, dict[str, Any]]:
        """resources/dqtests/TestCaseResource.createOrUpdate -> jdbi3/TestCaseRepository.prepare and
        setFullyQualifiedName (``<link's field value>.<quoted name>``), getOrCreateTestSuite (the table's basic
        suite ``<table FQN>.testSuite``, created with the first test case of the table)."""
        data = _validated(CreateTestCaseRequest, body)
        entity_type, table_fqn, field, column = parse_entity_link(data["entityLink"])
        if entity_type != "table":
            raise RuleError(400, f"Entity type {entity_type} is not supported for test cases")
        table = self._table(table_fqn)
        definition = self.definition(data["testDefinition"])
        field_value = f"{table_fqn}.{quote_name(column)}" if column else table_fqn
        fqn = f"{field_value}.{quote_name(data['name'])}"
        update = self._find("testCase", fqn) is not None
        if not update and definition.get("enabled") is False:
            raise RuleError(
                400, f"Test definition '{definition['name']}' is disabled and cannot be used to create test cases"
            )
        check_parameters(data.get("parameterValues"), definition)
        check_column_test(table, field, column, definition["entityType"])
        suite = self.basic_suite(table)
        data.update(
            testDefinition=self._ref({**definition, "_type": "testDefinition"}),
            testSuite=self._ref(suite),
            entityFQN=field_value,
        )
        status, entity = self._upsert("testCase", fqn, data, TestCase, "dataQuality/testCases")
        if entity["id"] not in [t["id"] for t in suite["tests"]]:  # storeRelationships: CONTAINS suite -> test
            suite["tests"].append(self._ref(entity))
        return status, entity

    def basic_suite(self, table: dict[str, Any]) -> dict[str, Any]:
        """TestCaseRepository.getOrCreateTestSuite: the basic suite of the table, created by the ingestion bot."""
        fqn = f"{table['fullyQualifiedName']}.testSuite"  # TestSuiteRepository: a basic suite's FQN, not quoted
        suite = self._find("testSuite", fqn)
        if suite is None:
            data = {"name": fqn, "basic": True, "basicEntityReference": self._ref(table), "tests": []}
            _, suite = self._upsert("testSuite", fqn, data, TestSuite, "dataQuality/testSuites")
        return suite

    # Test case results ----------------------------------------------------
    def add_result(self, fqn: str, body: Any) -> tuple[int, Any]:
        """resources/dqtests/TestCaseResultResource.addTestCaseResult -> jdbi3/TestCaseResultRepository.
        addTestCaseResult: the test case must exist (404); the result is INSERTed into data_quality_data_time_series,
        UNIQUE (entityFQNHash, extension, timestamp), so a second result at the same timestamp is a duplicate key,
        which exception/CatalogGenericExceptionMapper answers 409 "Entity already exists". The test case's status
        follows its newest result (syncTestCaseStatus / isCurrentResult)."""
        data = _validated(CreateTestCaseResult, body)
        case = self._find("testCase", fqn)
        if case is None:
            raise RuleError(404, f"testCase instance for {fqn} not found")
        stored = self.results.setdefault(fqn, {})
        ts = data["timestamp"]
        if ts in stored:
            raise RuleError(409, "Entity already exists")
        data.pop("fqn", None)
        result = {"id": str(uuid.uuid4()), "testCaseFQN": fqn, **data}
        try:
            TestCaseResult.model_validate(result)
        except ValidationError as exc:
            raise RuleError(400, f"TestCaseResult: {_message(exc)}") from None
        stored[ts] = result
        if ts >= max(stored):
            case["testCaseResult"], case["testCaseStatus"] = copy.deepcopy(result), result["testCaseStatus"]
        return 201, copy.deepcopy(result)

    def list_results(self, fqn: str, start: Any, end: Any) -> dict[str, Any]:
        """TestCaseResultRepository.getTestCaseResults: between startTs and endTs (inclusive), newest first."""
        lo = int(start) if start is not None else -(2**63)
        hi = int(end) if end is not None else 2**63
        found = [
            copy.deepcopy(r) for ts, r in sorted(self.results.get(fqn, {}).items(), reverse=True) if lo <= ts <= hi
        ]
        return {"data": found, "paging": {"total": len(found)}}

    # Data contracts -------------------------------------------------------
    def contract_of(self, entity_id: str) -> dict[str, Any] | None:
        for (kind, _), eid in self.emu.fqns.items():
            e = self.emu.entities[eid]
            if kind == "dataContract" and e["entity"]["id"] == entity_id:
                return e
        return None

    def put_contract(self, body: Any) -> tuple[int, dict[str, Any]]:
        """resources/data/DataContractResource.createOrUpdate -> jdbi3/DataContractRepository:
        setFullyQualifiedName (``<entity FQN>.dataContract_<name>``), prepare: on create validateEntityReference
        (the entity must exist, 404; one contract per entity, else 400), validateSchemaFieldsAgainstEntity (400),
        createOrUpdateDataContractTestSuite (a logical suite named EntityUtil.hash(<contract FQN>) holding the
        quality expectations' test cases, each of which must exist)."""
        data = _validated(CreateDataContractRequest, body)
        entity = self.emu._resolve_ref(data["entity"], "[entity]")
        fqn = f"{entity['fullyQualifiedName']}.dataContract_{data['name']}"
        update = self._find("dataContract", fqn) is not None
        target = self.emu.entities[entity["id"]]
        if not update and self.contract_of(entity["id"]) is not None:
            raise RuleError(400, f"A data contract already exists for entity '{entity['type']}' with ID {entity['id']}")
        if entity["type"] == "table":
            check_contract_schema(data, target)
        tests = []
        for i, ref in enumerate(data.get("qualityExpectations") or []):
            tests.append(self.emu._resolve_ref(ref, f"[qualityExpectations.{i}]"))
        data["qualityExpectations"] = tests
        data["entity"] = entity
        data.setdefault("entityStatus", "Draft")  # createDataContract.json: entityStatus defaults to Draft
        if tests:
            suite_name = hashlib.md5(fqn.encode()).hexdigest()  # DataContractRepository.getTestSuiteName
            _, suite = self._upsert(
                "testSuite",
                suite_name,
                {"name": suite_name, "displayName": f"Data Contract - {data['name']}", "basic": False, "tests": tests},
                TestSuite,
                "dataQuality/testSuites",
            )
            data["testSuite"] = self._ref(suite)
        status, stored = self._upsert("dataContract", fqn, data, DataContract, "dataContracts")
        if tests:
            suite["dataContract"] = self._ref(stored)
        return status, stored

"""The data contract in OpenMetadata: the DataContract on the feature table, one test case per rule, their results.

Every write is idempotent: test definitions and test cases are PUT by name (the same request changes nothing),
the DataContract is PUT by name on its table, and a result is keyed by its test case and timestamp (the event's
``at``): the server refuses a second result at the same timestamp with 409 (``data_quality_data_time_series``
is UNIQUE on (test case, extension, timestamp); CatalogGenericExceptionMapper answers a duplicate key with
CONFLICT), which a re-delivery takes as "already recorded". The SDK is imported here on first use
(pyproject's import-linter contract lists this module with ``client`` and ``writes``).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote as url_quote

from mlpublish.catalog.contract_cases import (
    CUSTOM_DEFINITIONS,
    case_link,
    case_specs,
    contract_fqn,
    description,
    result_request,
    schema,
    timestamp_ms,
)
from mlpublish.catalog.events import RecordContractResults, UpsertDataContract
from mlpublish.catalog.openmetadata.client import Client
from mlpublish.catalog.openmetadata.errors import Rejected, classify, status_of
from mlpublish.contracts.model import DataContract

log = logging.getLogger("mlpublish.catalog.openmetadata")
RESULTS_PATH = "/dataQuality/testCases/testCaseResults"


def _table_columns(table: Any) -> set[str]:
    return {str(getattr(c.name, "root", c.name)) for c in (table.columns or [])}


def ensure_definition(client: Client, name: str) -> None:
    """A test definition mlpublish declares, created when the server has none of that name (once per process)."""
    from metadata.generated.schema.api.tests.createTestDefinition import CreateTestDefinitionRequest
    from metadata.generated.schema.tests.testDefinition import TestDefinition

    om = client.om
    client.ensure(
        f"testDefinition {name}",
        lambda: om.get_by_name(TestDefinition, name),
        lambda: om.create_or_update(CreateTestDefinitionRequest.model_validate(CUSTOM_DEFINITIONS[name])),
    )


def upsert_data_contract(client: Client, ev: UpsertDataContract) -> None:
    """The test cases first (the contract's quality expectations reference them by id), then the DataContract.

    DataContractRepository.prepare refuses a contract whose schema names a column the table lacks, and
    TestCaseRepository.prepare a column test on an unknown column: both are named here before any write."""
    from metadata.generated.schema.api.data.createDataContract import CreateDataContractRequest
    from metadata.generated.schema.api.tests.createTestCase import CreateTestCaseRequest

    fqn = contract_fqn(ev.table_fqn, ev.name)
    what = f"data contract {fqn}"
    try:
        contract = DataContract.from_json(ev.contract)
    except Exception as exc:
        raise Rejected(f"{what}: the event's contract is not a data contract: {exc}") from None
    table = client.table(ev.table_fqn)
    if table is None:
        raise Rejected(f"{what}: table {ev.table_fqn} is not in OpenMetadata (its upsert failed or was dead-lettered)")
    missing = sorted({c.name for c in contract.columns} - _table_columns(table))
    if missing:
        raise Rejected(
            f"{what}: column(s) {', '.join(missing)} of the contract are not columns of table {ev.table_fqn} in "
            "OpenMetadata (the server refuses the contract: DataContractRepository.validateSchemaFieldsAgainstEntity)"
        )
    specs = case_specs(ev.table_fqn, ev.name, contract)
    for name in sorted({s.definition for s in specs} & set(CUSTOM_DEFINITIONS)):
        ensure_definition(client, name)
    cases = []
    for spec in specs:
        case_what = f"test case {spec.fqn}"
        request = client.call(case_what, CreateTestCaseRequest.model_validate, spec.request())
        stored = client.call(case_what, client.om.create_or_update, request)
        cases.append({"id": str(stored.id.root), "type": "testCase"})
    # DataContractRepository.validateEntityReference: one contract per entity (400 for a second one on create)
    other = client.call(what, client.om.get_data_contract_by_entity_id, table.id, "table")
    if other is not None and str(other.fullyQualifiedName.root) != fqn:
        log.warning(
            "%s: table %s already has the data contract %s (OpenMetadata holds one per table): its %d test case(s) "
            "and their results are on the table, the DataContract entity is not",
            what,
            ev.table_fqn,
            other.fullyQualifiedName.root,
            len(cases),
        )
        return
    body = {
        "name": ev.name,
        "description": description(contract, ev.model_fqn),
        "entity": {"id": str(table.id.root), "type": "table"},
        "schema": schema(contract),
        "qualityExpectations": cases,
    }
    request = client.call(what, CreateDataContractRequest.model_validate, body)
    client.call(what, client.om.create_or_update, request)
    log.info("data contract %s: %d test case(s) on %s", fqn, len(cases), ev.table_fqn)


def record_contract_results(client: Client, ev: RecordContractResults) -> None:
    """One test case result per rule at the event's time; a result already recorded there is left as it is."""
    from metadata.generated.schema.api.tests.createTestCaseResult import CreateTestCaseResult

    ts = timestamp_ms(ev.at)
    recorded = 0
    for r in ev.results:
        _, fqn = case_link(ev.table_fqn, ev.contract_name, str(r["column"]), str(r["rule"]))
        what = f"test case result {fqn} at {ev.at} (run {ev.run_id})"
        try:
            body = result_request(r, ts, ev.run_id)
        except (KeyError, ValueError) as exc:
            raise Rejected(f"{what}: {exc}") from None
        request = client.call(what, CreateTestCaseResult.model_validate, body)
        try:
            client.om.client.post(f"{RESULTS_PATH}/{url_quote(fqn, safe='')}", data=request.model_dump_json())
            recorded += 1
        except Exception as exc:
            if status_of(exc) == 409:  # a re-delivery: this result is already there
                continue
            err = classify(exc, what)
            if status_of(exc) == 404:
                err = Rejected(f"{err} (the test case is missing: was the data contract {ev.contract_name} delivered?)")
            raise err from None
    log.info(
        "data contract %s: %d of %d result(s) of run %s recorded",
        contract_fqn(ev.table_fqn, ev.contract_name),
        recorded,
        len(ev.results),
        ev.run_id,
    )

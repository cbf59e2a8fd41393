"""A data contract in OpenMetadata's terms: the DataContract entity, one test case per rule, their results.

Pure values, shared by the local mirror (``catalog.contracts``) and the OpenMetadata sink
(``catalog.openmetadata.quality``), so both hold the same names. Each rule of :mod:`mlpublish.contracts.model`
becomes a test case of a test definition: a built-in one of the server's seed data
(``openmetadata-service/src/main/resources/json/data/tests/*.json``) where one has the rule's meaning, else
one of the two definitions mlpublish declares (``CUSTOM_DEFINITIONS``, platform ``Other``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlpublish.contracts.model import DataContract, Rule

# rule -> (test definition, entity type it applies to): docs/openmetadata.md has the table and the reasons
DEFINITIONS: dict[str, tuple[str, str]] = {
    "present": ("tableColumnNameToExist", "TABLE"),  # seed: parameter columnName (required)
    "type": ("mlpublishColumnTypeToBe", "COLUMN"),  # no built-in checks a column's type
    "not_null": ("columnValuesToBeNotNull", "COLUMN"),  # seed: no parameters
    "max_null_fraction": ("mlpublishColumnNullFractionToBeAtMost", "COLUMN"),  # columnValuesMissingCount is a count
    "in_range": ("columnValuesToBeBetween", "COLUMN"),  # seed: minValue, maxValue (both optional)
    "in_set": ("columnValuesToBeInSet", "COLUMN"),  # seed: allowedValues (required, a JSON array)
}
# CreateTestDefinitionRequest bodies of the definitions mlpublish declares (the server has no equivalent)
CUSTOM_DEFINITIONS: dict[str, dict[str, Any]] = {
    "mlpublishColumnTypeToBe": {
        "name": "mlpublishColumnTypeToBe",
        "displayName": "Column Type To Be (mlpublish)",
        "description": "The column's values have the logical type the model was trained on "
        "(integer, number, string, boolean, datetime). Checked by mlpublish at scoring and monitoring.",
        "entityType": "COLUMN",
        "testPlatforms": ["Other"],
        "parameterDefinition": [
            {
                "name": "type",
                "displayName": "Type",
                "dataType": "STRING",
                "required": True,
                "description": "The logical type: integer, number, string, boolean or datetime.",
            },
        ],
        "dataQualityDimension": "Validity",
    },
    "mlpublishColumnNullFractionToBeAtMost": {
        "name": "mlpublishColumnNullFractionToBeAtMost",
        "displayName": "Column Null Fraction To Be At Most (mlpublish)",
        "description": "The share of nulls in the rows checked is at most maxNullFraction. "
        "Checked by mlpublish at scoring and monitoring.",
        "entityType": "COLUMN",
        "testPlatforms": ["Other"],
        "parameterDefinition": [
            {
                "name": "maxNullFraction",
                "displayName": "Max null fraction",
                "dataType": "NUMBER",
                "required": True,
                "description": "The largest share of nulls allowed, between 0 and 1.",
            },
        ],
        "dataQualityDimension": "Completeness",
    },
}
# table.Column dataType of a contract column in the DataContract's schema
COLUMN_TYPES = {
    "integer": "BIGINT",
    "number": "DOUBLE",
    "string": "STRING",
    "boolean": "BOOLEAN",
    "datetime": "TIMESTAMP",
}
STATUSES = ("Success", "Failed")


def quote(name: str) -> str:
    """FullyQualifiedName.quoteName (metadata.utils.fqn.quote_name): a name with a dot is quoted."""
    if '"' in name:
        raise ValueError(f"name {name!r}: a name may not contain a double quote")
    return f'"{name}"' if "." in name else name


def contract_fqn(table_fqn: str, name: str) -> str:
    """DataContractRepository.setFullyQualifiedName: ``<entity FQN>.dataContract_<name>`` (not quoted)."""
    return f"{table_fqn}.dataContract_{name}"


@dataclass(frozen=True)
class CaseSpec:
    """One rule as a CreateTestCaseRequest, and the FQN the server gives it."""

    name: str
    column: str
    rule: str
    definition: str
    entity_link: str
    parameters: tuple[tuple[str, str], ...]
    fqn: str
    description: str

    def request(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "testDefinition": self.definition,
            "entityLink": self.entity_link,
            "parameterValues": [{"name": n, "value": v} for n, v in self.parameters],
        }


def case_name(contract_name: str, column: str, rule: str) -> str:
    return f"{contract_name}_{column}_{rule}"


def _parameters(rule: Rule) -> tuple[tuple[str, str], ...]:
    p = rule.params
    if rule.rule == "present":
        return (("columnName", rule.column),)
    if rule.rule == "type":
        return (("type", str(p["type"])),)
    if rule.rule == "max_null_fraction":
        return (("maxNullFraction", repr(float(p["maxNullFraction"]))),)
    if rule.rule == "in_range":
        bounds = (("minValue", p.get("minimum")), ("maxValue", p.get("maximum")))
        return tuple((n, repr(float(v))) for n, v in bounds if v is not None)
    if rule.rule == "in_set":
        return (("allowedValues", json.dumps(list(p["categories"]))),)
    return ()


def case_link(table_fqn: str, contract_name: str, column: str, rule: str) -> tuple[str, str]:
    """The test case's entity link and FQN. TestCaseRepository.setFullyQualifiedName: ``<the link's field value>.
    <quoted name>``, where a column link's field value is ``<table FQN>.<quoted column>``, a table link's the table."""
    _, level = DEFINITIONS[rule]
    name = case_name(contract_name, column, rule)
    if level == "COLUMN":
        return f"<#E::table::{table_fqn}::columns::{column}>", f"{table_fqn}.{quote(column)}.{quote(name)}"
    return f"<#E::table::{table_fqn}>", f"{table_fqn}.{quote(name)}"


def case_spec(table_fqn: str, contract_name: str, rule: Rule) -> CaseSpec:
    definition, _ = DEFINITIONS[rule.rule]
    name = case_name(contract_name, rule.column, rule.rule)
    link, fqn = case_link(table_fqn, contract_name, rule.column, rule.rule)
    kind = "stated in the spec" if rule.stated else "learned from the training rows"
    return CaseSpec(
        name=name,
        column=rule.column,
        rule=rule.rule,
        definition=definition,
        entity_link=link,
        parameters=_parameters(rule),
        fqn=fqn,
        description=f"Data contract {contract_name}: rule {rule.rule} on column {rule.column} ({kind}).",
    )


def case_specs(table_fqn: str, contract_name: str, contract: DataContract) -> list[CaseSpec]:
    return [case_spec(table_fqn, contract_name, r) for r in contract.rules()]


def schema(contract: DataContract) -> list[dict[str, Any]]:
    """The DataContract's schema: the contract's columns as table.Column (name and dataType)."""
    return [{"name": c.name, "dataType": COLUMN_TYPES[c.type]} for c in contract.columns]


def description(contract: DataContract, model_fqn: str | None) -> str:
    """The same for every version of the model's contract (a bot's PUT keeps a description it once set:
    EntityUpdater.updateDescription); what a version learned is in its test cases' parameters."""
    owner = f"model {model_fqn}" if model_fqn else f"model {contract.model}"
    return (
        f"The data contract of {owner}, learned by mlpublish from its training rows of {contract.table} and "
        "the spec's data.contract: one test case per rule; every scoring and monitor run records its results."
    )


def timestamp_ms(at: str) -> int:
    """A result's timestamp (Unix ms) from the event's ISO-8601 time: the key of a result in OpenMetadata."""
    dt = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(round(dt.timestamp() * 1000))


def result_request(result: dict[str, Any], ts: int, run_id: str) -> dict[str, Any]:
    """A CreateTestCaseResult from one result of a RecordContractResults event."""
    status = result["status"]
    if status not in STATUSES:
        raise ValueError(
            f"contract result {result.get('column')}.{result.get('rule')}: status {status!r} is not one of {STATUSES}"
        )
    count = int(result.get("count") or 0)
    observed = str(result.get("observed") or "")
    text = f"run {run_id}: " + (f"{count} row(s) broke the rule ({observed})" if status == "Failed" else "passed")
    body: dict[str, Any] = {
        "timestamp": ts,
        "testCaseStatus": status,
        "result": text,
        "testResultValue": [{"name": "failedRows", "value": str(count)}, {"name": "observed", "value": observed}],
    }
    rows = result.get("rows")
    if isinstance(rows, int) and rows >= 0:
        failed = min(count, rows)
        body.update(passedRows=rows - failed, failedRows=failed)
        if rows:
            body.update(
                passedRowsPercentage=round(100.0 * (rows - failed) / rows, 4),
                failedRowsPercentage=round(100.0 * failed / rows, 4),
            )
    return body

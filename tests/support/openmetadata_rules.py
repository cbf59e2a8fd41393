"""The OpenMetadata server's rules the emulator enforces, each ported from the server's own source.

Sources are files of ``open-metadata/OpenMetadata`` under
``openmetadata-service/src/main/java/org/openmetadata/service/``; every function names the file and
method it follows. Pure functions over entity JSON, so ``tests/openmetadata/test_emulator_rules.py``
can check them one by one against the server's own test cases.
"""

from __future__ import annotations

import json
import re
from typing import Any

# EntityRepository.EntityUpdater.sessionTimeoutMillis: changes by one user within 10 minutes are consolidated.
SESSION_TIMEOUT_MS = 10 * 60 * 1000
# MlModelRepository.MlModelUpdater.updateAlgorithm/updateServer/updateTarget set majorVersionChange.
MAJOR_FIELDS = {"mlmodel": ("algorithm", "server", "target")}
# Fields that are not the entity's content: never a change (EntityUpdater compares content fields only).
META = {
    "id",
    "version",
    "updatedAt",
    "updatedBy",
    "href",
    "changeDescription",
    "incrementalChangeDescription",
    "fullyQualifiedName",
    "deleted",
    "_type",
}
# What the server holds but a Create request does not carry (EntityMapper.copy + MlModelMapper.createToEntity
# copy every other field from the request, so a PUT that omits one of those removes it).
SERVER_HELD = ("followers", "votes", "usageSummary", "domains", "dataProducts", "serviceType")


class RuleError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def next_version(version: float, major: bool) -> float:
    """util/EntityUtil.nextVersion / nextMajorVersion: Math.round((v + 0.1 or 1.0) * 10) / 10."""
    return round(version + (1.0 if major else 0.1), 1)


def _canonical(value: Any) -> Any:
    """Owners and other reference lists compare by id (EntityUtil.entityReferenceMatch), order aside."""
    if isinstance(value, list) and value and all(isinstance(v, dict) and "id" in v and "type" in v for v in value):
        return sorted(v["id"] for v in value)
    return json.loads(json.dumps(value, sort_keys=True))


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The content fields that differ (EntityUpdater.recordChange / recordListChange on each field)."""
    keys = (set(old) | set(new)) - META
    return sorted(
        k
        for k in keys
        if not k.startswith("_") and _canonical(old.get(k)) != _canonical(new.get(k)) and (old.get(k) or new.get(k))
    )


def is_major(entity_type: str, changed: list[str]) -> bool:
    return any(k in changed for k in MAJOR_FIELDS.get(entity_type, ()))


def consolidates(
    operation: str, original: dict[str, Any], user: str, now_ms: int, timeout_ms: int = SESSION_TIMEOUT_MS
) -> bool:
    """EntityRepository.EntityUpdater.consolidateChanges: a PATCH by the user who made the current version,
    within the session timeout, of an entity past its first version, is folded into the current version.
    (The server also requires the change source to differ from the last one recorded in the change summary;
    mlpublish never sends a changeSource, so that condition is taken as met.)"""
    return (
        operation == "PATCH"
        and original["version"] > 0.1
        and not original.get("deleted")
        and original.get("updatedBy") == user
        and now_ms - original.get("updatedAt", 0) <= timeout_ms
    )


def versioned(
    entity_type: str,
    history: list[dict[str, Any]],
    updated: dict[str, Any],
    operation: str,
    user: str,
    now_ms: int,
    timeout_ms: int = SESSION_TIMEOUT_MS,
) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """EntityUpdater.update + updateVersion + storeUpdate: the new history (oldest first, the last entry the
    current entity) after ``updated`` is stored, or None when nothing changed (version and history kept).

    Consolidation (EntityUpdater.revert): the change is measured from the version before the current one; the
    current version is replaced, and when the change undoes it entirely the entity goes back to that version
    (removeEntityHistory)."""
    original = history[-1]
    if not changed_fields(original, updated):
        return None
    base, kept = original, history
    if len(history) > 1 and consolidates(operation, original, user, now_ms, timeout_ms):
        base, kept = history[-2], history[:-1]
    changed = changed_fields(base, updated)
    if not changed:  # a revert: v0 -> v1 -> v0 is v0 again
        new = {k: v for k, v in updated.items() if k != "changeDescription"}
        new["version"] = base["version"]
        if base.get("changeDescription"):
            new["changeDescription"] = base["changeDescription"]
        return [*kept[:-1], new], new
    new = {
        **updated,
        "version": next_version(base["version"], is_major(entity_type, changed)),
        "updatedAt": now_ms,
        "updatedBy": user,
        "changeDescription": {
            "fieldsAdded": [{"name": k, "newValue": json.dumps(updated[k])} for k in changed if k not in base],
            "fieldsUpdated": [
                {"name": k, "oldValue": json.dumps(base[k]), "newValue": json.dumps(updated[k])}
                for k in changed
                if k in base and k in updated
            ],
            "fieldsDeleted": [{"name": k, "oldValue": json.dumps(base[k])} for k in changed if k not in updated],
            "previousVersion": base["version"],
        },
    }
    return [*kept, new], new


def put_update(original: dict[str, Any], request: dict[str, Any], by_bot: bool) -> dict[str, Any]:
    """What a PUT of an existing entity stores (EntityRepository.createOrUpdate -> EntityUpdater.updateInternal):

    * every field of the Create request replaces the stored one, an omitted field is removed
      (resources/mlmodels/MlModelMapper.createToEntity copies server, mlStore, target, dashboard ... as sent);
    * description: a bot's PUT keeps a non-empty description (EntityUpdater.updateDescription);
    * owners: replaced when the request carries owners, kept when it carries none (EntityUpdater.updateOwners);
    * extension: a bot's PUT, or a PUT without one, keeps the stored extension (EntityUpdater.updateExtension);
    * tags: merged, a PUT never removes a tag (EntityUpdater.updateTags), sorted by tagFQN;
    * domains: a bot's PUT keeps non-empty domains (EntityUpdater.updateDomains).
    """
    new = {k: v for k, v in original.items() if k in META or k in SERVER_HELD}
    new.update(request)
    if by_bot and original.get("description"):
        new["description"] = original["description"]
    if not request.get("owners"):
        if original.get("owners"):
            new["owners"] = original["owners"]
        else:
            new.pop("owners", None)
    if (by_bot or request.get("extension") is None) and "extension" in original:
        new["extension"] = original["extension"]
    tags = merge_tags(original.get("tags") or [], request.get("tags") or [])
    if tags:
        new["tags"] = tags
    return new


def merge_tags(stored: list[dict[str, Any]], sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """EntityUpdater.updateTags for PUT: the request's new tags join the stored ones (EntityUtil.mergeTags)."""
    have = {t["tagFQN"] for t in stored}
    return sort_tags([*stored, *(t for t in sent if t["tagFQN"] not in have)])


def sort_tags(tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """EntityUtil.compareTagLabel: tags come back ordered by tagFQN."""
    return sorted(tags, key=lambda t: t["tagFQN"])


def check_mutually_exclusive(tags: list[dict[str, Any]], exclusive_parents: set[str]) -> None:
    """util/TagLabelUtil.checkMutuallyExclusive: two tags whose parent is mutually exclusive are a 400,
    naming the later tag first (CatalogExceptionMessage.mutuallyExclusiveLabels(tagLabel, stored))."""
    seen: dict[str, str] = {}
    for t in tags:
        fqn = t["tagFQN"]
        parent = fqn.rsplit(".", 1)[0]
        stored = seen.get(parent)
        seen[parent] = fqn
        if stored is not None and parent in exclusive_parents:
            raise RuleError(400, f"Tag labels {fqn} and {stored} are mutually exclusive and can't be assigned together")


def check_disabled(tags: list[dict[str, Any]], disabled: set[str]) -> None:
    """EntityRepository.checkDisabledTags (CatalogExceptionMessage.disabledTag)."""
    for t in tags:
        if t["tagFQN"] in disabled:
            raise RuleError(400, f"Tag label {t['tagFQN']} is disabled and can't be assigned to a data asset.")


def check_owner_team(team: dict[str, Any]) -> None:
    """EntityRepository.validateOwners: only a team of type Group may own (CatalogExceptionMessage.invalidTeamOwner)."""
    if team.get("teamType", "Group") != "Group":
        raise RuleError(
            400, f"Team of type {team['teamType']} can't own entities. Only Team of type Group can own entities."
        )


def container_fqn(data: dict[str, Any], quoted_name: str) -> str:
    """jdbi3/ContainerRepository.setFullyQualifiedName: under its parent container when it has one, else under its
    storage service (FullyQualifiedName.add quotes a name with a dot); setColumnFQN gives each data-model column
    ``<container FQN>.<column>``. ``data``: the request with ``service`` and ``parent`` resolved to references."""
    parent = data.get("parent") or data["service"]
    fqn = f"{parent['fullyQualifiedName']}.{quoted_name}"
    for col in (data.get("dataModel") or {}).get("columns", []):
        col["fullyQualifiedName"] = f"{fqn}.{col['name']}"
    return fqn


def children_names(entity: dict[str, Any]) -> set[str]:
    """LineageRepository.getChildrenNames: a table's columns, an ML model's features (``<modelFQN>.<feature>``),
    a container's data-model columns (none without a data model)."""
    if entity["_type"] == "table":
        return {c["name"] for c in entity.get("columns", [])}
    if entity["_type"] == "container":
        return {c["name"] for c in (entity.get("dataModel") or {}).get("columns", [])}
    if entity["_type"] == "mlmodel":
        return {f["name"] for f in entity.get("mlFeatures", [])}
    return set()


def filter_column_lineage(
    columns: list[dict[str, Any]], from_entity: dict[str, Any], to_entity: dict[str, Any]
) -> list[dict[str, Any]]:
    """LineageRepository.validateLineageDetails: column lineage naming a child that does not exist is dropped
    (not refused): a toColumn that is no child drops its entry, an unknown fromColumn is left out, and an entry
    left with no fromColumns is dropped."""
    to_children, from_children = children_names(to_entity), children_names(from_entity)
    out = []
    for c in columns:
        if c["toColumn"].replace(to_entity["fullyQualifiedName"] + ".", "") not in to_children:
            continue
        kept = [f for f in c["fromColumns"] if f.replace(from_entity["fullyQualifiedName"] + ".", "") in from_children]
        if kept:
            out.append({**c, "fromColumns": kept})
    return out


def check_extension_value(name: str, kind: str, value: Any) -> None:
    """EntityRepository.validateExtension: each value must be valid JSON for its property's declared type."""
    ok = {
        "string": isinstance(value, str),
        "markdown": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
    }.get(kind, True)
    if not ok:
        raise RuleError(400, f"Custom field {name} has invalid JSON [{kind} expected, got {json.dumps(value)}]")


# Data quality and data contracts (the routes are in openmetadata_quality) ---------------------------------
# The server's seed test definitions mlpublish uses (json/data/tests/<name>.json): entity type and parameters.
SEED_DEFINITIONS: dict[str, dict[str, Any]] = {
    "tableColumnNameToExist": {
        "entityType": "TABLE",
        "parameterDefinition": [{"name": "columnName", "dataType": "STRING", "required": True}],
    },
    "columnValuesToBeNotNull": {"entityType": "COLUMN", "parameterDefinition": []},
    "columnValuesToBeBetween": {
        "entityType": "COLUMN",
        "parameterDefinition": [{"name": "minValue", "dataType": "INT"}, {"name": "maxValue", "dataType": "INT"}],
    },
    "columnValuesToBeInSet": {
        "entityType": "COLUMN",
        "parameterDefinition": [{"name": "allowedValues", "dataType": "ARRAY", "required": True}],
    },
    "columnValuesMissingCount": {
        "entityType": "COLUMN",
        "parameterDefinition": [
            {"name": "missingCountValue", "dataType": "INT", "required": True},
            {"name": "missingValueMatch", "dataType": "ARRAY"},
        ],
    },
}
ENTITY_LINK = re.compile(r"^<#E::(\w+)::(.+)>$")


def parse_entity_link(link: str) -> tuple[str, str, str | None, str | None]:
    """resources/feeds/MessageParser.EntityLink.parse: ``<#E::{type}::{fqn}[::{field}[::{arrayField}]]>``."""
    m = ENTITY_LINK.match(link)
    if m is None:
        raise RuleError(400, f"Entity link was not found in {link}")
    parts = m.group(2).split("::")
    field = parts[1] if len(parts) > 1 else None
    array_field = parts[2] if len(parts) > 2 else None
    return m.group(1), parts[0], field, array_field


def check_parameters(values: list[dict[str, Any]] | None, definition: dict[str, Any]) -> None:
    """jdbi3/TestCaseRepository.validateTestParameters (and getParameterValuesMap)."""
    if values is None:
        return
    defined = definition.get("parameterDefinition") or []
    if not defined and values:
        raise RuleError(400, "Parameter Values doesn't match Test Definition Parameters")
    if "GreatExpectations" in definition.get("testPlatforms", []) or definition["name"] == "tableDiff":
        return
    names = {p["name"] for p in defined}
    given = {}
    for v in values:
        if v.get("name") not in names:
            raise RuleError(
                400,
                f"Parameter '{v.get('name')}' is not defined in the test definition. Defined parameters are: "
                f"[{', '.join(sorted(names))}]",
            )
        given[v["name"]] = v.get("value")
    for p in defined:
        if p.get("required") and given.get(p["name"]) is None:
            raise RuleError(400, f"Required parameter {p['name']} is not passed in parameterValues")


def check_column_test(table: dict[str, Any], field: str | None, column: str | None, entity_type: str) -> None:
    """jdbi3/TestCaseRepository.validateColumnTestCase (and ColumnUtil.validateColumn for the column)."""
    if entity_type != "COLUMN":
        return
    if field is None:
        raise RuleError(
            400,
            "Column test case must have a field name and an array field name in the entity link. "
            "e.g. <#E::table::{entityFqn}::columns::{columnName}>",
        )
    if field != "columns":
        raise RuleError(
            400,
            f"Invalid field name '{field}' for column test case. It should be 'columns'. "
            "e.g. <#E::table::{entityFqn}::columns::{columnName}>",
        )
    if column is not None and column not in {c["name"] for c in table.get("columns", [])}:
        raise RuleError(400, f"Invalid column name {column}")


def check_contract_schema(contract: dict[str, Any], table: dict[str, Any]) -> None:
    """jdbi3/DataContractRepository.prepare -> validateSchemaFieldsAgainstEntity / validateFieldsAgainstTable."""
    fields = [c["name"] for c in contract.get("schema") or []]
    if not fields:
        return
    have = {c["name"] for c in table.get("columns") or []}
    failed = [f for f in fields if f not in have]
    if failed:
        raise RuleError(
            400,
            "Schema validation failed. The following fields specified in the data contract do not exist in the "
            f"table: {', '.join(failed)}",
        )

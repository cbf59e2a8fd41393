"""Catalog events: what a step tells the catalog, in the OpenMetadata standard's terms.

Steps emit events; a sink applies them. Events are plain JSON-able values, so a
sink can queue them durably (the OpenMetadata sink's outbox) and replay them:
applying the same event twice must leave the same state.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

VALIDATION_CLASSIFICATION = "ModelValidation"
VALIDATION_STATES = ("PENDING", "PASSED", "FAILED")


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Event):
    name: str
    dataType: str


class UpsertTable(_Event):
    kind: Literal["upsert_table"] = "upsert_table"
    fqn: str
    columns: list[Column]
    description: str | None = None


class UpsertContainer(_Event):
    """A Parquet dataset as OpenMetadata's Container (a path of an object store or file system, under a storage
    service): ``fqn`` is ``<service>.<name>``, the columns are its data model, partitioned by ``partitionColumns``."""

    kind: Literal["upsert_container"] = "upsert_container"
    fqn: str
    service: str
    name: str
    fullPath: str
    columns: list[Column]
    fileFormats: list[str] = ["parquet"]
    partitionColumns: list[str] = []
    description: str | None = None


class UpsertMlModel(_Event):
    """Create or update the MlModel; ``entity`` has the fields of CreateMlModelRequest."""

    kind: Literal["upsert_mlmodel"] = "upsert_mlmodel"
    fqn: str
    entity: dict[str, Any]


class SetValidationTag(_Event):
    """Swap the model's ModelValidation tag (mutually exclusive: exactly one at a time)."""

    kind: Literal["set_validation_tag"] = "set_validation_tag"
    fqn: str
    status: Literal["PENDING", "PASSED", "FAILED"]


class SetModelProperties(_Event):
    """Merge registry facts into the model's custom properties (``extension``)."""

    kind: Literal["set_model_properties"] = "set_model_properties"
    fqn: str
    properties: dict[str, Any]


class ColumnLineage(_Event):
    fromColumns: list[str]
    toColumn: str


class AddLineage(_Event):
    kind: Literal["add_lineage"] = "add_lineage"
    from_fqn: str
    from_type: Literal["table", "mlmodel", "container"]
    to_fqn: str
    to_type: Literal["table", "mlmodel", "container"]
    columns: list[ColumnLineage] = []
    pipeline: dict[str, str] | None = None
    description: str | None = None


class RecordAliasChange(_Event):
    """An alias move in the registry (champion history, rollbacks)."""

    kind: Literal["record_alias_change"] = "record_alias_change"
    fqn: str
    alias: str
    version: str
    previous: str | None
    action: str
    at: str


class UpsertDataContract(_Event):
    """A model's data contract on the table it was learned from: an OpenMetadata DataContract (schema and quality
    expectations) with one test case per rule. ``contract`` is the JSON of
    :class:`mlpublish.contracts.DataContract`; ``name`` is unique per table (e.g. ``<model> features``)."""

    kind: Literal["upsert_data_contract"] = "upsert_data_contract"
    table_fqn: str
    name: str
    model_fqn: str | None = None
    contract: dict[str, Any]


class RecordContractResults(_Event):
    """The outcome of one scoring or monitor run's contract checks on a table: one result per rule of the
    contract (``{"column", "rule", "status": "Success"|"Failed", "observed", "count", "rows"}``), as OpenMetadata
    test case results at ``at`` (ISO-8601 UTC). Applying it twice records one result per rule and run."""

    kind: Literal["record_contract_results"] = "record_contract_results"
    table_fqn: str
    contract_name: str
    run_id: str
    at: str
    results: list[dict[str, Any]]


CatalogEvent = Annotated[
    UpsertTable
    | UpsertContainer
    | UpsertMlModel
    | SetValidationTag
    | SetModelProperties
    | AddLineage
    | RecordAliasChange
    | UpsertDataContract
    | RecordContractResults,
    Field(discriminator="kind"),
]

_EVENTS = TypeAdapter(list[CatalogEvent])


def parse_events(data: Any) -> list[Any]:
    """Events from their JSON form (the outbox, replays, a run's ``catalog/events.json``)."""
    return _EVENTS.validate_python(data)

"""The writes: each catalog event applied to the server through the SDK (imported on first use).

Every write is idempotent (PUT of the same entity, JSON Patch computed against the current state,
PUT of the same lineage edge), so applying an event twice changes nothing.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from mlpublish.catalog.events import (
    VALIDATION_CLASSIFICATION,
    VALIDATION_STATES,
    AddLineage,
    RecordAliasChange,
    RecordContractResults,
    SetModelProperties,
    SetValidationTag,
    UpsertContainer,
    UpsertDataContract,
    UpsertMlModel,
    UpsertTable,
)
from mlpublish.catalog.openmetadata.client import Client
from mlpublish.catalog.openmetadata.errors import Rejected, classify
from mlpublish.catalog.openmetadata.payloads import (
    FEATURE_SOURCE_EDGE,
    STORAGE_SERVICE_DESCRIPTION,
    VALIDATION_CLASSIFICATION_DESCRIPTION,
    VALIDATION_DESCRIPTIONS,
    comparable,
    container_request,
    feature_source_tables,
    lineage_details,
    model_body,
    stale_feature_source_edges,
    table_columns,
)
from mlpublish.catalog.openmetadata.properties import (
    VALUE_TYPE,
    as_property_type,
    property_description,
    property_values,
    undeclared,
)
from mlpublish.catalog.openmetadata.quality import record_contract_results, upsert_data_contract

log = logging.getLogger("mlpublish.catalog.openmetadata")


class Session(Client):
    """One delivery: a Client that applies events, in the order given."""

    def deliver(self, ev: Any) -> None:
        if isinstance(ev, UpsertTable):
            self.upsert_table(ev)
        elif isinstance(ev, UpsertContainer):
            self.upsert_container(ev)
        elif isinstance(ev, UpsertMlModel):
            self.upsert_model(ev)
        elif isinstance(ev, SetValidationTag):
            self.set_tag(ev)
        elif isinstance(ev, SetModelProperties):
            self.set_properties(ev)
        elif isinstance(ev, AddLineage):
            self.add_lineage(ev)
        elif isinstance(ev, UpsertDataContract):
            upsert_data_contract(self, ev)
        elif isinstance(ev, RecordContractResults):
            record_contract_results(self, ev)
        elif isinstance(ev, RecordAliasChange):
            pass  # alias history lives in the local mirror; OpenMetadata gets the `aliases` property
        else:  # pragma: no cover
            raise Rejected(f"unknown catalog event {ev!r}")

    # Tables --------------------------------------------------------------------
    def upsert_table(self, ev: UpsertTable) -> None:
        """Register a table OpenMetadata does not know from the warehouse's reflected schema.
        A table it knows is left alone: its ingestion owns it."""
        if self.table(ev.fqn) is not None:
            return
        parts = ev.fqn.split(".")
        if len(parts) != 4:
            raise Rejected(f"table {ev.fqn}: a table FQN is <service>.<database>.<schema>.<table>")
        if not self.settings.create_missing_tables:
            raise Rejected(
                f"table {ev.fqn} is not in OpenMetadata and creating missing tables is off "
                "(MLPUBLISH_CATALOG_CREATE_TABLES=false): ingest the warehouse into OpenMetadata first"
            )
        from metadata.generated.schema.api.data.createDatabase import CreateDatabaseRequest
        from metadata.generated.schema.api.data.createDatabaseSchema import CreateDatabaseSchemaRequest
        from metadata.generated.schema.api.data.createTable import CreateTableRequest
        from metadata.generated.schema.api.services.createDatabaseService import CreateDatabaseServiceRequest
        from metadata.generated.schema.entity.data.database import Database
        from metadata.generated.schema.entity.data.databaseSchema import DatabaseSchema
        from metadata.generated.schema.entity.services.databaseService import DatabaseService

        service, database, schema, name = parts
        om = self.om
        self.ensure(
            f"databaseService {service}",
            lambda: om.get_by_name(DatabaseService, service),
            lambda: om.create_or_update(
                CreateDatabaseServiceRequest(
                    name=service, serviceType="CustomDatabase", description="Warehouse registered by mlpublish"
                )
            ),
        )
        db_fqn, schema_fqn = f"{service}.{database}", f"{service}.{database}.{schema}"
        self.ensure(
            f"database {db_fqn}",
            lambda: om.get_by_name(Database, db_fqn),
            lambda: om.create_or_update(CreateDatabaseRequest(name=database, service=service)),
        )
        self.ensure(
            f"databaseSchema {schema_fqn}",
            lambda: om.get_by_name(DatabaseSchema, schema_fqn),
            lambda: om.create_or_update(CreateDatabaseSchemaRequest(name=schema, database=db_fqn)),
        )
        request = self.call(
            f"table {ev.fqn}",
            CreateTableRequest.model_validate,
            {
                "name": name,
                "databaseSchema": schema_fqn,
                "columns": table_columns(ev),
                **({"description": ev.description} if ev.description else {}),
            },
        )
        self.tables[ev.fqn] = self.call(f"create table {ev.fqn}", om.create_or_update, request)
        log.info("registered table %s in OpenMetadata from the warehouse schema", ev.fqn)

    def upsert_container(self, ev: UpsertContainer) -> None:
        """The Parquet dataset as a Container of its storage service (created when missing): a PUT of the whole
        request, so a replay changes nothing and a new column reaches its data model."""
        from metadata.generated.schema.api.data.createContainer import CreateContainerRequest
        from metadata.generated.schema.api.services.createStorageService import CreateStorageServiceRequest
        from metadata.generated.schema.entity.services.storageService import StorageService

        om = self.om
        self.ensure(
            f"storageService {ev.service}",
            lambda: om.get_by_name(StorageService, ev.service),
            lambda: om.create_or_update(
                CreateStorageServiceRequest(
                    name=ev.service, serviceType="CustomStorage", description=STORAGE_SERVICE_DESCRIPTION
                )
            ),
        )
        request = self.call(f"container {ev.fqn}", CreateContainerRequest.model_validate, container_request(ev))
        self.containers[ev.fqn] = self.call(f"create container {ev.fqn}", om.create_or_update, request)

    # Model ---------------------------------------------------------------------
    def upsert_model(self, ev: UpsertMlModel) -> None:
        """One PUT carrying the whole entity we mean the server to hold (a PUT removes what it omits), then a
        JSON Patch for the description a bot's PUT cannot change, then the feature-source lineage upkeep."""
        from metadata.generated.schema.api.data.createMlModel import CreateMlModelRequest
        from metadata.generated.schema.api.services.createMlModelService import CreateMlModelServiceRequest
        from metadata.generated.schema.entity.services.mlmodelService import MlModelService

        e = ev.entity
        service = e["service"]
        om = self.om
        dashboard = self.dashboard(ev.fqn, e.get("dashboard"))  # looked up before any write
        self.ensure(
            f"mlmodelService {service}",
            lambda: om.get_by_name(MlModelService, service),
            lambda: om.create_or_update(
                CreateMlModelServiceRequest(
                    name=service, serviceType="Mlflow", description="Models published by mlpublish"
                )
            ),
        )
        body = model_body(ev.fqn, e, self.table_id)
        # Owners policy: the spec is the source of truth when it names owners (a PUT carrying owners replaces
        # them); a spec naming none keeps the owners set in the UI (a PUT without owners keeps them).
        owners = [r for r in (self.owner(o) for o in e.get("owners", [])) if r]
        if owners:
            body["owners"] = owners
        if dashboard:
            body["dashboard"] = dashboard
        try:
            request = CreateMlModelRequest.model_validate(body)
        except Exception as exc:
            raise Rejected(f"mlmodel {ev.fqn}: {exc}") from None
        stored = self.call(f"mlmodel {ev.fqn}", om.create_or_update, request)
        self.models.pop(ev.fqn, None)  # PUT answers without tags/extension: read them fresh when needed
        # A bot's PUT keeps a non-empty description (EntityRepository.EntityUpdater.updateDescription): patch it.
        if request.description is not None and comparable(stored.description) != comparable(request.description):

            def describe(dest: Any) -> None:
                dest.description = request.description

            self.patch_model(ev.fqn, describe, "description")
        self.keep_feature_lineage(ev.fqn, str(stored.id.root), feature_source_tables(body))

    def dashboard(self, fqn: str, ref: dict[str, str] | None) -> str | None:
        """The dashboard's FQN as CreateMlModelRequest wants it (the server looks it up by name and answers 404
        for an unknown one, refusing the whole model): an unknown dashboard is left out with a warning."""
        if not ref:
            return None
        name = ref["fullyQualifiedName"]
        if self.lookup("dashboard", name) is None:
            log.warning("mlmodel %s: dashboard %s is not in OpenMetadata; left out of the model", fqn, name)
            return None
        return name

    def keep_feature_lineage(self, fqn: str, model_id: str, wanted: set[str]) -> None:
        """The server draws table -> model edges from feature sources only when it creates the model: when a
        spec adds, moves or removes a source, the sink adds and removes those edges itself."""
        from metadata.generated.schema.api.lineage.addLineage import AddLineageRequest

        what = f"feature-source lineage of mlmodel {fqn}"
        lineage = self.call(what, self.om.client.get, f"/lineage/mlmodel/{model_id}?upstreamDepth=1&downstreamDepth=0")
        have = {e["fromEntity"] for e in lineage.get("upstreamEdges", []) if e["toEntity"] == model_id}
        for table in sorted(wanted - have):
            request = AddLineageRequest.model_validate(
                {
                    "edge": {
                        "fromEntity": {"id": table, "type": "table"},
                        "toEntity": {"id": model_id, "type": "mlmodel"},
                        "lineageDetails": {"source": "Manual", "description": f"{FEATURE_SOURCE_EDGE} {fqn}"},
                    }
                }
            )
            self.call(what, self.om.client.put, "/lineage", data=request.model_dump_json(exclude_none=True))
        for table in stale_feature_source_edges(lineage, wanted):
            try:
                self.om.client.delete(f"/lineage/table/{table}/mlmodel/{model_id}")
            except Exception as exc:
                err = classify(exc, what)
                if not (isinstance(err, Rejected) and "404" in str(err)):  # already gone: what we wanted
                    raise err from None

    def set_tag(self, ev: SetValidationTag) -> None:
        from metadata.generated.schema.type.tagLabel import TagLabel

        self.ensure_classification()
        wanted = f"{VALIDATION_CLASSIFICATION}.{ev.status}"

        def swap(dest: Any) -> None:
            kept = [t for t in (dest.tags or []) if not t.tagFQN.root.startswith(VALIDATION_CLASSIFICATION + ".")]
            mine = [t for t in (dest.tags or []) if t.tagFQN.root == wanted]
            dest.tags = kept + (
                mine[:1] or [TagLabel(tagFQN=wanted, source="Classification", labelType="Automated", state="Confirmed")]
            )

        self.patch_model(ev.fqn, swap, f"tag {wanted}")

    def ensure_classification(self) -> None:
        from metadata.generated.schema.api.classification.createClassification import CreateClassificationRequest
        from metadata.generated.schema.api.classification.createTag import CreateTagRequest
        from metadata.generated.schema.entity.classification.classification import Classification
        from metadata.generated.schema.entity.classification.tag import Tag

        om = self.om
        self.ensure(
            f"classification {VALIDATION_CLASSIFICATION}",
            lambda: om.get_by_name(Classification, VALIDATION_CLASSIFICATION),
            lambda: om.create_or_update(
                CreateClassificationRequest(
                    name=VALIDATION_CLASSIFICATION,
                    mutuallyExclusive=True,
                    description=VALIDATION_CLASSIFICATION_DESCRIPTION,
                )
            ),
        )
        for state in VALIDATION_STATES:
            fqn = f"{VALIDATION_CLASSIFICATION}.{state}"
            self.ensure(
                f"tag {fqn}",
                lambda fqn=fqn: om.get_by_name(Tag, fqn),
                lambda state=state: om.create_or_update(
                    CreateTagRequest(
                        name=state, classification=VALIDATION_CLASSIFICATION, description=VALIDATION_DESCRIPTIONS[state]
                    )
                ),
            )

    def set_properties(self, ev: SetModelProperties) -> None:
        values = self.ensure_properties(ev.fqn, property_values(ev.properties))
        if not values:
            return

        def merge(dest: Any) -> None:
            from metadata.generated.schema.type.basic import EntityExtension

            old = dict(dest.extension.root) if dest.extension is not None else {}
            dest.extension = EntityExtension({**old, **values})

        self.patch_model(ev.fqn, merge, "custom properties " + ", ".join(sorted(values)))

    def ensure_properties(self, fqn: str, values: dict[str, str]) -> dict[str, Any]:
        """Declare the missing custom properties on the mlmodel type (type read once per process), and return
        the values as their declared types want them.

        The SDK's create_or_update_custom_property re-reads the type for every property;
        we read it once and PUT each missing property with the same client. A property someone declared with
        another type is not redeclared: its value is sent as that type, or left out with a warning naming the
        property and its type (the server refuses the whole patch otherwise: EntityRepository.validateExtension).
        """
        from metadata.generated.schema.api.data.createCustomProperty import CreateCustomPropertyRequest
        from metadata.ingestion.models.custom_properties import CustomPropertyDataTypes

        if "mlmodel type" not in self.known:
            found = self.call(
                "mlmodel custom properties", self.om.client.get, "/metadata/types/name/mlmodel?fields=customProperties"
            )
            self.known["mlmodel type"] = (
                found["id"],
                {p["name"]: p["propertyType"].get("name", VALUE_TYPE) for p in found.get("customProperties") or []},
            )
        type_id, declared = self.known["mlmodel type"]
        missing = undeclared(values, set(declared))
        typed = self.typed_values(fqn, values, declared)
        if not missing:
            return typed
        value_type = self.call(
            f"custom property type {VALUE_TYPE}", self.om.get_property_type_ref, CustomPropertyDataTypes(VALUE_TYPE)
        )
        for name in missing:
            request = CreateCustomPropertyRequest(
                name=name, description=property_description(name), propertyType=value_type
            )
            self.call(
                f"define custom property mlmodel.{name}",
                self.om.client.put,
                f"/metadata/types/{type_id}",
                data=request.model_dump_json(),
            )
            declared[name] = VALUE_TYPE
        return typed

    @staticmethod
    def typed_values(fqn: str, values: dict[str, str], declared: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            kind = declared.get(name, VALUE_TYPE)
            try:
                out[name] = as_property_type(value, kind)
            except ValueError:
                log.warning(
                    "mlmodel %s: custom property %s is declared on the server as %s, not %s; its value %r "
                    "cannot be sent as %s: left out (declare it as %s to receive it)",
                    fqn,
                    name,
                    kind,
                    VALUE_TYPE,
                    value,
                    kind,
                    VALUE_TYPE,
                )
        return out

    # Lineage -------------------------------------------------------------------
    def add_lineage(self, ev: AddLineage) -> None:
        from metadata.generated.schema.api.lineage.addLineage import AddLineageRequest

        what = f"lineage {ev.from_fqn} -> {ev.to_fqn}"
        details = lineage_details(ev, lambda name: self.pipeline(name, what))
        request = AddLineageRequest.model_validate(
            {
                "edge": {
                    "fromEntity": self.ref(ev.from_type, ev.from_fqn, what),
                    "toEntity": self.ref(ev.to_type, ev.to_fqn, what),
                    "lineageDetails": details,
                }
            }
        )
        result = self.call(what, self.om.add_lineage, request, return_lineage=False)
        # add_lineage answers {"error": ...} instead of raising
        if isinstance(result, dict) and result.get("error"):
            err = RuntimeError(re.sub(r"trying to PUT lineage for \{.*\}: ", "", str(result["error"])))
            raise classify(err, what)

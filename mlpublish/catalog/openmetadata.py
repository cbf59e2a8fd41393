"""The OpenMetadata sink: catalog events delivered through the official SDK, via a durable outbox.

``publish`` applies the events to the local catalog file (the mirror that
``mlpublish catalog show`` reads) and queues them in its outbox in one
transaction, then delivers the queue in order. When the server is unreachable
or answers 5xx the events stay queued (the step goes on, unless ``strict``)
and the next publish or ``mlpublish catalog sync`` delivers them. A 4xx is the
event's fault: it is dead-lettered with the entity and field at fault and
reported, never retried by itself. Every delivery is idempotent (PUT of the
same entity, JSON Patch computed against the current state, PUT of the same
lineage edge), so delivering an event twice changes nothing.

The SDK is imported on first delivery: its import costs seconds.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from mlpublish.catalog.events import (
    VALIDATION_CLASSIFICATION,
    VALIDATION_STATES,
    AddLineage,
    RecordAliasChange,
    SetModelProperties,
    SetValidationTag,
    UpsertMlModel,
    UpsertTable,
)
from mlpublish.catalog.local import LocalCatalog
from mlpublish.catalog.outbox import Outbox
from mlpublish.config import OpenMetadataSettings
from mlpublish.errors import CatalogUnavailable
from mlpublish.redact import scrub

log = logging.getLogger("mlpublish.catalog.openmetadata")

# Custom properties of the MlModel entity type: registry facts the chain records.
PROPERTY_DESCRIPTIONS = {
    "latestVersion": "Latest registered model version in MLflow",
    "latestRunId": "MLflow run id of the latest trained candidate",
    "latestHyperParameters": "Hyperparameters of the latest candidate (JSON)",
    "latestMetrics": "Key metrics of the latest candidate on its held-out rows (JSON)",
    "mlflowExperimentId": "MLflow experiment id",
    "trainingRows": "Rows the latest candidate was trained on",
    "datasetDigest": "Digest of the latest training dataset",
    "lastTrainedAt": "When the latest candidate was trained (UTC, ISO 8601)",
    "environment": "mlpublish environment (dev, staging, prod ...) whose registry and catalog hold this model",
    "codeVersion": "Git commit of the spec's repository the latest candidate was trained from (-dirty: uncommitted changes)",
    "copiedFrom": "Origin (environment:model/version) of the latest copied version, or of the champion once it moves "
                  "(none: the champion was trained here)",
    "championCodeVersion": "Git commit the champion was trained from (-dirty: uncommitted changes)",
    "comparedChampionVersion": "Champion version the latest candidate was compared with",
    "validationSummary": "Validation result of the latest candidate (gates, smoke test, metadata)",
    "validatedRunId": "MLflow run id of the latest validated candidate",
    "aliases": "MLflow registry aliases (champion, challenger) -> version (JSON)",
    "championVersion": "Model version serving as champion",
    "previousChampionVersion": "Champion version before the last move",
    "championRunId": "MLflow run id of the champion",
    "lastPublishedAt": "When the champion last moved (UTC, ISO 8601)",
    "predictionsTable": "Table the champion's batch predictions are written to",
    "lastScoredAt": "When the last scoring run finished (UTC, ISO 8601)",
    "lastScoringRunId": "Id of the last scoring run (its rows carry it in scoring_run_id)",
    "lastScoredRows": "Rows written by the last scoring run",
    "lastScoredVersion": "Model version that produced the last predictions",
    "lastMonitoredAt": "When drift was last measured (UTC, ISO 8601)",
    "driftDetected": "Whether the last monitoring window drifted (true/false)",
    "driftedFeatures": "Features whose drift crossed a threshold in the last window",
    "driftSummary": "PSI per feature in the last window (JSON)",
    "retrainRequested": "Whether the last monitor run requested retraining (true/false)",
    "retrainReasons": "Why retraining was or was not requested",
    "monitorRunId": "MLflow run id of the last monitor run (its drift report is an artifact)",
    "monitoredVersion": "Champion version the last monitor run measured",
}
VALIDATION_DESCRIPTIONS = {
    "PENDING": "The candidate is being validated.",
    "PASSED": "The candidate passed every validation gate, the smoke test and the metadata checks.",
    "FAILED": "The candidate failed validation: never promoted.",
}
_TYPE_MAP = [  # SQL type name (from SQLAlchemy reflection) -> OpenMetadata column dataType
    ("BIGINT", "BIGINT"), ("SMALLINT", "SMALLINT"), ("INT", "INT"), ("DOUBLE", "DOUBLE"), ("FLOAT", "FLOAT"),
    ("REAL", "FLOAT"), ("NUMERIC", "NUMERIC"), ("DECIMAL", "DECIMAL"), ("BOOL", "BOOLEAN"),
    ("TIMESTAMP", "TIMESTAMP"), ("DATETIME", "DATETIME"), ("DATE", "DATE"), ("TIME", "TIME"),
    ("CHAR", "VARCHAR"), ("TEXT", "TEXT"), ("CLOB", "TEXT"), ("STRING", "STRING"), ("BLOB", "BLOB"),
    ("BYTEA", "BYTEA"), ("JSON", "JSON"),
]


def column_type(sql_type: str) -> str:
    upper = sql_type.upper()
    return next((om for key, om in _TYPE_MAP if key in upper), "UNKNOWN")


class Outage(Exception):
    """Unreachable, timed out or 5xx: try again later."""


class AuthRejected(Exception):
    """401/403: our credentials, not the event, are at fault."""


class Misconfigured(Exception):
    """The address or the server itself is wrong (not the API, version mismatch): no event is at fault."""


class Rejected(Exception):
    """4xx (or a rule of ours, like a missing table we may not create): the event is at fault."""


def _status_of(exc: BaseException) -> int | None:
    for e in (exc, exc.__cause__, exc.__context__):
        status = getattr(e, "status_code", None)
        if isinstance(status, int):
            return status
    m = re.search(r"\b(?:Error|HTTP) (\d{3})\b", str(exc))
    return int(m.group(1)) if m else None


def classify(exc: BaseException, what: str) -> Exception:
    """The SDK's exception for ``what`` (entity and action) as Outage, AuthRejected, Misconfigured or Rejected."""
    if isinstance(exc, (Outage, AuthRejected, Misconfigured, Rejected)):
        return exc
    status = _status_of(exc)
    kinds = {type(e).__name__ for e in (exc, exc.__cause__, exc.__context__) if e is not None}
    text = scrub(f"{what}: {f'HTTP {status} ' if status else ''}{exc.__class__.__name__}: {exc}")
    if status in (401, 403):
        return AuthRejected(f"{what}: HTTP {status}: the server refused the JWT token")
    if kinds & {"HtmlResponseError", "VersionMismatchException"}:
        return Misconfigured(text)
    if status is not None and 400 <= status < 500:
        return Rejected(text)
    if status is not None or kinds & {"RestTransportError", "ConnectionError", "Timeout", "VersionNotFoundException",
                                      "RetryException", "EmptyPayloadException"}:
        return Outage(text)
    return Rejected(text)


@dataclass
class SyncReport:
    delivered: int = 0
    pending: int = 0
    failed: list[str] = field(default_factory=list)
    outage: str | None = None


class OpenMetadataCatalog:
    """CatalogSink for an OpenMetadata server, with the local catalog file as mirror and outbox."""

    kind = "openmetadata"

    def __init__(self, settings: OpenMetadataSettings, local: LocalCatalog):
        self.settings = settings
        self.local = local
        self.outbox = Outbox(local, settings.host_port)
        self._client: Any = None
        self._known: dict[str, Any] = {}  # survives syncs: service, classification and custom property checks

    def __repr__(self) -> str:
        return f"OpenMetadataCatalog({self.settings.host_port!r}, outbox={self.local.path!r})"

    # Reader: the local mirror -------------------------------------------------
    def get(self, fqn: str) -> dict[str, Any] | None:
        return self.local.get(fqn)

    def __getattr__(self, name: str) -> Any:
        if name in ("find_model", "versions", "alias_history", "edges", "lineage", "close"):
            return getattr(self.local, name)
        raise AttributeError(name)

    # Sink ------------------------------------------------------------------
    def publish(self, events: Iterable[Any]) -> None:
        events = list(events)
        if not events:
            return
        self.local.publish(events, enqueue_for=self.settings.host_port)
        report = self.sync()
        if report.outage:
            if self.settings.strict:
                raise CatalogUnavailable(
                    f"OpenMetadata at {self.settings.host_port} is unavailable ({report.outage}); {report.pending} "
                    "event(s) stay queued in the outbox: deliver them with `mlpublish catalog sync`")
            log.warning("OpenMetadata at %s is unavailable (%s): %d event(s) queued, delivered by the next step "
                        "or `mlpublish catalog sync`", self.settings.host_port, report.outage, report.pending)
        if report.failed:
            raise CatalogUnavailable("OpenMetadata refused " + "; ".join(report.failed)
                                     + " (dead-lettered: see `mlpublish catalog sync`)")

    def sync(self) -> SyncReport:
        """Deliver the queued events in order. Raises CatalogUnavailable on a refused token.

        Another process delivering to the same server holds the outbox lease: then we leave our
        events to it (it looks for new events before it lets go, and so do we).
        """
        report = SyncReport()
        while self.outbox.pending():
            if not self.outbox.acquire():
                report.pending = len(self.outbox.pending())
                log.info("another process is delivering the outbox to %s; %d event(s) left to it",
                         self.settings.host_port, report.pending)
                return report
            try:
                self._deliver_pending(report)
            finally:
                self.outbox.release()
            if report.outage:
                break
        return report

    def _deliver_pending(self, report: SyncReport) -> None:
        rows = self.outbox.pending()
        delivery = None
        for i, row in enumerate(rows):
            try:
                if delivery is None:
                    delivery = _Delivery(self._connect(), self.settings, self._known)
                delivery.deliver(row.event)
            except Outage as exc:
                self.outbox.attempt_failed(row.seq, str(exc))
                report.outage, report.pending = str(exc), len(rows) - i
                return
            except AuthRejected as exc:
                self.outbox.attempt_failed(row.seq, str(exc))
                raise CatalogUnavailable(
                    f"OpenMetadata at {self.settings.host_port} refused the JWT token (check OPENMETADATA_JWT_TOKEN or "
                    f"the connection's token; it is not shown here): {exc}; {len(rows) - i} event(s) stay queued"
                ) from None
            except Misconfigured as exc:
                self.outbox.attempt_failed(row.seq, str(exc))
                raise CatalogUnavailable(
                    f"OpenMetadata at {self.settings.host_port} cannot be used ({exc}); check OPENMETADATA_HOST_PORT "
                    f"(the API, e.g. http://host:8585/api); {len(rows) - i} event(s) stay queued") from None
            except Rejected as exc:
                self.outbox.dead_letter(row.seq, str(exc))
                report.failed.append(f"event #{row.seq} ({row.event.kind}): {exc}")
            else:
                self.outbox.delivered(row.seq)
                report.delivered += 1
            self.outbox.acquire()  # renew the lease while we work

    def replay(self) -> SyncReport:
        """Deliver what is queued, then assert again the final state of everything the outbox ever carried.

        The history is compacted first (the last entity, tag and edge, the merged properties), so a
        replay moves nothing that already matches: replaying twice changes no version, tag or edge.
        """
        report = self.sync()
        if report.outage:
            return report
        tables: dict[str, Any] = {}
        models: dict[str, Any] = {}
        edges: dict[tuple[str, str], Any] = {}
        tags: dict[str, Any] = {}
        props: dict[str, dict[str, Any]] = {}
        for row in self.outbox.all():
            if row.state != "delivered":
                continue
            ev = row.event
            if isinstance(ev, UpsertTable):
                tables[ev.fqn] = ev
            elif isinstance(ev, UpsertMlModel):
                models[ev.fqn] = ev
            elif isinstance(ev, AddLineage):
                edges[(ev.from_fqn, ev.to_fqn)] = ev
            elif isinstance(ev, SetValidationTag):
                tags[ev.fqn] = ev
            elif isinstance(ev, SetModelProperties):
                props.setdefault(ev.fqn, {}).update(ev.properties)
        events = [*tables.values(), *models.values(), *edges.values(), *tags.values(),
                  *(SetModelProperties(fqn=f, properties=p) for f, p in props.items())]
        if not self.outbox.acquire():
            report.outage = "another process is delivering the outbox: replay later"
            return report
        try:
            self._replay(events, report)
        finally:
            self.outbox.release()
        return report

    def _replay(self, events: list[Any], report: SyncReport) -> None:
        delivery = _Delivery(self._connect(), self.settings, self._known)
        for ev in events:
            try:
                delivery.deliver(ev)
            except Outage as exc:
                report.outage = str(exc)
                return
            except (AuthRejected, Misconfigured) as exc:
                raise CatalogUnavailable(f"OpenMetadata at {self.settings.host_port} cannot be used: {exc}") from None
            except Rejected as exc:
                report.failed.append(f"replay of {ev.kind} {getattr(ev, 'fqn', '')}: {exc}")
            else:
                report.delivered += 1

    def _connect(self) -> Any:
        if self._client is None:
            self._client = connect(self.settings)
        return self._client


def connect(settings: OpenMetadataSettings) -> Any:
    """An SDK client; no retries of its own (the outbox retries), bounded timeouts."""
    from metadata.generated.schema.entity.services.connections.metadata.openMetadataConnection import (
        OpenMetadataConnection,
    )
    from metadata.generated.schema.security.client.openMetadataJWTClientConfig import OpenMetadataJWTClientConfig
    from metadata.ingestion.ometa.ometa_api import OpenMetadata

    conn = OpenMetadataConnection(
        hostPort=settings.host_port, authProvider="openmetadata",
        securityConfig=OpenMetadataJWTClientConfig(jwtToken=settings.jwt_token or ""))
    try:
        return OpenMetadata(conn, additional_client_config_arguments={"retry": 0, "retry_wait": 0, "timeout": (5, 60)})
    except Exception as exc:
        err = classify(exc, f"connecting to {settings.host_port}")
        # failing to connect is never an event's fault: nothing may be dead-lettered for it
        raise (Misconfigured(str(err)) if isinstance(err, Rejected) else err) from None


def _ids(value: Any) -> Any:
    """Comparable form of a description or an owner list (references compare by id only)."""
    if value is None:
        return None
    refs = getattr(value, "root", value)
    if isinstance(refs, list):
        return sorted(str(r.id.root) for r in refs)
    return str(refs)


class _Delivery:
    """One sync: entity lookups are cached, so requests grow with distinct tables, not features."""

    def __init__(self, om: Any, settings: OpenMetadataSettings, known: dict[str, Any]):
        self.om, self.settings, self.known = om, settings, known
        self.tables: dict[str, Any] = {}
        self.models: dict[str, Any] = {}
        self.pipelines: dict[str, Any] = {}

    def call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise classify(exc, what) from None

    def deliver(self, ev: Any) -> None:
        if isinstance(ev, UpsertTable):
            self.upsert_table(ev)
        elif isinstance(ev, UpsertMlModel):
            self.upsert_model(ev)
        elif isinstance(ev, SetValidationTag):
            self.set_tag(ev)
        elif isinstance(ev, SetModelProperties):
            self.set_properties(ev)
        elif isinstance(ev, AddLineage):
            self.add_lineage(ev)
        elif isinstance(ev, RecordAliasChange):
            pass  # alias history lives in the local mirror; OpenMetadata gets the `aliases` property
        else:  # pragma: no cover
            raise Rejected(f"unknown catalog event {ev!r}")

    # Lookups -----------------------------------------------------------------
    def table(self, fqn: str) -> Any:
        if fqn not in self.tables:
            from metadata.generated.schema.entity.data.table import Table

            self.tables[fqn] = self.call(f"table {fqn}", self.om.get_by_name, Table, fqn)
        return self.tables[fqn]

    def model(self, fqn: str) -> Any:
        if self.models.get(fqn) is None:
            from metadata.generated.schema.entity.data.mlmodel import MlModel

            self.models[fqn] = self.call(f"mlmodel {fqn}", self.om.get_by_name, MlModel, fqn,
                                         fields=["tags", "extension", "owners"])
        return self.models[fqn]

    def ensure(self, key: str, get: Any, create: Any) -> Any:
        if key not in self.known:
            found = self.call(key, get)
            self.known[key] = found if found is not None else self.call(key, create)
        return self.known[key]

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
            raise Rejected(f"table {ev.fqn} is not in OpenMetadata and creating missing tables is off "
                           "(MLPUBLISH_CATALOG_CREATE_TABLES=false): ingest the warehouse into OpenMetadata first")
        from metadata.generated.schema.api.data.createDatabase import CreateDatabaseRequest
        from metadata.generated.schema.api.data.createDatabaseSchema import CreateDatabaseSchemaRequest
        from metadata.generated.schema.api.data.createTable import CreateTableRequest
        from metadata.generated.schema.api.services.createDatabaseService import CreateDatabaseServiceRequest
        from metadata.generated.schema.entity.data.database import Database
        from metadata.generated.schema.entity.data.databaseSchema import DatabaseSchema
        from metadata.generated.schema.entity.services.databaseService import DatabaseService

        service, database, schema, name = parts
        om = self.om
        self.ensure(f"databaseService {service}", lambda: om.get_by_name(DatabaseService, service),
                    lambda: om.create_or_update(CreateDatabaseServiceRequest(
                        name=service, serviceType="CustomDatabase",
                        description="Warehouse registered by mlpublish")))
        db_fqn, schema_fqn = f"{service}.{database}", f"{service}.{database}.{schema}"
        self.ensure(f"database {db_fqn}", lambda: om.get_by_name(Database, db_fqn),
                    lambda: om.create_or_update(CreateDatabaseRequest(name=database, service=service)))
        self.ensure(f"databaseSchema {schema_fqn}", lambda: om.get_by_name(DatabaseSchema, schema_fqn),
                    lambda: om.create_or_update(CreateDatabaseSchemaRequest(name=schema, database=db_fqn)))
        columns = []
        for c in ev.columns:
            dtype = column_type(c.dataType)
            col: dict[str, Any] = {"name": c.name, "dataType": dtype, "dataTypeDisplay": c.dataType}
            if dtype == "VARCHAR":
                m = re.search(r"\((\d+)\)", c.dataType)
                col["dataLength"] = int(m.group(1)) if m else 65535
            columns.append(col)
        request = self.call(f"table {ev.fqn}", CreateTableRequest.model_validate, {
            "name": name, "databaseSchema": schema_fqn, "columns": columns,
            **({"description": ev.description} if ev.description else {})})
        self.tables[ev.fqn] = self.call(f"create table {ev.fqn}", om.create_or_update, request)
        log.info("registered table %s in OpenMetadata from the warehouse schema", ev.fqn)

    # Model ---------------------------------------------------------------------
    def upsert_model(self, ev: UpsertMlModel) -> None:
        from metadata.generated.schema.api.data.createMlModel import CreateMlModelRequest
        from metadata.generated.schema.api.services.createMlModelService import CreateMlModelServiceRequest
        from metadata.generated.schema.entity.services.mlmodelService import MlModelService

        e = ev.entity
        service = e["service"]
        om = self.om
        self.ensure(f"mlmodelService {service}", lambda: om.get_by_name(MlModelService, service),
                    lambda: om.create_or_update(CreateMlModelServiceRequest(
                        name=service, serviceType="Mlflow", description="Models published by mlpublish")))
        body = {k: e[k] for k in ("name", "displayName", "description", "algorithm", "target", "mlHyperParameters",
                                  "mlStore", "server") if e.get(k) not in (None, "", [])}
        body["service"] = service
        features = []
        for f in e.get("mlFeatures", []):
            sources = []
            for s in f.get("featureSources", []):
                src = {k: v for k, v in s.items() if k != "dataSource"}
                ds = s.get("dataSource")
                if ds:
                    table = self.table(ds["fullyQualifiedName"])
                    if table is None:
                        raise Rejected(f"mlmodel {ev.fqn}: [mlFeatures.{f['name']}.featureSources.{s['name']}.dataSource] "
                                       f"table {ds['fullyQualifiedName']} is not in OpenMetadata")
                    src["dataSource"] = {"id": str(table.id.root), "type": "table"}
                sources.append(src)
            features.append({**f, "featureSources": sources})
        if features:
            body["mlFeatures"] = features
        owners = [r for r in (self.owner(o) for o in e.get("owners", [])) if r]
        if owners:
            body["owners"] = owners
        if e.get("dashboard"):
            dash = self.lookup("dashboard", e["dashboard"]["fullyQualifiedName"])
            if dash is not None:
                body["dashboard"] = {"id": str(dash.id.root), "type": "dashboard"}
            else:
                log.warning("mlmodel %s: dashboard %s is not in OpenMetadata; left out", ev.fqn,
                            e["dashboard"]["fullyQualifiedName"])
        try:
            request = CreateMlModelRequest.model_validate(body)
        except Exception as exc:
            raise Rejected(f"mlmodel {ev.fqn}: {exc}") from None
        stored = self.call(f"mlmodel {ev.fqn}", om.create_or_update, request)
        self.models.pop(ev.fqn, None)  # PUT answers without tags/extension: read them fresh when needed
        # The server ignores a bot's PUT of a new description or owners once they are set: patch those.
        wanted = {"description": request.description, "owners": request.owners}
        if any(_ids(getattr(stored, k)) != _ids(v) for k, v in wanted.items() if v is not None):
            def restore(dest: Any) -> None:
                for k, v in wanted.items():
                    if v is not None and _ids(getattr(dest, k)) != _ids(v):
                        setattr(dest, k, v)

            self.patch_model(ev.fqn, restore, "description and owners")

    def lookup(self, kind: str, fqn: str) -> Any:
        key = f"{kind} {fqn}"
        if key not in self.known:
            from metadata.generated.schema.entity.data.dashboard import Dashboard
            from metadata.generated.schema.entity.teams.team import Team
            from metadata.generated.schema.entity.teams.user import User

            cls = {"dashboard": Dashboard, "team": Team, "user": User}[kind]
            self.known[key] = self.call(key, self.om.get_by_name, cls, fqn)
        return self.known[key]

    def owner(self, ref: dict[str, str]) -> dict[str, str] | None:
        kind = ref.get("type", "team")
        if kind not in ("team", "user"):
            return None
        found = self.lookup(kind, ref["name"])
        if found is None:
            log.warning("owner %s:%s is not in OpenMetadata; left out of the model's owners", kind, ref["name"])
            return None
        return {"id": str(found.id.root), "type": kind}

    def patch_model(self, fqn: str, change: Any, what: str) -> None:
        current = self.model(fqn)
        if current is None:
            raise Rejected(f"mlmodel {fqn}: not in OpenMetadata (its upsert failed or was dead-lettered)")
        from metadata.generated.schema.entity.data.mlmodel import MlModel

        dest = current.model_copy(deep=True)
        change(dest)
        if dest == current:
            return
        updated = self.call(f"mlmodel {fqn} {what}", self.om.patch, MlModel, current, dest, skip_on_failure=False)
        self.models[fqn] = updated if updated is not None else None

    def set_tag(self, ev: SetValidationTag) -> None:
        from metadata.generated.schema.type.tagLabel import TagLabel

        self.ensure_classification()
        wanted = f"{VALIDATION_CLASSIFICATION}.{ev.status}"

        def swap(dest: Any) -> None:
            kept = [t for t in (dest.tags or []) if not t.tagFQN.root.startswith(VALIDATION_CLASSIFICATION + ".")]
            mine = [t for t in (dest.tags or []) if t.tagFQN.root == wanted]
            dest.tags = kept + (mine[:1] or [TagLabel(tagFQN=wanted, source="Classification", labelType="Automated",
                                                      state="Confirmed")])

        self.patch_model(ev.fqn, swap, f"tag {wanted}")

    def ensure_classification(self) -> None:
        from metadata.generated.schema.api.classification.createClassification import CreateClassificationRequest
        from metadata.generated.schema.api.classification.createTag import CreateTagRequest
        from metadata.generated.schema.entity.classification.classification import Classification
        from metadata.generated.schema.entity.classification.tag import Tag

        om = self.om
        self.ensure(f"classification {VALIDATION_CLASSIFICATION}",
                    lambda: om.get_by_name(Classification, VALIDATION_CLASSIFICATION),
                    lambda: om.create_or_update(CreateClassificationRequest(
                        name=VALIDATION_CLASSIFICATION, mutuallyExclusive=True,
                        description="Validation status of a model version published by mlpublish (exactly one)")))
        for state in VALIDATION_STATES:
            fqn = f"{VALIDATION_CLASSIFICATION}.{state}"
            self.ensure(f"tag {fqn}", lambda fqn=fqn: om.get_by_name(Tag, fqn),
                        lambda state=state: om.create_or_update(CreateTagRequest(
                            name=state, classification=VALIDATION_CLASSIFICATION,
                            description=VALIDATION_DESCRIPTIONS[state])))

    def set_properties(self, ev: SetModelProperties) -> None:
        values = {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
                  for k, v in ev.properties.items()}
        self.ensure_properties(values)

        def merge(dest: Any) -> None:
            from metadata.generated.schema.type.basic import EntityExtension

            old = dict(dest.extension.root) if dest.extension is not None else {}
            dest.extension = EntityExtension({**old, **values})

        self.patch_model(ev.fqn, merge, "custom properties " + ", ".join(sorted(values)))

    def ensure_properties(self, values: dict[str, str]) -> None:
        """Define the missing custom properties on the mlmodel type (type read once per process).

        The SDK's create_or_update_custom_property re-reads the type for every property;
        we read it once and PUT each missing property with the same client.
        """
        from metadata.generated.schema.api.data.createCustomProperty import CreateCustomPropertyRequest
        from metadata.ingestion.models.custom_properties import CustomPropertyDataTypes

        if "mlmodel type" not in self.known:
            found = self.call("mlmodel custom properties", self.om.client.get,
                              "/metadata/types/name/mlmodel?fields=customProperties")
            self.known["mlmodel type"] = (found["id"], {p["name"] for p in found.get("customProperties") or []})
        type_id, defined = self.known["mlmodel type"]
        missing = sorted(set(values) - defined)
        if not missing:
            return
        string_type = self.call("custom property type string", self.om.get_property_type_ref,
                                CustomPropertyDataTypes.STRING)
        for name in missing:
            request = CreateCustomPropertyRequest(
                name=name, description=PROPERTY_DESCRIPTIONS.get(name, f"mlpublish: {name}"), propertyType=string_type)
            self.call(f"define custom property mlmodel.{name}", self.om.client.put, f"/metadata/types/{type_id}",
                      data=request.model_dump_json())
            defined.add(name)

    # Lineage -------------------------------------------------------------------
    def ref(self, kind: str, fqn: str, what: str) -> dict[str, str]:
        entity = self.table(fqn) if kind == "table" else self.model(fqn)
        if entity is None:
            raise Rejected(f"{what}: {kind} {fqn} is not in OpenMetadata")
        return {"id": str(entity.id.root), "type": kind}

    def pipeline(self, name: str, what: str) -> dict[str, str]:
        """Reference to the Pipeline entity ``<pipeline service>.<name>``, created when missing.

        Looked up once per delivery (like tables); the service is only needed, and then
        ensured once per process, when the pipeline itself is missing.
        """
        from metadata.generated.schema.api.data.createPipeline import CreatePipelineRequest
        from metadata.generated.schema.api.services.createPipelineService import CreatePipelineServiceRequest
        from metadata.generated.schema.entity.data.pipeline import Pipeline
        from metadata.generated.schema.entity.services.pipelineService import PipelineService
        from metadata.utils.fqn import quote_name

        service = self.settings.pipeline_service
        try:
            fqn = f"{quote_name(service)}.{quote_name(name)}"
        except ValueError:
            raise Rejected(f"{what}: [lineageDetails.pipeline] pipeline {name!r} (service {service!r}) is not a valid "
                           "OpenMetadata name (a name may not contain a double quote)") from None
        if fqn not in self.pipelines:
            om = self.om
            found = self.call(f"pipeline {fqn}", om.get_by_name, Pipeline, fqn)
            if found is None:
                self.ensure(f"pipelineService {service}", lambda: om.get_by_name(PipelineService, quote_name(service)),
                            lambda: om.create_or_update(CreatePipelineServiceRequest(
                                name=service, serviceType="CustomPipeline",
                                description="Pipelines (Airflow DAGs, Dagster jobs) that publish models "
                                            "through mlpublish")))
                try:
                    request = CreatePipelineRequest.model_validate({
                        "name": name, "service": quote_name(service),
                        "description": "Airflow DAG or Dagster job that publishes models through mlpublish: the "
                                       "lineage edges it wrote name it, and their description names its run"})
                except Exception as exc:
                    raise Rejected(f"{what}: [lineageDetails.pipeline] pipeline {name!r}: {exc}") from None
                found = self.call(f"create pipeline {fqn}", om.create_or_update, request)
            self.pipelines[fqn] = found
        return {"id": str(self.pipelines[fqn].id.root), "type": "pipeline"}

    def add_lineage(self, ev: AddLineage) -> None:
        from metadata.generated.schema.api.lineage.addLineage import AddLineageRequest

        what = f"lineage {ev.from_fqn} -> {ev.to_fqn}"
        description = ev.description or ""
        details: dict[str, Any] = {"source": "Manual"}
        if ev.pipeline:
            # The Pipeline entity is the DAG or job; one run is not an entity, so the run id stays in the text.
            description += f" (pipeline {ev.pipeline.get('name', '')} run {ev.pipeline.get('runId', '')})"
            if (ev.pipeline.get("name") or "").strip():
                details["pipeline"] = self.pipeline(ev.pipeline["name"].strip(), what)
        if description:
            details["description"] = description.strip()
        # Column-level lineage is defined between tables; a model's inputs are its features.
        if ev.to_type == "table" and ev.from_type == "table" and ev.columns:
            details["columnsLineage"] = [c.model_dump() for c in ev.columns]
        request = AddLineageRequest.model_validate({"edge": {
            "fromEntity": self.ref(ev.from_type, ev.from_fqn, what), "toEntity": self.ref(ev.to_type, ev.to_fqn, what),
            "lineageDetails": details}})
        result = self.call(what, self.om.add_lineage, request, return_lineage=False)
        # add_lineage answers {"error": ...} instead of raising
        if isinstance(result, dict) and result.get("error"):
            err = RuntimeError(re.sub(r"trying to PUT lineage for \{.*\}: ", "", str(result["error"])))
            raise classify(err, what)

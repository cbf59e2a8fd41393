"""A strict emulator of the few OpenMetadata API endpoints the SDK calls for mlpublish.

No OpenMetadata server can run on these machines, so the tests talk to this
WSGI app over HTTP on loopback with the real SDK. It is strict where the real
server is: every request body is validated with the SDK's own generated
pydantic models (``extra='forbid'``), every returned entity is re-validated
with the entity model, JSON Patch is applied with ``jsonpatch``. The server's
own rules (versions and their consolidation, what a PUT keeps and removes,
owners, tags, custom property types, column lineage) live in
``openmetadata_rules``, each with the server file and method it follows.
A wrong token is a 401, a route in ``forbidden`` a 403 naming the operation,
a lineage edge whose ``lineageDetails.pipeline`` names no existing entity is a
404, names with a dot are quoted in FQNs, and the server adds table -> model
lineage from ``featureSources`` when the model is created (only then:
MlModelRepository.storeRelationships runs on create). Containers (Parquet datasets) live under storage
services as ContainerRepository names them, and are lineage endpoints like tables. Test definitions, test
cases, their results, test suites and data contracts live in ``openmetadata_quality``.

Routes it does not know answer 404 and are recorded in ``unknown_routes`` so a
test can assert the SDK called nothing we do not emulate.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import unquote

import jsonpatch
from metadata.generated.schema.api.classification.createClassification import CreateClassificationRequest
from metadata.generated.schema.api.classification.createTag import CreateTagRequest
from metadata.generated.schema.api.data.createContainer import CreateContainerRequest
from metadata.generated.schema.api.data.createCustomProperty import CreateCustomPropertyRequest
from metadata.generated.schema.api.data.createDatabase import CreateDatabaseRequest
from metadata.generated.schema.api.data.createDatabaseSchema import CreateDatabaseSchemaRequest
from metadata.generated.schema.api.data.createMlModel import CreateMlModelRequest
from metadata.generated.schema.api.data.createPipeline import CreatePipelineRequest
from metadata.generated.schema.api.data.createTable import CreateTableRequest
from metadata.generated.schema.api.lineage.addLineage import AddLineageRequest
from metadata.generated.schema.api.services.createDatabaseService import CreateDatabaseServiceRequest
from metadata.generated.schema.api.services.createMlModelService import CreateMlModelServiceRequest
from metadata.generated.schema.api.services.createPipelineService import CreatePipelineServiceRequest
from metadata.generated.schema.api.services.createStorageService import CreateStorageServiceRequest
from metadata.generated.schema.entity.classification.classification import Classification
from metadata.generated.schema.entity.classification.tag import Tag
from metadata.generated.schema.entity.data.container import Container
from metadata.generated.schema.entity.data.database import Database
from metadata.generated.schema.entity.data.databaseSchema import DatabaseSchema
from metadata.generated.schema.entity.data.mlmodel import MlModel
from metadata.generated.schema.entity.data.pipeline import Pipeline
from metadata.generated.schema.entity.data.table import Table
from metadata.generated.schema.entity.services.databaseService import DatabaseService
from metadata.generated.schema.entity.services.mlmodelService import MlModelService
from metadata.generated.schema.entity.services.pipelineService import PipelineService
from metadata.generated.schema.entity.services.storageService import StorageService
from metadata.utils.fqn import quote_name
from pydantic import ValidationError
from werkzeug.wrappers import Request, Response

from tests.support.openmetadata_quality import Quality
from tests.support.openmetadata_rules import (
    SESSION_TIMEOUT_MS,
    RuleError,
    check_disabled,
    check_extension_value,
    check_mutually_exclusive,
    check_owner_team,
    container_fqn,
    filter_column_lineage,
    put_update,
    sort_tags,
    versioned,
)

SERVER_VERSION = "2.0.7"
BOT = "mlpublish-bot"  # the user behind the token: a bot (EntityUpdater.updatedByBot)
# Fields the real server returns only when asked for with ?fields=
GATED_FIELDS = {
    "tags",
    "owners",
    "extension",
    "followers",
    "dashboard",
    "usageSummary",
    "domains",
    "dataProducts",
    "votes",
    "columns",
    "tableConstraints",
    "databaseSchemas",
    "databases",
    "tasks",
    "pipelineStatus",
    "pipelines",
    "dataModel",  # ContainerRepository.clearFields: a container's data model only with fields=dataModel
}
ALWAYS = {"columns"}  # table columns come back by default on the real server too


class Collection:
    def __init__(
        self, path: str, entity_type: str, create: type, entity: type, parent_field: str | None, parent_type: str | None
    ):
        self.path, self.entity_type, self.create, self.entity = path, entity_type, create, entity
        self.parent_field, self.parent_type = parent_field, parent_type


COLLECTIONS = [
    Collection(
        "services/databaseServices", "databaseService", CreateDatabaseServiceRequest, DatabaseService, None, None
    ),
    Collection("services/mlmodelServices", "mlmodelService", CreateMlModelServiceRequest, MlModelService, None, None),
    Collection("databases", "database", CreateDatabaseRequest, Database, "service", "databaseService"),
    Collection(
        "databaseSchemas", "databaseSchema", CreateDatabaseSchemaRequest, DatabaseSchema, "database", "database"
    ),
    Collection("tables", "table", CreateTableRequest, Table, "databaseSchema", "databaseSchema"),
    Collection("mlmodels", "mlmodel", CreateMlModelRequest, MlModel, "service", "mlmodelService"),
    Collection(
        "services/pipelineServices", "pipelineService", CreatePipelineServiceRequest, PipelineService, None, None
    ),
    Collection("pipelines", "pipeline", CreatePipelineRequest, Pipeline, "service", "pipelineService"),
    Collection("services/storageServices", "storageService", CreateStorageServiceRequest, StorageService, None, None),
    Collection("containers", "container", CreateContainerRequest, Container, "service", "storageService"),
    Collection("classifications", "classification", CreateClassificationRequest, Classification, None, None),
    Collection("tags", "tag", CreateTagRequest, Tag, "classification", "classification"),
]
BY_PATH = {c.path: c for c in COLLECTIONS}
BY_TYPE = {c.entity_type: c for c in COLLECTIONS}
# Looked up by name (owners, dashboards) but never created by mlpublish (tests may add teams).
EMPTY_COLLECTIONS = {"users", "teams", "dashboards"}
FIELD_TYPES = ("string", "markdown", "integer", "number")


ApiError = RuleError


def _now_ms() -> int:
    return int(time.time() * 1000)


def _pydantic_message(exc: ValidationError) -> str:
    return "; ".join(f"[{'.'.join(str(p) for p in e['loc'])}] {e['msg']}" for e in exc.errors())


class OpenMetadataEmulator:
    """State and rules; ``wsgi`` is the HTTP face."""

    def __init__(self, token: str):
        self.token = token
        self.lock = threading.RLock()
        self.down = False  # answer 503 to everything (the outage scenario)
        self.entities: dict[str, dict[str, Any]] = {}  # id -> entity JSON
        self.fqns: dict[tuple[str, str], str] = {}  # (entity_type, fqn) -> id
        self.history: dict[str, list[dict[str, Any]]] = {}  # id -> every version's JSON
        self.edges: dict[tuple[str, str], dict[str, Any]] = {}  # (from id, to id) -> edge
        self.requests: list[tuple[str, str]] = []
        self.unknown_routes: list[str] = []
        self.types: dict[str, dict[str, Any]] = {}
        self.session_timeout_ms = SESSION_TIMEOUT_MS  # 0 turns consolidation off (EntityUpdater.setSessionTimeout)
        self.forbidden: dict[tuple[str, str], str] = {}  # (method, route prefix) -> operation the bot may not do
        self.quality = Quality(self, BOT, _now_ms)  # dataQuality/ and dataContracts routes (openmetadata_quality)
        for name in FIELD_TYPES:
            self.types[name] = {
                "id": str(uuid.uuid4()),
                "name": name,
                "fullyQualifiedName": name,
                "category": "field",
                "description": f"{name} field type",
            }
        for c in COLLECTIONS:
            self.types[c.entity_type] = {
                "id": str(uuid.uuid4()),
                "name": c.entity_type,
                "fullyQualifiedName": c.entity_type,
                "category": "entity",
                "description": f"{c.entity_type} entity",
                "customProperties": [],
            }

    # Helpers for tests ----------------------------------------------------
    def _add_plain(self, entity_type: str, name: str, fqn: str, **fields: Any) -> str:
        eid = str(uuid.uuid4())
        self.entities[eid] = {
            "_type": entity_type,
            "id": eid,
            "name": name,
            "fullyQualifiedName": fqn,
            "version": 0.1,
            "deleted": False,
            **fields,
        }
        self.fqns[(entity_type, fqn)] = eid
        return eid

    def add_team(self, name: str, team_type: str = "Group") -> str:
        """A team as an admin would have made it (mlpublish only looks teams up)."""
        return self._add_plain("team", name, name, teamType=team_type)

    def add_user(self, name: str) -> str:
        return self._add_plain("user", name, name, email=f"{name}@example.com")

    def add_dashboard(self, fqn: str) -> str:
        """A dashboard as a dashboard service's ingestion would have made it."""
        service, _, name = fqn.partition(".")
        return self._add_plain("dashboard", name, fqn, service={"id": str(uuid.uuid4()), "type": "dashboardService"})

    def declare_property(self, entity_type: str, name: str, kind: str) -> None:
        """A custom property someone declared before mlpublish ran (maybe with another type)."""
        ptype = self.types[kind]
        self.types[entity_type]["customProperties"].append(
            {"name": name, "description": name, "propertyType": {"id": ptype["id"], "type": "type", "name": kind}}
        )

    def find(self, entity_type: str, fqn: str) -> dict[str, Any] | None:
        eid = self.fqns.get((entity_type, fqn))
        return copy.deepcopy(self.entities[eid]) if eid else None

    def versions_of(self, entity_type: str, fqn: str) -> list[float]:
        eid = self.fqns[(entity_type, fqn)]
        return [v["version"] for v in self.history[eid]]

    def edge_list(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(from fqn, to fqn, lineageDetails) for every edge, sorted."""
        out = []
        for (a, b), e in self.edges.items():
            out.append(
                (
                    self.entities[a]["fullyQualifiedName"],
                    self.entities[b]["fullyQualifiedName"],
                    e.get("lineageDetails", {}),
                )
            )
        return sorted(out, key=lambda t: (t[0], t[1]))

    def snapshot(self) -> dict[str, Any]:
        """Everything a user can see, without ids and timestamps: to compare two runs."""

        def clean(body: dict[str, Any]) -> dict[str, Any]:
            text = json.dumps(body, sort_keys=True)
            for eid, ent in self.entities.items():
                text = text.replace(eid, json.dumps(ent["fullyQualifiedName"])[1:-1])
            out = json.loads(text)
            for k in ("updatedAt", "href", "changeDescription", "incrementalChangeDescription"):
                out.pop(k, None)
            return out

        with self.lock:
            ents = {f"{t}:{f}": clean(self.entities[i]) for (t, f), i in sorted(self.fqns.items())}
            # entities added by hand (teams, users, dashboards) have no version history
            versions = {
                f"{t}:{f}": [v["version"] for v in self.history.get(i, [])] for (t, f), i in sorted(self.fqns.items())
            }
            edges = [
                (a, b, clean({k: v for k, v in d.items() if k not in ("createdAt", "updatedAt")}))
                for a, b, d in self.edge_list()
            ]
            props = {n: [p["name"] for p in t.get("customProperties", [])] for n, t in self.types.items()}
        return {"entities": ents, "versions": versions, "edges": edges, "customProperties": props}

    # HTTP ---------------------------------------------------------------
    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            status, body = self._handle(request)
        except ApiError as exc:
            status, body = exc.status, {"code": exc.status, "message": exc.message}
        except Exception as exc:  # a bug in the emulator must show, not hang the SDK
            status, body = 500, {"code": 500, "message": f"emulator error: {exc.__class__.__name__}: {exc}"}
        response = Response(json.dumps(body), status=status, content_type="application/json")
        return response(environ, start_response)

    def _handle(self, request: Request) -> tuple[int, Any]:
        path = request.path
        with self.lock:
            self.requests.append((request.method, path))
        if self.down:
            raise ApiError(503, "Service Unavailable")
        if not path.startswith("/api/v1/"):
            self.unknown_routes.append(f"{request.method} {path}")
            raise ApiError(404, f"no route {path}")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            raise ApiError(401, "Not Authorized! Token verification failed")
        route = path[len("/api/v1/") :]
        for (method, prefix), operation in self.forbidden.items():
            if request.method == method and route.startswith(prefix):  # security/Authorizer: a 403 names it
                raise ApiError(403, f"Principal: CatalogPrincipal{{name='{BOT}'}} operations [{operation}] not allowed")
        body = None
        if request.method in ("PUT", "PATCH", "POST"):
            try:
                body = json.loads(request.get_data(as_text=True) or "null")
            except json.JSONDecodeError as exc:
                raise ApiError(400, f"malformed JSON body: {exc}") from None
        with self.lock:
            return self._route(request.method, route, request.args, body)

    def _route(self, method: str, route: str, args: Any, body: Any) -> tuple[int, Any]:
        fields = set(filter(None, (args.get("fields") or "").split(",")))
        if method == "GET" and route == "system/version":
            return 200, {"version": SERVER_VERSION, "revision": "emulator", "timestamp": 0}
        if route == "lineage" and method == "PUT":
            return self._add_lineage(body)
        m = re.fullmatch(r"lineage/(\w+)/([0-9a-f-]{36})/(\w+)/([0-9a-f-]{36})", route)
        if m and method == "DELETE":
            return self._delete_lineage(m.group(2), m.group(4))
        m = re.fullmatch(r"lineage/(\w+)/name/(.+)", route)
        if m and method == "GET":
            return 200, self._lineage_of(m.group(1), unquote(m.group(2)))
        m = re.fullmatch(r"lineage/(\w+)/([0-9a-f-]{36})", route)
        if m and method == "GET":
            e = self.entities.get(m.group(2))
            if e is None or e["_type"] != m.group(1):
                raise ApiError(404, f"{m.group(1)} instance for {m.group(2)} not found")
            return 200, self._lineage_of(m.group(1), e["fullyQualifiedName"])
        m = re.fullmatch(r"metadata/types/name/([\w-]+)", route)
        if m and method == "GET":
            t = self.types.get(m.group(1))
            if t is None:
                raise ApiError(404, f"type instance for {m.group(1)} not found")
            out = copy.deepcopy(t)
            if "customProperties" not in fields:
                out.pop("customProperties", None)
            return 200, out
        m = re.fullmatch(r"metadata/types/([0-9a-f-]{36})", route)
        if m and method == "PUT":
            return self._add_custom_property(m.group(1), body)
        answer = self.quality.route(method, route, args, body)
        if answer is not None:
            return answer
        for cpath in sorted(BY_PATH, key=len, reverse=True):
            if route == cpath or route.startswith(cpath + "/"):
                return self._collection(BY_PATH[cpath], method, route[len(cpath) :].lstrip("/"), fields, body)
        first = route.split("/", 1)[0]
        if first in EMPTY_COLLECTIONS and method == "GET" and route.startswith(f"{first}/name/"):
            name = unquote(route.split("/name/", 1)[1])
            eid = self.fqns.get((first[:-1], name))
            if eid is None:
                raise ApiError(404, f"{first[:-1]} instance for {name} not found")
            return 200, self._public(self.entities[eid])
        self.unknown_routes.append(f"{method} /api/v1/{route}")
        raise ApiError(404, f"no route {method} /api/v1/{route}")

    # Entities -------------------------------------------------------------
    def _collection(self, c: Collection, method: str, rest: str, fields: set[str], body: Any) -> tuple[int, Any]:
        if rest == "" and method == "PUT":
            return self._put(c, body)
        m = re.fullmatch(r"name/(.+)", rest)
        if m and method == "GET":
            fqn = unquote(m.group(1))
            eid = self.fqns.get((c.entity_type, fqn))
            if eid is None:
                raise ApiError(404, f"{c.entity_type} instance for {fqn} not found")
            return 200, self._view(self.entities[eid], fields)
        m = re.fullmatch(r"([0-9a-f-]{36})(/versions(?:/([\d.]+))?)?", rest)
        if m:
            eid = m.group(1)
            if eid not in self.entities or self.entities[eid]["_type"] != c.entity_type:
                raise ApiError(404, f"{c.entity_type} instance for {eid} not found")
            if method == "PATCH" and not m.group(2):
                return self._patch(c, eid, body)
            if method == "GET" and not m.group(2):
                return 200, self._view(self.entities[eid], fields)
            if method == "GET" and m.group(3) is None:
                return 200, {
                    "entityType": c.entity_type,
                    "versions": [json.dumps(self._public(v)) for v in reversed(self.history[eid])],
                }
            if method == "GET":
                for v in self.history[eid]:
                    if v["version"] == float(m.group(3)):
                        return 200, self._public(v)
                raise ApiError(404, f"{c.entity_type} {eid} has no version {m.group(3)}")
        self.unknown_routes.append(f"{method} {c.path}/{rest}")
        raise ApiError(404, f"no route {method} {c.path}/{rest}")

    @staticmethod
    def _public(entity: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in entity.items() if not k.startswith("_")}

    def _view(self, entity: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        return {k: v for k, v in self._public(entity).items() if k not in GATED_FIELDS or k in fields or k in ALWAYS}

    def _ref(self, entity_type: str, fqn: str, where: str) -> dict[str, Any]:
        eid = self.fqns.get((entity_type, fqn))
        if eid is None:
            raise ApiError(404, f"{where}: {entity_type} instance for {fqn} not found")
        e = self.entities[eid]
        return {"id": eid, "type": entity_type, "name": e["name"], "fullyQualifiedName": fqn}

    def _resolve_ref(self, ref: dict[str, Any], where: str) -> dict[str, Any]:
        """An EntityReference in a request: the id (or FQN) must point at an existing entity of that type."""
        eid = ref.get("id")
        if eid in self.entities and self.entities[eid]["_type"] == ref.get("type"):
            e = self.entities[eid]
            return {"id": eid, "type": ref["type"], "name": e["name"], "fullyQualifiedName": e["fullyQualifiedName"]}
        if ref.get("fullyQualifiedName"):
            return self._ref(ref.get("type", ""), ref["fullyQualifiedName"], where)
        raise ApiError(404, f"{where}: {ref.get('type')} instance for {eid} not found")

    def _put(self, c: Collection, body: Any) -> tuple[int, Any]:
        try:
            req = c.create.model_validate(body)
        except ValidationError as exc:
            raise ApiError(400, f"{c.create.__name__}: {_pydantic_message(exc)}") from None
        data = json.loads(req.model_dump_json(exclude_none=True, by_alias=True))
        name = data["name"]
        try:  # the server's FullyQualifiedName.quoteName: a name with a dot is quoted in the FQN
            quoted = quote_name(name)
        except ValueError:
            raise ApiError(400, f"[name] Invalid name {name}") from None
        if c.parent_field:
            parent = self._ref(c.parent_type, data[c.parent_field], f"[{c.parent_field}]")
            fqn = f"{parent['fullyQualifiedName']}.{quoted}"
            data[c.parent_field] = parent
        else:
            fqn = quoted
        if c.entity_type == "container":
            if "parent" in data:  # ContainerRepository.prepare: the parent container must exist
                data["parent"] = self._resolve_ref(data["parent"], "[parent]")
            fqn = container_fqn(data, quoted)
            data["serviceType"] = self.entities[data["service"]["id"]]["serviceType"]
        if c.entity_type == "database":
            data["service"] = parent
        if c.entity_type == "databaseSchema":
            db = self.entities[parent["id"]]
            data["service"] = db["service"]
        if c.entity_type == "table":
            schema = self.entities[parent["id"]]
            data["database"], data["service"] = schema["database"], schema["service"]
            for col in data["columns"]:
                col["fullyQualifiedName"] = f"{fqn}.{col['name']}"
        if c.entity_type == "tag":
            data["classification"] = parent
        if c.entity_type == "mlmodel":
            for i, f in enumerate(data.get("mlFeatures", [])):
                for j, s in enumerate(f.get("featureSources", [])):
                    if "dataSource" in s:
                        s["dataSource"] = self._resolve_ref(
                            s["dataSource"], f"[mlFeatures.{i}.featureSources.{j}.dataSource]"
                        )
                    s["fullyQualifiedName"] = f"{fqn}.{f['name']}.{s['name']}"
                f["fullyQualifiedName"] = f"{fqn}.{f['name']}"
            if "dashboard" in data:  # MlModelMapper: the dashboard's FQN, looked up by name (404 if unknown)
                data["dashboard"] = self._ref("dashboard", data["dashboard"], "[dashboard]")
            data["serviceType"] = self.entities[data["service"]["id"]]["serviceType"]
        if c.entity_type == "pipeline":
            data["serviceType"] = self.entities[data["service"]["id"]]["serviceType"]
        self._check_owners(data)
        if "tags" in data:
            self._check_tags(data["tags"], "[tags]")
            data["tags"] = sort_tags(data["tags"])
        if "extension" in data:
            self._check_extension(c.entity_type, data["extension"])
        eid = self.fqns.get((c.entity_type, fqn))
        if eid is None:
            eid = str(uuid.uuid4())
            entity = {
                "_type": c.entity_type,
                "id": eid,
                **data,
                "fullyQualifiedName": fqn,
                "version": 0.1,
                "updatedAt": _now_ms(),
                "updatedBy": BOT,
                "deleted": False,
                "href": f"http://emulator/api/v1/{c.path}/{eid}",
            }
            self._validate_entity(c, entity)
            self.entities[eid] = entity
            self.fqns[(c.entity_type, fqn)] = eid
            self.history[eid] = [copy.deepcopy(entity)]
            if c.entity_type == "mlmodel":
                self._feature_lineage(entity)
            return 201, self._public(entity)
        old = self.entities[eid]
        new = put_update(old, data, by_bot=True)
        if c.entity_type == "classification":  # ClassificationUpdater: mutuallyExclusive cannot be updated
            new["mutuallyExclusive"] = old.get("mutuallyExclusive")
        self._check_tags(new.get("tags", []), "[tags]")
        return 200, self._store(c, old, new, "PUT")

    def _check_owners(self, data: dict[str, Any]) -> None:
        """EntityRepository.validateOwners: users or Group teams, each must exist."""
        for i, o in enumerate(data.get("owners") or []):
            if o.get("type") not in ("user", "team"):
                raise ApiError(
                    400, f"Entity of type {o.get('type')} can't be the owner. Only Team of type Group or a User can own"
                )
            data["owners"][i] = self._resolve_ref(o, f"[owners.{i}]")
            if o["type"] == "team":
                check_owner_team(self.entities[data["owners"][i]["id"]])

    def _patch(self, c: Collection, eid: str, body: Any) -> tuple[int, Any]:
        old = self.entities[eid]
        if not isinstance(body, list):
            raise ApiError(400, "PATCH body must be a JSON Patch array")
        try:
            new = jsonpatch.JsonPatch(body).apply(self._public(old))
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise ApiError(400, f"invalid JSON Patch: {exc}") from None
        # MlModelRepository.restorePatchAttributes: a PATCH cannot change these; the change is ignored
        for k in ("id", "fullyQualifiedName", "name", "service"):
            if k in old:
                new[k] = old[k]
        if c.entity_type == "classification":  # ClassificationUpdater: mutuallyExclusive cannot be updated
            new["mutuallyExclusive"] = old.get("mutuallyExclusive")
        self._check_owners(new)
        if "tags" in new:
            self._check_tags(new["tags"], "[tags]")
            new["tags"] = sort_tags(new["tags"])
        if "extension" in new:
            self._check_extension(c.entity_type, new["extension"])
        return 200, self._store(c, old, {"_type": old["_type"], **new}, "PATCH")

    def _store(self, c: Collection, old: dict[str, Any], new: dict[str, Any], operation: str) -> dict[str, Any]:
        result = versioned(
            c.entity_type, self.history[old["id"]], new, operation, BOT, _now_ms(), self.session_timeout_ms
        )
        if result is None:
            return self._public(old)
        history, current = result
        self._validate_entity(c, current)
        self.entities[old["id"]] = current
        self.history[old["id"]] = [copy.deepcopy(v) for v in history]
        return self._public(current)

    def _validate_entity(self, c: Collection, entity: dict[str, Any]) -> None:
        try:
            c.entity.model_validate(self._public(entity))
        except ValidationError as exc:
            raise ApiError(400, f"{c.entity.__name__}: {_pydantic_message(exc)}") from None

    def _check_tags(self, tags: list[dict[str, Any]], where: str) -> None:
        """TagLabelUtil.applyTagCommonFields (the tag must exist), checkMutuallyExclusive, checkDisabledTags."""
        exclusive, disabled = set(), set()
        for i, t in enumerate(tags):
            fqn = t.get("tagFQN", "")
            tid = self.fqns.get(("tag", fqn))
            if tid is None:
                raise ApiError(404, f"{where}.{i}: tag instance for {fqn} not found")
            tag = self.entities[tid]
            cls = self.entities[tag["classification"]["id"]]
            if cls.get("mutuallyExclusive"):
                exclusive.add(cls["fullyQualifiedName"])
            if tag.get("disabled") or cls.get("disabled"):
                disabled.add(fqn)
        check_mutually_exclusive(tags, exclusive)
        check_disabled(tags, disabled)

    def _check_extension(self, entity_type: str, ext: Any) -> None:
        if not isinstance(ext, dict):
            raise ApiError(400, "[extension] must be an object")
        defined = {p["name"]: p for p in self.types[entity_type]["customProperties"]}
        for k, v in ext.items():
            if k not in defined:
                raise ApiError(400, f"[extension.{k}] Unknown custom field {k}")
            check_extension_value(k, defined[k]["propertyType"]["name"], v)

    def _add_custom_property(self, type_id: str, body: Any) -> tuple[int, Any]:
        t = next((t for t in self.types.values() if t["id"] == type_id), None)
        if t is None or t["category"] != "entity":
            raise ApiError(404, f"type instance for {type_id} not found")
        try:
            req = CreateCustomPropertyRequest.model_validate(body)
        except ValidationError as exc:
            raise ApiError(400, f"CreateCustomPropertyRequest: {_pydantic_message(exc)}") from None
        prop = json.loads(req.model_dump_json(exclude_none=True))
        ptype = next((x for x in self.types.values() if x["id"] == prop["propertyType"]["id"]), None)
        if ptype is None or ptype["category"] != "field":
            raise ApiError(400, f"[propertyType] unknown field type {prop['propertyType']}")
        prop["propertyType"] = {"id": ptype["id"], "type": "type", "name": ptype["name"]}
        t["customProperties"] = [p for p in t["customProperties"] if p["name"] != prop["name"]] + [prop]
        return 200, copy.deepcopy(t)

    # Lineage --------------------------------------------------------------
    def _feature_lineage(self, model: dict[str, Any]) -> None:
        """MlModelRepository.setMlFeatureSourcesLineage: table -> model edges from featureSources[].dataSource,
        drawn by storeRelationships, which runs when the model is created, never on update."""
        for f in model.get("mlFeatures", []):
            for s in f.get("featureSources", []):
                ds = s.get("dataSource")
                if ds and ds["id"] in self.entities:
                    key = (ds["id"], model["id"])
                    self.edges.setdefault(
                        key,
                        {
                            "fromEntity": {"id": ds["id"], "type": "table"},
                            "toEntity": {"id": model["id"], "type": "mlmodel"},
                            # addRelationship(UPSTREAM) without details JSON: the edge has no lineageDetails
                            "lineageDetails": {},
                        },
                    )

    def _add_lineage(self, body: Any) -> tuple[int, Any]:
        try:
            req = AddLineageRequest.model_validate(body)
        except ValidationError as exc:
            raise ApiError(400, f"AddLineageRequest: {_pydantic_message(exc)}") from None
        data = json.loads(req.model_dump_json(exclude_none=True))
        edge = data["edge"]
        a = self._resolve_ref(edge["fromEntity"], "[edge.fromEntity]")
        b = self._resolve_ref(edge["toEntity"], "[edge.toEntity]")
        details = edge.get("lineageDetails") or {}
        if details.get("pipeline") is not None:
            # the server resolves the pipeline by type and id only (no FQN fallback) and stores the full reference
            p = details["pipeline"]
            e = self.entities.get(p.get("id"))
            if e is None or e["_type"] != p.get("type"):
                raise ApiError(
                    404, f"[edge.lineageDetails.pipeline] {p.get('type')} instance for {p.get('id')} not found"
                )
            details["pipeline"] = {
                "id": e["id"],
                "type": e["_type"],
                "name": e["name"],
                "fullyQualifiedName": e["fullyQualifiedName"],
                "deleted": False,
            }
        if details.get("columnsLineage"):
            details["columnsLineage"] = filter_column_lineage(
                details["columnsLineage"], self.entities[a["id"]], self.entities[b["id"]]
            )
        self.edges[(a["id"], b["id"])] = {
            "fromEntity": {"id": a["id"], "type": a["type"]},
            "toEntity": {"id": b["id"], "type": b["type"]},
            "lineageDetails": details,
        }
        return 200, {}

    def _delete_lineage(self, from_id: str, to_id: str) -> tuple[int, Any]:
        """openmetadata-service/.../resources/lineage/LineageResource.java deleteLineage: when
        LineageRepository.deleteLineage deleted nothing, 404 with the message "Lineage edge not found"."""
        if self.edges.pop((from_id, to_id), None) is None:
            raise ApiError(404, "Lineage edge not found")
        return 200, {}

    def _lineage_of(self, entity_type: str, fqn: str) -> dict[str, Any]:
        ref = self._ref(entity_type, fqn, "lineage")

        def edge(e: dict[str, Any]) -> dict[str, Any]:
            return {
                "fromEntity": e["fromEntity"]["id"],
                "toEntity": e["toEntity"]["id"],
                **({"lineageDetails": e["lineageDetails"]} if e.get("lineageDetails") else {}),
            }

        up = [edge(e) for (a, b), e in self.edges.items() if b == ref["id"]]
        down = [edge(e) for (a, b), e in self.edges.items() if a == ref["id"]]
        ids = {x for e in up + down for x in (e["fromEntity"], e["toEntity"])} - {ref["id"]}
        nodes = [
            {
                "id": i,
                "type": self.entities[i]["_type"],
                "name": self.entities[i]["name"],
                "fullyQualifiedName": self.entities[i]["fullyQualifiedName"],
            }
            for i in sorted(ids)
        ]
        return {"entity": ref, "nodes": nodes, "upstreamEdges": up, "downstreamEdges": down}

"""The local catalog: entities in the OpenMetadata shape, in a SQLite file or a PostgreSQL database (``store``).

It keeps entity versions the way the OpenMetadata server does (``EntityRepository.EntityUpdater``), so
``mlpublish catalog versions`` says what the server says: the first version is 0.1, every update that
changes something adds 0.1, and a change of ``algorithm``, ``server`` or ``target`` of an MlModel is a major
change (+1.0). An update that changes nothing keeps the version, so replaying events is harmless.

Each event is the request the OpenMetadata sink sends: an upsert is a PUT (never consolidated; it replaces
the fields it carries, keeps tags and custom properties, and keeps the owners when the spec names none), a
tag or property change is a JSON Patch. A patch by mlpublish within ``SESSION_TIMEOUT`` of its last change
to the entity, past version 0.1, is consolidated into the current version as the server does: measured from
the version before it, and back to that version when it undoes the change.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mlpublish.catalog.address import try_catalog_key
from mlpublish.catalog.contracts import ENTITY_TYPE, contract_body, contracts_of, record_results
from mlpublish.catalog.events import (
    VALIDATION_CLASSIFICATION,
    AddLineage,
    CatalogEvent,
    RecordAliasChange,
    RecordContractResults,
    SetModelProperties,
    SetValidationTag,
    UpsertContainer,
    UpsertDataContract,
    UpsertMlModel,
    UpsertTable,
)
from mlpublish.catalog.events import parse_events as parse_events  # moved to events; importable here until callers move
from mlpublish.catalog.store import Cursor, Store, notify_outbox
from mlpublish.clock import now_iso
from mlpublish.errors import NotFound

MAJOR_FIELDS = ("algorithm", "server", "target")
# EntityUpdater.sessionTimeoutMillis of the server: one user's patches within it make one version.
SESSION_TIMEOUT = timedelta(minutes=10)
_META = {"id", "version", "updatedAt", "changeDescription"}


def next_version(version: float, major: bool) -> float:
    return round(version + (1.0 if major else 0.1), 1)


def _changed(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    return {k for k in (set(old) | set(new)) - _META if old.get(k) != new.get(k)}


def container_body(ev: UpsertContainer) -> dict[str, Any]:
    """The Container as the server holds it after the sink's PUT (CreateContainerRequest's fields)."""
    body: dict[str, Any] = {
        "name": ev.name,
        "fullyQualifiedName": ev.fqn,
        "service": ev.service,
        "fullPath": ev.fullPath,
        "fileFormats": list(ev.fileFormats),
        "dataModel": {
            "isPartitioned": bool(ev.partitionColumns),
            "columns": [c.model_dump() for c in ev.columns],
        },
    }
    if ev.description:
        body["description"] = ev.description
    return body


class LocalCatalog:
    """Catalog sink and reader backed by SQLite (``:memory:`` works for tests) or PostgreSQL."""

    kind = "local"

    def __init__(self, path: str | Path, session_timeout: timedelta = SESSION_TIMEOUT):
        self.store = Store(str(path))
        self.path = self.store.path  # the SQLite file (":memory:"), or the PostgreSQL URL
        self.session_timeout = session_timeout
        self._lock = threading.RLock()

    @property
    def _conn(self) -> Store:
        """Opened on first use, so a chain that fails before its first catalog event creates no file."""
        with self._lock:
            if not self.store.is_open:
                self.store.open()
            return self.store

    def __repr__(self) -> str:
        return f"LocalCatalog({self.store.display!r})"

    def close(self) -> None:
        self.store.close()

    @contextmanager
    def connection(self) -> Iterator[Store]:
        """The database under the catalog's lock, for readers that share the file (the outbox)."""
        with self._lock:
            yield self._conn

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One write transaction, all or nothing. It takes the store's write lock at once (waiting for other
        writers; see ``store``), so what it reads cannot change before it writes, and outbox seqs follow
        commit order."""
        with self._lock:
            cur = self._conn.cursor()
            self.store.begin(cur)
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    # Sink ------------------------------------------------------------------
    def publish(self, events: Iterable[CatalogEvent], *, enqueue_for: str | None = None) -> None:
        """Apply events in order, all or nothing. With ``enqueue_for`` (a remote catalog's key:
        ``address.catalog_key``) the events are also queued in the outbox in the same transaction, for that
        catalog to deliver."""
        events = list(events)
        if not events:
            return
        with self.transaction() as cur:
            for ev in events:
                for fqn, type_, body, operation in self._apply(cur, ev):
                    self._write(cur, fqn, type_, body, operation)
            if enqueue_for is not None:
                enqueue_for = try_catalog_key(enqueue_for)  # any spelling of the address: one key
                ts = now_iso()
                cur.executemany(
                    "INSERT INTO outbox (target, event, created_at) VALUES (?,?,?)",
                    [(enqueue_for, ev.model_dump_json(), ts) for ev in events],
                )
                if self.store.postgres:  # wakes a listening relay when this commits
                    notify_outbox(cur, enqueue_for)

    def _apply(self, cur: Cursor, ev: Any) -> list[tuple[str, str, dict[str, Any], str]]:
        """The writes ``ev`` makes: (fqn, entity type, the entity's new content, "PUT" or "PATCH")."""

        def require(fqn: str) -> dict[str, Any]:
            body = self._get(cur, fqn)
            if body is None:
                raise NotFound(f"catalog entity {fqn!r} does not exist (events applied out of order?)")
            return body

        if isinstance(ev, UpsertTable):
            body = {
                "name": ev.fqn.split(".")[-1],
                "fullyQualifiedName": ev.fqn,
                "columns": [c.model_dump() for c in ev.columns],
            }
            if ev.description:
                body["description"] = ev.description
            return [(ev.fqn, "table", body, "PUT")]
        if isinstance(ev, UpsertContainer):
            return [(ev.fqn, "container", container_body(ev), "PUT")]
        if isinstance(ev, UpsertMlModel):
            return self._upsert_model(self._get(cur, ev.fqn), ev)
        if isinstance(ev, SetValidationTag):
            body = require(ev.fqn)
            tags = [t for t in body.get("tags", []) if not t["tagFQN"].startswith(VALIDATION_CLASSIFICATION + ".")]
            tags.append(
                {
                    "tagFQN": f"{VALIDATION_CLASSIFICATION}.{ev.status}",
                    "source": "Classification",
                    "labelType": "Automated",
                    "state": "Confirmed",
                }
            )
            return [(ev.fqn, "mlmodel", {**body, "tags": tags}, "PATCH")]
        if isinstance(ev, SetModelProperties):
            body = require(ev.fqn)
            return [(ev.fqn, "mlmodel", {**body, "extension": {**body.get("extension", {}), **ev.properties}}, "PATCH")]
        if isinstance(ev, AddLineage):
            columns = [c.model_dump() for c in ev.columns]
            if ev.to_type in ("table", "container"):
                # Several models may read the same table: an edge between two tables
                # carries the union of their column lineage, not the last writer's.
                row = cur.execute(
                    "SELECT details FROM lineage WHERE from_fqn=? AND to_fqn=?", (ev.from_fqn, ev.to_fqn)
                ).fetchone()
                merged = {
                    c["toColumn"]: set(c["fromColumns"]) for c in (json.loads(row[0])["columnsLineage"] if row else [])
                }
                for c in columns:
                    merged.setdefault(c["toColumn"], set()).update(c["fromColumns"])
                columns = [{"fromColumns": sorted(f), "toColumn": t} for t, f in sorted(merged.items())]
            details = {"columnsLineage": columns, "source": "mlpublish"}
            if ev.pipeline:
                details["pipeline"] = ev.pipeline
            if ev.description:
                details["description"] = ev.description
            cur.execute(
                "INSERT INTO lineage VALUES (?,?,?,?,?,?) ON CONFLICT(from_fqn, to_fqn) DO UPDATE SET "
                "details=excluded.details, updated_at=excluded.updated_at, from_type=excluded.from_type, to_type=excluded.to_type",
                (ev.from_fqn, ev.to_fqn, ev.from_type, ev.to_type, json.dumps(details, sort_keys=True), now_iso()),
            )
            return []
        if isinstance(ev, RecordAliasChange):
            # '' not NULL for "no previous": NULLs never collide in a UNIQUE index, so replays would duplicate
            cur.execute(
                "INSERT INTO alias_history (fqn, alias, version, previous, action, at) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                (ev.fqn, ev.alias, ev.version, ev.previous or "", ev.action, ev.at),
            )
            return []
        if isinstance(ev, UpsertDataContract):
            fqn, body = contract_body(ev)
            return [(fqn, ENTITY_TYPE, body, "PUT")]
        if isinstance(ev, RecordContractResults):
            record_results(cur, ev)
            return []
        raise TypeError(f"unknown catalog event {ev!r}")  # pragma: no cover - the discriminated union

    @staticmethod
    def _upsert_model(old: dict[str, Any] | None, ev: UpsertMlModel) -> list[tuple[str, str, dict[str, Any], str]]:
        """The sink's PUT of the whole entity, then its JSON Patch of a description a bot's PUT cannot change."""
        new = {**ev.entity, "fullyQualifiedName": ev.fqn}
        if old is None:
            return [(ev.fqn, "mlmodel", new, "PUT")]
        new.update({k: old[k] for k in ("tags", "extension") if k in old})
        if not new.get("owners") and old.get("owners"):  # owners set elsewhere stay when the spec names none
            new["owners"] = old["owners"]
        if not old.get("description") or old["description"] == new.get("description"):
            return [(ev.fqn, "mlmodel", new, "PUT")]
        put = {**new, "description": old["description"]}
        return [(ev.fqn, "mlmodel", put, "PUT"), (ev.fqn, "mlmodel", new, "PATCH")]

    def _get(self, cur: Cursor, fqn: str) -> dict[str, Any] | None:
        row = cur.execute("SELECT body FROM entities WHERE fqn=?", (fqn,)).fetchone()
        return json.loads(row[0]) if row else None

    def _write(self, cur: Cursor, fqn: str, type_: str, body: dict[str, Any], operation: str) -> None:
        """Store ``body`` (the entity's full new content) as the server would version it."""
        row = cur.execute("SELECT version, body FROM entities WHERE fqn=?", (fqn,)).fetchone()
        ts = now_iso()
        if row is None:
            body = {"id": str(uuid.uuid4()), **body, "version": 0.1, "updatedAt": ts}
            change = {
                "fieldsAdded": sorted(k for k in body if k not in ("id", "version", "updatedAt")),
                "fieldsUpdated": [],
                "fieldsDeleted": [],
                "previousVersion": 0.0,
            }
            self._store(cur, fqn, type_, body, 0.1, change, ts)
            return
        old = json.loads(row[1])
        merged = json.loads(json.dumps({k: v for k, v in body.items() if k not in _META}, default=str))
        if not _changed(old, merged):
            return
        base_version, base = row[0], old
        previous = (old.get("changeDescription") or {}).get("previousVersion")
        if operation == "PATCH" and row[0] > 0.1 and self._in_session(old.get("updatedAt"), ts) and previous:
            found = cur.execute(
                "SELECT body FROM entity_versions WHERE fqn=? AND version=?", (fqn, previous)
            ).fetchone()
            if found is not None:  # consolidated: the current version is replaced
                cur.execute("DELETE FROM entity_versions WHERE fqn=? AND version=?", (fqn, row[0]))
                base_version, base = previous, json.loads(found[0])
        changed = _changed(base, merged)
        if not changed:  # the patch undid the session's change: back to the version before it
            self._store(cur, fqn, type_, base, base_version, base.get("changeDescription") or {}, ts)
            return
        major = type_ == "mlmodel" and any(k in changed for k in MAJOR_FIELDS)
        version = next_version(base_version, major)
        change = {
            "fieldsAdded": sorted(k for k in changed if k not in base),
            "fieldsUpdated": [
                {"name": k, "oldValue": base[k], "newValue": merged[k]}
                for k in sorted(changed)
                if k in base and k in merged
            ],
            "fieldsDeleted": sorted(k for k in changed if k not in merged),
            "previousVersion": base_version,
        }
        body = {**merged, "id": old["id"], "version": version, "updatedAt": ts, "changeDescription": change}
        self._store(cur, fqn, type_, body, version, change, ts)

    def _in_session(self, last: str | None, now: str) -> bool:
        if not last or not self.session_timeout:  # timestamps are to the second: 0 must mean "never"
            return False
        return datetime.fromisoformat(now) - datetime.fromisoformat(last) <= self.session_timeout

    @staticmethod
    def _store(
        cur: Cursor,
        fqn: str,
        type_: str,
        body: dict[str, Any],
        version: float,
        change: dict[str, Any],
        ts: str,
    ) -> None:
        text = json.dumps(body, sort_keys=True, default=str)
        cur.execute(
            "INSERT INTO entities VALUES (?,?,?,?,?,?) ON CONFLICT(fqn) DO UPDATE SET "
            "version=excluded.version, body=excluded.body, updated_at=excluded.updated_at",
            (fqn, type_, body.get("name", fqn.split(".")[-1]), version, text, ts),
        )
        cur.execute(
            "INSERT INTO entity_versions VALUES (?,?,?,?,?) ON CONFLICT(fqn, version) DO UPDATE SET "
            "body=excluded.body, change=excluded.change, at=excluded.at",
            (fqn, version, text, json.dumps(change, default=str), ts),
        )

    # Reader ----------------------------------------------------------------
    def get(self, fqn: str) -> dict[str, Any] | None:
        with self._lock:
            return self._get(self._conn.cursor(), fqn)

    def find_model(self, name_or_fqn: str) -> dict[str, Any]:
        """The MlModel by FQN, or by name when that name is unique across services."""
        if not self.store.is_open and not self.store.exists():
            raise NotFound(f"no local catalog at {self.path} (set MLPUBLISH_CATALOG, or run a chain first)")
        with self._lock:
            rows = self._conn.execute(
                "SELECT body FROM entities WHERE type='mlmodel' AND (fqn=? OR name=?)", (name_or_fqn, name_or_fqn)
            ).fetchall()
        if not rows:
            raise NotFound(f"no model {name_or_fqn!r} in the catalog {self.store.display}")
        bodies = [json.loads(r[0]) for r in rows]
        exact = [b for b in bodies if b["fullyQualifiedName"] == name_or_fqn]
        if exact:
            return exact[0]
        if len(bodies) > 1:
            fqns = ", ".join(sorted(b["fullyQualifiedName"] for b in bodies))
            raise NotFound(f"model name {name_or_fqn!r} is ambiguous in the catalog: use one of {fqns}")
        return bodies[0]

    def data_contracts(self, table_fqn: str) -> list[dict[str, Any]]:
        """The data contracts on a table, each with its latest run's results (``catalog.contracts``)."""
        with self._lock:
            return contracts_of(self._conn.cursor(), table_fqn)

    def versions(self, fqn: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT version, change, at FROM entity_versions WHERE fqn=? ORDER BY version", (fqn,)
            ).fetchall()
        return [{"version": v, "changeDescription": json.loads(c), "at": at} for v, c, at in rows]

    def alias_history(self, fqn: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT alias, version, previous, action, at FROM alias_history WHERE fqn=? "
                f"ORDER BY at, {self.store.row_order}",
                (fqn,),
            ).fetchall()
        return [{"alias": a, "version": v, "previous": p or None, "action": act, "at": at} for a, v, p, act, at in rows]

    def edges(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT from_fqn, from_type, to_fqn, to_type, details FROM lineage ORDER BY from_fqn, to_fqn"
            ).fetchall()
        return [
            {"fromEntity": {"fqn": a, "type": at}, "toEntity": {"fqn": b, "type": bt}, "lineageDetails": json.loads(d)}
            for a, at, b, bt, d in rows
        ]

    def lineage(self, fqn: str, depth: int = 5) -> dict[str, Any]:
        """Upstream and downstream edges of ``fqn``, following the graph up to ``depth`` hops."""
        edges = self.edges()

        def walk(start: str, up: bool) -> list[dict[str, Any]]:
            seen, frontier, out = {start}, [start], []
            for _ in range(depth):
                nxt = []
                for e in edges:
                    near, far = (
                        (e["toEntity"]["fqn"], e["fromEntity"]["fqn"])
                        if up
                        else (e["fromEntity"]["fqn"], e["toEntity"]["fqn"])
                    )
                    if near in frontier and e not in out:
                        out.append(e)
                        if far not in seen:
                            seen.add(far)
                            nxt.append(far)
                frontier = nxt
            return out

        return {"entity": fqn, "upstreamEdges": walk(fqn, True), "downstreamEdges": walk(fqn, False)}

"""The durable outbox: catalog events waiting for a remote catalog, in the local catalog's store
(a SQLite file or a PostgreSQL database shared by every worker).

Rows are written in the same transaction that applies the events to the local
mirror (``LocalCatalog.publish(..., enqueue_for=target)``), so an event the
chain emitted is never lost. A row is ``pending`` until delivered, then
``delivered``; a row the server refused (4xx) is ``failed`` (dead-lettered:
shown by ``mlpublish catalog sync``, never retried by itself). Rows are delivered in ``seq`` order, which is
commit order (``store`` explains why), by whoever holds the target's lease: ``mlpublish catalog relay``,
``mlpublish catalog sync``, the end of a CLI command, or a step in strict mode.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlpublish.catalog.address import catalog_key
from mlpublish.catalog.events import parse_events
from mlpublish.catalog.local import LocalCatalog
from mlpublish.clock import now_iso


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    event: Any
    state: str
    attempts: int
    last_error: str | None


class Outbox:
    """The events of one catalog (``target``: its key, ``address.catalog_key`` of the address given)."""

    def __init__(self, local: LocalCatalog, address: str):
        self.local, self.target = local, catalog_key(address)
        self.holder = uuid.uuid4().hex
        self._held = False  # PostgreSQL: we hold the session lock (it stacks: take it once)

    def acquire(self, ttl: float = 120.0) -> bool:
        """One deliverer per target at a time, so two processes never interleave (and reorder) deliveries.
        PostgreSQL: a session advisory lock, freed when its holder's connection ends (even by SIGKILL).
        SQLite: a lease row, not a lock: a holder that died frees it after ``ttl`` seconds."""
        store = self.local.store
        if store.postgres:
            with self.local.connection():
                if not self._held:
                    self._held = store.try_session_lock(self.target)
                return self._held
        now = time.time()
        with self.local.transaction() as cur:
            row = cur.execute("SELECT holder, until FROM outbox_lease WHERE target=?", (self.target,)).fetchone()
            if row is not None and row[0] != self.holder and row[1] > now:
                return False
            cur.execute(
                "INSERT INTO outbox_lease VALUES (?,?,?) ON CONFLICT(target) DO UPDATE SET "
                "holder=excluded.holder, until=excluded.until",
                (self.target, self.holder, now + ttl),
            )
            return True

    def release(self) -> None:
        if self.local.store.postgres:
            with self.local.connection() as db:
                if self._held:
                    db.session_unlock(self.target)
                    self._held = False
            return
        self._update("DELETE FROM outbox_lease WHERE target=? AND holder=?", (self.target, self.holder))

    def _rows(self, where: str, args: tuple[Any, ...] = ()) -> list[OutboxRow]:
        with self.local.connection() as db:
            rows = db.execute(
                f"SELECT seq, event, state, attempts, last_error FROM outbox WHERE target=? {where} ORDER BY seq",
                (self.target, *args),
            ).fetchall()
        return [
            OutboxRow(seq, parse_events([json.loads(ev)])[0], state, attempts, err)
            for seq, ev, state, attempts, err in rows
        ]

    def pending(self) -> list[OutboxRow]:
        return self._rows("AND state='pending'")

    def failed(self) -> list[OutboxRow]:
        return self._rows("AND state='failed'")

    def all(self) -> list[OutboxRow]:
        return self._rows("")

    def counts(self) -> dict[str, int]:
        with self.local.connection() as db:
            rows = db.execute(
                "SELECT state, count(*) FROM outbox WHERE target=? GROUP BY state", (self.target,)
            ).fetchall()
        return {"pending": 0, "delivered": 0, "failed": 0, **dict(rows)}

    def by_catalog(self) -> dict[str, dict[str, int]]:
        """Pending and failed events of every catalog in the store (not only ours), by catalog key."""
        with self.local.connection() as db:
            rows = db.execute(
                "SELECT target, state, count(*) FROM outbox WHERE state IN ('pending', 'failed') GROUP BY target, state"
            ).fetchall()
        out: dict[str, dict[str, int]] = {}
        for target, state, n in rows:
            out.setdefault(target, {"pending": 0, "failed": 0})[state] = n
        return dict(sorted(out.items()))

    def unserved(self) -> dict[str, int]:
        """Pending events of other catalogs that no deliverer serves right now (nobody holds their lease)."""
        return {
            key: c["pending"]
            for key, c in self.by_catalog().items()
            if key != self.target and c["pending"] and not self._leased(key)
        }

    def _leased(self, key: str) -> bool:
        store = self.local.store
        with self.local.connection():
            if store.postgres:
                if not store.try_session_lock(key):
                    return True
                store.session_unlock(key)
                return False
            row = store.execute("SELECT until FROM outbox_lease WHERE target=?", (key,)).fetchone()
        return row is not None and row[0] > time.time()

    def lag_seconds(self) -> float:
        """Age of the oldest pending event (0 when none waits): how far the catalog is behind."""
        with self.local.connection() as db:
            row = db.execute(
                "SELECT min(created_at) FROM outbox WHERE target=? AND state='pending'", (self.target,)
            ).fetchone()
        if not row or not row[0]:
            return 0.0
        return max(0.0, (datetime.fromisoformat(now_iso()) - datetime.fromisoformat(row[0])).total_seconds())

    def _update(self, sql: str, args: tuple[Any, ...]) -> None:
        with self.local.connection() as db:
            db.execute(sql, args)

    def delivered(self, seq: int) -> None:
        self._update(
            "UPDATE outbox SET state='delivered', attempts=attempts+1, last_error=NULL, delivered_at=? WHERE seq=?",
            (now_iso(), seq),
        )

    def attempt_failed(self, seq: int, error: str) -> None:
        """Still pending: the server was unreachable, answered 5xx or refused our credentials."""
        self._update("UPDATE outbox SET attempts=attempts+1, last_error=? WHERE seq=?", (error[:2000], seq))

    def dead_letter(self, seq: int, error: str) -> None:
        self._update(
            "UPDATE outbox SET state='failed', attempts=attempts+1, last_error=? WHERE seq=?", (error[:2000], seq)
        )

    def requeue_failed(self) -> int:
        """Put dead-lettered events back in the queue (after fixing their cause)."""
        with self.local.connection() as db:
            cur = db.execute("UPDATE outbox SET state='pending' WHERE target=? AND state='failed'", (self.target,))
        return cur.rowcount

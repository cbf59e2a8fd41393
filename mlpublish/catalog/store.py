"""Where the catalog mirror and the outbox live: a SQLite file (the embedded default) or PostgreSQL.

``MLPUBLISH_CATALOG`` (or a spec's ``catalog.url``) is a file path, ``sqlite:///path``, ``sqlite://`` (in
memory) or a PostgreSQL URL (``postgresql://user@host:5432/db``, also ``postgresql+psycopg2://``). The
catalog code is written once, with ``?`` parameters and SQL both dialects accept (``ON CONFLICT``
upserts); this module holds the few differences: the schema's types, the parameter style, how a write
transaction excludes other writers, and the delivery lease.

Ordering across writers. Every write transaction first takes one exclusive lock of the store: SQLite's
``BEGIN IMMEDIATE``; on PostgreSQL ``pg_advisory_xact_lock`` on a key of the schema. An outbox row's
``seq`` (an identity) is drawn inside that lock, and PostgreSQL makes a commit visible before it frees
the transaction's locks, so the next writer can draw a seq only after the previous rows are visible:
seq order is commit order. A deliverer reading pending rows ``ORDER BY seq`` therefore never sees a row
whose smaller-seq neighbour commits later, so no entity's later event overtakes an earlier one. The
price is that catalog writes are serialized; they are a few small statements per step.

The delivery lease (one deliverer per OpenMetadata server) is, on PostgreSQL, a session advisory lock
(``pg_try_advisory_lock``): the server frees it when the holder's connection ends, so a relay killed
with SIGKILL frees it at once. SQLite has no session locks: there it is a row with an expiry
(``outbox_lease``), freed by its holder or after its time to live.

Outbox rows are keyed by the catalog's identity (``address.catalog_key``). Opening a store re-keys rows
written under another spelling of an address (by an older mlpublish, or by hand), so that no event waits
for a catalog that is the same as the one its relay serves. On PostgreSQL a writer that queues events
sends ``NOTIFY`` on the store's channel (``notify_channel``: one per schema) in the same transaction, so
that PostgreSQL delivers the notification at commit; a relay ``LISTEN``s (``Listener``) and wakes at once.
"""

from __future__ import annotations

import select
import sqlite3
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from mlpublish.catalog.address import try_catalog_key
from mlpublish.creation_lock import creating
from mlpublish.errors import CatalogUnavailable
from mlpublish.redact import scrub

POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg2://", "postgres://")
# the first key of our advisory locks (two-int form): "mlpc" in ASCII; the second is a hash of the schema
_LOCK_CLASS_WRITE, _LOCK_CLASS_LEASE = 0x6D6C7063, 0x6D6C706C
# the NOTIFY channel of a schema's outbox (an identifier: at most 63 bytes; md5 keeps it short and unquoted-safe)
CHANNEL_SQL = "'mlpublish_outbox_' || md5(current_schema())"

_TABLES = """
CREATE TABLE IF NOT EXISTS entities (
  fqn TEXT PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL,
  version {real} NOT NULL, body TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS entities_name ON entities(type, name);
CREATE TABLE IF NOT EXISTS entity_versions (
  fqn TEXT NOT NULL, version {real} NOT NULL, body TEXT NOT NULL, change TEXT NOT NULL,
  at TEXT NOT NULL, PRIMARY KEY (fqn, version));
CREATE TABLE IF NOT EXISTS lineage (
  from_fqn TEXT NOT NULL, to_fqn TEXT NOT NULL, from_type TEXT NOT NULL, to_type TEXT NOT NULL,
  details TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (from_fqn, to_fqn));
CREATE TABLE IF NOT EXISTS alias_history ({alias_id}
  fqn TEXT NOT NULL, alias TEXT NOT NULL, version TEXT NOT NULL, previous TEXT,
  action TEXT NOT NULL, at TEXT NOT NULL, UNIQUE (fqn, alias, version, previous, action, at));
CREATE TABLE IF NOT EXISTS contract_results (
  contract_fqn TEXT NOT NULL, rule TEXT NOT NULL, run_id TEXT NOT NULL, at TEXT NOT NULL, status TEXT NOT NULL,
  result TEXT NOT NULL, PRIMARY KEY (contract_fqn, rule, run_id));
CREATE TABLE IF NOT EXISTS outbox (
  seq {seq}, target TEXT NOT NULL, event TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
  created_at TEXT NOT NULL, delivered_at TEXT);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(target, state, seq);
CREATE TABLE IF NOT EXISTS outbox_lease (target TEXT PRIMARY KEY, holder TEXT NOT NULL, until {real} NOT NULL);
"""
SQLITE_SCHEMA = _TABLES.format(real="REAL", alias_id="", seq="INTEGER PRIMARY KEY AUTOINCREMENT")
# DOUBLE PRECISION, not REAL (float4 in PostgreSQL): version 0.1 must read back as 0.1
POSTGRES_SCHEMA = _TABLES.format(
    real="DOUBLE PRECISION",
    alias_id="id BIGINT GENERATED ALWAYS AS IDENTITY,",
    seq="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
)


def is_postgres(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


def sqlite_path(url: str) -> str:
    """The SQLite file of a catalog URL (``:memory:`` for ``sqlite://``); refuses kinds we cannot open."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if url == "sqlite://":
        return ":memory:"
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise CatalogUnavailable(
            f"catalog kind {scheme!r} is not available: use a file path or sqlite:///path (embedded), "
            "or postgresql://user@host:port/database (shared by every worker)"
        )
    return url


class Cursor:
    """A DB-API cursor that takes ``?`` parameters on both dialects."""

    def __init__(self, raw: Any, postgres: bool):
        self.raw, self.postgres = raw, postgres

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Cursor:
        self.raw.execute(self._sql(sql), tuple(args) if (args or not self.postgres) else None)
        return self

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> Cursor:
        self.raw.executemany(self._sql(sql), rows)
        return self

    def fetchone(self) -> Any:
        return self.raw.fetchone()

    def fetchall(self) -> list[Any]:
        return self.raw.fetchall()

    @property
    def rowcount(self) -> int:
        return self.raw.rowcount


class Store:
    """One connection to the catalog database; transactions are explicit (BEGIN ... COMMIT)."""

    def __init__(self, url: str):
        self.url = url
        self.postgres = is_postgres(url)
        self.path = url if self.postgres else sqlite_path(url)
        self.display = scrub(self.path)  # a PostgreSQL URL may carry a password
        self.row_order = "id" if self.postgres else "rowid"  # insertion order of alias_history
        self._raw: Any = None

    def exists(self) -> bool:
        """False only for a SQLite file that is not there yet (a PostgreSQL store is created on first use)."""
        return self.postgres or self.path == ":memory:" or Path(self.path).exists()

    def open(self) -> None:
        try:
            if self.postgres:
                self._raw = self._open_postgres()
            else:
                if self.path != ":memory:":
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                # two first runs at once: one process switches the file to WAL and creates the tables
                with creating(self.path) if self.path != ":memory:" else nullcontext():
                    db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                    db.execute("PRAGMA journal_mode=WAL")
                    db.executescript(SQLITE_SCHEMA)
                self._raw = db
                cur = self.cursor()
                self.begin(cur)
                try:
                    rekey_outbox(cur)
                    cur.execute("COMMIT")
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
        except (sqlite3.Error, OSError) as exc:
            raise CatalogUnavailable(f"cannot open local catalog {self.display}: {exc}") from None

    def connect_postgres(self) -> Any:
        """A new psycopg2 connection to the store's database (the store's own, or a listener's)."""
        import psycopg2

        dsn = self.url.replace("postgresql+psycopg2://", "postgresql://", 1)
        try:
            return psycopg2.connect(dsn, connect_timeout=10)
        except psycopg2.Error as exc:
            raise CatalogUnavailable(scrub(f"cannot open catalog database {self.display}: {exc}".strip())) from None

    def _open_postgres(self) -> Any:
        import psycopg2

        raw = self.connect_postgres()
        raw.autocommit = True  # as SQLite's isolation_level=None: a statement alone commits, BEGIN opens a transaction
        cur = Cursor(raw.cursor(), True)
        try:
            cur.execute("BEGIN")
            # two processes creating the tables at once would collide in the system catalogs
            cur.execute("SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))", (_LOCK_CLASS_WRITE,))
            for statement in filter(str.strip, POSTGRES_SCHEMA.split(";")):
                cur.execute(statement)
            rekey_outbox(cur)
            cur.execute("COMMIT")
        except psycopg2.Error as exc:
            raw.close()
            raise CatalogUnavailable(scrub(f"cannot create the catalog tables in {self.display}: {exc}")) from None
        return raw

    @property
    def is_open(self) -> bool:
        return self._raw is not None

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def cursor(self) -> Cursor:
        return Cursor(self._raw.cursor(), self.postgres)

    def execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Cursor:
        return self.cursor().execute(sql, args)

    def begin(self, cur: Cursor) -> None:
        """Open a write transaction holding the store's write lock until it ends (see the module docstring)."""
        if self.postgres:
            cur.execute("BEGIN")
            cur.execute("SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))", (_LOCK_CLASS_WRITE,))
        else:
            cur.execute("BEGIN IMMEDIATE")

    # The delivery lease on PostgreSQL (SQLite: the outbox_lease row, in outbox.py) ----------------
    def try_session_lock(self, name: str) -> bool:
        row = self.execute(
            "SELECT pg_try_advisory_lock(?, hashtext(current_schema() || '/' || ?))", (_LOCK_CLASS_LEASE, name)
        ).fetchone()
        return bool(row[0])

    def session_unlock(self, name: str) -> None:
        self.execute("SELECT pg_advisory_unlock(?, hashtext(current_schema() || '/' || ?))", (_LOCK_CLASS_LEASE, name))


def rekey_outbox(cur: Cursor) -> int:
    """Re-key outbox rows (and SQLite leases) stored under another spelling of their catalog's address;
    inside the caller's write transaction. Returns the number of rows moved."""
    moved = 0
    for (target,) in cur.execute("SELECT DISTINCT target FROM outbox").fetchall():
        key = try_catalog_key(target)
        if key != target:
            moved += cur.execute("UPDATE outbox SET target=? WHERE target=?", (key, target)).rowcount
            cur.execute("DELETE FROM outbox_lease WHERE target=?", (target,))  # an old holder's; expires anyway
    return moved


def notify_outbox(cur: Cursor, key: str) -> None:
    """Tell listening relays that events for ``key`` were queued (PostgreSQL sends it when the transaction
    commits, and not at all when it rolls back)."""
    cur.execute(f"SELECT pg_notify({CHANNEL_SQL}, ?)", (key,))


class Listener:
    """A connection that LISTENs on the store's outbox channel (PostgreSQL only), for a relay to sleep on.

    ``wait(timeout, wake_fd)`` returns the catalog keys notified (empty when the timeout passed or
    ``wake_fd`` became readable: the relay's stop signal). A lost connection is reported by ``broken``;
    the relay then polls, and tries to listen again later."""

    def __init__(self, store: Store):
        self.store = store
        self.conn: Any = None

    def start(self) -> None:
        conn = self.store.connect_postgres()
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(f"SELECT {CHANNEL_SQL}")
        channel = cur.fetchone()[0]
        cur.execute(f'LISTEN "{channel}"')
        self.conn = conn

    @property
    def broken(self) -> bool:
        return self.conn is None or bool(self.conn.closed)

    def wait(self, timeout: float, wake_fd: int | None = None) -> set[str]:
        import psycopg2

        fds = [self.conn] + ([wake_fd] if wake_fd is not None else [])
        try:
            readable, _, _ = select.select(fds, [], [], timeout)
            if self.conn not in readable:
                return set()
            self.conn.poll()
        except (OSError, ValueError, psycopg2.Error):
            self.close()
            return set()
        keys = {n.payload for n in self.conn.notifies}
        self.conn.notifies.clear()
        return keys

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - closing a connection already lost
                pass
            self.conn = None

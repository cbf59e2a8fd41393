"""The warehouse: any SQLAlchemy URL. All of mlpublish's SQL (this package): reading features here;
the rows to score or monitor in :mod:`mlpublish.warehouse.sources`, the predictions table in
:mod:`mlpublish.warehouse.predictions`, the local scoring loop (read, predict, write in one transaction)
in :mod:`mlpublish.warehouse.scoring`, the rows the data contract holds back in :mod:`mlpublish.warehouse.quarantine`.

Table FQNs follow OpenMetadata: ``<service>.<database>.<schema>.<table>``. For
SQLite both database and schema are ``main``; for PostgreSQL the database is
the URL's and the schema defaults to ``public``; for MySQL/MariaDB the database
is ``default`` and the schema is the URL's database, as OpenMetadata's
connectors name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import sqlalchemy as sa

from mlpublish.errors import WarehouseError
from mlpublish.redact import redact_url, register_url_secrets, userinfo_end

if TYPE_CHECKING:
    import pandas as pd

    from mlpublish.spec import DataSpec


@dataclass
class Warehouse:
    url: str = field(repr=False)  # may hold a password: never in a repr
    service: str
    database: str | None = None
    schema: str | None = None
    create: bool = False  # only the demo builder may create a SQLite file; readers must not
    _engine: sa.Engine | None = field(default=None, init=False, repr=False)
    _read_engine: sa.Engine | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:  # its password is held, so never shown (mlpublish.redact)
        register_url_secrets(self.url)

    @classmethod
    def from_spec(cls, data: DataSpec) -> Warehouse:
        return cls(data.connection, data.service, data.database, data.schema_)

    @cached_property
    def _url(self) -> sa.URL:
        try:
            scheme, sep, rest = self.url.partition("://")
            at = userinfo_end(rest) if sep else -1
            if at >= 0 and any(c in rest[:at] for c in "@/"):
                # a password with / or @: SQLAlchemy would end it at the first of them and hand the rest to the
                # driver as the host (which prints it); the userinfo ends at the authority's last @
                user, _, password = rest[:at].partition(":")
                return sa.engine.make_url(f"{scheme}://{rest[at + 1 :]}").set(
                    username=unquote(user) or None, password=unquote(password) if password else None
                )
            return sa.engine.make_url(self.url)
        except Exception:
            raise WarehouseError(
                f"data.connection is not a SQLAlchemy URL: {redact_url(self.url, database=True)}"
            ) from None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            path = self._url.database if self.dialect == "sqlite" else None
            if (
                path
                and path != ":memory:"
                and not path.startswith("file:")
                and not self.create
                and not Path(path).is_file()
            ):
                raise WarehouseError(
                    f"no SQLite warehouse file at {Path(path).resolve()} (data.connection {redact_url(self.url, database=True)})"
                )
            try:
                self._engine = sa.create_engine(self._url, pool_pre_ping=True)
            except Exception as exc:
                raise WarehouseError(f"cannot use warehouse {redact_url(self.url, database=True)}: {exc}") from None
        return self._engine

    @property
    def read_engine(self) -> sa.Engine:
        """An engine whose connections cannot write: what every read of user-given SQL (``scoring.query``) uses.

        PostgreSQL: every transaction of its sessions is READ ONLY (``default_transaction_read_only``, set when
        the session starts); SQLite: ``PRAGMA query_only`` on each connection. No pool: a read-only connection
        never serves a write, and a session a query tampered with is never reused. Other databases: the engine itself (only the query check guards them).
        """
        if self._read_engine is None:
            engine = self.engine  # the same checks (URL, SQLite file) as the writer's
            if self.dialect not in ("postgresql", "sqlite"):
                return engine
            connect_args: dict[str, Any] = {}
            if self.dialect == "postgresql":
                given = self._url.query.get("options")
                given = " ".join(given) if isinstance(given, tuple) else given
                connect_args["options"] = f"{given + ' ' if given else ''}-c default_transaction_read_only=on"
            try:
                # no pool: every read starts a fresh session, so nothing a query did to one (set_config) outlives it
                read = sa.create_engine(self._url, poolclass=sa.pool.NullPool, connect_args=connect_args)
            except Exception as exc:
                raise WarehouseError(f"cannot use warehouse {redact_url(self.url, database=True)}: {exc}") from None
            if self.dialect == "sqlite":
                sa.event.listen(read, "connect", _sqlite_query_only)
            self._read_engine = read
        return self._read_engine

    def dispose(self) -> None:
        for engine in (self._engine, self._read_engine):
            if engine is not None:
                engine.dispose()
        self._engine = self._read_engine = None

    # Naming ---------------------------------------------------------------
    @property
    def dialect(self) -> str:
        return self._url.get_backend_name()

    @property
    def db_name(self) -> str:
        if self.database:
            return self.database
        if self.dialect == "sqlite":
            return "main"
        if self.dialect in ("mysql", "mariadb"):
            return "default"
        return self._url.database or "default"

    @property
    def schema_name(self) -> str:
        if self.schema:
            return self.schema
        if self.dialect == "sqlite":
            return "main"
        if self.dialect in ("mysql", "mariadb"):
            return self._url.database or "default"
        if self.dialect == "postgresql":
            return "public"
        return "default"

    def table_fqn(self, table: str) -> str:
        return f"{self.service}.{self.db_name}.{self.schema_name}.{table}"

    def owns(self, fqn: str) -> bool:
        """True when ``fqn`` names a table of this warehouse (same service, database, schema)."""
        parts = fqn.split(".")
        return len(parts) == 4 and parts[0] == self.service and parts[1] == self.db_name

    def _sql_schema(self, schema: str | None = None) -> str | None:
        s = schema or self.schema_name
        return None if self.dialect == "sqlite" and s == "main" else s

    # Reading --------------------------------------------------------------
    def ping(self) -> None:
        """Connect once; raise WarehouseError saying why the warehouse cannot be used."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise WarehouseError(
                f"cannot connect to warehouse {redact_url(self.url, database=True)}: {first_line(exc)}"
            ) from None

    def has_table(self, table: str) -> bool:
        """Whether ``table`` exists in the warehouse's schema."""
        try:
            return sa.inspect(self.engine).has_table(table, schema=self._sql_schema())
        except sa.exc.SQLAlchemyError as exc:
            raise WarehouseError(
                f"cannot read warehouse {redact_url(self.url, database=True)}: {exc.__class__.__name__}: {first_line(exc)}"
            ) from None

    def columns(self, table: str, schema: str | None = None) -> dict[str, str]:
        """Column name -> SQL type name. Raises WarehouseError if the table is missing."""
        try:
            insp = sa.inspect(self.engine)
            sch = self._sql_schema(schema)
            if not insp.has_table(table, schema=sch):
                where = f"{sch}.{table}" if sch else table
                raise WarehouseError(f"table {where!r} not found in warehouse {redact_url(self.url, database=True)}")
            return {c["name"]: str(c["type"]) for c in insp.get_columns(table, schema=sch)}
        except WarehouseError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise WarehouseError(
                f"cannot read warehouse {redact_url(self.url, database=True)}: {exc.__class__.__name__}: {first_line(exc)}"
            ) from None

    def read_frame(self, table: str, columns: list[str]) -> pd.DataFrame:
        """SELECT the given columns of ``table`` (identifiers quoted by SQLAlchemy)."""
        import pandas as pd

        t = sa.table(table, *[sa.column(c) for c in columns], schema=self._sql_schema())
        query = sa.select(*[t.c[c] for c in columns])
        try:
            with self.engine.connect() as conn:
                return pd.read_sql_query(query, conn)
        except sa.exc.SQLAlchemyError as exc:
            raise WarehouseError(
                f"cannot read {self.table_fqn(table)} from {redact_url(self.url, database=True)}: {first_line(exc)}"
            ) from None

    def row_count(self, table: str) -> int:
        t = sa.table(table, schema=self._sql_schema())
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA query_only = ON")


def first_line(exc: Any) -> str:
    """The first line of a database error (the driver's own message): the rest repeats the SQL and its parameters."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__

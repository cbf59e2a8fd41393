"""Catalog stores for tests: a fresh PostgreSQL schema per test (dropped afterwards), or a SQLite file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.mlflow_server import PG_ADMIN_URL


def _admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(PG_ADMIN_URL)
    conn.autocommit = True
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


@contextmanager
def postgres_catalog_url(prefix: str = "catalog") -> Iterator[str]:
    """The URL of a catalog store in a new schema of the test server; the schema is dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def catalog_url(kind: str, tmp: Path) -> Iterator[str]:
    """A catalog store of ``kind`` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        yield str(tmp / "catalog.db")
    else:
        with postgres_catalog_url() as url:
            yield url

"""Catalog stores for tests: a fresh PostgreSQL schema per test (dropped afterwards), or a SQLite file."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def wait_until(what: str, check: Any, proc: subprocess.Popen | None = None, timeout: float = 300) -> Any:
    """Poll ``check`` until true; fails at once if ``proc`` (the relay) has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        assert proc is None or proc.poll() is None, f"the process exited {proc.returncode} while waiting for {what}"
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")

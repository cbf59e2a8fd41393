"""Real services the reliability suites break on purpose: a restartable ``mlflow server`` on PostgreSQL,
and SQL helpers that look into its database (the registry's own tables) and hold locks in it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.support.mlflow_server import restartable_port, start_mlflow_server, stop_mlflow_server

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class KillableServer:
    """An ``mlflow server`` process that a test can SIGKILL and restart on the same port and backend."""

    backend: str
    root: Path
    port: int
    proc: subprocess.Popen | None = None
    url: str = ""

    def start(self) -> KillableServer:
        self.proc, self.url = start_mlflow_server(
            self.backend, self.root / "artifacts", self.root / "server.log", port=self.port
        )
        return self

    def kill(self) -> None:
        """SIGKILL the whole server (app server and workers): no shutdown handler runs."""
        assert self.proc is not None
        stop_mlflow_server(self.proc, 9)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            stop_mlflow_server(self.proc)
            self.proc = None

    def db(self) -> sa.Engine:
        return sa.create_engine(self.backend, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def new_server(backend: str, root: Path) -> KillableServer:
    return KillableServer(backend, root, restartable_port()).start()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120.0, every: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy (the observed state), else fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def blocked_on(engine: sa.Engine, table: str) -> list[int]:
    """PIDs of backends of this database waiting for a lock while writing ``table``."""
    with engine.connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND wait_event_type = 'Lock' AND query ILIKE :q"
                ),
                {"q": f"%{table}%"},
            )
        ]


def terminate_others(conn: sa.Connection) -> int:
    """From ``conn``, terminate every other backend of its database (a dead server's connections)."""
    return len(
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).fetchall()
    )


def registry_rows(engine: sa.Engine, name: str) -> dict[str, Any]:
    """What the registry's database holds for model ``name``: versions, aliases, lock models."""
    with engine.connect() as conn:
        versions = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT version FROM model_versions WHERE name = :n ORDER BY version"), {"n": name}
            )
        ]
        aliases = {
            a: str(v)
            for a, v in conn.execute(
                sa.text("SELECT alias, version FROM registered_model_aliases WHERE name = :n"), {"n": name}
            )
        }
        locks = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT name FROM registered_models WHERE name LIKE :p"), {"p": f"mlpublish-lock.{name}%"}
            )
        ]
    return {"versions": versions, "aliases": aliases, "locks": locks}


def start_worker(script: str, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A step in its own process (tests/integration/<script>), as an orchestrator task runs it; start now."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "support" / script), *args, "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    proc.log = log  # type: ignore[attr-defined]  # read by the tests when the worker fails
    return proc


def worker_env(base: dict[str, str], url: str) -> dict[str, str]:
    # No client-side HTTP retries: the task fails when its server dies, and the orchestrator's retry
    # (the test) runs the step again, instead of the client quietly retrying into the restarted server.
    base = {k: v for k, v in base.items() if k != "MLFLOW_REGISTRY_URI"}  # the registry is the tracking server
    return {
        **base,
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")])),
    }


_SHARED: dict[str, Any] = {}


def shared_server(config: Any, tmp_root: Path) -> KillableServer:
    """One registry server (PostgreSQL backend) for the whole reliability session: starting one and
    migrating its database costs tens of seconds. The fault tests kill and restart it; every test uses
    its own model names. Stopped, and its database dropped, when the session ends."""
    srv = _SHARED.get("server")
    if srv is None:
        from tests.support.mlflow_server import postgres_database

        db = postgres_database("faults_mlflow")
        backend = db.__enter__()
        config.add_cleanup(lambda: db.__exit__(None, None, None))
        tmp_root.mkdir(parents=True, exist_ok=True)
        srv = _SHARED["server"] = new_server(backend, tmp_root)
        config.add_cleanup(srv.stop)  # runs before the database is dropped (cleanups run last-in first-out)
    if srv.proc is None or srv.proc.poll() is not None:  # a test failed between kill and restart
        srv.start()
    return srv

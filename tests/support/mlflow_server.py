"""A real ``mlflow server`` process with its backend store in this machine's PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ADMIN_URL = os.environ.get("MLPUBLISH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def restartable_port() -> int:
    """A free port for a server that a test kills and restarts on the same port.

    Taken below the kernel's ephemeral range, in a block of its own per pytest-xdist worker: while the server is
    down, no :func:`free_port` (bind to port 0) of this or a parallel session can hand its port to another
    server, which the restart would then find answering in its place."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    base = 20000 + 300 * index
    for port in range(base, min(base + 300, low)):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


def _admin(sql: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(sql))
    engine.dispose()


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_mlflow_server(
    backend_uri: str,
    artifacts: Path,
    log: Path,
    port: int | None = None,
    *,
    app_name: str | None = None,
    env: dict[str, str] | None = None,
    workers: int = 2,
) -> tuple[subprocess.Popen, str]:
    """Start ``mlflow server`` (its own process group) and wait until it answers; returns (process, url).

    ``port`` lets a test restart a killed server where its clients expect it; ``app_name`` (e.g. basic-auth)
    and ``env`` (its settings) choose the server's app."""
    port = port or free_port()
    cmd = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        str(artifacts),
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        *(["--app-name", app_name] if app_name else []),
    ]
    environment = {**os.environ, "MLFLOW_LOGGING_LEVEL": "WARNING", **(env or {})}
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        environment.pop(name, None)
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=environment, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    # what the server prints once it has bound the port: uvicorn, or gunicorn (some --app-name servers)
    bound = (f"Uvicorn running on {url}".encode(), f"Listening at: {url}".encode())
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    # ours, not another server on that port (a restart): this start's log says it bound the port
                    if r.status == 200 and any(b in log.read_bytes()[offset:] for b in bound):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not answer on {url} within 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
    except BaseException:
        stop_mlflow_server(proc)
        raise
    return proc, url


def stop_mlflow_server(proc: subprocess.Popen, sig: int = 15) -> None:
    """Signal the server's whole process group (the app server and its workers), then reap it."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


@contextmanager
def mlflow_server(backend_uri: str, artifacts: Path, log: Path) -> Iterator[str]:
    proc, url = start_mlflow_server(backend_uri, artifacts, log)
    try:
        yield url
    finally:
        stop_mlflow_server(proc)


@contextmanager
def basic_auth_server(root: Path, backend_uri: str, admin_password: str) -> Iterator[str]:
    """``mlflow server --app-name basic-auth`` (users and grants in SQLite under ``root``); yields its URL.

    Users start with READ on everything (``default_permission``); ``admin`` holds ``admin_password``."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "basic_auth.ini"
    config.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{root / 'basic_auth.db'}\nadmin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # a password hash costs a good part of a second of CPU: check each (user, password) once per worker
        "auth_cache_ttl_seconds = 600\n"
    )
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex,
    }
    proc, url = start_mlflow_server(
        backend_uri, root / "artifacts", root / "server.log", app_name="basic-auth", env=env
    )
    try:
        yield url
    finally:
        # SIGKILL: on SIGTERM the app server waits for the test process's idle keep-alive connections (20 s)
        stop_mlflow_server(proc, sig=9)

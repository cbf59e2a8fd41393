"""A real Dagster deployment on loopback: code server, dagster-webserver and dagster-daemon,
with the instance's storage in a fresh PostgreSQL database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.support.mlflow_server import free_port, postgres_database

LOCATION = "mlpublish"
REPOSITORY = "__repository__"
BIN = Path(sys.executable).parent
# what the README recommends: one publish run per model at a time (docker/dagster/dagster.yaml
# has the same limits; tests/unit/project/test_compose.py checks it)
PUBLISH_RUN_LIMITS = [{"key": "mlpublish/model", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]


class Deployment:
    def __init__(self, url: str, home: Path, logs: Path):
        self.url = url
        self.home = home
        self.logs = logs
        self.responses: list[str] = []  # every GraphQL answer, to look for leaked secrets

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        req = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            text = resp.read().decode()
        self.responses.append(text)
        data = json.loads(text)
        if data.get("errors"):
            raise AssertionError(f"GraphQL errors: {data['errors']}")
        return data["data"]

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.logs.glob("*.log"))
        )


def _stop_all(procs: list[subprocess.Popen]) -> None:
    """TERM every process group at once (each one's children too), KILL what is left after 10 s."""
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _start(started: list[subprocess.Popen], cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    started.append(proc)
    return proc


def _wait_for_port(port: int, proc: subprocess.Popen, deployment: Deployment) -> None:
    import socket

    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the code server exited with {proc.returncode}:\n{deployment.log_tail()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the code server did not listen on {port} within 120 s:\n{deployment.log_tail()}")
        time.sleep(0.5)


@contextmanager
def dagster_deployment(root: Path, env: dict[str, str]) -> Iterator[Deployment]:
    """Code server + webserver + daemon sharing one instance (DAGSTER_HOME in ``root``) on PostgreSQL."""
    home, logs = root / "dagster_home", root / "logs"
    home.mkdir(parents=True)
    logs.mkdir(exist_ok=True)
    with postgres_database("mlp_dagster") as pg_url, ExitStack() as stack:
        (home / "dagster.yaml").write_text(
            yaml.safe_dump(
                {
                    "storage": {"postgres": {"postgres_url": pg_url}},
                    # read by Dagster's default run coordinator (the queued one), as in docker/dagster/dagster.yaml
                    "concurrency": {
                        "runs": {"max_concurrent_runs": 1, "tag_concurrency_limits": PUBLISH_RUN_LIMITS},
                    },
                    "telemetry": {"enabled": False},
                }
            )
        )
        grpc_port, web_port = free_port(), free_port()
        workspace = home / "workspace.yaml"
        workspace.write_text(
            yaml.safe_dump(
                {"load_from": [{"grpc_server": {"host": "127.0.0.1", "port": grpc_port, "location_name": LOCATION}}]}
            )
        )
        env = {**env, "DAGSTER_HOME": str(home)}
        started: list[subprocess.Popen] = []
        stack.callback(_stop_all, started)
        procs = {
            "code-server": _start(
                started,
                [
                    str(BIN / "dagster"),
                    "api",
                    "grpc",
                    "-m",
                    "mlpublish_dagster.definitions",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(grpc_port),
                ],
                env,
                logs / "code-server.log",
            )
        }
        deployment = Deployment(f"http://127.0.0.1:{web_port}", home, logs)
        _wait_for_port(grpc_port, procs["code-server"], deployment)  # the others load the location once, from it
        procs |= {
            "webserver": _start(
                started,
                [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port), "-w", str(workspace)],
                env,
                logs / "webserver.log",
            ),
            "daemon": _start(
                started, [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env, logs / "daemon.log"
            ),
        }
        deadline = time.monotonic() + 180
        while True:
            dead = [n for n, p in procs.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead} exited:\n{deployment.log_tail()}")
            try:
                data = deployment.graphql("""{ workspaceOrError { __typename ... on Workspace { locationEntries {
                    name locationOrLoadError { __typename ... on PythonError { message } } } } } }""")
                entries = data["workspaceOrError"]["locationEntries"]
                state = entries[0]["locationOrLoadError"] if entries else None
                if state and state["__typename"] == "RepositoryLocation":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Dagster did not load the code location within 180 s:\n{deployment.log_tail()}")
            time.sleep(1)
        yield deployment

"""A real Airflow on this machine for the integration tests.

Metadata DB in a fresh PostgreSQL database, ``api-server``, ``scheduler``,
``dag-processor`` and a ``celery worker`` (CeleryExecutor, Redis broker) as
separate processes on loopback, AIRFLOW_HOME in a temporary folder, simple
auth manager with everyone admin. The repository's ``dags/`` folder is the
DAG folder; specs come from ``MLPUBLISH_SPECS_DIR``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from tests.support.mlflow_server import free_port, postgres_database

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("MLPUBLISH_TEST_REDIS", "redis://127.0.0.1:6379/7")
TERMINAL = {"success", "failed"}

# Test-only fault injection, loaded by Airflow from $AIRFLOW_HOME/config as a cluster policy:
# the register task of a run triggered with conf {"fail_register_once": true} fails on its
# first try *after* the step returned (the model version exists), like a worker killed there;
# the train task of a run triggered with conf {"hold_until": path} waits for that file first.
#
# The Celery worker imports MLflow and scikit-learn once at startup, so the task processes it forks
# inherit them instead of importing them again (a deployment tuning; the DAG files stay light).
LOCAL_SETTINGS = """
import sys

if "celery" in sys.argv and "worker" in sys.argv:
    import mlflow.sklearn, sklearn.ensemble, mlpublish.steps  # noqa: E401,F401


def task_policy(task):
    if task.task_id == "train" and task.dag_id.startswith("mlpublish__"):
        task._pre_execute_hook = hold_until_released
    if task.task_id != "register" or not task.dag_id.startswith("mlpublish__"):
        return

    def fail_first_try(context, result):
        if (context["dag_run"].conf or {}).get("fail_register_once") and context["ti"].try_number == 1:
            raise RuntimeError("injected failure: register task died after creating the version")

    task._post_execute_hook = fail_first_try


def hold_until_released(context):
    # conf {"hold_until": path}: train waits (bounded) until the test creates that file, so a run is in flight
    # for as long as the test needs, whatever the machine's speed
    import os, time  # noqa: E401

    path = (context["dag_run"].conf or {}).get("hold_until")
    deadline = time.monotonic() + 600
    while path and not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.5)
"""


# Settings that do not depend on where Airflow runs: docker-compose.yml passes the same values
# (tests/unit/project/test_compose.py checks it), so the tests run the deployment the stack ships.
DEPLOYMENT_SETTINGS = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
}


class Airflow:
    def __init__(self, url: str, home: Path, logs: Path):
        self.url, self.home, self.logs = url, home, logs

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}/api/v2{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: HTTP {exc.code} {exc.read()[:2000]!r}") from None

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        run = self.request("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 240) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.request("GET", f"/dags/{dag_id}/dagRuns/{q(run_id)}")["state"]
            if state in TERMINAL:
                return state
            time.sleep(1)
        raise AssertionError(
            f"{dag_id} run {run_id} not finished after {timeout} s: {self.tasks(dag_id, run_id)}\n" + self.tail_logs()
        )

    def runs(self, dag_id: str) -> dict[str, str]:
        """Every run of the DAG: run id -> run type (manual, scheduled, asset_triggered, ...)."""
        out = self.request("GET", f"/dags/{dag_id}/dagRuns?limit=100")
        return {r["dag_run_id"]: r["run_type"] for r in out["dag_runs"]}

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, attempt: int, *expected: str, timeout: float = 60
    ) -> str:
        """The task attempt's log file once it holds every ``expected`` text. The run's state reaches the API
        before the task runner has flushed the log, so the file is read until the lines are there (bounded)."""
        pattern = f"logs/dag_id={dag_id}/run_id={run_id}/task_id={task_id}/attempt={attempt}.log"
        deadline = time.monotonic() + timeout
        while True:
            text = "".join(p.read_text(errors="replace") for p in self.home.glob(pattern))
            if all(e in text for e in expected) or time.monotonic() > deadline:
                return text
            time.sleep(0.5)

    def tasks(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        out = self.request("GET", f"/dags/{dag_id}/dagRuns/{q(run_id)}/taskInstances")
        return {t["task_id"]: t for t in out["task_instances"]}

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        out = self.request(
            "GET",
            f"/dags/{dag_id}/dagRuns/{q(run_id)}/taskInstances/{task_id}/xcomEntries/{key}"
            "?deserialize=true&stringify=false",
        )
        return out["value"]

    def wait_dag(self, dag_id: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.request("GET", f"/dags/{dag_id}")
                return
            except AssertionError:
                time.sleep(1)
        errors = self.request("GET", "/importErrors")
        raise AssertionError(f"DAG {dag_id} not parsed after {timeout} s; import errors: {errors}\n" + self.tail_logs())

    def tail_logs(self, chars: int = 2500) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-chars:]}" for p in sorted(self.logs.glob("*.log"))
        )


def q(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


def _drop_queue_keys(queue: str) -> None:
    """The broker's keys of this deployment's queue only: another deployment may share the Redis database."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"*{queue}*"))
    if keys:
        client.delete(*keys)


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=log.parent
        )


def _stop(procs: list[subprocess.Popen], grace: float = 15) -> None:
    """SIGTERM every process group at once, SIGKILL what is left after ``grace`` seconds."""
    for sig in (15, 9):
        for p in procs:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        if all(p.poll() is not None for p in procs):
            return


def _wait_http(url: str, procs: list[subprocess.Popen], logs: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(
                    f"{p.args[:3]} exited with {p.returncode}:\n"
                    + "\n".join(f.read_text(errors="replace")[-3000:] for f in logs.glob("*.log"))
                )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextmanager
def airflow_deployment(root: Path) -> Iterator[Callable[[dict[str, str]], Airflow]]:
    """A fresh metadata DB, migrated in the background; yields ``start(extra_env)`` which waits for the
    migration, starts the four Airflow processes and returns a REST client. Stops and drops everything."""
    home, logs = root / "airflow-home", root / "logs"
    (home / "config").mkdir(parents=True)
    logs.mkdir()
    (home / "config" / "airflow_local_settings.py").write_text(LOCAL_SETTINGS)
    with ExitStack() as stack:
        db = stack.enter_context(postgres_database("mlp_airflow"))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            **DEPLOYMENT_SETTINGS,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db.replace("postgresql://", "postgresql+psycopg2://", 1),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # the conf keys of the fault injection and the hold (LOCAL_SETTINGS): this deployment's own, not typos
            "MLPUBLISH_AIRFLOW_CONF_KEYS": "fail_register_once,hold_until",
        }
        # the tasks must find the server through connection mlflow_default, not through what an
        # earlier in-process chain left in this process's environment
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLPUBLISH_ARTIFACT_ROOT"):
            env.pop(var, None)
        # a Celery queue of its own: two deployments on one machine (two test sessions, a developer's and CI's)
        # share the Redis database, and a worker must never take the other deployment's tasks
        queue = f"mlpublish_test_{secrets.token_hex(4)}"
        env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] = queue
        stack.callback(_drop_queue_keys, queue)
        procs: list[subprocess.Popen] = []
        stack.callback(_stop, procs)
        migrate = _spawn([str(BIN / "airflow"), "db", "migrate"], env, logs / "db-migrate.log")
        procs.append(migrate)

        def start(extra_env: dict[str, str]) -> Airflow:
            if migrate.wait(timeout=300) != 0:
                raise RuntimeError("airflow db migrate failed:\n" + (logs / "db-migrate.log").read_text()[-3000:])
            full = {**env, **extra_env}
            started = [
                _spawn(
                    [str(BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port)],
                    full,
                    logs / "api-server.log",
                ),
                _spawn([str(BIN / "airflow"), "scheduler"], full, logs / "scheduler.log"),
                _spawn([str(BIN / "airflow"), "dag-processor"], full, logs / "dag-processor.log"),
                _spawn(
                    [
                        str(BIN / "airflow"),
                        "celery",
                        "worker",
                        "--concurrency",
                        "2",
                        "--skip-serve-logs",
                        "--queues",
                        queue,
                        "--without-gossip",
                        "--without-mingle",
                    ],
                    full,
                    logs / "celery-worker.log",
                ),
            ]
            procs.extend(started)
            _wait_http(f"{url}/api/v2/monitor/health", started, logs)
            return Airflow(url, home, logs)

        yield start

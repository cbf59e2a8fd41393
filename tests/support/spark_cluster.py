"""A Spark standalone cluster on loopback (one master, N workers) started from the pyspark package, and sessions.

Each worker gets 1 core and a small memory so two of them fit this 2-core machine. Workers run in
process groups of their own: :meth:`SparkCluster.kill_worker` takes a worker down with its executor,
as a machine lost mid-job would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.mlflow_server import free_port
from tests.support.services import wait_for


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _env(log_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(spark_home()),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_MASTER_HOST="127.0.0.1",
        SPARK_LOG_DIR=str(log_dir),
        PYSPARK_PYTHON=sys.executable,
        SPARK_DAEMON_MEMORY="256m",
    )
    return env


class SparkCluster:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port, self.ui_port = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.master: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        with open(self.root / f"{name}.log", "wb") as log:  # the child keeps its own descriptor
            return subprocess.Popen(
                [str(spark_home() / "bin" / "spark-class"), *args],
                env=_env(self.root),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill takes its executors too
            )

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as r:
            return json.load(r)

    def _up(self) -> dict[str, Any] | None:
        try:
            return self.state()
        except OSError:  # not listening yet
            return None

    def alive_workers(self) -> int:
        state = self._up() or {}
        return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")

    def start(self, workers: int = 2) -> None:
        self.master = self._spawn(
            "master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
            "--port", str(self.port), "--webui-port", str(self.ui_port),
        )  # fmt: skip
        wait_for("the Spark master", self._up, timeout=120)
        for i in range(workers):
            self.add_worker(i)
        wait_for(f"{workers} Spark workers", lambda: self.alive_workers() >= workers or None, timeout=120)

    def add_worker(self, i: int) -> None:
        work = self.root / f"worker{i}"
        work.mkdir(exist_ok=True)
        self.workers.append(
            self._spawn(
                f"worker{i}",
                "org.apache.spark.deploy.worker.Worker",
                self.url,
                "--host",
                "127.0.0.1",
                "--cores",
                "1",
                "--memory",
                "1g",
                "--webui-port",
                str(free_port()),
                "--work-dir",
                str(work),
            )  # fmt: skip
        )

    def kill_worker(self, i: int) -> None:
        """SIGKILL the worker and everything it started (its executor and the executor's Python workers)."""
        os.killpg(self.workers[i].pid, signal.SIGKILL)
        self.workers[i].wait()

    def stop(self) -> None:
        for p in [*self.workers, self.master]:
            if p is not None and p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()


@contextmanager
def spark_cluster(root: Path, workers: int = 2) -> Iterator[SparkCluster]:
    cluster = SparkCluster(root)
    try:
        cluster.start(workers)
        yield cluster
    finally:
        cluster.stop()


# Small executors: 2 cores in all on this machine, and the tests' data are small.
CLUSTER_CONF = {
    "spark.executor.memory": "512m",
    "spark.executor.cores": "1",
    "spark.cores.max": "2",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
    "spark.task.maxFailures": "4",
}
LOCAL_CONF = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "1g",
}


@contextmanager
def session(master: str, conf: dict[str, str], warehouse_dir: Path) -> Iterator[Any]:
    """A Spark session for one test module; stopped afterwards (one SparkContext per process)."""
    from mlpublish.spark_engine import spark_session

    spark = spark_session(master, {**conf, "spark.sql.warehouse.dir": str(warehouse_dir)})
    try:
        yield spark
    finally:
        spark.stop()

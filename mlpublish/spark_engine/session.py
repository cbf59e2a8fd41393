"""The Spark session of the deployment, and the checks that name what is missing.

The spec never holds cluster details: the master URL and Spark conf come from the
environment (``MLPUBLISH_SPARK_MASTER``, ``MLPUBLISH_SPARK_CONF``), or from the
adapter (Airflow's ``spark_default`` connection, a Dagster resource), which passes
them to :func:`spark_session`. The PostgreSQL JDBC driver is a jar of the
operating system (``libpostgresql-jdbc-java``), found at ``MLPUBLISH_SPARK_JDBC_JAR``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from mlpublish.errors import MlpublishError
from mlpublish.redact import scrub

DEFAULT_MASTER = "local[2]"
DEFAULT_JDBC_JAR = "/usr/share/java/postgresql.jar"


class SparkEngineError(MlpublishError):
    """The Spark engine cannot run: the extra, Java, the JDBC driver or the session is missing or refused."""


def spark_error(exc: BaseException) -> str:
    """The first line of a Spark / py4j error (their traces run to pages), secrets masked. A task's Python
    error shows what our code said (a bad value: prepare_features' WarehouseError), not Spark's preamble."""
    text = str(exc)
    for ours in ("WarehouseError: ", "ContractViolated: "):  # ContractViolated: the data contract's (a task's)
        if ours in text:
            text = text.rsplit(ours, 1)[1]
            break
    lines = text.strip().splitlines()
    return scrub(lines[0][:300]) if lines else type(exc).__name__


def java_binary() -> str:
    """The ``java`` Spark will start; SparkEngineError says how to provide one."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if java.is_file():
            return str(java)
        raise SparkEngineError(f"JAVA_HOME={home} has no bin/java: point JAVA_HOME at a Java 17+ installation")
    found = shutil.which("java")
    if not found:
        raise SparkEngineError(
            "the Spark engine needs Java 17 or later and none was found (no JAVA_HOME, no java on PATH): "
            "install it (apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )
    return found


def require_pyspark() -> Any:
    try:
        import pyspark
    except ImportError:
        raise SparkEngineError(
            "the Spark engine needs the spark extra (pyspark), which is not installed: pip install 'mlpublish[spark]'"
        ) from None
    return pyspark


def jdbc_jar() -> str:
    """The PostgreSQL JDBC driver jar; SparkEngineError names the setting and the package when it is absent."""
    path = os.environ.get("MLPUBLISH_SPARK_JDBC_JAR") or DEFAULT_JDBC_JAR
    if not Path(path).is_file():
        raise SparkEngineError(
            f"the PostgreSQL JDBC driver is not at {path} (MLPUBLISH_SPARK_JDBC_JAR): the Spark engine reads and "
            "writes the warehouse over JDBC; install libpostgresql-jdbc-java or set MLPUBLISH_SPARK_JDBC_JAR to the jar"
        )
    return path


def env_conf() -> dict[str, str]:
    """``MLPUBLISH_SPARK_CONF``: a JSON object of Spark settings (``{"spark.executor.memory": "1g"}``)."""
    raw = os.environ.get("MLPUBLISH_SPARK_CONF", "").strip()
    if not raw:
        return {}
    try:
        conf = json.loads(raw)
    except ValueError as exc:
        raise SparkEngineError(f"MLPUBLISH_SPARK_CONF is not JSON: {exc}") from None
    if not isinstance(conf, dict):
        raise SparkEngineError('MLPUBLISH_SPARK_CONF must be a JSON object such as {"spark.executor.memory": "1g"}')
    return {str(k): str(v) for k, v in conf.items()}


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> Any:
    """The Spark session: ``master`` (default ``MLPUBLISH_SPARK_MASTER``, else local[2]) and ``conf`` over the
    environment's conf. An active session is reused as it is (a Dagster resource or a notebook made it)."""
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None and conf is None:
        return active
    java_binary()
    py4j = logging.getLogger("py4j")
    if py4j.level == logging.NOTSET:  # its INFO lines (one per gateway call, and at exit onto closed streams) are noise
        py4j.setLevel(logging.WARNING)
    # pyspark starts the executors' Python from PYSPARK_PYTHON (default: python3 on PATH, which may lack the
    # champion's libraries): the driver's interpreter unpickles the champion against the same versions
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        **env_conf(),
        **(conf or {}),
    }
    jar = os.environ.get("MLPUBLISH_SPARK_JDBC_JAR") or DEFAULT_JDBC_JAR
    if Path(jar).is_file() and "spark.jars" not in settings:
        settings["spark.jars"] = jar
    builder = SparkSession.builder.master(master or os.environ.get("MLPUBLISH_SPARK_MASTER") or DEFAULT_MASTER)
    builder = builder.appName("mlpublish")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # py4j and JVM start-up errors have no common base
        raise SparkEngineError(f"cannot start a Spark session: {spark_error(exc)}") from None

"""Issue 7, secrets: the chain runs with canary secrets everywhere they can be given (warehouse URL password,
MLflow basic-auth password and bearer token against a real ``mlflow server``, the OpenMetadata JWT against the
emulator, an Airflow connection password, the Dagster prod resources' EnvVars), through the CLI, ``airflow
dags test`` and an in-process Dagster run; then every place a secret could end up is read back and grepped:
captured output and task logs, XComs (the whole Airflow metadata DB), Dagster events and metadata, MLflow's
whole backend database and artifacts (tags, params, registered model and version tags), the local catalogs
and outboxes, and the emulator's stored entities. The canary count must be 0."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from mlpublish.redact import scrub
from tests.conftest import churn_dict, write_spec
from tests.support.canary_secrets import (
    AIRFLOW_CONNECTION_PASSWORD,
    AT_PASSWORD,
    CANARIES,
    MLFLOW_PASSWORD,
    MLFLOW_TOKEN,
    OPENMETADATA_JWT,
    SLASH_PASSWORD,
    WAREHOUSE_PASSWORD,
)
from tests.support.dagster_support import dagster_bin
from tests.support.mlflow_server import mlflow_server, postgres_database
from tests.support.openmetadata_server import serve_emulator
from tests.support.secret_scan import file_kinds, kinds_in

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NAME = "canary_churn"  # the CLI's and Airflow's model
DAGSTER_NAME = "canary_dagster"  # Dagster's, so it can publish while Airflow does
DAG_ID = f"mlpublish__{NAME}"
PLANTED = ("warehouse password", "mlflow password", "mlflow token", "openmetadata jwt", "airflow connection password")


@dataclass
class Findings:
    """Every source read back, and the canaries found in it (by kind, never the value)."""

    sources: dict[str, set[str]] = field(default_factory=dict)

    def text(self, where: str, data: str | bytes) -> None:
        self.sources[where] = kinds_in(data)

    def file(self, path: Path) -> None:
        self.sources[str(path)] = file_kinds(path)

    def folder(self, root: Path) -> None:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            self.file(path)

    def leaks(self) -> dict[str, set[str]]:
        return {where: kinds for where, kinds in self.sources.items() if kinds}


@dataclass
class Stack:
    root: Path
    warehouse: str = field(repr=False)  # holds a canary: never in a failure report
    backend: str
    tracking: str
    om: object = field(repr=False)
    spec: Path
    # customers that join the warehouse after the CLI's publish: Airflow's run then trains on grown data and
    # goes through register and promote (on the same rows it would reproduce the champion: NOTHING NEW)
    later_customers: object = field(repr=False)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, warehouse_template):
    """A PostgreSQL warehouse reached with a password, a real MLflow server, the OpenMetadata emulator."""
    import pandas as pd

    root = tmp_path_factory.mktemp("secrets")
    with (
        postgres_database("badinput_wh") as warehouse,
        postgres_database("badinput_mlflow") as backend,
        mlflow_server(backend, root / "artifacts", root / "mlflow-server.log") as tracking,
        serve_emulator(OPENMETADATA_JWT) as om,
    ):
        features = pd.read_sql_table("customer_features", sa.create_engine(f"sqlite:///{warehouse_template}"))
        features = features.sort_values("customer_id", ignore_index=True)
        first = int(len(features) * 0.85)
        features.iloc[:first].to_sql("customer_features", sa.create_engine(warehouse), index=False)
        # trust authentication accepts any password: the canary travels in the URL all the same
        url = warehouse.replace("postgres@", f"postgres:{WAREHOUSE_PASSWORD}@", 1)
        assert url != warehouse
        (root / "specs").mkdir()
        spec_dict = churn_dict(name=NAME, data={"connection": "${WAREHOUSE_URL}"})
        db = warehouse.rsplit("/", 1)[1]
        for feature in spec_dict["mlFeatures"]:  # the demo's source tables are not in this warehouse: its own table
            kind = "string" if feature.get("dataType") == "categorical" else "number"
            feature["featureSources"] = [
                {"name": feature["name"], "dataType": kind, "dataSourceFqn": f"warehouse.{db}.public.customer_features"}
            ]
        spec = write_spec(root / "specs" / "canary.yaml", spec_dict)
        write_spec(root / "specs" / "canary_dagster.yaml", {**spec_dict, "name": DAGSTER_NAME})
        yield Stack(root, url, backend, tracking, om, spec, features.iloc[first:])


def base_env(stack, catalog: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OPENMETADATA_", "MLPUBLISH_"))}
    return {
        **env,
        "WAREHOUSE_URL": stack.warehouse,
        "MLPUBLISH_CATALOG": str(catalog),
        "OPENMETADATA_HOST_PORT": stack.om.host_port,
        "OPENMETADATA_JWT_TOKEN": OPENMETADATA_JWT,
        "MLFLOW_LOGGING_LEVEL": "WARNING",
        "GIT_PYTHON_REFRESH": "quiet",
    }


def test_canary_secrets_never_leak_from_cli_airflow_or_dagster(stack, reliability_tally):
    root, findings, t0 = stack.root, Findings(), time.monotonic()

    def phase(name: str) -> None:  # printed with the captured output when the test fails: where the time went
        print(f"{name} done after {time.monotonic() - t0:.0f} s")

    bin_dir = Path(sys.executable).parent

    def relay_once(catalog: str) -> None:  # what the relay service does, one pass
        out = subprocess.run(
            [str(bin_dir / "mlpublish"), "catalog", "relay", "--once"],
            env=base_env(stack, root / catalog),
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        findings.text(f"catalog relay --once of {catalog} output", out.stdout + out.stderr)

    # Airflow's metadata DB migrates in the background while the CLI publishes
    home = root / "airflow-home"
    airflow_env = {
        **base_env(stack, root / "airflow-catalog.db"),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "MLPUBLISH_SPECS_DIR": str(stack.spec.parent),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }
    host, port = stack.tracking.removeprefix("http://").split(":")
    airflow_env["AIRFLOW_CONN_MLFLOW_DEFAULT"] = json.dumps(
        {
            "conn_type": "http",
            "host": host,
            "port": int(port),
            "login": "alice",
            "password": AIRFLOW_CONNECTION_PASSWORD,
        }
    )
    om_host, om_port = stack.om.host_port.removeprefix("http://").removesuffix("/api").split(":")
    airflow_env["AIRFLOW_CONN_OPENMETADATA_DEFAULT"] = json.dumps(
        {"conn_type": "http", "host": om_host, "port": int(om_port), "password": OPENMETADATA_JWT}
    )
    migrate = subprocess.Popen(
        [str(bin_dir / "airflow"), "db", "migrate"],
        env=airflow_env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    # 1. the CLI, with MLflow basic auth and a bearer token in its environment
    cli_env = {
        **base_env(stack, root / "cli-catalog.db"),
        "MLFLOW_TRACKING_URI": stack.tracking,
        "MLFLOW_TRACKING_USERNAME": "alice",
        "MLFLOW_TRACKING_PASSWORD": MLFLOW_PASSWORD,
        "MLFLOW_TRACKING_TOKEN": MLFLOW_TOKEN,
    }
    for args in (["run", str(stack.spec)], ["status", NAME], ["catalog", "sync"]):
        out = subprocess.run(
            [str(bin_dir / "mlpublish"), *args], env=cli_env, cwd=root, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, out.stderr[-3000:]
        findings.text(f"cli {args[0]} output", out.stdout + out.stderr)

    phase("cli")
    stack.later_customers.to_sql(
        "customer_features", sa.create_engine(stack.warehouse), index=False, if_exists="append"
    )
    # 2. airflow dags test (in the background): the connection passwords go to the task processes
    migrated = migrate.communicate(timeout=300)[0]
    assert migrate.returncode == 0, migrated[-3000:]
    findings.text("airflow db migrate output", migrated)
    dags_test = subprocess.Popen(
        [str(bin_dir / "airflow"), "dags", "test", DAG_ID],
        env=airflow_env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    # 3. Dagster, prod resources: every location and secret through EnvVar. In its own environment (no
    # OpenMetadata SDK: docs/install.md), so in a process of its own; its steps queue the catalog events
    # in its outbox, and `mlpublish catalog relay --once` delivers them from this environment.
    dagster_env = {
        **base_env(stack, root / "dagster-catalog.db"),
        "MLFLOW_TRACKING_URI": stack.tracking,
        "MLFLOW_REGISTRY_URI": stack.tracking,
        "MLFLOW_TRACKING_TOKEN": MLFLOW_TOKEN,
        "DAGSTER_HOME": str(root / "dagster-home"),
        "MLPUBLISH_DAGSTER_RESULTS_DIR": str(root / "dagster-results"),
        "PYTHONPATH": str(ROOT),
    }
    for folder in ("dagster-home", "dagster-results"):
        (root / folder).mkdir(exist_ok=True)
    report_file = root / "dagster-report.json"
    run = subprocess.run(
        [
            dagster_bin(),
            "-m",
            "tests.support.dagster_publish_worker",
            str(stack.spec.parent),
            "prod",
            f"{DAGSTER_NAME}_publish",
            str(report_file),
        ],
        env=dagster_env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    findings.text("dagster run output", run.stdout + run.stderr)
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    assert run.returncode == 0 and report.get("success"), (report.get("failures"), run.stderr[-3000:])
    assert report["materializations"] == 5 and not report["sdk_imported"]
    findings.text("dagster materialization metadata", report["metadata"])
    for i, (kind, entry) in enumerate(report["events"]):
        findings.text(f"dagster event {i} ({kind})", entry)
    findings.text("dagster run config", report["run_config"])
    relay_once("dagster-catalog.db")
    findings.folder(root / "dagster-home")
    findings.folder(root / "dagster-results")

    phase("dagster")
    log = dags_test.communicate(timeout=600)[0]
    assert dags_test.returncode == 0 and "state=success" in log, log[-4000:]
    findings.text("airflow dags test output", log)
    db = sqlite3.connect(home / "airflow.db")
    xcoms = db.execute("SELECT task_id, key, value FROM xcom").fetchall()
    db.close()
    assert {t for t, _, _ in xcoms} >= {"train", "evaluate", "validate", "register", "promote"}
    for task_id, key, value in xcoms:
        findings.text(f"xcom {task_id}.{key}", str(value))
    findings.folder(home)  # task logs, the whole metadata DB (XComs, rendered fields, run conf)
    relay_once("airflow-catalog.db")  # Airflow's tasks only queued their catalog events
    phase("airflow")

    # what the stores hold: MLflow's whole backend (runs, tags, params, models, versions) and artifacts
    engine = sa.create_engine(stack.backend)
    with engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        for table in tables:
            rows = conn.execute(sa.text(f'SELECT t::text FROM "{table}" t')).scalars().all()
            findings.text(f"mlflow table {table}", "\n".join(rows))
        versions = dict(conn.execute(sa.text("SELECT name, COUNT(*) FROM model_versions GROUP BY name")).all())
        tags = conn.execute(sa.text("SELECT COUNT(*) FROM tags")).scalar()
    engine.dispose()
    # CLI, Airflow and Dagster each registered one; the registry lock's fence counters (mlpublish-fence.<model>,
    # one version per lock holder that moved an alias) are scanned above like every other row
    models = {name: count for name, count in versions.items() if not name.startswith("mlpublish-fence.")}
    assert models == {NAME: 2, DAGSTER_NAME: 1} and tags > 0
    assert {f"mlpublish-fence.{NAME}", f"mlpublish-fence.{DAGSTER_NAME}"} <= set(versions)
    findings.folder(root / "artifacts")
    for catalog in ("cli-catalog.db", "airflow-catalog.db", "dagster-catalog.db"):
        findings.file(root / catalog)  # the local catalog and the OpenMetadata outbox payloads
        with sqlite3.connect(root / catalog) as db:
            assert db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] > 0
    emulator = stack.om.emulator
    assert {f"mlflow-local.{n}" for n in (NAME, DAGSTER_NAME)} <= {
        e.get("fullyQualifiedName") for e in emulator.entities.values()
    }
    findings.text(
        "openmetadata entities",
        json.dumps([emulator.entities, emulator.history, list(emulator.edges.values())], default=str),
    )
    findings.file(root / "mlflow-server.log")

    assert findings.leaks() == {}  # names source and kind only, never a value
    # the scan itself finds each planted canary (so 0 above means none was there)
    assert all(kinds_in(f"x{CANARIES[k]}y") >= {k} for k in PLANTED)
    reliability_tally.add(
        "secrets", canaries_planted=len(PLANTED), sources_scanned=len(findings.sources), leaks=len(findings.leaks())
    )


@pytest.mark.parametrize(
    ("kind", "password"), [("password with a slash", SLASH_PASSWORD), ("password with an at sign", AT_PASSWORD)]
)
def test_a_warehouse_password_with_a_slash_or_an_at_sign_never_leaks(stack, tmp_path, kind, password):
    """Issue 33: URL parsers that end the userinfo at the first / or @ printed such passwords (or their tails)
    in warehouse and environment errors. The CLI checks, publishes and fails with such a warehouse URL; its
    output and everything it wrote (MLflow store and artifacts, the local catalog) are scanned."""
    bin_dir, findings = Path(sys.executable).parent, Findings()
    url = stack.warehouse.replace(WAREHOUSE_PASSWORD, password, 1)
    spec_dict = yaml.safe_load(stack.spec.read_text())
    (tmp_path / "specs").mkdir()
    write_spec(tmp_path / "specs" / "urlpw.yaml", {**spec_dict, "name": "canary_urlpw"})
    env = {k: v for k, v in base_env(stack, tmp_path / "catalog.db").items() if not k.startswith("OPENMETADATA_")}
    missing_db = url.rsplit("/", 1)[0] + "/mlp_no_such_database"
    runs = [("check", url, 0), ("run", url, 0), ("check", missing_db, 2), ("score", missing_db, 2)]
    for command, warehouse, expected in runs:
        out = subprocess.run(
            [str(bin_dir / "mlpublish"), command, str(tmp_path / "specs" / "urlpw.yaml")],
            env={**env, "WAREHOUSE_URL": warehouse},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        findings.text(f"mlpublish {command} output", out.stdout + out.stderr)
        assert out.returncode == expected, (command, scrub(out.stderr[-2000:]))
        if expected:  # the error names the warehouse as it may be shown: user, host, database
            assert "postgres@127.0.0.1" in out.stdout + out.stderr
    findings.folder(tmp_path)
    assert findings.leaks() == {}
    assert kinds_in(f"x{password}y") >= {kind, f"{kind} (its tail)"}  # the scan would have seen it


def test_scan_reports_the_kind_of_secret_never_the_value():
    import tempfile

    from tests.support.secret_scan import SecretScan

    with tempfile.TemporaryDirectory() as tmp:  # outside the session's basetemp, which the run's scan reads
        check_scan(SecretScan(), Path(tmp))


def check_scan(scan, tmp_path: Path) -> None:
    import base64

    (tmp_path / "server.log").write_text(
        f"Authorization: Basic {base64.b64encode(f'alice:{MLFLOW_PASSWORD}'.encode()).decode()}"
    )
    (tmp_path / "task.log").write_text(f"token={MLFLOW_TOKEN}")
    (tmp_path / "clean.log").write_text("token=***")
    scan.scan_folder(tmp_path)
    assert sorted(scan.leaks) == [
        (str(tmp_path / "server.log"), "mlflow password (base64)"),
        (str(tmp_path / "task.log"), "mlflow token"),
    ]
    lines: list[str] = []

    class Reporter:
        def section(self, *args, **kwargs):
            lines.append(str(args))

        def write_line(self, line, **kwargs):
            lines.append(line)

    scan.summary(Reporter())
    text = "\n".join(lines)
    assert "LEAK mlflow token" in text and "leaks=2" in text
    assert MLFLOW_TOKEN not in text and MLFLOW_PASSWORD not in text


def test_a_leak_fails_the_pytest_run(tmp_path):
    # the real hooks, in a pytest run of its own: a passing test that prints a canary fails the session
    (tmp_path / "test_leaky.py").write_text(
        "from tests.support.canary_secrets import MLFLOW_TOKEN\n\n"
        "def test_prints_a_token():\n    print('header: Bearer', MLFLOW_TOKEN)\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.support.secret_scan",
            "--basetemp",
            str(tmp_path / "base"),
            str(tmp_path / "test_leaky.py"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1, out.stdout[-2000:]
    assert "1 passed" in out.stdout and "LEAK mlflow token" in out.stdout and "leaks=1" in out.stdout
    assert MLFLOW_TOKEN not in out.stdout + out.stderr

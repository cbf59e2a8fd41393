"""Fresh installs of the working tree's wheel, as a user makes them.

* with the lock's pins (uv, from its cache), then `mlpublish demo` in an empty folder: its lineage reaches the
  predictions table, and every command it prints runs as printed (no venv activated, no mlpublish on PATH);
* with plain pip and no lock (what `pip install .` resolves from PyPI today), then a publish whose MLflow store
  and warehouse are `postgresql://` URLs: the bounds of pyproject.toml must keep such an install on versions
  the suite has run (SQLAlchemy 2.1 made psycopg 3, which we do not ship, the driver of `postgresql://`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import TEST_CUSTOMERS, churn_dict, write_spec
from tests.support.mlflow_server import postgres_database
from tests.unit.project.test_demo_packaging import build_wheel

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"


@pytest.fixture
def venv(tmp_path):
    path = tmp_path / "venv"
    yield path
    shutil.rmtree(path, ignore_errors=True)  # about 1 GB of third-party files: not worth the session's secret scan


def user_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any setting of ours, and nothing of the checkout on the path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "MLPUBLISH_", "OPENMETADATA_", "WAREHOUSE_"))
    }
    env["PYTHONPATH"] = ""  # only what the wheel installed
    return {**env, **extra}


@pytest.mark.skipif(not UV.exists(), reason="uv is installed by `make venv` (.tools/bin/uv)")
def test_a_fresh_install_runs_the_demo_quietly(tmp_path, venv):
    wheel = build_wheel(tmp_path)
    pins = subprocess.run(
        [str(UV), "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (tmp_path / "pins.txt").write_text(pins)
    subprocess.run([str(UV), "venv", "--quiet", str(venv), "--python", "python3"], check=True, capture_output=True)
    subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-c",
            str(tmp_path / "pins.txt"),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    env = user_env(PATH="/usr/bin:/bin")  # a shell where no venv is active
    out = subprocess.run(
        [str(venv / "bin" / "mlpublish"), "demo", "--customers", "800"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "=== 6. catalog entry" in out.stdout and "champion   v" in out.stdout
    assert (empty / "demo-workspace" / "mlflow.db").is_file()
    # stderr is not a terminal here: MLflow's artifact download bars stay out of the output
    assert "Downloading artifacts" not in out.stdout + out.stderr
    assert "DeprecatedImportWarning" not in out.stderr
    check_the_story(out.stdout, env)


def check_the_story(stdout: str, env: dict[str, str]) -> None:
    """The demo scores and monitors; its lineage goes from the sources to the predictions table, columns
    included; each printed command exits 0 as printed (the MLflow UI, a server, is started elsewhere)."""
    lineage = stdout.split("=== 7. lineage", 1)[1].split("\n", 1)[1].split("=== where to look", 1)[0]
    edges = [line.strip() for line in lineage.splitlines() if " -> " in line]
    assert (
        edges[0].startswith("warehouse.main.main.") and "-> warehouse.main.main.customer_features (table)" in edges[0]
    )
    assert any(
        e.startswith("mlflow-local.customer_churn_predictor (mlmodel) -> warehouse.main.main.churn_predictions")
        and e.endswith(": 2 column edges")
        for e in edges
    ), edges
    assert "prediction <- frequency, monetary, plan" in lineage
    assert "scored " in stdout and " into warehouse.main.main.churn_predictions" in stdout
    assert "monitored " in stdout and "the champion's training rows included" in stdout
    commands = [
        line.split(":", 1)[1].strip()
        for line in stdout.split("=== where to look", 1)[1].splitlines()
        if line[:1].isalpha() and ":" in line
    ]
    assert len(commands) >= 4 and "mlflow" in commands[0] and " ui " in commands[0], commands
    reads = [c for c in commands[1:] if " rollback " not in c]
    # the reads all at once (they only read the demo's stores), then a rollback, when printed, alone
    running = {
        c: subprocess.Popen(["bash", "-c", c], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in reads
    }
    outcomes = {c: (proc.communicate(timeout=180), proc.returncode) for c, proc in running.items()}
    for c in [c for c in commands[1:] if c not in reads]:
        ran = subprocess.run(["bash", "-c", c], env=env, capture_output=True, text=True, timeout=180)
        outcomes[c] = ((ran.stdout, ran.stderr), ran.returncode)
    for c, ((out, err), code) in outcomes.items():
        assert code == 0, f"{c}\n{out[-1500:]}{err[-1500:]}"


def locked_versions() -> dict[str, set[str]]:
    """Package name -> the versions uv.lock holds (two where the sides of the dagster/openmetadata conflict differ)."""
    out: dict[str, set[str]] = {}
    for package in tomllib.loads((ROOT / "uv.lock").read_text())["package"]:
        if "version" in package:
            out.setdefault(package["name"], set()).add(package["version"])
    return out


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def test_a_plain_pip_install_without_the_lock_publishes_on_postgresql(tmp_path, venv):
    wheel = build_wheel(tmp_path)
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True, capture_output=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    install = subprocess.run([*pip, "install", "--quiet", str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    listed = subprocess.run([*pip, "list", "--format", "json"], capture_output=True, text=True, check=True).stdout
    resolved = {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(listed)}
    # the bounded one: pip's pick is a minor release the lock (and so the suite) has run
    locked = locked_versions()
    assert minor(resolved["sqlalchemy"]) in {minor(v) for v in locked["sqlalchemy"]}, resolved["sqlalchemy"]
    assert "psycopg2-binary" in resolved

    with postgres_database("pipinstall_wh") as warehouse, postgres_database("pipinstall_mlflow") as tracking:
        spec = write_spec(tmp_path / "spec.yaml", churn_dict())
        env = user_env(
            WAREHOUSE_URL=warehouse,
            WAREHOUSE_DATABASE=warehouse.rsplit("/", 1)[1],
            WAREHOUSE_SCHEMA="public",
            MLFLOW_TRACKING_URI=tracking,
            MLPUBLISH_ARTIFACT_ROOT=str(tmp_path / "mlartifacts"),
            MLPUBLISH_CATALOG=str(tmp_path / "catalog.db"),
        )
        mlpublish = str(venv / "bin" / "mlpublish")
        for argv in (["demo-data", "--customers", str(TEST_CUSTOMERS)], ["check", str(spec)], ["run", str(spec)]):
            out = subprocess.run([mlpublish, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
            assert out.returncode == 0, f"mlpublish {argv[0]}: {out.stdout[-2000:]}{out.stderr[-3000:]}"
        assert "first champion" in out.stdout and "validation PASSED" in out.stdout
    drift = {n: v for n, v in resolved.items() if n in locked and v not in locked[n]}
    print(f"pip resolved {len(resolved)} packages; newer or other than uv.lock: {drift}")  # the report, not a gate

"""`pip install .` into a fresh venv, then `mlpublish demo` in an empty folder (uv installs from its cache)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.project.test_demo_packaging import build_wheel

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"


@pytest.fixture
def venv(tmp_path):
    path = tmp_path / "venv"
    yield path
    shutil.rmtree(path, ignore_errors=True)  # about 1 GB of third-party files: not worth the session's secret scan


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
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "MLPUBLISH_", "OPENMETADATA_", "WAREHOUSE_"))
    }
    env["PYTHONPATH"] = ""  # nothing of the checkout: only what the wheel installed
    out = subprocess.run(
        [str(venv / "bin" / "mlpublish"), "demo", "--customers", "800"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "=== 5. catalog entry" in out.stdout and "champion   v" in out.stdout
    assert (empty / "demo-workspace" / "mlflow.db").is_file()
    # stderr is not a terminal here: MLflow's artifact download bars stay out of the output
    assert "Downloading artifacts" not in out.stdout + out.stderr

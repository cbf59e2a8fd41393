"""Issue 33, first runs do not race: two chains started at once in an empty folder both create, or wait for, the
default local stores (sqlite:///mlflow.db, ./mlpublish-catalog.db) and both succeed. Before the creation lock,
MLflow's registry store failed one of them with 'table latest_metrics already exists'."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from tests.conftest import ROOT, churn_dict, write_spec
from tests.support.workers import run_together

ROUNDS = 3


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_first_runs_at_once_in_an_empty_folder(tmp_path, warehouse_template, round_):
    shutil.copy(warehouse_template, tmp_path / "warehouse.db")
    specs = [write_spec(tmp_path / f"{name}.yaml", churn_dict(name=name)) for name in ("first_a", "first_b")]
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    env.update(
        {
            "WAREHOUSE_URL": f"sqlite:///{tmp_path / 'warehouse.db'}",
            "PYTHONPATH": str(ROOT),
            "MLPUBLISH_CATALOG": "",
            "MLPUBLISH_ARTIFACT_ROOT": "",
            "MLPUBLISH_ENV": "",
            "MLPUBLISH_ENVIRONMENTS": "",
        }
    )
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlpublish-catalog.db").exists()
    outputs = run_together(  # both have imported by then, even on a loaded machine: they create the stores together
        [
            lambda start, spec=spec: [sys.executable, "-m", "tests.support.chain_worker", str(start), str(spec)]
            for spec in specs
        ],
        lead=8.0,
        timeout=600,
        cwd=tmp_path,
        env=env,
    )
    results = [json.loads(line) for stdout in outputs for line in stdout.splitlines() if line.startswith("{")]
    assert sorted((r["model"], r["status"], r["version"]) for r in results) == [
        ("first_a", "PASSED", "1"),
        ("first_b", "PASSED", "1"),
    ]
    assert (tmp_path / "mlflow.db").exists() and (tmp_path / "mlpublish-catalog.db").exists()

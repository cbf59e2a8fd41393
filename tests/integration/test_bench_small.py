"""Every benchmark of bench/ runs at its smallest size (``--small``) and reports each figure against its baseline.

A change that breaks a benchmark fails here, not months later in ``make bench``. Only that they run and
print their ratios is checked: the figures of a small run on a shared machine are not ones to judge.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.unit.project.test_bench_results import load_run_all

pytestmark = pytest.mark.integration

BENCHMARKS = sorted(load_run_all().BENCHMARKS)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_runs_small_and_reports_its_ratios(name, tmp_path, mlflow_template):
    out = tmp_path / f"{name}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLPUBLISH_", "OPENMETADATA_"))}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), "--small", "--json", str(out)],
        cwd=tmp_path,
        # the session's migrated MLflow store, copied by each benchmark before its clocks (bench/results.py)
        env={**env, "PYTHONPATH": str(ROOT), "BENCH_MLFLOW_TEMPLATE": str(mlflow_template)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    data = json.loads(out.read_text())
    assert data["benchmark"] == name and data["figures"], data
    for figure in data["figures"]:  # each figure has its baseline from the same run, and their ratio
        assert figure["baseline"] and figure["baseline_value"] > 0 and math.isfinite(figure["ratio"]), figure
    assert proc.stdout.strip(), "it printed nothing"

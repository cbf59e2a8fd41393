"""Cold start: a CLI publish in a fresh venv without bytecode vs one compiled at install, in one run.

Where ``PYTHONDONTWRITEBYTECODE=1`` is set (many container images do; so do the machines this project
runs on), no process ever writes a ``.pyc``: unless the installer compiled them, every process compiles
mlflow, scikit-learn and pandas from source again. Two fresh venvs of the core (``uv sync --frozen
--no-dev`` from uv.lock, the uv of ``.tools/``), one without and one with ``--compile-bytecode``; each
publishes the small demo model with ``mlpublish run`` into its own fresh MLflow store, ``--repeat`` times,
alternating, with ``PYTHONDONTWRITEBYTECODE=1``. Target: the compiled venv's publish <= 0.5x the other's.

A publish is a process start AND work that no bytecode changes (fitting, evaluating, permutation importances,
MLflow creating its schema in the fresh store). So each venv also times a bare process start: a fresh
interpreter importing what every step process of a publish imports before its first line of work
(``STEP_IMPORTS``: mlflow with its sklearn flavour, scikit-learn's ensembles, pandas, the chain's modules).

    python bench/cold_start.py [--repeat 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Figure, add_json_option, parse_args, write_json  # noqa: E402

UV = ROOT / ".tools" / "bin" / "uv"
# what a step process (CLI command, Airflow task, Dagster step) imports before its work
STEP_IMPORTS = (
    "import mlflow, mlflow.sklearn, sklearn.ensemble, pandas, mlpublish.workflows.chain, mlpublish.steps.score"
)


def make_venv(path: Path, compile_bytecode: bool) -> float:
    """A fresh venv of the core from uv.lock; returns the install's wall time."""
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(path)}
    env.pop("UV_COMPILE_BYTECODE", None)
    args = [str(UV), "sync", "--frozen", "--no-dev", "--python", sys.executable, "--quiet"]
    t0 = time.perf_counter()
    subprocess.run(args + (["--compile-bytecode"] if compile_bytecode else []), cwd=ROOT, env=env, check=True)
    return time.perf_counter() - t0


def publish(venv: Path, spec: Path, work: Path) -> float:
    """One cold ``mlpublish run`` into a fresh MLflow store and catalog; returns its wall time."""
    store = Path(tempfile.mkdtemp(prefix="store_", dir=work))
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}",
        "MLPUBLISH_CATALOG": str(store / "catalog.db"),
        "WAREHOUSE_URL": f"sqlite:///{work / 'warehouse.db'}",
        "MLFLOW_LOGGING_LEVEL": "WARNING",
    }
    env.pop("MLFLOW_REGISTRY_URI", None)
    t0 = time.perf_counter()
    out = subprocess.run([str(venv / "bin" / "mlpublish"), "run", str(spec)], cwd=store, env=env, capture_output=True)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"mlpublish run failed in {venv.name}:\n{out.stderr.decode()[-3000:]}")
    return seconds


def start(venv: Path, work: Path, imports: str = STEP_IMPORTS, no_pyc: bool = False) -> float:
    """One fresh interpreter of ``venv`` importing ``imports`` (without .pyc writing); its wall time.

    ``no_pyc``: the .pyc files beside the sources are ignored too (an empty ``-X pycache_prefix``), as if the
    venv had been installed without compiling them."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    prefix = ["-X", f"pycache_prefix={tempfile.mkdtemp(prefix='no_pyc_', dir=work)}"] if no_pyc else []
    t0 = time.perf_counter()
    subprocess.run([str(venv / "bin" / "python"), *prefix, "-c", imports], cwd=work, env=env, check=True)
    return time.perf_counter() - t0


def small_run(json_path: Path | None) -> None:
    """--small: no venv built and no publish; the project's venv starts a process importing the spec layer with
    its compiled bytecode and ignoring it (the figure of the full run on a cheap import)."""
    work = Path(tempfile.mkdtemp(prefix="mlp_cold_start_"))
    try:
        venv, imports = Path(sys.executable).parent.parent, "import mlpublish.spec"
        compiled, plain = start(venv, work, imports), start(venv, work, imports, no_pyc=True)
        print(f"start importing the spec layer: bytecode {compiled:5.2f} s, without {plain:5.2f} s")
        figure = Figure("process start importing mlpublish.spec, with bytecode", compiled, "ignoring it", plain, "s")
        write_json(json_path, "cold_start", [figure], {"small": True})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3)
    add_json_option(p)
    args = parse_args(p, repeat=1)
    if args.small:
        return small_run(args.json)

    from mlpublish.demo.data import build_demo_warehouse
    from tests.conftest import churn_dict, write_spec

    work = Path(tempfile.mkdtemp(prefix="mlp_cold_start_"))
    try:
        build_demo_warehouse(f"sqlite:///{work / 'warehouse.db'}", customers=2000, seed=7)
        spec = write_spec(work / "spec.yaml", churn_dict())
        plain, compiled = work / "venv-no-pyc", work / "venv-compiled"
        install = {plain: make_venv(plain, False), compiled: make_venv(compiled, True)}
        times: dict[Path, list[float]] = {plain: [], compiled: []}
        starts: dict[Path, list[float]] = {plain: [], compiled: []}
        for _ in range(args.repeat):
            for venv in (plain, compiled):
                starts[venv].append(start(venv, work))
                times[venv].append(publish(venv, spec, work))
        for venv in (plain, compiled):
            print(
                f"{venv.name:<15} install {install[venv]:6.1f} s  start "
                + "  ".join(f"{t:5.1f}" for t in starts[venv])
                + "  publish "
                + "  ".join(f"{t:5.1f}" for t in times[venv])
                + f"  median {statistics.median(times[venv]):5.1f} s",
                flush=True,
            )
        figures = [
            Figure(
                "step process start (a fresh interpreter importing what a publish step imports), bytecode at install",
                statistics.median(starts[compiled]),
                "same venv without .pyc (PYTHONDONTWRITEBYTECODE=1)",
                statistics.median(starts[plain]),
                "s",
                target="<= 0.5",
            ),
            Figure(
                "cold CLI publish (small model), bytecode compiled at install",
                statistics.median(times[compiled]),
                "same venv without .pyc (PYTHONDONTWRITEBYTECODE=1)",
                statistics.median(times[plain]),
                "s",
                target="<= 0.5",
            ),
            Figure(
                "core venv install with --compile-bytecode (once per install)",
                install[compiled],
                "install without compiling",
                install[plain],
                "s",
            ),
        ]
        write_json(args.json, "cold_start", figures, {"repeat": args.repeat})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

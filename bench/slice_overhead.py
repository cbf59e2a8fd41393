"""What slices cost: publish wall time with 0, 1 and 3 slice columns on the demo data.

Each configuration publishes the demo churn spec twice into a fresh MLflow SQLite store (the second
publish has a champion, so every slice is measured for both models and gated against it):

* 0 slices, no explanations: the chain as it was before slices (permutation importances switched off);
* 0 slices:  the demo spec without validation.slices (permutation importances of both models on);
* 1 slice:   plan (3 values), one per-slice gate (recall maxDropVsChampion per plan);
* 3 slices:  plan, tenure_days (3 bins), recency_days (3 bins), a per-slice gate on each.

The figure is the second publish's wall time against the 0-slice one's (medians, interleaved). ``--small``:
the tests' cheap model, 1000 customers, one repeat, and one first publish (the warm-up's) copied for every
configuration, which then runs only its second publish.

    python bench/slice_overhead.py [--repeat 3] [--customers 4000] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

from bench.results import Figure, add_json_option, mlflow_store, parse_args, write_json  # noqa: E402

warnings.filterwarnings("ignore")

GATE = {"metric": "recall", "maxDropVsChampion": 0.05}
SLICES = {
    "plan": {"column": "plan", "minRows": 30},
    "tenure": {
        "column": "tenure_days",
        "name": "tenure",
        "bins": [{"name": "new", "below": 180}, {"name": "mid", "below": 720}, {"name": "long"}],
    },
    "recency": {
        "column": "recency_days",
        "name": "recency",
        "bins": [{"name": "recent", "below": 14}, {"name": "month", "below": 45}, {"name": "lapsed"}],
    },
}


def spec_with(folder: Path, names: list[str], small: bool = False) -> Path:
    if small:  # the tests' cheap model (30 trees, one candidate)
        from tests.conftest import churn_dict

        spec = churn_dict()
    else:
        spec = yaml.safe_load((ROOT / "specs" / "churn.yaml").read_text())
    validation = spec["validation"]
    validation["gates"] = [g for g in validation["gates"] if "perSlice" not in g]
    validation.pop("slices", None)
    if names:
        validation["slices"] = [SLICES[n] for n in names]
        validation["gates"] += [{**GATE, "perSlice": n} for n in names]
    path = folder / f"churn-{len(names)}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def publish_twice(spec_path: Path, template: Path, root: Path, explain: bool, published: Path | None = None) -> float:
    """Wall time of the second publish (the one with a champion to compare every slice with).

    ``published``: a folder where a first publish ran already (its MLflow store and catalog are copied, its
    artifacts read where they are): only the second publish runs (--small)."""
    import mlpublish.steps.evaluate as evaluate
    from mlpublish.spec import load_spec
    from mlpublish.workflows.chain import run_chain

    root.mkdir(parents=True)
    if published is not None:
        for name in ("mlflow.db", "catalog.db", "catalog.db-wal", "catalog.db-shm"):
            if (published / name).exists():
                shutil.copy(published / name, root / name)
    else:
        shutil.copy(template, root / "mlflow.db")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    os.environ["MLPUBLISH_CATALOG"] = str(root / "catalog.db")
    os.environ["MLPUBLISH_ARTIFACT_ROOT"] = (root / "artifacts").as_uri()
    real = evaluate.compare_importances
    if not explain:
        evaluate.compare_importances = lambda *args, **kwargs: []
    try:
        if published is None:
            run_chain(load_spec(spec_path))
        t0 = time.perf_counter()
        result = run_chain(load_spec(spec_path))
        wall = time.perf_counter() - t0
    finally:
        evaluate.compare_importances = real
    assert result.evaluation.champion_version, "the second publish must have a champion"
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--customers", type=int, default=4000)
    add_json_option(ap)
    args = parse_args(ap, repeat=1, customers=1000)  # fewer: no champion

    from mlpublish.demo.data import build_demo_warehouse

    tmp = Path(tempfile.mkdtemp(prefix="mlpublish-bench-slices-"))
    os.chdir(tmp)
    build_demo_warehouse(f"sqlite:///{tmp / 'warehouse.db'}", customers=args.customers, seed=7)
    os.environ["WAREHOUSE_URL"] = f"sqlite:///{tmp / 'warehouse.db'}"
    template = tmp / "template.db"
    mlflow_store(template)
    configs = {
        "0 slices, no explanations": (spec_with(tmp, [], args.small), False),
        "0 slices": (spec_with(tmp, [], args.small), True),
        "1 slice": (spec_with(tmp, ["plan"], args.small), True),
        "3 slices": (spec_with(tmp, ["plan", "tenure", "recency"], args.small), True),
    }
    # first-use imports, not counted; --small: its publishes are every configuration's first publish
    publish_twice(configs["0 slices"][0], template, tmp / "warm", True)
    published = tmp / "warm" if args.small else None
    walls: dict[str, list[float]] = {k: [] for k in configs}
    for i in range(args.repeat):  # interleaved so drift in machine load hits every configuration alike
        for j, (label, (path, explain)) in enumerate(configs.items()):
            walls[label].append(publish_twice(path, template, tmp / f"run-{i}-{j}", explain, published))
    med = {k: statistics.median(v) for k, v in walls.items()}
    base = med["0 slices"]
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.customers} customers, median of {args.repeat}; second publish (champion evaluated too)"
    )
    print(f"{'':28} {'wall s':>8} {'vs 0 slices':>12}")
    for label, wall in med.items():
        print(f"{label:28} {wall:8.2f} {wall - base:+11.2f}s")
    baseline = "2nd publish wall time, 0 slices (importances on)"
    write_json(
        args.json,
        "slice_overhead",
        [
            Figure(
                "2nd publish wall time, 0 slices, no explanations",
                med["0 slices, no explanations"],
                baseline,
                base,
                "s",
            ),
            Figure("2nd publish wall time, 1 slice column (plan)", med["1 slice"], baseline, base, "s"),
            Figure("2nd publish wall time, 3 slice columns", med["3 slices"], baseline, base, "s"),
        ],
        {"repeat": args.repeat, "customers": args.customers},
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

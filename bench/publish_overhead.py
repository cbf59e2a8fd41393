"""Publish overhead: the whole chain vs the naive MLflow-registry-article baseline, in one run.

Both publish the demo churn model from the same SQLite warehouse to their own
fresh MLflow SQLite store. Overhead is wall time minus the time spent fitting.

* chain:    mlpublish's run_chain (train with candidate selection, evaluate with
            the champion on the same rows, plots, validate with a pyfunc smoke test,
            register, promote; catalog events at every step).
* baseline: what the MLflow registry article does step by step: fit, log_model
            with default settings, register_model, set alias and tag.

Target: chain overhead <= 0.5x the baseline's overhead. ``--small``: the tests' cheap model (30 trees, one
candidate), 300 customers, one repeat, no warm-up.

    python bench/publish_overhead.py [--repeat 3] [--customers 4000] [--json PATH]
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

os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

from bench.results import Figure, add_json_option, mlflow_store, parse_args, write_json  # noqa: E402

warnings.filterwarnings("ignore")


def fresh_store(template: Path, where: Path) -> str:
    where.mkdir(parents=True)
    shutil.copy(template, where / "mlflow.db")
    return f"sqlite:///{where / 'mlflow.db'}"


def run_chain_once(spec_path: Path, tracking: str, root: Path) -> tuple[float, float]:
    from mlpublish.spec import load_spec
    from mlpublish.workflows.chain import run_chain

    os.environ["MLFLOW_TRACKING_URI"] = tracking
    os.environ["MLPUBLISH_CATALOG"] = str(root / "catalog.db")
    os.environ["MLPUBLISH_ARTIFACT_ROOT"] = (root / "artifacts").as_uri()
    t0 = time.perf_counter()
    result = run_chain(load_spec(spec_path))
    wall = time.perf_counter() - t0
    return wall, result.training.fit_seconds


def run_baseline_once(spec_path: Path, tracking: str, root: Path, name: str) -> tuple[float, float]:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.model_selection import train_test_split

    from mlpublish.modelling import build_model, prepare_features, resolve_estimator
    from mlpublish.spec import load_spec
    from mlpublish.warehouse import Warehouse

    spec = load_spec(spec_path)
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(tracking)
    t0 = time.perf_counter()
    wh = Warehouse.from_spec(spec.data)
    frame = wh.read_frame(spec.data.trainingTable, spec.feature_names + [spec.target])
    X = prepare_features(frame, spec.feature_names, spec.categorical_features)
    X_train, X_test, y_train, y_test = train_test_split(X, frame[spec.target], test_size=0.25, random_state=42)
    ref = resolve_estimator(spec.training.estimator, None)
    params = {**spec.fixed_params, **spec.training.grid()[-1]}
    exp = mlflow.set_experiment(f"baseline-{name}")
    with mlflow.start_run(experiment_id=exp.experiment_id) as run:
        f0 = time.perf_counter()
        model = build_model(ref, params, spec.categorical_features).fit(X_train, y_train)
        fit = time.perf_counter() - f0
        mlflow.log_params(params)
        mlflow.log_metric("accuracy", float((model.predict(X_test) == y_test).mean()))
        signature = infer_signature(X_train, model.predict(X_train))
        from mlpublish.steps.train import trusted_types

        mlflow.sklearn.log_model(model, name="model", signature=signature, skops_trusted_types=trusted_types(model))
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(name, "champion", mv.version)
    client.set_model_version_tag(name, mv.version, "model_validation_status", "PASSED")
    wh.dispose()
    return time.perf_counter() - t0, fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--customers", type=int, default=4000)
    add_json_option(ap)
    args = parse_args(ap, repeat=1, customers=300)

    from mlpublish.demo.data import build_demo_warehouse

    tmp = Path(tempfile.mkdtemp(prefix="mlpublish-bench-"))
    os.chdir(tmp)
    build_demo_warehouse(f"sqlite:///{tmp / 'warehouse.db'}", customers=args.customers, seed=7)
    os.environ["WAREHOUSE_URL"] = f"sqlite:///{tmp / 'warehouse.db'}"
    template = tmp / "template.db"
    mlflow_store(template)
    spec = ROOT / "specs" / "churn.yaml"
    if args.small:  # the tests' cheap model (30 trees, one candidate) and no warm-up: a smoke run, not figures
        from tests.conftest import churn_dict, write_spec

        spec = write_spec(tmp / "churn.yaml", churn_dict())
    chain, chain2, base = [], [], []
    if not args.small:
        # a warm-up of each, not counted: first-use imports (skops, matplotlib) would otherwise land on one side
        run_chain_once(spec, fresh_store(template, tmp / "warm-c"), tmp / "warm-c")
        run_baseline_once(spec, fresh_store(template, tmp / "warm-b"), tmp / "warm-b", "warm")
    for i in range(args.repeat):  # interleaved so drift in machine load hits both alike
        root = tmp / f"chain-{i}"
        store = fresh_store(template, root)
        chain.append(run_chain_once(spec, store, root))
        chain2.append(run_chain_once(spec, store, root))  # second publish: champion evaluated on the same rows
        root = tmp / f"base-{i}"
        base.append(run_baseline_once(spec, fresh_store(template, root), root, f"m{i}"))

    def summary(samples):
        wall = statistics.median(w for w, _ in samples)
        fit = statistics.median(f for _, f in samples)
        over = statistics.median(w - f for w, f in samples)
        return wall, fit, over

    cw, cf, co = summary(chain)
    c2w, c2f, c2o = summary(chain2)
    bw, bf, bo = summary(base)
    ratio = max(co, c2o) / bo
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.customers} customers, median of {args.repeat}"
    )
    print(f"{'':10} {'wall s':>8} {'fit s':>8} {'overhead s':>11}")
    print(
        f"{'chain 1st':10} {cw:8.2f} {cf:8.2f} {co:11.2f}   (2 candidates + refit, evaluation, plots, smoke test, catalog)"
    )
    print(
        f"{'chain 2nd':10} {c2w:8.2f} {c2f:8.2f} {c2o:11.2f}   (same, plus the champion loaded and evaluated on the same rows)"
    )
    print(f"{'baseline':10} {bw:8.2f} {bf:8.2f} {bo:11.2f}   (1 fit, log_model defaults, register_model, alias, tag)")
    print(
        f"overhead ratio chain/baseline (worse of the two chain runs): {ratio:.2f}x (target <= 0.50x): {'MET' if ratio <= 0.5 else 'NOT MET'}"
    )
    baseline = "naive publish overhead (fit, log_model defaults, register, alias, tag)"
    write_json(
        args.json,
        "publish_overhead",
        [
            Figure(
                "chain overhead beyond fitting, worse of 1st and 2nd publish",
                max(co, c2o),
                baseline,
                bo,
                "s",
                target="<= 0.5",
            ),
            Figure("chain wall time, 2nd publish (champion evaluated too)", c2w, "naive publish wall time", bw, "s"),
        ],
        {"repeat": args.repeat, "customers": args.customers},
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Catalog delivery: the five Airflow task bodies of one publish, delivering in the task vs only queueing.

With OpenMetadata configured (the emulator of tests/openmetadata, served over HTTP on loopback), one
publish runs its five tasks (train, evaluate, validate, register, promote), each in a fresh Python
process as Airflow's task runner starts them, results passed between them as XCom would (JSON):

* before: each task delivers its own events (``MLPUBLISH_CATALOG_STRICT=true``, the behaviour of every
          task before the relay): each task process imports the OpenMetadata SDK and waits on the server;
* after:  each task only writes its events to the catalog store (the default); one
          ``mlpublish catalog relay --once`` process then delivers them (timed apart: it is off the
          tasks' critical path, and one relay serves every publish).

Both publish the same model from the same warehouse into a fresh MLflow store, catalog store and
emulator, alternating, ``--repeat`` times. Figures: the five tasks' summed wall time (after / before),
the task processes that imported the SDK, and the relay's delivery time. Target: after <= 0.8x before.

    python bench/catalog_delivery.py [--repeat 2] [--customers 2000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
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

from bench.results import Figure, add_json_option, mlflow_store, parse_args, write_json  # noqa: E402

TASKS = ("train", "evaluate", "validate", "register", "promote")


def task_body(step: str, spec_path: str, state: Path) -> None:
    """One task, as the operator runs it: spec, MLflow session, catalog sink, context, the step; its result
    goes to ``state/<step>.json`` (the XCom), and a line says whether this process imported the SDK."""
    from mlpublish.catalog import open_catalog
    from mlpublish.config import OpenMetadataSettings
    from mlpublish.deployment import for_spec
    from mlpublish.deployment.context import PublishContext
    from mlpublish.results import EvaluateResult, RegisterResult, TrainResult, ValidateResult
    from mlpublish.spec import load_spec
    from mlpublish.steps import evaluate_model, promote_challenger, register_version, train_model, validate_candidate

    def upstream(name: str, model: type) -> object:
        return model.model_validate(json.loads((state / f"{name}.json").read_text()))

    spec = load_spec(spec_path)
    with for_spec(spec).mlflow_session():
        catalog = open_catalog(None, openmetadata=OpenMetadataSettings.from_env())
        ctx = PublishContext.create(spec, pipeline={"name": "churn_publish", "runId": "bench"}, catalog=catalog)
        try:
            if step == "train":
                result = train_model(ctx)
            else:
                train = upstream("train", TrainResult)
                if step == "evaluate":
                    result = evaluate_model(ctx, train)
                else:
                    evaluation = upstream("evaluate", EvaluateResult)
                    if step == "validate":
                        result = validate_candidate(ctx, train, evaluation)
                    else:
                        validation = upstream("validate", ValidateResult)
                        if step == "register":
                            result = register_version(ctx, train, evaluation, validation)
                        else:
                            registration = upstream("register", RegisterResult)
                            result = promote_challenger(ctx, evaluation, validation, registration)
        finally:
            ctx.preflight.warehouse.dispose()
            catalog.close()
    (state / f"{step}.json").write_text(json.dumps(result.to_json()))
    print(json.dumps({"sdk_imported": "metadata" in sys.modules}))


def publish(
    mode: str, spec: Path, template: Path, work: Path, host_port: str, token: str, tasks: tuple[str, ...] = TASKS
) -> dict[str, float]:
    """The task processes of one publish (all five, or the first ``tasks``); their summed wall time and SDK imports."""
    work.mkdir(parents=True)
    shutil.copy(template, work / "mlflow.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPUBLISH_", "OPENMETADATA_", "MLFLOW_"))}
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{work / 'mlflow.db'}",
        MLPUBLISH_CATALOG=str(work / "catalog.db"),
        MLPUBLISH_ARTIFACT_ROOT=(work / "artifacts").as_uri(),
        OPENMETADATA_HOST_PORT=host_port,
        OPENMETADATA_JWT_TOKEN=token,
        MLFLOW_LOGGING_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    if mode == "before":
        env["MLPUBLISH_CATALOG_STRICT"] = "true"
    total, sdk = 0.0, 0
    for step in tasks:
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--task", step, "--spec", str(spec), "--state", str(work)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        total += time.perf_counter() - t0
        if out.returncode != 0:
            raise SystemExit(f"{mode}: task {step} failed:\n{out.stderr[-3000:]}")
        sdk += json.loads(out.stdout.strip().splitlines()[-1])["sdk_imported"]
    relay = 0.0
    if mode == "after":
        t0 = time.perf_counter()
        out = subprocess.run(
            [str(Path(sys.executable).parent / "mlpublish"), "-q", "catalog", "relay", "--once"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        relay = time.perf_counter() - t0
        if out.returncode != 0:
            raise SystemExit(f"the relay failed:\n{out.stderr[-3000:]}")
    return {"tasks": total, "sdk": sdk, "relay": relay}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--task", choices=TASKS, help=argparse.SUPPRESS)  # one task body (a subprocess of the run)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    add_json_option(parser)
    args = parse_args(parser, repeat=1, customers=300)
    if args.task:
        task_body(args.task, args.spec, args.state)
        return

    import logging
    import warnings

    from mlpublish.demo.data import build_demo_warehouse
    from tests.conftest import churn_dict, write_spec
    from tests.support.openmetadata_server import serve_emulator

    warnings.filterwarnings("ignore")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="bench-catalog-delivery-") as d:
        tmp = Path(d)
        build_demo_warehouse(f"sqlite:///{tmp / 'warehouse.db'}", customers=args.customers, seed=7)
        os.environ["WAREHOUSE_URL"] = f"sqlite:///{tmp / 'warehouse.db'}"
        template = tmp / "template.db"
        mlflow_store(template)
        spec = write_spec(tmp / "churn.yaml", churn_dict())  # the demo model, one candidate
        for i in range(args.repeat):
            for mode in ("before", "after") if i % 2 == 0 else ("after", "before"):
                with serve_emulator() as om:
                    work = tmp / f"{mode}-{i}"
                    # --small: the first task only (a process importing MLflow and fitting, then the relay)
                    runs[mode].append(
                        publish(mode, spec, template, work, om.host_port, om.token, TASKS[:1] if args.small else TASKS)
                    )
                    assert om.emulator.unknown_routes == []
                print(f"run {i + 1} {mode}: {runs[mode][-1]}", flush=True)
    before = statistics.median(r["tasks"] for r in runs["before"])
    after = statistics.median(r["tasks"] for r in runs["after"])
    relay = statistics.median(r["relay"] for r in runs["after"])
    figures = [
        Figure(
            f"{'the first Airflow task process' if args.small else 'five Airflow task processes'} of one publish, "
            "wall time summed (steps only queue)",
            after,
            "the same tasks delivering to OpenMetadata themselves",
            before,
            "s",
            "<= 0.8",
        ),
        Figure(
            "task processes importing the OpenMetadata SDK",
            float(max(r["sdk"] for r in runs["after"])),
            "tasks delivering themselves",
            float(min(r["sdk"] for r in runs["before"])),
        ),
        Figure(
            "relay --once delivering the publish's events (off the tasks' path)",
            relay,
            "the five tasks before",
            before,
            "s",
        ),
    ]
    print(f"{'figure':<80} {'value':>9} {'baseline':>9} {'ratio':>6}")
    for f in figures:
        print(f"{f.name:<80} {f.value:>9.2f} {f.baseline_value:>9.2f} {f.ratio:>6.2f}")
    write_json(args.json, "catalog_delivery", figures, {"repeat": args.repeat, "customers": args.customers})


if __name__ == "__main__":
    main()

"""Score throughput of the Spark engine against the local engine, in one run.

On the same PostgreSQL table of N rows (default 1M and 5M) and the same champion: the local engine
(one process, chunks streamed through the warehouse: the baseline), Spark ``local[2]``, and a standalone
cluster on loopback with one worker, then two (1 core, 1 GB each). Each measurement runs in a fresh
process; the Spark session is started before the clock starts (its start-up is printed apart). Prints
rows/s per engine and the ratio to the local engine and to the champion's own ``predict_proba`` on the same
rows in memory (the rate to reach), and how the figure moves from one worker to two. Predictions are made
per Arrow batch already (``mapInPandas`` with the champion broadcast once). ``--small``: 500 rows, no cluster,
``local[1]`` instead of ``local[2]``, every measurement in the bench's own process (one Spark session).

    python bench/spark_scoring.py [--rows 1000000] [--big-rows 5000000] [--json PATH]

What a 2-core machine can say and cannot: see docs/spark.md (Benchmark).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

from bench.results import Figure, add_json_option, mlflow_store, parse_args, write_json  # noqa: E402
from bench.score_throughput import PG_ADMIN_URL, admin, make_input  # noqa: E402

warnings.filterwarnings("ignore")


def worker(modes: str, spec_path: str, master: str, conf: str) -> None:
    """The measurements of ``modes`` (comma-separated) one after the other in this process: prints
    {rows, seconds, session_seconds} for each (--small runs them all in one process: imports paid once)."""
    for mode in modes.split(","):
        print(json.dumps(measure_here(mode, spec_path, master, conf)), flush=True)


def measure_here(mode: str, spec_path: str, master: str, conf: str) -> dict:
    import logging

    logging.disable(logging.WARNING)
    from mlpublish.deployment.context import PublishContext
    from mlpublish.spec import load_spec
    from mlpublish.steps.score import load_champion, score_batch

    ctx = PublishContext.create(load_spec(spec_path))
    _, _, model = load_champion(ctx)  # cached in the context: both engines start with the model in memory
    if mode == "model":  # the champion's own predict_proba on the same rows in memory: the rate to reach
        from bench.score_throughput import model_limit

        return {**model_limit(ctx, model), "session_seconds": 0.0}
    spark, started = None, 0.0
    if mode != "local":
        from mlpublish.spark_engine import spark_session

        t0 = time.perf_counter()
        spark = spark_session(master, json.loads(conf))
        spark.range(4).count()  # the executors are up
        started = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = score_batch(ctx, scoring_run_id=f"bench-{mode}", engine=mode if mode == "local" else "spark", spark=spark)
    seconds = time.perf_counter() - t0
    if spark is not None:
        spark.stop()
    return {"rows": rows.rows, "seconds": seconds, "session_seconds": started}


def measure(
    modes: list[str], spec: Path, env: dict[str, str], master: str = "", conf: dict | None = None, in_process=False
) -> list[dict]:
    """``modes`` measured one after the other in one fresh process; ``in_process`` (--small): in this one."""
    if in_process:
        os.environ.update(env)
        os.chdir(spec.parent)
        return [measure_here(mode, str(spec), master, json.dumps(conf or {})) for mode in modes]
    out = subprocess.run(
        [sys.executable, __file__, "--worker", ",".join(modes), str(spec), master, json.dumps(conf or {})],
        env=env,
        capture_output=True,
        text=True,
        cwd=spec.parent,
    )
    if out.returncode != 0:
        raise SystemExit(f"{modes} worker failed:\n{out.stderr[-3000:]}")
    return [json.loads(line) for line in out.stdout.strip().splitlines()[-len(modes) :]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--big-rows", type=int, default=None, help="default 5x --rows; 0 skips")
    add_json_option(p)
    p.add_argument("--worker", nargs=4, metavar=("MODE", "SPEC", "MASTER", "CONF"), help=argparse.SUPPRESS)
    args = parse_args(p, rows=500, big_rows=0)
    if args.worker:
        return worker(*args.worker)
    big = args.rows * 5 if args.big_rows is None else args.big_rows

    import pandas as pd
    import sqlalchemy as sa

    from mlpublish.demo.data import build_demo_warehouse
    from tests.conftest import churn_dict, write_spec
    from tests.support.score_fixtures import publish_champion
    from tests.support.spark_cluster import CLUSTER_CONF, LOCAL_CONF, spark_cluster

    tmp = Path(tempfile.mkdtemp(prefix="mlp_spark_bench_"))
    sqlite_url = f"sqlite:///{tmp / 'warehouse.db'}"
    build_demo_warehouse(sqlite_url, customers=2000, seed=7)
    pg_name = f"mlp_spark_bench_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{pg_name}"')
    pg_url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{pg_name}"
    pd.read_sql_table("customer_features", sa.create_engine(sqlite_url)).to_sql(
        "customer_features", sa.create_engine(pg_url), index=False
    )
    mlflow_store(tmp / "mlflow.db")  # the chain publishes into it
    publish_champion(tmp, pg_url)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        "MLPUBLISH_CATALOG": str(tmp / "catalog.db"),
        "WAREHOUSE_URL": pg_url,
    }
    results: list[dict] = []
    try:
        # --small: local[1] only (a standalone cluster's start alone takes longer than the rest), every engine
        # measured in this process (Python and MLflow imported once)
        with contextlib.nullcontext() if args.small else spark_cluster(tmp / "cluster", workers=2) as cluster:
            local = "local[1]" if args.small else "local[2]"
            # --small: a JVM that starts fast (C1 only, serial GC) and no UI
            small_conf = (
                {
                    "spark.ui.enabled": "false",
                    "spark.sql.shuffle.partitions": "1",
                    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
                }
                if args.small
                else {}
            )
            engines = [("local", "", {}), (local, local, {**LOCAL_CONF, **small_conf})]
            if cluster is not None:
                engines += [
                    ("1 worker", cluster.url, {**CLUSTER_CONF, "spark.cores.max": "1"}),
                    ("2 workers", cluster.url, CLUSTER_CONF),
                ]
            for rows in (args.rows, big):
                if not rows:
                    continue
                make_input(pg_url, "score_input", rows)
                spec = write_spec(tmp / "spec.yaml", churn_dict(scoring={"sourceTable": "score_input"}))
                runs = [("model", "", {}), *engines]
                mode = {name: name if name in ("model", "local") else "spark" for name, _, _ in runs}
                if args.small:  # in this process (one Spark engine: its master and conf are the process's)
                    measured = measure([mode[n] for n, _, _ in runs], spec, env, *engines[-1][1:], in_process=True)
                else:
                    measured = [measure([mode[n]], spec, env, master, conf)[0] for n, master, conf in runs]
                for (name, _, _), r in zip(runs, measured, strict=True):
                    r.update(engine=name, size=rows)
                    results.append(r)
                    print(
                        f"{name:<10} {r['rows']:>9} rows  {r['seconds']:7.1f} s  {r['rows'] / r['seconds']:>9.0f} rows/s"
                        f"  (session start {r['session_seconds']:.1f} s, not counted)",
                        flush=True,
                    )
    finally:
        admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f}; rows={args.rows}, big={big}")
    figures = []
    for rows in sorted({r["size"] for r in results}):
        by = {r["engine"]: r["rows"] / r["seconds"] for r in results if r["size"] == rows}
        for name in [e for e in ("local[1]", "local[2]", "1 worker", "2 workers") if e in by]:
            figures.append(
                Figure(f"{name} rows/s at {rows} rows", by[name], "local engine, same run", by["local"], "rows/s")
            )
            figures.append(
                Figure(
                    f"{name} rows/s at {rows} rows, vs the model alone",
                    by[name],
                    "bare predict_proba, same rows in memory",
                    by["model"],
                    "rows/s",
                )
            )
        if "2 workers" in by:
            figures.append(
                Figure(
                    f"two workers vs one at {rows} rows",
                    by["2 workers"],
                    "one worker, same run",
                    by["1 worker"],
                    "rows/s",
                )
            )
        print(
            f"{rows} rows: "
            + ", ".join(f"{k} {v:.0f} rows/s ({v / by['local']:.2f}x local)" for k, v in by.items())
            + (f"; two workers / one: {by['2 workers'] / by['1 worker']:.2f}x" if "2 workers" in by else "")
        )
    write_json(args.json, "spark_scoring", figures, {"rows": args.rows, "big_rows": big})


if __name__ == "__main__":
    main()

"""Score throughput and peak memory: mlpublish's score step vs the naive baseline, in one run.

A churn champion is published once (SQLite warehouse, MLflow on SQLite): with ``--model demo`` (the
default) the demo spec's own model (100 trees, max_depth 4 or 8 as the demo selects: the model the issue's
limit was measured on), with ``--model light`` the tests' cheap one (30 trees of depth 6, about three
times faster to predict, so the warehouse's share of the time shows more).
Then a scoring table of ``--rows`` rows (the demo features repeated) is scored on
SQLite and on PostgreSQL, each measurement in its own subprocess (``--small``: the light model, 2000 rows, every
measurement in the bench's own process):

* ours:  ``score_batch``: chunks of ``--chunk`` rows through a server-side cursor
         (PostgreSQL) or a lazy cursor (SQLite), COPY (PostgreSQL) or executemany
         (SQLite), one transaction per scoring run.
* limit: the champion's own ``predict_proba`` on the same rows, read and prepared beforehand (one call,
         no database): what scoring could reach on this machine at best.
* naive: ``pandas.read_sql`` of the whole table -> ``predict``/``predict_proba`` ->
         ``DataFrame.to_sql`` (what a notebook does; tests/support/naive_scoring.py, shared with
         the memory test).
* floor: the warehouse's own ``INSERT INTO <copy> SELECT * FROM <the predictions ours wrote>`` into an
         empty table of the same shape and index: the same rows stored with no client at all, what
         writing them can cost at least. When it is slower than the model, the warehouse and not
         the scoring code sets the pace (the ratio "vs the warehouse's own insert" says how close).

Peak RSS is the subprocess's ``ru_maxrss``. With ``--big-rows`` (default 5x
``--rows``) ours is measured again on the bigger table: flat memory means the
same peak for both sizes. Targets: ours >= 0.8x the limit on both warehouses, >= 3x naive rows/s on
PostgreSQL, and flat memory.

    python bench/score_throughput.py [--model demo|light] [--rows 1000000] [--big-rows 5000000] [--chunk 50000]
                                     [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
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
from mlpublish.warehouse.sqlite_arrow import SWITCH  # noqa: E402

warnings.filterwarnings("ignore")

PG_ADMIN_URL = os.environ.get("MLPUBLISH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
FEATURES = "recency_days, frequency, monetary, tenure_days, support_tickets, plan"


def worker(modes: str, spec_path: str) -> None:
    """The measurements of ``modes`` (comma-separated) in this fresh process, one JSON line each."""
    for mode in modes.split(","):
        print(json.dumps(measure_here(mode, spec_path)), flush=True)


def measure_here(mode: str, spec_path: str) -> dict:
    """One measurement in this process: {rows, seconds, cpu_seconds, peak_mb, ...}."""
    import logging

    logging.disable(logging.WARNING)
    from mlpublish.deployment.context import PublishContext
    from mlpublish.spec import load_spec
    from mlpublish.steps.score import load_champion, score_batch
    from tests.support.naive_scoring import naive_score

    ctx = PublishContext.create(load_spec(spec_path))
    version, _, model = load_champion(ctx)
    if mode == "limit":
        return model_limit(ctx, model)
    if mode == "floor":
        return insert_floor(ctx.preflight.warehouse.engine)
    t0, cpu0, machine0 = time.perf_counter(), cpu_seconds(), machine_cpu_seconds()
    if mode in ("ours", "rows"):
        # rows: SQLite's row reader and writer (MLPUBLISH_COLUMNAR=0), the path the columnar one replaced
        before = os.environ.get(SWITCH)
        os.environ[SWITCH] = "0" if mode == "rows" else "1"
        try:
            rows = score_batch(ctx, scoring_run_id="bench").rows
        finally:
            os.environ.pop(SWITCH) if before is None else os.environ.__setitem__(SWITCH, before)
    else:
        rows = naive_score(ctx, model, version, "naive_predictions")
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    machine = machine_cpu_seconds() - machine0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": rows, "seconds": seconds, "cpu_seconds": cpu, "machine_cpu": machine, "peak_mb": peak}


def model_limit(ctx, model) -> dict:
    """The champion's own predict_proba on the same rows, already in memory and prepared: no database, one call.

    Also (``chunked_cpu``) the same model on the same rows in the scoring run's chunks (``scoring.chunkSize``),
    one call per chunk in one thread: what the model itself costs when it predicts a chunk at a time, as a
    scoring run whose memory stays flat must (a forest pays a fixed cost per call and per tree, e.g.
    scikit-learn's per-tree task set-up), so how much of a run's gap to the limit is the model's own."""
    import pandas as pd

    from mlpublish.modelling import prepare_features

    spec = ctx.spec
    with ctx.preflight.warehouse.engine.connect() as conn:
        frame = pd.read_sql_query(f"SELECT * FROM {spec.scoring.sourceTable}", conn)
    X = prepare_features(frame, spec.feature_names, spec.categorical_features)
    del frame
    size = spec.scoring.chunkSize
    chunks = [X.iloc[i : i + size] for i in range(0, len(X), size)]
    seconds = cpu = chunked = float("inf")
    for _ in range(2):  # the better of two calls: the limit is what the model can do on this machine
        t0, cpu0 = time.perf_counter(), cpu_seconds()
        model.predict_proba(X)
        seconds, cpu = min(seconds, time.perf_counter() - t0), min(cpu, cpu_seconds() - cpu0)
        cpu0 = cpu_seconds()
        for chunk in chunks:
            model.predict_proba(chunk)
        chunked = min(chunked, cpu_seconds() - cpu0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": len(X), "seconds": seconds, "cpu_seconds": cpu, "chunked_cpu": chunked, "peak_mb": peak}


def insert_floor(engine) -> dict:
    """The warehouse's own work for a scoring run's rows, on the server (no client): handing out the rows read,
    storing the predictions ours wrote into an empty copy of their table (same index).

    PostgreSQL: binary ``COPY (SELECT <keys and features>) TO`` a server file (out), and ``COPY FROM`` a
    binary file of the predictions into the empty copy (in), both run by the server itself; plus the
    ``INSERT ... SELECT`` of the predictions. SQLite (no server): its engine reading every value of the rows
    (an aggregate over each column), and the ``INSERT ... SELECT``.
    """
    import sqlalchemy as sa

    out: dict = {"cpu_seconds": float("nan"), "peak_mb": float("nan")}
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS floor_predictions")
        if postgres:
            conn.exec_driver_sql("CREATE TABLE floor_predictions (LIKE churn_predictions INCLUDING ALL)")
        else:
            conn.exec_driver_sql("CREATE TABLE floor_predictions AS SELECT * FROM churn_predictions WHERE 0")
            conn.exec_driver_sql("CREATE INDEX ix_floor_run ON floor_predictions (scoring_run_id)")
        conn.commit()
        t0 = time.perf_counter()
        rows = conn.execute(sa.text("INSERT INTO floor_predictions SELECT * FROM churn_predictions")).rowcount
        conn.commit()
        out.update(rows=rows, seconds=time.perf_counter() - t0)
        conn.exec_driver_sql("TRUNCATE floor_predictions" if postgres else "DELETE FROM floor_predictions")
        conn.commit()
        columns = f"customer_id, {FEATURES}"
        if postgres:
            spill = f"/tmp/mlp_bench_{uuid.uuid4().hex}.bin"  # the server's file, written and read by the server
            try:
                t0 = time.perf_counter()
                conn.exec_driver_sql(f"COPY (SELECT {columns} FROM score_input) TO '/dev/null' (FORMAT binary)")
                out["copy_out"] = time.perf_counter() - t0
                conn.exec_driver_sql(f"COPY churn_predictions TO '{spill}' (FORMAT binary)")
                t0 = time.perf_counter()
                conn.exec_driver_sql(f"COPY floor_predictions FROM '{spill}' (FORMAT binary)")
                conn.commit()
                out["copy_in"] = time.perf_counter() - t0
            finally:
                conn.rollback()
                conn.exec_driver_sql(f"COPY (SELECT 1) TO PROGRAM 'rm -f {spill}'")
        else:
            scan = ", ".join(f"max({c})" for c in columns.split(", "))
            t0 = time.perf_counter()
            conn.exec_driver_sql(f"SELECT {scan} FROM score_input").fetchall()
            out["copy_out"] = time.perf_counter() - t0
            out["copy_in"] = out["seconds"]
        conn.exec_driver_sql("DROP TABLE floor_predictions")
        conn.commit()
    return out


def demo_model_spec() -> dict:
    """The tests' churn spec with the demo's own estimator settings (trees, depths, hyper-parameters)."""
    import yaml

    from tests.conftest import CHURN_SPEC, churn_dict

    demo = yaml.safe_load(CHURN_SPEC.read_text())
    spec = churn_dict()
    spec["mlHyperParameters"] = demo["mlHyperParameters"]
    spec["training"]["candidates"] = demo["training"]["candidates"]
    return spec


def machine_cpu_seconds() -> float:
    """CPU time spent by the whole machine, every core and process (/proc/stat; NaN elsewhere).

    On a quiet machine, the machine's CPU during a scoring run minus the scoring process's own is what the
    warehouse server spent (reading, storing, indexing), and the machine's CPU divided by its cores is the
    shortest wall time the run's work could take here: the physical limit of this machine for that work.
    """
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """This process's CPU time, all threads: on a shared machine it says what the work costs, wall time when it ran."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def admin(sql: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(sql))
    engine.dispose()


def make_input(url: str, table: str, rows: int) -> None:
    """``rows`` rows of the demo features (repeated with new keys) as ``table``."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        base = conn.execute(sa.text("SELECT COUNT(*) FROM customer_features")).scalar_one()
        copies = -(-rows // base)
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        if engine.dialect.name == "postgresql":
            series = f"generate_series(0, {copies - 1}) AS s(g)"
            prefix = ""
        else:
            series = "s"
            prefix = f"WITH RECURSIVE s(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM s WHERE g < {copies - 1}) "
        conn.execute(
            sa.text(
                f"CREATE TABLE {table} AS {prefix}SELECT customer_id + g * 10000 AS customer_id, {FEATURES} "
                f"FROM customer_features CROSS JOIN {series} ORDER BY g, customer_id LIMIT {rows}"
            )
        )
        # the same rows in the same order on both warehouses: the model's speed depends on the order (each
        # customer's copies one after the other predict twice as fast as the copies spread out, as here)
        conn.execute(sa.text("DROP TABLE IF EXISTS churn_predictions"))
        conn.execute(sa.text("DROP TABLE IF EXISTS naive_predictions"))
    if engine.dialect.name == "postgresql":  # settled now: autovacuum would otherwise take a core mid-measurement
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))
    engine.dispose()


def measure(modes: tuple[str, ...], spec: Path, env: dict[str, str], in_process: bool = False) -> list[dict]:
    """``modes`` measured one after the other in one fresh process (its imports paid once); ``in_process``
    (--small): in this one (no interpreter started; the peak RSS then is this process's)."""
    if in_process:
        os.environ.update(env)
        os.chdir(spec.parent)
        return [measure_here(mode, str(spec)) for mode in modes]
    out = subprocess.run(
        [sys.executable, __file__, "--worker", ",".join(modes), str(spec)],
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
    p.add_argument(
        "--big-rows", type=int, default=None, help="ours again on this many rows (default 5x --rows; 0 skips)"
    )
    p.add_argument("--chunk", type=int, default=50_000)
    p.add_argument("--no-postgres", action="store_true")
    p.add_argument(
        "--model", choices=("demo", "light"), default="demo", help="the demo's own model or the tests' cheap one"
    )
    add_json_option(p)
    p.add_argument("--worker", nargs=2, metavar=("MODE", "SPEC"), help=argparse.SUPPRESS)
    args = parse_args(p, rows=2000, big_rows=0, chunk=1000, model="light")
    if args.worker:
        return worker(*args.worker)
    big = args.rows * 5 if args.big_rows is None else args.big_rows

    import pandas as pd
    import sqlalchemy as sa

    from mlpublish.demo.data import build_demo_warehouse
    from tests.conftest import churn_dict, write_spec
    from tests.support.score_fixtures import publish_champion

    tmp = Path(tempfile.mkdtemp(prefix="mlp_score_bench_"))
    sqlite_url = f"sqlite:///{tmp / 'warehouse.db'}"
    build_demo_warehouse(sqlite_url, customers=2000, seed=7)
    mlflow_store(tmp / "mlflow.db")  # the chain publishes into it
    publish_champion(tmp, sqlite_url, demo_model_spec() if args.model == "demo" else None)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        "MLPUBLISH_CATALOG": str(tmp / "catalog.db"),
        "WAREHOUSE_URL": sqlite_url,
    }
    targets = [("sqlite", sqlite_url)]
    pg_name = None
    if not args.no_postgres:
        pg_name = f"mlp_score_bench_{uuid.uuid4().hex[:8]}"
        admin(f'CREATE DATABASE "{pg_name}"')
        pg_url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{pg_name}"
        features = pd.read_sql_table("customer_features", sa.create_engine(sqlite_url))
        features.to_sql("customer_features", sa.create_engine(pg_url), index=False)
        targets.append(("postgresql", pg_url))

    results = []
    try:
        for dialect, url in targets:
            first = ("limit", "naive", "ours", "floor") + (("rows",) if dialect == "sqlite" else ())
            for rows, modes in ((args.rows, first), (big, ("ours",))):
                if not rows:
                    continue
                make_input(url, "score_input", rows)
                spec = write_spec(
                    tmp / f"{dialect}.yaml",
                    churn_dict(
                        data={"connection": url}, scoring={"sourceTable": "score_input", "chunkSize": args.chunk}
                    ),
                )
                # each measurement in a fresh process of its own; --small: all in this one (imports paid once,
                # the peak RSS then is the process's, not the measurement's)
                if args.small:
                    measured = measure(modes, spec, env, in_process=True)
                else:
                    measured = [measure((m,), spec, env)[0] for m in modes]
                for mode, r in zip(modes, measured, strict=True):
                    r.update(dialect=dialect, mode=mode)
                    results.append(r)
                    if mode == "floor":  # the server's work: no CPU or memory of ours to show
                        print(f"{dialect:<10} {mode:<6} {r['rows']:>9} rows  {r['seconds']:7.1f} s  ", flush=True)
                        continue
                    print(
                        f"{dialect:<10} {mode:<6} {r['rows']:>9} rows  {r['seconds']:7.1f} s  "
                        f"{r['rows'] / r['seconds']:>9.0f} rows/s  CPU {r['cpu_seconds']:6.1f} s "
                        f"({r['rows'] / r['cpu_seconds']:>9.0f} rows per CPU s)  peak RSS {r['peak_mb']:7.1f} MB"
                        + (f"  machine CPU {r['machine_cpu']:6.1f} s" if "machine_cpu" in r else ""),
                        flush=True,
                    )
    finally:
        if pg_name:
            admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"rows={args.rows}, big rows={big}, chunk={args.chunk}, model={args.model}"
    )
    figures = []
    for dialect, _ in targets:
        by = {(r["mode"], r["rows"]): r for r in results if r["dialect"] == dialect}
        ours, naive, limit = by[("ours", args.rows)], by[("naive", args.rows)], by[("limit", args.rows)]
        floor = by[("floor", args.rows)]
        speed = (ours["rows"] / ours["seconds"]) / (naive["rows"] / naive["seconds"])
        of_limit = (ours["rows"] / ours["seconds"]) / (limit["rows"] / limit["seconds"])
        line = (
            f"{dialect}: ours {speed:.2f}x naive rows/s and {of_limit:.2f}x the model's own predict_proba at "
            f"{args.rows} rows; {(ours['rows'] / ours['seconds']) / (floor['rows'] / floor['seconds']):.2f}x the "
            f"warehouse's own insert of the same rows ({floor['rows'] / floor['seconds']:.0f} rows/s, "
            f"{(floor['rows'] / floor['seconds']) / (limit['rows'] / limit['seconds']):.2f}x the model); "
            f"peak RSS ours {ours['peak_mb']:.0f} MB vs naive {naive['peak_mb']:.0f} MB"
        )
        figures += [
            # the limit: the bare model on the same rows in memory, no database (measured in this run)
            Figure(
                f"{dialect}: score step ({args.model} model) rows/s at {args.rows} rows, vs the model alone",
                ours["rows"] / ours["seconds"],
                "bare predict_proba, same rows in memory",
                limit["rows"] / limit["seconds"],
                "rows/s",
                target=">= 0.8",
            ),
            # the writing floor: the warehouse storing the same rows itself, no client (measured in this run)
            Figure(
                f"{dialect}: score step ({args.model} model) rows/s at {args.rows} rows, vs the warehouse's own insert",
                ours["rows"] / ours["seconds"],
                "INSERT ... SELECT of the same predictions, in the warehouse",
                floor["rows"] / floor["seconds"],
                "rows/s",
            ),
            # the same on CPU time: a shared machine stretches wall times, a row costs the same CPU
            Figure(
                f"{dialect}: score step ({args.model} model) rows per CPU second at {args.rows} rows, vs the model alone",
                ours["rows"] / ours["cpu_seconds"],
                "bare predict_proba, same rows in memory",
                limit["rows"] / limit["cpu_seconds"],
                "rows/CPU s",
            ),
            # the stated target is for PostgreSQL (server-side cursor and COPY); SQLite is reported
            Figure(
                f"{dialect}: rows/s at {args.rows} rows",
                ours["rows"] / ours["seconds"],
                "naive read_sql/to_sql",
                naive["rows"] / naive["seconds"],
                "rows/s",
                target=">= 3" if dialect == "postgresql" else None,
            ),
            Figure(
                f"{dialect}: peak RSS at {args.rows} rows",
                ours["peak_mb"],
                "naive read_sql/to_sql",
                naive["peak_mb"],
                "MB",
            ),
        ]
        # the limit of this machine for a scoring run: the model's CPU on the rows and the server's own cost to hand
        # them out and store the predictions, spread over the cores (the work nobody can skip, done in parallel)
        cores = os.cpu_count() or 1
        limit_cpu = limit["cpu_seconds"] + floor["copy_out"] + floor["copy_in"]
        line += (
            f"; the limit: predict_proba {limit['cpu_seconds']:.2f} CPU s + the server's "
            f"{'binary COPY out' if dialect == 'postgresql' else 'scan of the rows'} {floor['copy_out']:.2f} s "
            f"+ {'binary COPY in' if dialect == 'postgresql' else 'INSERT ... SELECT'} {floor['copy_in']:.2f} s "
            f"= {limit_cpu:.2f} s over {cores} cores = {limit_cpu / cores:.2f} s; ours {ours['seconds']:.2f} s = "
            f"{ours['seconds'] / (limit_cpu / cores):.2f}x the limit"
        )
        # the model's own cost at the run's chunk size: the part of the gap no scoring code can remove
        chunked_cpu = limit_cpu - limit["cpu_seconds"] + limit["chunked_cpu"]
        line += (
            f"; predict_proba in chunks of {args.chunk} rows {limit['chunked_cpu']:.2f} CPU s "
            f"({limit['chunked_cpu'] / limit['cpu_seconds']:.2f}x one call), so at this chunk size the limit is "
            f"{chunked_cpu / cores:.2f} s and ours {ours['seconds'] / (chunked_cpu / cores):.2f}x it"
        )
        figures.append(
            Figure(
                f"{dialect}: score step ({args.model} model) wall time at {args.rows} rows, vs the limit at its chunk size",
                ours["seconds"],
                "(predict_proba CPU in the run's chunks + the server's own read and write) / cores",
                chunked_cpu / cores,
                "s",
            )
        )
        figures.append(
            Figure(
                f"{dialect}: score step ({args.model} model) wall time at {args.rows} rows, vs the machine's limit",
                ours["seconds"],
                "(predict_proba CPU + the server's own read and write of the rows) / cores",
                limit_cpu / cores,
                "s",
                target="<= 1.25",
            )
        )
        # where the run's time goes: the scoring process's CPU, the rest of the machine's (the warehouse server,
        # on a quiet machine), and the shortest wall time that much CPU allows on this machine's cores
        server = ours["machine_cpu"] - ours["cpu_seconds"]
        bound = ours["machine_cpu"] / cores
        line += (
            f"; CPU of the run: scoring process {ours['cpu_seconds']:.1f} s + rest of the machine (warehouse) "
            f"{server:.1f} s = {ours['machine_cpu']:.1f} s, over {cores} cores at least {bound:.1f} s of wall time "
            f"(ours took {ours['seconds']:.1f} s, {bound / ours['seconds']:.2f} of the cores busy)"
        )
        figures.append(
            Figure(
                f"{dialect}: score step ({args.model} model) wall time at {args.rows} rows, vs the machine's CPU bound",
                ours["seconds"],
                f"the run's CPU on every core of the machine / {cores} cores",
                bound,
                "s",
            )
        )
        if ("rows", args.rows) in by:  # SQLite: the columnar run against the row reader it replaced, same run
            rowwise = by[("rows", args.rows)]
            line += f"; the row reader (MLPUBLISH_COLUMNAR=0) {rowwise['seconds']:.2f} s, {rowwise['cpu_seconds']:.1f} CPU s"
            figures.append(
                Figure(
                    f"{dialect}: score step ({args.model} model) wall time at {args.rows} rows, columnar vs rows",
                    ours["seconds"],
                    "the stdlib row reader and writer (MLPUBLISH_COLUMNAR=0), same run",
                    rowwise["seconds"],
                    "s",
                )
            )
        if ("ours", big) in by:
            line += f"; ours at {big} rows {by[('ours', big)]['peak_mb']:.0f} MB (x{by[('ours', big)]['peak_mb'] / ours['peak_mb']:.2f})"
            # flat memory: the bigger table peaks where the smaller one did (10% for allocator noise)
            figures.append(
                Figure(
                    f"{dialect}: peak RSS at {big} rows",
                    by[("ours", big)]["peak_mb"],
                    f"ours at {args.rows} rows",
                    ours["peak_mb"],
                    "MB",
                    target="<= 1.1",
                )
            )
        print(line)
    write_json(
        args.json,
        "score_throughput",
        figures,
        {
            "rows": args.rows,
            "big_rows": big,
            "chunk": args.chunk,
            "postgres": not args.no_postgres,
            "model": args.model,
        },
    )


if __name__ == "__main__":
    main()

"""A fleet of models: how the Dagster code location, the catalog relay and the catalog store grow from 1 to 200 specs.

Every spec is a copy of the demo spec (specs/churn.yaml) under a name of its own. Each figure is measured
for 1, 50 and 200 specs (``--specs``) in the same run and compared with its baseline from the same run:

* Dagster, definitions: a fresh interpreter of ``.venv-dagster`` times ``import dagster`` (the baseline:
  what any code location pays), then ``build_definitions(folder)`` of mlpublish_dagster and the repository
  Dagster resolves from it (``Definitions.get_repository_def``: every asset, job, schedule and sensor).
* Dagster, the code server's real load: ``dagster definitions validate -m mlpublish_dagster.definitions`` in
  a fresh process, as ``dagster dev`` and ``dg check defs`` load the code location (it also snapshots every
  job, asset node, schedule and sensor for the webserver, which the probe above does not): its CPU seconds
  (the best of three), against one spec's. Target: 200 specs at most 3x one spec. (The Airflow side, DAG
  file and DagBag fill, is ``bench/dag_parse.py``.)
* relay: the catalog events of N publishes (3 tables, the model, its lineage: ``bench/catalog_requests.py``'s
  events, 6 features) queued in a catalog store, then delivered by ``OpenMetadataCatalog.sync`` (what
  ``mlpublish catalog relay`` runs) to the strict emulator of tests/openmetadata over HTTP: events/s, against
  one publish's rate.
* catalog store: 4 threads, each with its own ``LocalCatalog`` on one PostgreSQL database (as 4 workers of
  a deployment share it), write the events of N publishes (N/4 each, one transaction per publish, queued for
  the relay too): events/s, against one writer writing one publish.

    .venv/bin/python bench/fleet.py [--specs 1 50 200] [--json PATH] [--small]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.catalog_requests import SERVICE, TABLES, columns_of, settings, spec_entity  # noqa: E402
from bench.dag_parse import make_specs  # noqa: E402
from bench.results import Figure, add_json_option, parse_args, write_json  # noqa: E402
from bench.score_throughput import PG_ADMIN_URL, admin  # noqa: E402

DAGSTER_PYTHON = ROOT / ".venv-dagster" / "bin" / "python"
DAGSTER_CLI = ROOT / ".venv-dagster" / "bin" / "dagster"
WRITERS = 4

DAGSTER_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import dagster  # noqa: F401
t1 = time.perf_counter()
from mlpublish_dagster.definitions import build_definitions
from pathlib import Path
t2 = time.perf_counter()
defs = build_definitions(Path(sys.argv[1]))
repo = defs.get_repository_def()
n = len(repo.asset_graph.get_all_asset_keys())
t3 = time.perf_counter()
print(json.dumps({"dagster": t1 - t0, "imports": t2 - t1, "build": t3 - t2, "assets": n, "jobs": len(repo.get_all_jobs())}))
"""


def dagster_load(folder: Path, empty: Path) -> dict:
    """One fresh code-location interpreter: import dagster, then build and resolve the definitions of ``folder``."""
    env = {**os.environ, "MLPUBLISH_SPECS_DIR": str(empty), "DAGSTER_HOME": str(empty)}
    out = subprocess.run(
        [str(DAGSTER_PYTHON), "-c", DAGSTER_PROBE, str(folder)], env=env, capture_output=True, text=True, cwd=ROOT
    )
    if out.returncode != 0:
        raise SystemExit(f"dagster probe failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def code_server_load(folder: Path, home: Path, repeat: int) -> dict:
    """``dagster definitions validate`` of the code location serving ``folder``, in a fresh process: the better of
    ``repeat`` runs' CPU seconds (the process's own, user + system) and wall seconds."""
    env = {**os.environ, "MLPUBLISH_SPECS_DIR": str(folder), "DAGSTER_HOME": str(home)}
    cpu = wall = float("inf")
    for _ in range(repeat):
        before, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        out = subprocess.run(
            [str(DAGSTER_CLI), "definitions", "validate", "-m", "mlpublish_dagster.definitions"],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        seconds, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode != 0 or "passed validation" not in out.stdout + out.stderr:
            raise SystemExit(f"dagster definitions validate of {folder} failed:\n{(out.stdout + out.stderr)[-3000:]}")
        used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        cpu, wall = min(cpu, used), min(wall, seconds)
    return {"cpu": cpu, "wall": wall}


def publish_events(i: int) -> list:
    """The catalog events of one model's publish (tables, model, lineage), for model number ``i``."""
    from mlpublish.catalog.entity import table_event
    from mlpublish.catalog.events import AddLineage, UpsertMlModel

    fqn = f"{SERVICE}.churn_{i:03d}"
    entity = {**spec_entity(6), "name": f"churn_{i:03d}"}
    return [
        *(table_event(t, columns_of(t, 6)) for t in TABLES),
        UpsertMlModel(fqn=fqn, entity=entity),
        *(AddLineage(from_fqn=t, from_type="table", to_fqn=fqn, to_type="mlmodel") for t in TABLES),
    ]


def relay_rate(n: int, tmp: Path) -> tuple[int, float]:
    """Events of ``n`` publishes queued, then delivered to the emulator by one sync: (events, seconds).

    The client is connected first (one publish delivered before the clock starts), as a running relay's is."""
    from dataclasses import replace

    from mlpublish.catalog.local import LocalCatalog
    from mlpublish.catalog.openmetadata import OpenMetadataCatalog
    from tests.support.openmetadata_server import serve_emulator

    with serve_emulator() as server:
        queued = replace(settings(server), deliver_in_step=False)
        sink = OpenMetadataCatalog(queued, LocalCatalog(tmp / f"relay-{n}-{uuid.uuid4().hex[:6]}.db"))
        sink.publish(publish_events(999))  # a running relay has its client connected: not timed
        sink.sync()
        events = 0
        for i in range(n):
            batch = publish_events(i)
            sink.publish(batch)
            events += len(batch)
        t0 = time.perf_counter()
        report = sink.sync()
        seconds = time.perf_counter() - t0
        assert report.pending == 0 and not report.failed and not report.outage, report
        assert server.emulator.find("mlmodel", f"{SERVICE}.churn_{n - 1:03d}") is not None
    return events, seconds


def store_rate(n: int, writers: int, url: str) -> tuple[int, float]:
    """``writers`` threads with a catalog store each on ``url`` write ``n`` publishes' events: (events, seconds)."""
    from mlpublish.catalog.address import catalog_key
    from mlpublish.catalog.local import LocalCatalog

    target = catalog_key("http://127.0.0.1:8585/api")
    stores = [LocalCatalog(url) for _ in range(writers)]
    for store in stores:  # opened (schema checked) before the clock starts, as a long-lived worker's is
        with store.connection():
            pass
    shares = [list(range(w, n, writers)) for w in range(writers)]
    counts = [0] * writers
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for i in shares[w]:
                batch = publish_events(i)
                stores[w].publish(batch, enqueue_for=target)
                counts[w] += len(batch)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    for store in stores:
        store.close()
    if errors:
        raise errors[0]
    return sum(counts), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--specs", type=int, nargs="+", default=[1, 50, 200], help="fleet sizes, the first the baseline"
    )
    add_json_option(parser)
    args = parse_args(parser, specs=[1, 2])
    import logging

    logging.disable(logging.WARNING)
    import metadata.ingestion.ometa.ometa_api  # noqa: F401  (the SDK's import is paid once, before any clock)

    first, figures = args.specs[0], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        empty = root / "empty"
        empty.mkdir()
        loads = {n: dagster_load(make_specs(root / f"specs-{n}", n), empty) for n in args.specs}
        bare = min(r["dagster"] for r in loads.values())
        print(f"bare `import dagster`: {bare:.2f} s")
        for n, r in loads.items():
            print(
                f"dagster {n:>4} spec(s): definitions built and resolved {r['build']:6.2f} s "
                f"({r['assets']} assets, {r['jobs']} jobs; imports of mlpublish_dagster {r['imports']:.2f} s) = "
                f"{r['build'] / bare:.2f}x the bare import, "
                f"{r['build'] / loads[first]['build']:.2f}x {first} spec(s)",
                flush=True,
            )
            figures.append(
                Figure(
                    f"Dagster definitions built and resolved, {n} spec(s)",
                    r["build"],
                    "bare `import dagster`",
                    bare,
                    "s",
                )
            )
        # the probe's whole load (import dagster, import mlpublish_dagster, build and resolve): its growth
        last = args.specs[-1]
        whole = {n: r["dagster"] + r["imports"] + r["build"] for n, r in loads.items()}
        print(
            f"dagster definitions, imports included: {last} specs {whole[last]:.2f} s = "
            f"{whole[last] / whole[first]:.2f}x {first} spec(s)"
        )
        figures.append(
            Figure(
                f"Dagster definitions built incl. imports, {last} specs vs {first}",
                whole[last],
                f"{first} spec(s), same run",
                whole[first],
                "s",
            )
        )
        # what a code server really pays at each (re)load: the definitions and every snapshot the webserver reads
        served = {n: code_server_load(root / f"specs-{n}", empty, 1 if args.small else 3) for n in args.specs}
        for n, r in served.items():
            print(
                f"dagster code server load (`dagster definitions validate`) {n:>4} spec(s): {r['cpu']:6.2f} CPU s, "
                f"{r['wall']:6.2f} s wall = {r['cpu'] / served[first]['cpu']:.2f}x {first} spec(s)",
                flush=True,
            )
            figures.append(
                Figure(
                    f"Dagster code server load (definitions validate), {n} spec(s) vs {first}",
                    r["cpu"],
                    f"{first} spec(s), same run",
                    served[first]["cpu"],
                    "CPU s",
                    target="<= 3" if n == last and n != first else None,
                )
            )

        relay = {n: relay_rate(n, root) for n in args.specs}
        for n, (events, seconds) in relay.items():
            rate, base = events / seconds, relay[first][0] / relay[first][1]
            print(
                f"relay {n:>4} publish(es): {events} events in {seconds:.2f} s = {rate:.0f} events/s "
                f"({rate / base:.2f}x {first})",
                flush=True,
            )
            figures.append(
                Figure(
                    f"relay events/s into the emulator, {n} publish(es)",
                    rate,
                    f"{first} publish(es), same run",
                    base,
                    "events/s",
                )
            )

        name = f"mlp_fleet_bench_{uuid.uuid4().hex[:8]}"
        admin(f'CREATE DATABASE "{name}"')
        try:
            url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
            one = store_rate(first, 1, url)
            base = one[0] / one[1]
            print(f"catalog store, 1 writer, {first} publish(es): {base:.0f} events/s")
            for n in args.specs:
                events, seconds = store_rate(n, WRITERS, url)
                print(
                    f"catalog store, {WRITERS} writers, {n:>4} publish(es): {events / seconds:.0f} events/s "
                    f"({events / seconds / base:.2f}x one writer)",
                    flush=True,
                )
                figures.append(
                    Figure(
                        f"catalog store on PostgreSQL, {WRITERS} concurrent writers, {n} publish(es)",
                        events / seconds,
                        f"1 writer, {first} publish(es), same run",
                        base,
                        "events/s",
                    )
                )
        finally:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    write_json(args.json, "fleet", figures, {"specs": args.specs, "writers": WRITERS})


if __name__ == "__main__":
    main()

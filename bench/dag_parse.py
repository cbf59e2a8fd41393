"""Parse time of the DAG folder (dags/) with 1, 50 and 200 specs (3 DAGs each), against a bare
``import airflow.sdk`` measured in the same run, and how it grows from the fewest specs to the most.

Each measurement is a fresh interpreter (as the dag-processor parses files in
fresh processes): it times ``import airflow.sdk`` alone, then the DAG file
executed on top of it (mlpublish imports, reading and validating every spec,
building the DAGs), and finally the same file through a real ``DagBag``. The
median of --repeat runs is printed with its ratio to the bare import. An Airflow DAG processor parses the
file again every 30 s, so the growth matters: target, the DAG file with 200 specs on top of
``airflow.sdk`` (what each re-parse costs, imports included) at most 3x with one spec.

    .venv/bin/python bench/dag_parse.py [--repeat 5] [--specs 1 50 200] [--json PATH] [--small]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DAG_FILE = ROOT / "dags" / "mlpublish_models.py"

from bench.results import Figure, add_json_option, parse_args, write_json  # noqa: E402

DAGS_PER_SPEC = 3  # publish, __score (the demo spec names a predictions table), __monitor

PROBE = r"""
import json, runpy, sys, time
t0 = time.perf_counter()
import airflow.sdk  # noqa: F401
from airflow.sdk import DAG  # noqa: F401  (resolve the lazy attribute, as any DAG file does)
t1 = time.perf_counter()
if sys.argv[1] == "file":
    ns = runpy.run_path(sys.argv[2])
    n = sum(type(v).__name__ == "DAG" for v in ns.values())
else:
    from airflow.dag_processing.dagbag import DagBag
    t1 = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[2])
    n = len(bag.dags)
    assert not bag.import_errors, bag.import_errors
t2 = time.perf_counter()
heavy = sorted(m for m in ("mlflow", "sklearn", "metadata") if m in sys.modules)
print(json.dumps({"sdk": t1 - t0, "parse": t2 - t1, "dags": n, "heavy": heavy}))
"""


def probe(mode: str, specs: Path, home: Path) -> dict:
    env = {
        **os.environ,
        "MLPUBLISH_SPECS_DIR": str(specs),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(DAG_FILE)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_specs(folder: Path, n: int) -> Path:
    folder.mkdir()
    text = (ROOT / "specs" / "churn.yaml").read_text()
    for i in range(n):
        (folder / f"model_{i:03d}.yaml").write_text(
            text.replace("name: customer_churn_predictor", f"name: churn_model_{i:03d}", 1)
        )
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEATS", "5")))
    parser.add_argument("--specs", type=int, nargs="+", default=[1, 50, 200], help="spec counts to parse")
    add_json_option(parser)
    args = parse_args(parser, repeat=1, specs=[1, 3])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folders = {n: make_specs(root / f"specs-{n}", n) for n in args.specs}
        rows = []
        for n, folder in folders.items():
            for mode in ("file", "dagbag"):
                results = [probe(mode, folder, root / "home") for _ in range(args.repeat)]
                assert all(r["dags"] == n * DAGS_PER_SPEC and not r["heavy"] for r in results), results[0]
                rows.append(
                    (
                        n,
                        mode,
                        statistics.median(r["sdk"] for r in results if mode == "file") if mode == "file" else None,
                        statistics.median(r["parse"] for r in results),
                    )
                )
        sdk = statistics.median(r[2] for r in rows if r[2] is not None)
        print(f"bare `import airflow.sdk` (median of {args.repeat} fresh processes): {sdk:.3f} s")
        figures = []
        for n, mode, _, parse in rows:
            what = "DAG file on top of airflow.sdk" if mode == "file" else "DagBag(dags/) fill, after its imports"
            print(
                f"{n:>3} spec(s): {what:<38} {parse:7.3f} s = {parse / sdk:5.2f}x the bare import"
                f" ({parse / n * 1000:6.1f} ms per spec)"
            )
            figures.append(
                Figure(f"{what}, {n} spec(s) ({n * DAGS_PER_SPEC} DAGs)", parse, "bare `import airflow.sdk`", sdk, "s")
            )
        low, high = min(args.specs), max(args.specs)
        for mode, what in (("file", "DAG file with its imports"), ("dagbag", "DagBag fill")):
            # a re-parse pays the bare import too: the growth of the whole parse, sdk included
            at = {n: sdk + parse for n, m, _, parse in rows if m == mode}
            print(
                f"{what}, airflow.sdk included: {high} specs {at[high]:.2f} s = {at[high] / at[low]:.2f}x {low} spec(s)"
            )
            figures.append(
                Figure(
                    f"{what} incl. `import airflow.sdk`, {high} specs vs {low}",
                    at[high],
                    f"{low} spec(s), same run",
                    at[low],
                    "s",
                    target="<= 3" if mode == "file" else None,
                )
            )
    write_json(args.json, "dag_parse", figures, {"repeat": args.repeat, "specs": args.specs})


if __name__ == "__main__":
    main()

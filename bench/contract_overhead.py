"""What checking the champion's data contract costs at scoring, per million rows, against scoring without it.

The demo's features (``--rows`` rows: the demo table repeated, in chunks of ``--chunk`` rows as the score step
reads them) are checked against a contract learned from them (every rule the format has: presence, type,
nullability, ranges, category sets), in two ways:

* ours:    :func:`mlpublish.contracts.check.check_chunk`, the vectorised numpy/pandas checks the score step runs;
* pandera: ``DataFrameSchema.validate(lazy=True)`` of the same rules (``Check.in_range``, ``Check.isin``,
           ``nullable``), the library alternative (it reports failure cases, not the per-rule row masks
           quarantine needs, so it would cost at least this).

The baseline is scoring the same chunks without a contract: the champion's own predictor (features prepared,
``predict_proba``, labels: :class:`mlpublish.steps.predictor.ChampionPredictor`), with no warehouse read or
write. Real scoring also reads and writes the rows, so the ratio printed is an upper bound of the overhead.
Target (issue 27): ours < 0.15 of scoring. A few rows of each chunk break a rule (as drifted data would), so
the checks do their reporting work too. ``--small``: 100k rows, the tests' cheap model.

    python bench/contract_overhead.py [--rows 1000000] [--chunk 50000] [--repeat 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Figure, add_json_option, parse_args, write_json  # noqa: E402

warnings.filterwarnings("ignore")
os.environ.setdefault("DISABLE_PANDERA_IMPORT_WARNING", "True")

FEATURES = ["recency_days", "frequency", "monetary", "tenure_days", "support_tickets", "plan"]
CATEGORICAL = ["plan"]


def demo_frame(customers: int):
    import pandas as pd
    import sqlalchemy as sa

    from mlpublish.demo.data import build_demo_warehouse

    path = Path(tempfile.mkdtemp(prefix="mlpublish-bench-contract-")) / "warehouse.db"
    build_demo_warehouse(f"sqlite:///{path}", customers=customers, seed=7)
    return pd.read_sql_table("customer_features", sa.create_engine(f"sqlite:///{path}"))


def pandera_schema(contract):
    """The contract's rules as a pandera DataFrameSchema (what validating with the library would run)."""
    import pandera.pandas as pa

    columns = {}
    for c in contract.columns:
        checks = []
        if c.minimum is not None or c.maximum is not None:
            checks.append(pa.Check.in_range(c.minimum, c.maximum))
        if c.categories is not None:
            checks.append(pa.Check.isin(c.categories))
        dtype = "float64" if c.type in ("integer", "number") else None
        columns[c.name] = pa.Column(dtype, checks=checks, nullable=c.nullable, coerce=dtype is not None)
    return pa.DataFrameSchema(columns)


def pandera_check(schema, chunk) -> int:
    import pandera.errors as pe

    try:
        schema.validate(chunk, lazy=True)
        return 0
    except pe.SchemaErrors as exc:
        return len(exc.failure_cases)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    add_json_option(ap)
    args = parse_args(ap, rows=100_000, repeat=1)

    import numpy as np
    import pandas as pd

    from mlpublish.contracts.check import check_chunk
    from mlpublish.modelling import fit_model, prepare_features, resolve_estimator
    from mlpublish.steps.predictor import ChampionPredictor
    from tests.support.contracts import contract_of

    base = demo_frame(2000 if args.small else 4000)
    contract = contract_of(base, FEATURES, CATEGORICAL, model="customer_churn_predictor", table="customer_features")
    trees, depth = (30, 6) if args.small else (100, 8)  # the tests' cheap model / the demo's
    ref = resolve_estimator("sklearn.ensemble.RandomForestClassifier", "classification")
    params = {"n_estimators": trees, "max_depth": depth, "random_state": 0, "n_jobs": 1}
    model = fit_model(ref, params, CATEGORICAL, prepare_features(base, FEATURES, CATEGORICAL), base["churned"])
    predictor = ChampionPredictor(model, FEATURES, CATEGORICAL, ["customer_id"], 1)

    reps = -(-args.rows // len(base))
    frame = pd.concat([base] * reps, ignore_index=True).iloc[: args.rows]
    rng = np.random.default_rng(0)
    broken = rng.choice(len(frame), size=max(1, len(frame) // 10_000), replace=False)  # 0.01 % drifted rows
    frame.loc[broken[0::2], "plan"] = "gold"
    frame.loc[broken[1::2], "monetary"] = -5.0
    chunks = [frame.iloc[i : i + args.chunk].reset_index(drop=True) for i in range(0, len(frame), args.chunk)]
    schema = pandera_schema(contract)  # pyspark's FutureWarnings on import: ignored above

    def timed(fn) -> float:
        t0 = time.perf_counter()
        for chunk in chunks:
            fn(chunk)
        return time.perf_counter() - t0

    ours, lib, scoring = [], [], []
    for _ in range(args.repeat):  # interleaved: the machine's load weighs on all three alike
        scoring.append(timed(predictor))
        ours.append(timed(lambda c: check_chunk(contract, c)))
        lib.append(timed(lambda c: pandera_check(schema, c)))
    per_m = 1_000_000 / len(frame)
    t_score, t_ours, t_lib = (statistics.median(x) * per_m for x in (scoring, ours, lib))
    found = check_chunk(contract, chunks[0]).violations
    figures = [
        Figure("contract check (vectorised) per 1M rows", t_ours, "scoring without it", t_score, "s", "< 0.15"),
        Figure("contract check (pandera lazy validate) per 1M rows", t_lib, "scoring without it", t_score, "s"),
    ]
    print(
        f"{len(frame)} rows in {len(chunks)} chunks of {args.chunk}, {trees} trees of depth {depth}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    print(f"  scoring without a contract   {t_score:7.2f} s per 1M rows")
    print(f"  contract check, vectorised   {t_ours:7.3f} s per 1M rows   ratio {t_ours / t_score:.3f} (target < 0.15)")
    print(f"  contract check, pandera      {t_lib:7.3f} s per 1M rows   ratio {t_lib / t_score:.3f}")
    print(f"  (first chunk: {'; '.join(str(v) for v in found) or 'no violation'})")
    write_json(
        args.json,
        "contract_overhead",
        figures,
        {"rows": len(frame), "chunk": args.chunk, "repeat": args.repeat, "trees": trees, "depth": depth},
    )


if __name__ == "__main__":
    main()

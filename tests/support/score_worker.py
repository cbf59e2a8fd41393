"""Score tables in a fresh process and report how much its peak RSS grew while scoring.

    python -m tests.support.score_worker (ours|naive) SPEC [SPEC ...]

Each spec names its table in ``scoring.sourceTable``. Everything scoring needs
(imports, the champion model, a warm-up on a few rows) is loaded first; then the
peak RSS (VmHWM, what ``ru_maxrss`` reports) is reset to the current RSS, and
read again after each table is scored. Prints one
JSON list: per table {rows, growth_kb (peak RSS growth since the start), seconds}.
``naive`` is the baseline of tests/support/naive_scoring.py: read_sql of the whole table, predict, to_sql.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak() -> int:
    """Reset the peak RSS to the current RSS (Linux: write 5 to clear_refs); return the current RSS in kB.

    Without the reset, the peak reached while loading MLflow and the model would
    hide anything smaller that scoring adds.
    """
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_kb("VmRSS")


def peak_kb() -> int:
    return _status_kb("VmHWM")  # the same high-water mark getrusage's ru_maxrss reports, but resettable


def main(mode: str, *spec_paths: str) -> None:
    import logging

    import pandas as pd

    from mlpublish.deployment.context import PublishContext
    from mlpublish.modelling import prepare_features
    from mlpublish.spec import load_spec
    from mlpublish.steps.score import load_champion, score_batch
    from tests.support.naive_scoring import naive_score

    logging.disable(logging.WARNING)
    contexts = [PublishContext.create(load_spec(p)) for p in spec_paths]
    first = contexts[0]
    version, _, model = load_champion(first)
    spec = first.spec
    # warm up every code path once on a few rows, so the measurement sees only what grows with the table
    warm = pd.read_sql_query(f"SELECT * FROM {spec.scoring.sourceTable} LIMIT 50", first.preflight.warehouse.engine)
    model.predict_proba(prepare_features(warm, spec.feature_names, spec.categorical_features))
    before = reset_peak()
    out = []
    for ctx in contexts:
        ctx.cache.update(first.cache)
        t0 = time.perf_counter()
        if mode == "ours":
            rows = score_batch(ctx, scoring_run_id="worker").rows
        else:
            rows = naive_score(ctx, model, version, f"naive_{ctx.spec.scoring.sourceTable}")
        out.append(
            {
                "rows": rows,
                "growth_kb": peak_kb() - before,
                "seconds": time.perf_counter() - t0,
                "before_kb": before,
                "peak_kb": peak_kb(),
                "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:])

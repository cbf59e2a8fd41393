"""The naive scoring baseline, what a notebook does: ``pandas.read_sql`` of the whole table,
predict, ``DataFrame.to_sql``. The memory test (tests/support/score_worker.py) and the
throughput benchmark (bench/score_throughput.py) compare the score step with this one function."""

from __future__ import annotations

from typing import Any


def naive_score(ctx: Any, model: Any, version: str, table: str) -> int:
    """Score ``ctx.spec.scoring.sourceTable`` into ``table`` (replaced) in one go; returns the rows written."""
    import pandas as pd

    from mlpublish.modelling import prepare_features

    spec = ctx.spec
    engine = ctx.preflight.warehouse.engine
    frame = pd.read_sql(f"SELECT * FROM {spec.scoring.sourceTable}", engine)
    X = prepare_features(frame, spec.feature_names, spec.categorical_features)
    out = frame[spec.data.keyColumns].copy()
    out["prediction"] = model.predict(X)
    out["probability"] = model.predict_proba(X)[:, 1]
    out["model_name"], out["model_version"] = spec.name, version
    out.to_sql(table, engine, if_exists="replace", index=False)
    return len(out)

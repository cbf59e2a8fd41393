"""Drift statistics on Spark: the local engine's bin counts and sample, computed per partition and summed.

Each task bins its rows with the champion's reference profiles (the same
:class:`mlpublish.evaluation.drift.FeatureProfile` the local engine fills chunk by chunk) and keeps a
uniform sample at the same rate; the driver adds the counts up. PSI is computed from the
summed counts, so it is the local engine's to the last bit. The sample is drawn per partition
(seeded by the partition: a re-run task draws the same rows); when the source fits in
``monitoring.sampleRows`` the sample is every row, as on the local engine, and KS and the
performance check are identical too.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

from mlpublish.errors import WarehouseError
from mlpublish.spark_engine.session import spark_error
from mlpublish.spark_engine.sources import SparkSource


def _profile_partitions(
    bc: Any, features: list, categorical: list, window: str | None, since: Any, rate: float, guard: Any = None
):
    def run(batches: Any) -> Any:
        import numpy as np
        import pandas as pd
        from pyspark import TaskContext

        from mlpublish.modelling import prepare_features

        profiles = {}
        for f, prof in bc.value.items():
            profiles[f] = copy.copy(prof)
            profiles[f].cur_counts = prof.ref_counts * 0
        rng = np.random.default_rng(TaskContext.get().partitionId())
        rows, samples = 0, []
        checks = guard.fresh() if guard is not None else None  # the champion's data contract, this task's tally
        for frame in batches:
            if window:
                stamps = pd.to_datetime(frame[window], utc=True, errors="coerce")
                frame = frame[stamps >= since]
            if checks is not None and len(frame):
                frame = checks.observe(frame)
            if frame.empty:
                continue
            X = prepare_features(frame, features, categorical)
            for f, prof in profiles.items():
                prof.add(X[f].to_numpy() if f in categorical else X[f].to_numpy(dtype="float64"))
            samples.append(frame[rng.random(len(frame)) < rate])
            rows += len(frame)
        counts = {f: p.cur_counts for f, p in profiles.items()}
        sample = pd.concat(samples, ignore_index=True) if samples else None
        tally = checks.counts() if checks is not None else None
        yield pd.DataFrame({"payload": [pickle.dumps((rows, counts, sample, tally))]})

    return run


def profile_on_spark(
    spark: Any,
    source: SparkSource,
    profiles: dict[str, Any],
    *,
    features: list[str],
    categorical: list[str],
    window: str | None,
    since: Any,
    rate: float,
    guard: Any = None,
) -> tuple[int, Any]:
    """Fill ``profiles``' current counts from every row of ``source``; (rows counted, the uniform sample).
    ``guard``: the champion's ContractGuard; each task checks its rows (``observe``), the driver's guard gets
    the summed tallies."""
    import pandas as pd
    from pyspark.sql import types as T

    bc = spark.sparkContext.broadcast(profiles)
    fn = _profile_partitions(bc, features, categorical, window, since, rate, guard)
    schema = T.StructType([T.StructField("payload", T.BinaryType())])
    try:
        parts = [pickle.loads(r[0]) for r in source.select().mapInPandas(fn, schema).collect()]
    except Exception as exc:  # a bad value (prepare_features' WarehouseError) arrives as a task's Python error
        raise WarehouseError(f"{source.label}: {spark_error(exc)}") from None
    finally:
        bc.unpersist()
    rows = 0
    samples = []
    for part_rows, counts, sample, tally in parts:
        rows += part_rows
        if guard is not None and tally is not None:
            guard.merge(tally)
        for f, c in counts.items():
            profiles[f].cur_counts = profiles[f].cur_counts + c
        if sample is not None:
            samples.append(sample)
    sample = pd.concat(samples, ignore_index=True) if samples else pd.DataFrame(columns=source.columns)
    return rows, sample

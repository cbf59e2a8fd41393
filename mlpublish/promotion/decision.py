"""Is a candidate new, and why does it replace the champion: the promotion decision, no writes."""

from __future__ import annotations

from mlpublish.evaluation.gates import TOLERANCE, CheckResult
from mlpublish.evaluation.metrics import higher_is_better
from mlpublish.registry import Registry
from mlpublish.registry.contract import (
    CHAMPION,
    COPIED_FROM_TAG,
    DATASET_DIGEST_TAG,
    GIT_COMMIT_TAG,
    GIT_DIRTY_TAG,
    SPLIT_TAG,
    TRAINING_FQN_TAG,
)

# What makes two training runs the same model: the data (digest, table, split), the code version.
REPRODUCTION_TAGS = (DATASET_DIGEST_TAG, TRAINING_FQN_TAG, SPLIT_TAG, GIT_COMMIT_TAG, GIT_DIRTY_TAG)


def reproduced_champion(
    reg: Registry,
    name: str,
    champion_version: str | None,
    run_id: str,
    metrics: dict[str, float],
    champion_metrics: dict[str, float] | None,
) -> str | None:
    """How candidate run ``run_id`` is champion ``champion_version`` again, or None when it is new.

    The same held-out metrics are not enough (a different model can tie): the training data
    digest, table and split, the parameters and estimator (the run's params) and the code
    version must all be the champion's too. A version copied from another environment or
    trained by another tool has no comparable run here, so it is never "the same".
    """
    if champion_version is None or not champion_metrics or set(metrics) != set(champion_metrics):
        return None
    if any(abs(metrics[k] - champion_metrics[k]) > TOLERANCE for k in metrics):
        return None
    mv = reg.get_version(name, champion_version)
    if (mv.tags or {}).get(COPIED_FROM_TAG) or not mv.run_id or mv.run_id == run_id:
        return None
    candidate, champion = reg.run(run_id).data, reg.run(mv.run_id).data
    if candidate.params != champion.params:
        return None
    if any(candidate.tags.get(k) != champion.tags.get(k) for k in REPRODUCTION_TAGS):
        return None
    digest = candidate.tags.get(DATASET_DIGEST_TAG) or "unknown"
    code = candidate.tags.get(GIT_COMMIT_TAG, "unknown")[:12]
    return (
        f"run {run_id} reproduces {CHAMPION} v{champion_version} (run {mv.run_id}): same training data "
        f"(digest {digest}), parameters, estimator {candidate.params.get('mlpublish.estimator', 'unknown')}, "
        f"code version {code} and held-out metrics; no new version, {CHAMPION} stays v{champion_version}"
    )


def promotion_reason(version: str, current: str, checks: list[CheckResult]) -> str:
    """Why ``version`` replaces champion ``current``, with the numbers of the relative gates.

    A candidate "beats" the champion only when it is strictly better on every relative gate;
    one let through by a ``maxDropVsChampion`` tolerance is said to be within it.
    """
    compared = [c for c in checks if c.kind and c.value is not None and c.champion_value is not None]
    if not compared:
        return f"v{version} replaces {CHAMPION} v{current}: the spec has no relative gate (absolute gates passed)"
    parts, within = [], False
    for c in compared:
        delta = c.value - c.champion_value  # type: ignore[operator]
        gain = delta if higher_is_better(c.metric or "") else -delta
        metric = f"{c.metric} [{c.slice}]" if c.slice else c.metric  # a per-slice gate names its slice
        if c.kind == "maxDropVsChampion" and gain <= TOLERANCE:
            within = True
            parts.append(f"{metric} {delta:+.4f}, within {c.kind} {c.threshold:g}")
        else:
            parts.append(f"{metric} {delta:+.4f} ({c.kind} {c.threshold:g})")
    if within:
        return f"v{version} promoted over {CHAMPION} v{current} within tolerance: " + "; ".join(parts)
    return f"v{version} beats {CHAMPION} v{current}: " + "; ".join(parts)

"""Drift statistics (PSI, KS) and the retraining rule, as plain functions of numbers.

numpy/scipy rather than a drift library: PSI with reference-quantile bins and
scipy's two-sample KS test are a few lines, stream over chunks (counts add up),
and keep the core's dependencies as they are.

* PSI = sum over bins of (cur% - ref%) * ln(cur% / ref%). Numerical features are
  binned at the reference's quantiles (plus a bin for missing values);
  categorical features by category (plus "other" for categories the reference
  never saw). Empty bins count as ``EPS`` so the logarithm stays finite.
  Rule of thumb: < 0.1 stable, 0.1-0.2 moderate, > 0.2 shifted.
* KS: a numerical feature also drifts when scipy's two-sample KS p-value is
  below the threshold *and* the KS statistic is at least ``ksMinStatistic``;
  the effect-size floor keeps large samples from flagging negligible shifts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EPS = 1e-4
OTHER = "<other>"


def bin_edges(reference: Any, bins: int) -> Any:
    """Interior bin edges at the reference's quantiles (duplicates merged: discrete features get fewer bins)."""
    import numpy as np

    ref = np.asarray(reference, dtype="float64")
    ref = ref[~np.isnan(ref)]
    if ref.size == 0:
        return np.array([], dtype="float64")
    return np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))


def numeric_counts(values: Any, edges: Any) -> Any:
    """Counts per bin (len(edges) + 1 bins, right-closed at each edge) and a last bin for missing values."""
    import numpy as np

    v = np.asarray(values, dtype="float64")
    missing = np.isnan(v)
    idx = np.searchsorted(edges, v[~missing], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype("float64")
    return np.append(counts, float(missing.sum()))


def category_counts(values: Any, categories: list[str]) -> Any:
    """Counts per reference category, then one for categories the reference never saw."""
    import numpy as np
    import pandas as pd

    vc = pd.Series(values).astype(str).value_counts()
    known = [float(vc.get(c, 0)) for c in categories]
    return np.array(known + [float(vc.sum()) - sum(known)])


def psi(reference_counts: Any, current_counts: Any) -> float:
    import numpy as np

    ref = np.asarray(reference_counts, dtype="float64")
    cur = np.asarray(current_counts, dtype="float64")
    if ref.sum() == 0 or cur.sum() == 0:
        return 0.0
    p = np.clip(ref / ref.sum(), EPS, None)
    q = np.clip(cur / cur.sum(), EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_test(reference: Any, current: Any) -> tuple[float, float] | None:
    """(statistic, p-value) of the two-sample KS test on non-missing values; None with too few values."""
    import numpy as np
    from scipy.stats import ks_2samp

    ref = np.asarray(reference, dtype="float64")
    cur = np.asarray(current, dtype="float64")
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size < 2 or cur.size < 2:
        return None
    res = ks_2samp(ref, cur)
    return float(res.statistic), float(res.pvalue)


@dataclass
class FeatureProfile:
    """The reference side of one feature, and the current side accumulated chunk by chunk."""

    name: str
    categorical: bool
    reference: Any  # numpy array (numerical) or list of str (categorical)
    bins: int
    edges: Any = None
    categories: list[str] = field(default_factory=list)
    ref_counts: Any = None
    cur_counts: Any = None

    def __post_init__(self) -> None:
        if self.categorical:
            import pandas as pd

            self.categories = sorted(pd.Series(self.reference).astype(str).unique().tolist())
            self.ref_counts = category_counts(self.reference, self.categories)
        else:
            self.edges = bin_edges(self.reference, self.bins)
            self.ref_counts = numeric_counts(self.reference, self.edges)
        self.cur_counts = self.ref_counts * 0

    def add(self, values: Any) -> None:
        if self.categorical:
            self.cur_counts = self.cur_counts + category_counts(values, self.categories)
        else:
            self.cur_counts = self.cur_counts + numeric_counts(values, self.edges)

    @property
    def psi(self) -> float:
        return psi(self.ref_counts, self.cur_counts)


def decide_retraining(
    windows: list[bool],
    *,
    n: int,
    m: int,
    now: float,
    last_trained_at: float | None,
    cooldown_hours: float,
    in_flight: str | None = None,
    pending: str | None = None,
    drift_reasons: list[str] | None = None,
) -> tuple[bool, list[str]]:
    """Retrain or not, and why.

    ``windows``: drifted or not, oldest first, the window just measured last.
    Retrain only when the latest window drifted and at least ``n`` of the last
    ``m`` did (one noisy window never triggers, a recovered feature never
    keeps triggering), no training is in flight or already requested, and the
    last training is at least ``cooldown_hours`` old (times in epoch seconds).
    """
    detail = list(drift_reasons or [])
    recent = windows[-m:]
    hits = sum(bool(w) for w in recent)
    if not recent or not recent[-1]:
        return False, ["no drift in the latest window"] + detail
    held = f"drift in {hits} of the last {len(recent)} window(s) (needs {n} of {m})"
    if hits < n:
        return False, [f"{held}: not yet"] + detail
    if in_flight:
        return False, [f"{held}, but a retraining is in flight: {in_flight}"] + detail
    if pending:
        return False, [f"{held}, but retraining was already requested: {pending}"] + detail
    if last_trained_at is not None and now - last_trained_at < cooldown_hours * 3600:
        age = (now - last_trained_at) / 3600
        return False, [
            f"{held}, but in cooldown: last training {age:.2f} h ago < cooldownHours {cooldown_hours:g}"
        ] + detail
    return True, [held] + detail

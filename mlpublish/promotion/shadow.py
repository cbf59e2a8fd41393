"""promotion.mode: shadow: does the challenger replace the champion on live labels? The decision, no writes.

A window counts when both models were measured on it (the champion's current version as champion, the
current challenger's version as challenger) with at least ``promotion.shadow.minLabelledRows`` labelled rows
each. The challenger wins a counted window when it is strictly better than the champion on the spec's
selectBy metric AND its live metrics pass the spec's own gates (``validation.gates``: absolute thresholds, and
relative ones against the champion's live metrics of the same window). Per-slice gates and fairness bounds
are not measured on live labels: they are reported as skipped. It is promoted when it won ``windowN`` of the
last ``windowM`` counted windows.
"""

from __future__ import annotations

from mlpublish.evaluation.gates import TOLERANCE, CheckResult, evaluate_gate
from mlpublish.evaluation.metrics import higher_is_better
from mlpublish.registry.live_metrics import LiveWindow, parse_time
from mlpublish.results import LiveWindowEvidence, ShadowDecision
from mlpublish.spec import Gate


def live_checks(gates: list[Gate], challenger: dict[str, float], champion: dict[str, float], version: str):
    """The spec's gates on the challenger's live metrics (relative ones against the champion's, same window)."""
    out: list[CheckResult] = []
    for i, gate in enumerate(gates):
        if gate.perSlice is not None:
            out.append(
                CheckResult(
                    check="slice",
                    gate=i,
                    name=gate.describe(),
                    outcome="skipped",
                    metric=gate.metric,
                    kind=gate.kind,
                    threshold=gate.threshold,
                    detail="per-slice gates are not measured on live labels",
                )
            )
        else:
            out.append(evaluate_gate(gate, challenger, champion, version, False).model_copy(update={"gate": i}))
    return out


def judge_window(champion: LiveWindow, challenger: LiveWindow, *, metric: str, gates: list[Gate]) -> LiveWindowEvidence:
    """Won or lost, and why: the selectBy metric first, then every gate."""
    base = dict(
        window_start=challenger.window_start,
        window_end=challenger.window_end,
        champion_rows=champion.labelled_rows,
        challenger_rows=challenger.labelled_rows,
        champion=champion.metrics,
        challenger=challenger.metrics,
    )
    mine, theirs = challenger.metrics.get(metric), champion.metrics.get(metric)
    if mine is None or theirs is None:
        missing = "challenger" if mine is None else "champion"
        return LiveWindowEvidence(**base, won=False, why=f"live {metric} of the {missing} was not recorded")
    gain = (mine - theirs) if higher_is_better(metric) else (theirs - mine)
    beats = gain > TOLERANCE
    checks = live_checks(gates, challenger.metrics, champion.metrics, champion.version)
    failed = [c for c in checks if not c.passed]
    why = f"{metric} {mine:.4f} vs {theirs:.4f}: " + ("beats the champion" if beats else "does not beat the champion")
    if failed:
        why += "; gates failed: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
    return LiveWindowEvidence(**base, won=beats and not failed, why=why, checks=checks)


def decide_on_live_labels(
    champion_windows: list[LiveWindow],
    challenger_windows: list[LiveWindow],
    *,
    champion_version: str,
    challenger_version: str,
    metric: str,
    gates: list[Gate],
    window_n: int,
    window_m: int,
    min_labelled_rows: int,
) -> ShadowDecision:
    """The decision with its evidence. ``*_windows``: the recorded windows of the champion's and the
    challenger's current versions (any order); only windows both were measured on are compared."""
    champs = {parse_time(w.window_start): w for w in champion_windows if w.version == champion_version}
    challs = {parse_time(w.window_start): w for w in challenger_windows if w.version == challenger_version}
    shared = sorted(set(champs) & set(challs))
    counted = [t for t in shared if min(champs[t].labelled_rows, challs[t].labelled_rows) >= min_labelled_rows]
    not_counted = len(set(champs) | set(challs)) - len(counted)
    windows = [judge_window(champs[t], challs[t], metric=metric, gates=gates) for t in counted[-window_m:]]
    wins = sum(w.won for w in windows)
    versus = f"challenger v{challenger_version} vs champion v{champion_version} on live {metric}"
    rule = f"needs {window_n} of the last {window_m}"
    if not windows:
        reason = (
            f"{versus}: no labelled window counted yet ({rule}; a window counts when both models have at least "
            f"{min_labelled_rows} labelled rows in it; {not_counted} window(s) did not)"
        )
    else:
        held = f"{versus}: won {wins} of the last {len(windows)} labelled window(s) ({rule})"
        reason = held if wins >= window_n else f"{held}: not yet"
    return ShadowDecision(
        champion_version=champion_version,
        challenger_version=challenger_version,
        metric=metric,
        window_n=window_n,
        window_m=window_m,
        min_labelled_rows=min_labelled_rows,
        windows=windows,
        not_counted=not_counted,
        wins=wins,
        promote=wins >= window_n,
        reason=reason,
    )

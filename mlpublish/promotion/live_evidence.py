"""The evidence of a decision on live labels, as the registry, the catalog and the model card carry it.

The whole decision (every window, both models' live metrics, every gate) is logged as JSON on the
challenger's training run (:data:`~mlpublish.registry.contract.LIVE_EVIDENCE_ARTIFACT`); a compact form
(per window: the selectBy values, labelled rows, won or lost and why) goes on the version as a tag and on the
catalog entity as a property, and the champion's card shows it as "Promoted on live labels".
"""

from __future__ import annotations

import json
from typing import Any

from mlpublish.evaluation.gates import CheckResult
from mlpublish.model_card import cell, esc
from mlpublish.results import ShadowDecision

LIVE_HEADING = "## Promoted on live labels"
# MLflow keeps 5000 characters of a tag value; the catalog's text property takes the same.
MAX_COMPACT_CHARS = 4900
WHY_CHARS = 160


def compact_evidence(decision: ShadowDecision, at: str) -> str:
    """The decision in at most MAX_COMPACT_CHARS of JSON: the newest windows kept when it would be longer."""
    windows = [
        {
            "start": w.window_start,
            "end": w.window_end,
            "won": w.won,
            "challenger": w.challenger.get(decision.metric),
            "champion": w.champion.get(decision.metric),
            "rows": [w.challenger_rows, w.champion_rows],
            "why": w.why[:WHY_CHARS],
        }
        for w in decision.windows
    ]
    head = {
        "at": at,
        "promote": decision.promote,
        "challenger": decision.challenger_version,
        "champion": decision.champion_version,
        "metric": decision.metric,
        "rule": f"{decision.window_n} of {decision.window_m}",
        "minLabelledRows": decision.min_labelled_rows,
        "wins": decision.wins,
    }
    while True:
        text = json.dumps({**head, "windows": windows}, separators=(",", ":"))
        if len(text) <= MAX_COMPACT_CHARS or not windows:
            return text[:MAX_COMPACT_CHARS]
        windows = windows[1:]


def decision_line(decision: ShadowDecision) -> str:
    """One line for a tag or a property: PROMOTE or WAIT, and the reason."""
    return f"{'PROMOTE' if decision.promote else 'WAIT'}: {decision.reason}"[:MAX_COMPACT_CHARS]


def catalog_properties(decision: ShadowDecision, at: str) -> dict[str, str]:
    """The model entity's record of the last decision on live labels."""
    return {
        "shadowChallengerVersion": decision.challenger_version,
        "shadowDecision": decision_line(decision),
        "shadowDecidedAt": at,
        "shadowEvidence": compact_evidence(decision, at),
    }


def window_checks(decision: ShadowDecision) -> list[CheckResult]:
    """One check per window looked at (what a promotion's result and notification carry as its evidence)."""
    return [
        CheckResult(
            check="live_window",
            name=f"live window {w.window_start} to {w.window_end}",
            outcome="pass" if w.won else "fail",
            metric=decision.metric,
            value=w.challenger.get(decision.metric),
            champion_value=w.champion.get(decision.metric),
            rows=min(w.challenger_rows, w.champion_rows),
            detail=w.why,
        )
        for w in decision.windows
    ]


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.4f}"


def live_card_section(evidence: str) -> str:
    """The card's "Promoted on live labels" section from the version's compact evidence ("" if unreadable)."""
    try:
        data = json.loads(evidence)
        windows = list(data.get("windows") or [])
        metric = esc(data["metric"])
    except (ValueError, TypeError, KeyError):
        return ""
    lines = [
        LIVE_HEADING,
        "",
        f"Decided on {esc(data.get('at') or '?')}: challenger v{esc(data.get('challenger'))} won "
        f"{esc(data.get('wins'))} of the last {len(windows)} labelled window(s) against champion "
        f"v{esc(data.get('champion'))} on live {metric} (promotion.shadow: {esc(data.get('rule'))}; a window "
        f"counts with at least {esc(data.get('minLabelledRows'))} labelled rows per model), passing the spec's "
        "gates on its live metrics.",
        "",
        f"| Window (UTC) | Labelled rows (challenger / champion) | challenger {metric} | champion {metric} | Outcome |",
        "|---|---|---|---|---|",
    ]
    for w in windows:
        rows = w.get("rows") or ["?", "?"]
        lines.append(
            f"| {cell(w.get('start'))} to {cell(w.get('end'))} | {cell(rows[0])} / {cell(rows[-1])} | "
            f"{_num(w.get('challenger'))} | {_num(w.get('champion'))} | "
            f"{'won' if w.get('won') else 'lost'}: {cell(w.get('why') or '')} |"
        )
    return "\n".join(lines) + "\n\n"

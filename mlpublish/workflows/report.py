"""Human-readable summaries: the chain result, the model's registry status, a run's data contract checks."""

from __future__ import annotations

import json
from typing import Any

from mlpublish.contracts.enforce import ContractSummary
from mlpublish.promotion import champion_history
from mlpublish.registry import Registry
from mlpublish.registry.contract import CHAMPION, METRICS_TAG, VALIDATION_TAG
from mlpublish.results import NOTHING_NEW, ChainResult


def _metrics_line(metrics: dict[str, float] | None, keys: list[str]) -> str:
    if not metrics:
        return "-"
    return ", ".join(f"{k}={metrics[k]:.4f}" for k in keys if k in metrics)


def chain_summary(r: ChainResult) -> str:
    t, e, v, reg, p = r.training, r.evaluation, r.validation, r.registration, r.promotion
    keys = sorted(e.metrics)
    lines = [
        f"model      {t.model_name}",
        f"run        {t.run_id} ({t.train_rows} training rows, {t.test_rows} held out, {len(t.candidates)} candidate(s))",
        f"selected   {t.params or 'estimator defaults'} by {t.select_by}",
        *([f"contract   {t.contract}"] if t.contract else []),
        f"candidate  {_metrics_line(e.metrics, keys)}",
        "champion   "
        + (
            f"v{e.champion_version}: {_metrics_line(e.champion_metrics, keys)}"
            if e.champion_metrics
            else (f"v{e.champion_version}: {e.champion_error}" if e.champion_version else "none yet")
        ),
        "",
        "checks",
    ]
    lines += [f"  {c.outcome.upper():7} {c.name:40} {c.detail}" for c in v.checks]
    lines += ["", f"validation {v.status}"]
    if r.nothing_new:
        lines.append(f"outcome    {NOTHING_NEW}: {v.same_as_champion_detail}")
        lines.append(f"champion   v{v.same_as_champion} (unchanged, nothing registered, nobody notified)")
        return "\n".join(lines)
    if reg is not None and not reg.version and v.status != "PASSED":
        lines.append(f"refused    {reg.reason}")  # a FAILED candidate: no version was created
    elif reg is not None:
        lines.append(
            "registered "
            + (
                f"version {reg.version}"
                + (" (existing)" if not reg.created else "")
                + (f", alias {', '.join(reg.aliases)}" if reg.aliases else "")
                if reg.version
                else reg.reason
            )
        )
    if p is not None:
        lines.append(f"promotion  {'PROMOTED' if p.promoted else 'NOT PROMOTED'}: {p.reason}")
        lines.append(f"champion   {'v' + p.champion_after if p.champion_after else 'none'}")
    return "\n".join(lines)


def model_status(reg: Registry, name: str) -> dict[str, Any]:
    """Versions, aliases, validation status, key metrics and champion history, from the registry."""
    aliases = reg.aliases(name)
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    versions = []
    for mv in reg.versions(name):
        tags = mv.tags or {}
        try:
            metrics = json.loads(tags.get(METRICS_TAG, "{}"))
        except ValueError:
            metrics = {}
        versions.append(
            {
                "version": str(mv.version),
                "status": tags.get(VALIDATION_TAG, "unknown"),
                "aliases": sorted(by_version.get(str(mv.version), [])),
                "run_id": mv.run_id,
                "created": mv.creation_timestamp,
                "metrics": metrics,
            }
        )
    return {
        "name": name,
        "aliases": aliases,
        "champion": aliases.get(CHAMPION),
        "versions": versions,
        "history": champion_history(reg, name),
    }


def status_text(s: dict[str, Any]) -> str:
    lines = [
        f"{s['name']}: champion " + (f"v{s['champion']}" if s["champion"] else "none"),
        f"{'version':>7}  {'status':7}  {'aliases':22}  metrics (each on its own held-out rows; the fair "
        "candidate-vs-champion comparison is in each run's champion_test_* metrics)",
    ]
    for v in s["versions"]:
        metrics = ", ".join(f"{k}={val:.4f}" for k, val in sorted(v["metrics"].items()))
        lines.append(f"{v['version']:>7}  {v['status']:7}  {','.join(v['aliases']) or '-':22}  {metrics}")
    if s["history"]:
        lines.append("champion history:")
        lines += [
            f"  {h['at']}  {h['action']:8} v{h['from'] or '-'} -> v{h['to']}  {h.get('reason', '')}"
            for h in s["history"]
        ]
    return "\n".join(lines)


def contract_lines(c: ContractSummary | None) -> list[str]:
    """A scoring or monitor run's data contract checks: the counts, then one line per violation."""
    if c is None:
        return ["contract   none: the champion was published before data contracts, its rows are not checked"]
    head = f"contract   {c.contract} ({c.mode}): {c.rows_checked} rows checked, {c.rows_violating} violating"
    if c.rows_quarantined:
        head += f", {c.rows_quarantined} quarantined in {c.quarantine_table}"
    return [head] + [f"  {v.column:<20} {v.rule:<18} {v.count:>8} row(s)  {v.observed}" for v in c.violations]

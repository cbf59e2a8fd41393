"""Which notifications an outcome makes, and with which links: shared by the CLI and the adapters.

A chain run makes a ``gate`` notification, then (PASSED, automatic promotion) a ``promotion`` one.
A manual promotion waits for approval: its notification comes from ``mlpublish promote`` (or the
Airflow promote task after approval), not from the chain.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mlpublish.notify.message import Notification, Source, gate_notification, links_for, promotion_notification
from mlpublish.results import ChainResult, LivePromotionResult, MonitorResult, PromoteResult, ScoreResult

log = logging.getLogger("mlpublish.notify")


def chain_notifications(
    result: ChainResult,
    *,
    source: Source,
    tracking_uri: str | None,
    catalog_fqn: str | None,
    openmetadata_host_port: str | None = None,
    orchestrator_run: tuple[str, str] | None = None,
) -> list[Notification]:
    t, e, v, p = result.training, result.evaluation, result.validation, result.promotion
    common = dict(
        model=t.model_name,
        tracking_uri=tracking_uri,
        experiment_id=t.experiment_id,
        run_id=t.run_id,
        catalog_fqn=catalog_fqn,
        openmetadata_host_port=openmetadata_host_port,
        orchestrator_run=orchestrator_run,
    )
    out = [gate_notification(e, v, source=source, links=links_for(**common))]
    # manual mode, or shadow mode with a champion: the candidate waits as challenger, nothing to tell yet
    if v.status == "PASSED" and p is not None and p.mode != "manual" and not p.shadow:
        out.append(
            promotion_notification(
                p,
                source=source,
                candidate_metrics=e.metrics,
                champion_metrics=e.champion_metrics,
                compared_version=e.champion_version,
                run_id=t.run_id,
                links=links_for(**common, version=p.version),
            )
        )
    return out


def version_metrics(registry: Any, name: str, version: str | None) -> dict[str, float] | None:
    """The metrics the register step recorded on a version (each on its own held-out rows)."""
    if not version:
        return None
    try:
        tags = registry.get_version(name, version).tags or {}
        return {k: float(v) for k, v in json.loads(tags.get("mlpublish.metrics", "{}")).items()}
    except Exception as exc:  # the table is a courtesy: a notification goes out without it
        log.warning("notification for %s: metrics of v%s unavailable (%s)", name, version, type(exc).__name__)
        return None


def move_notification(
    registry: Any,
    promotion: PromoteResult,
    *,
    source: Source,
    catalog_fqn: str | None,
    openmetadata_host_port: str | None = None,
    orchestrator_run: tuple[str, str] | None = None,
) -> Notification:
    """A manual promotion or a rollback: the table compares the two versions' recorded metrics."""
    p = promotion
    candidate = p.champion_after if p.mode == "rollback" else p.version
    previous = p.champion_before if p.champion_before != candidate else None
    run_id = experiment_id = None
    try:
        run_id = registry.get_version(p.model_name, candidate).run_id if candidate else None
        if run_id and registry.tracking_uri.startswith(("http://", "https://")):
            experiment_id = registry.run(run_id).info.experiment_id
    except Exception as exc:
        log.warning("notification for %s: run of v%s unavailable (%s)", p.model_name, candidate, type(exc).__name__)
    note = "each version on its own held-out rows" if previous else ""
    n = promotion_notification(
        p,
        source=source,
        run_id=run_id,
        candidate_metrics=version_metrics(registry, p.model_name, candidate),
        champion_metrics=version_metrics(registry, p.model_name, previous),
        links=links_for(
            model=p.model_name,
            tracking_uri=registry.tracking_uri,
            experiment_id=experiment_id,
            run_id=run_id,
            version=candidate,
            catalog_fqn=catalog_fqn,
            openmetadata_host_port=openmetadata_host_port,
            orchestrator_run=orchestrator_run,
        ),
    )
    if note:
        n.summary = f"{n.summary} (metrics: {note})"
    return n


def contract_notification(
    result: ScoreResult | MonitorResult, *, source: Source, links: list[Any] = ()
) -> Notification | None:
    """Rows of a scoring or monitor run broke the champion's data contract: the counts and each violation
    (column, rule, observed value, rows). None when the run had no contract or found nothing."""
    c = result.contract
    if c is None or c.clean:
        return None
    scoring = isinstance(result, ScoreResult)
    run = result.scoring_run_id if scoring else result.monitor_run_id
    what = "scoring" if scoring else "monitor"
    held = f", {c.rows_quarantined} quarantined in {c.quarantine_table}" if c.rows_quarantined else ""
    return Notification(
        event="contract",
        outcome="VIOLATED",
        model=result.model_name,
        version=result.version,
        run_id=run,
        title=f"{result.model_name}: {c.rows_violating} of {c.rows_checked} rows broke the data contract of "
        f"v{result.version} ({what} run {run})",
        summary=f"onContractViolation: {c.mode}{held}. " + "; ".join(str(v) for v in c.violations),
        links=list(links),
        source=source,
    )


def live_promotion_notification(
    result: LivePromotionResult,
    *,
    source: Source,
    tracking_uri: str | None,
    catalog_fqn: str | None,
    openmetadata_host_port: str | None = None,
    orchestrator_run: tuple[str, str] | None = None,
) -> Notification | None:
    """promotion.mode: shadow: the challenger promoted on live labels, or waiting for an approver after it won
    (None for every other outcome: nothing happened). The table holds both models' live metrics in the latest
    window; the checks are the windows looked at, won (pass) or lost (fail), each with why."""
    from mlpublish.promotion.live_evidence import window_checks

    decision = result.decision
    if decision is None or result.outcome not in ("PROMOTED", "APPROVAL_REQUESTED"):
        return None
    version = decision.challenger_version
    promotion = result.promotion or PromoteResult(
        model_name=result.model_name,
        version=version,
        promoted=result.promoted,
        mode="shadow",
        champion_before=result.champion_before,
        champion_after=result.champion_after,
        reason=result.reason,
        checks=window_checks(decision),
    )
    latest = decision.windows[-1] if decision.windows else None
    n = promotion_notification(
        promotion,
        source=source,
        run_id=result.challenger_run_id,
        candidate_metrics=latest.challenger if latest else None,
        champion_metrics=latest.champion if latest else None,
        links=links_for(
            model=result.model_name,
            tracking_uri=tracking_uri,
            run_id=result.challenger_run_id,
            version=version,
            catalog_fqn=catalog_fqn,
            openmetadata_host_port=openmetadata_host_port,
            orchestrator_run=orchestrator_run,
        ),
    )
    n.candidate_label = f"v{version} (challenger, live)"
    n.champion_label = f"v{decision.champion_version} (champion, live)"
    if result.outcome == "APPROVAL_REQUESTED":
        n.title = f"{result.model_name}: v{version} won on live labels and waits for approval"
    if latest is not None:
        n.summary = f"{n.summary} (metrics: live, window {latest.window_start} to {latest.window_end})"
    return n

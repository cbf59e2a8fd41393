"""The ``score``, ``monitor`` and ``demo-drift`` commands (kept apart from cli.py's publish commands).

Exit codes as for the other commands: 0 success (monitor: whatever the
decision, which is printed), 2 error (bad spec, no champion, missing column...).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

COMMANDS = ("score", "monitor", "demo-drift")


def add_parsers(sub: Any) -> None:
    s = sub.add_parser("score", help="write the champion's batch predictions into the predictions table")
    s.add_argument("spec")
    s.add_argument("--run-id", help="scoring run id; re-running the same id replaces its rows (default: a new id)")
    s.add_argument("--engine", choices=("local", "spark"), help="overrides scoring.engine (docs/spark.md)")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser(
        "monitor",
        help="measure feature drift against the champion's training data; decide on retraining (promotion.mode: "
        "shadow: then on promoting the challenger on live labels)",
    )
    s.add_argument("spec")
    s.add_argument("--engine", choices=("local", "spark"), help="overrides scoring.engine (docs/spark.md)")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("demo-drift", help="shift the demo warehouse's feature distribution (then run monitor)")
    s.add_argument("--warehouse", default=os.environ.get("WAREHOUSE_URL", "sqlite:///warehouse.db"))


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo-drift":
        from mlpublish.demo.data import shift_feature_distribution

        print(json.dumps({"shifted": shift_feature_distribution(args.warehouse)}))
        return 0
    from mlpublish.deployment import for_spec
    from mlpublish.deployment.context import PublishContext
    from mlpublish.spec import load_spec

    spec = load_spec(args.spec, environment=args.env)
    with for_spec(spec).mlflow_session():
        ctx = PublishContext.create(spec)
        try:
            return _score(ctx, args) if args.command == "score" else _monitor(ctx, args)
        finally:
            ctx.preflight.warehouse.dispose()


def _score(ctx: Any, args: Any) -> int:
    from mlpublish.steps.score import score_batch

    result = score_batch(ctx, scoring_run_id=args.run_id, engine=args.engine)
    print(
        json.dumps(result.to_json(), indent=2)
        if args.json
        else f"scored {result.rows} rows of {result.source} with {result.model_name} version {result.version} "
        f"into {result.table_fqn} (scoring run {result.scoring_run_id}, {result.seconds:.1f}s)"
        + (
            f"; shadow: challenger version {result.challenger_version} scored them too"
            if result.challenger_version
            else ""
        )
    )
    _contract(result, args)
    return 0


def _contract(result: Any, args: Any) -> None:
    """The run's data contract checks: printed (not with --json: the result holds them), notified when broken."""
    from mlpublish.cli.common import send_notifications
    from mlpublish.notify import contract_notification
    from mlpublish.workflows.report import contract_lines

    if not args.json:
        print("\n".join(contract_lines(result.contract)))
    send_notifications(lambda source, _om: [n for n in [contract_notification(result, source=source)] if n], None)


def _monitor(ctx: Any, args: Any) -> int:
    from mlpublish.steps.monitor import monitor_drift, window_note

    res = monitor_drift(ctx, engine=args.engine)
    live = _promote_on_live_labels(ctx) if ctx.spec.promotion.mode == "shadow" else None
    if args.json:
        print(json.dumps({**res.to_json(), **({"live_promotion": live.to_json()} if live else {})}, indent=2))
        _contract(res, args)
        return 0
    print(
        f"{res.model_name} version {res.version}: {res.rows} current rows vs {res.reference_rows} reference rows "
        f"(monitor run {res.monitor_run_id})"
    )
    note = window_note(ctx.spec)
    if note:
        print(f"  {note}")
    for d in res.features:
        ks = "" if d.ks_statistic is None else f"  KS {d.ks_statistic:.3f} (p={d.ks_pvalue:.2g})"
        print(f"  {'DRIFT' if d.drifted else 'ok   '} {d.feature:<20} PSI {d.psi:.3f}{ks}")
    for k, v in sorted(res.performance.items()):
        print(f"  {k} = {v:.4f}")
    for w in res.live_windows:  # monitoring.labels: the windows recorded by this run
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(w.metrics.items()))
        print(f"  live {w.window_start} {w.role} v{w.version}: {w.labelled_rows} labels, {metrics}")
    print(("RETRAIN requested: " if res.retrain else "no retraining: ") + "; ".join(res.reasons))
    _contract(res, args)
    if live is not None:
        print(f"promotion on live labels: {live.outcome}: {live.reason}")
        for w in live.decision.windows if live.decision else []:
            print(f"  {'WON ' if w.won else 'lost'} {w.window_start} to {w.window_end}: {w.why}")
    return 0


def _promote_on_live_labels(ctx: Any) -> Any:
    """promotion.mode: shadow: the decision on the live windows the monitor just recorded, and its notification."""
    import logging

    from mlpublish.config import OpenMetadataSettings
    from mlpublish.notify import NotifySettings, Source, live_promotion_notification, notify
    from mlpublish.redact import scrub
    from mlpublish.steps.promote_live import promote_on_live_labels

    result = promote_on_live_labels(ctx)
    try:  # a failure to notify never changes the outcome
        settings = NotifySettings.from_env()
        om = OpenMetadataSettings.from_env()
        n = live_promotion_notification(
            result,
            source=Source(orchestrator="cli"),
            tracking_uri=ctx.registry.tracking_uri,
            catalog_fqn=ctx.spec.fqn,
            openmetadata_host_port=om.host_port if om else None,
        )
        if n is not None and settings.sinks():
            notify(n, settings)
    except Exception as exc:
        logging.getLogger("mlpublish.notify").warning(
            "notifications not sent: %s", scrub(f"{type(exc).__name__}: {exc}")
        )
    return result

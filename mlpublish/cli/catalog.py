"""The ``catalog`` command: show, lineage and versions of a model's catalog entity; sync the OpenMetadata
outbox once, or relay it to OpenMetadata as a service."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlpublish.cli.common import EXIT_CRASH, EXIT_ERROR, EXIT_OK, add_env, command_environment, model_name
from mlpublish.redact import scrub


def add_parser(sub: Any) -> None:
    s = sub.add_parser("catalog", help="read the catalog")
    csub = s.add_subparsers(dest="catalog_command", required=True, metavar="WHAT")
    for what, helptext in (
        ("show", "the MlModel entity, or a table with its data contracts and their latest results"),
        ("lineage", "upstream and downstream edges"),
        ("versions", "entity version history"),
    ):
        c = csub.add_parser(what, help=helptext)
        c.add_argument("name", help="model name or FQN (<serviceName>.<name>); show: or a table FQN")
        c.add_argument("--json", action="store_true", help="JSON output (the default for show and lineage)")
    c = csub.add_parser("sync", help="deliver the events queued for OpenMetadata; list dead-lettered ones")
    c.add_argument("--replay", action="store_true", help="then assert the final state of every queued entity again")
    c.add_argument("--retry-failed", action="store_true", help="put dead-lettered events back in the queue first")
    c = csub.add_parser("relay", help="deliver the OpenMetadata outbox continuously (a service; --once for cron)")
    c.add_argument(
        "--once", action="store_true", help="one delivery pass, then exit (0: nothing left pending or failed)"
    )
    c.add_argument("--poll", type=float, default=2.0, metavar="S", help="seconds between looks for new events (2)")
    c.add_argument(
        "--max-backoff", type=float, default=60.0, metavar="S", help="longest wait while OpenMetadata is down (60)"
    )
    c.add_argument(
        "--health-every", type=float, default=60.0, metavar="S", help="seconds between health lines and files (60)"
    )
    c.add_argument("--health-file", metavar="PATH", help="write the health file (JSON) here at every health interval")
    c.add_argument(
        "--check-health",
        metavar="PATH",
        help="probe: read a running relay's health file and exit 0 (healthy) or 1; opens nothing else",
    )
    c.add_argument(
        "--max-age", type=float, default=180.0, metavar="S", help="--check-health: oldest acceptable file (180)"
    )
    for parser in csub.choices.values():  # one --env per subcommand
        add_env(parser)


def run(args: argparse.Namespace) -> int:
    from mlpublish.deployment import for_environment

    if args.catalog_command == "relay" and args.check_health:  # a probe: no settings, no store, no SDK
        return check_health(args.check_health, args.max_age)
    env = command_environment(args.env)
    if args.catalog_command in ("sync", "relay") and env is not None:  # they write the outbox and the server
        env.require_writable(f"{args.catalog_command} the catalog")
    catalog = for_environment(env).open_catalog()
    if args.catalog_command == "sync":
        return sync(catalog, args)
    if args.catalog_command == "relay":
        return relay(catalog, args)
    if args.catalog_command == "show" and (table := _table(catalog, args.name)) is not None:
        print(json.dumps(table, indent=2, sort_keys=True))
        return EXIT_OK
    entity = catalog.find_model(model_name(args.name, args.env))
    fqn = entity["fullyQualifiedName"]
    if args.catalog_command == "show":
        out: Any = {**entity, "aliasHistory": catalog.alias_history(fqn)}
    elif args.catalog_command == "lineage":
        out = catalog.lineage(fqn)
    else:
        out = catalog.versions(fqn)
    print(json.dumps(out, indent=2, sort_keys=True))
    return EXIT_OK


def _table(catalog: Any, fqn: str) -> dict[str, Any] | None:
    """A table of the catalog with its data contracts and their latest results, in short; None: not a table."""
    body = catalog.get(fqn)
    if body is None or "columns" not in body or "mlFeatures" in body:
        return None
    contracts = []
    for c in catalog.data_contracts(fqn):
        latest = c["latestResults"]
        contracts.append(
            {
                "name": c["name"],
                "fullyQualifiedName": c["fullyQualifiedName"],
                "version": c["version"],
                "model": c.get("model"),
                "testCases": [q["name"] for q in c["qualityExpectations"]],
                "latestResults": None
                if latest is None
                else {
                    "runId": latest["runId"],
                    "at": latest["at"],
                    "failed": latest["failed"],
                    "results": [
                        {k: r.get(k) for k in ("name", "status", "count", "observed")} for r in latest["results"]
                    ],
                },
            }
        )
    return {**body, "dataContracts": contracts}


def _require_outbox(catalog: Any, what: str) -> None:
    from mlpublish.errors import CatalogUnavailable

    if getattr(catalog, "kind", None) != "openmetadata":
        raise CatalogUnavailable(
            f"nothing to {what}: OPENMETADATA_HOST_PORT is not set (the local catalog has no outbox)"
        )


def relay(catalog: Any, args: argparse.Namespace) -> int:
    from mlpublish.catalog.relay import Relay

    _require_outbox(catalog, "relay")
    service = Relay(
        catalog,
        poll=args.poll,
        max_backoff=args.max_backoff,
        health_every=args.health_every,
        health_file=args.health_file,
    )
    service.install_signal_handlers()
    print(
        f"relaying the outbox in {catalog.local.store.display} to {scrub(catalog.settings.host_port)} "
        f"(catalog {catalog.outbox.target})",
        file=sys.stderr,
    )
    try:
        return service.run(once=args.once)
    finally:
        catalog.close()


def check_health(path: str, max_age: float) -> int:
    from mlpublish.catalog.relay_health import check_health as read_health

    healthy, line = read_health(path, max_age)
    print(line)
    return EXIT_OK if healthy else EXIT_CRASH


def sync(catalog: Any, args: argparse.Namespace) -> int:
    _require_outbox(catalog, "sync")
    if args.retry_failed:
        print(f"requeued {catalog.outbox.requeue_failed()} dead-lettered event(s)")
    report = catalog.replay() if args.replay else catalog.sync()
    counts = catalog.outbox.counts()
    print(
        f"delivered {report.delivered} event(s) to {scrub(catalog.settings.host_port)}; outbox: {counts['pending']} pending, "
        f"{counts['delivered']} delivered, {counts['failed']} failed"
    )
    if report.outage:
        print(f"OpenMetadata unavailable: {report.outage}", file=sys.stderr)
    for row in catalog.outbox.failed():
        print(
            f"failed #{row.seq} {row.event.kind} {getattr(row.event, 'fqn', '')} after {row.attempts} attempt(s): "
            f"{row.last_error}",
            file=sys.stderr,
        )
    for line in report.failed:
        if line.startswith("replay"):
            print(f"failed {line}", file=sys.stderr)
    return EXIT_OK if not report.outage and counts["pending"] == 0 and counts["failed"] == 0 else EXIT_ERROR

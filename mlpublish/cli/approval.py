"""``mlpublish approve MODEL VERSION``: an approver makes a version champion (``promotion.approval: required``).

The approver is the MLflow identity of the command's credentials (MLFLOW_TRACKING_USERNAME /
MLFLOW_TRACKING_PASSWORD, never printed); the rule and the request are read from the registry.
"""

from __future__ import annotations

import argparse
from typing import Any

from mlpublish.cli.common import EXIT_OK, command_environment, model_name


def add_parser(sub: Any) -> None:
    s = sub.add_parser(
        "approve",
        help="approve a version waiting as challenger (promotion.approval: required) and make it champion",
    )
    s.add_argument("name")
    s.add_argument("version")
    s.add_argument("--reason", default="approved", help="why (recorded in the alias history, card and catalog)")
    s.add_argument(
        "--record-only",
        action="store_true",
        help="record the approval only: the Dagster approval sensor (or a later approve) moves the alias",
    )


def run(args: argparse.Namespace, notify_move: Any) -> int:
    from mlpublish.deployment import for_environment
    from mlpublish.promotion.approval import approve_version

    env = command_environment(args.env)
    if env is not None:
        env.require_writable(f"approve {args.name}")
    deployment = for_environment(env)
    reg, catalog, name = deployment.open_registry(), deployment.open_catalog(), model_name(args.name, args.env)
    with deployment.mlflow_session():
        result = approve_version(reg, catalog, name, args.version, reason=args.reason, move=not args.record_only)
    if result is None:
        print(f"{name} v{args.version}: approval recorded; the approval sensor moves {name}'s champion")
        return EXIT_OK
    print(result.reason)
    if result.champion_before != result.champion_after:
        notify_move(reg, result)
    return EXIT_OK

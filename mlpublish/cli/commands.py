"""The ``mlpublish`` command line. Imports are lazy so ``--help`` answers fast.

Exit codes: 0 success (also NOTHING NEW: the candidate reproduces the champion);
3 candidate rejected (a gate FAILED, or promotion refused because it no longer
beats the champion); 2 error (bad spec, unreachable
service, missing table...); 1 unexpected crash (a bug: please report it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from mlpublish import config
from mlpublish.cli import approval as cli_approval
from mlpublish.cli import catalog as cli_catalog
from mlpublish.cli.common import (
    EXIT_CRASH,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_TERMINATED,
    add_env,
    command_environment,
    model_name,
    outbox_line,
    reader_left,
)
from mlpublish.cli.common import send_notifications as _notify


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mlpublish",
        description="Gated publish chain for ML models: train -> evaluate -> validate -> register -> promote.",
        epilog="Environment: MLFLOW_TRACKING_URI (default sqlite:///./mlflow.db), MLPUBLISH_CATALOG "
        "(default ./mlpublish-catalog.db), MLPUBLISH_ALLOWED_MODULES. Exit codes: 0 ok, 3 candidate "
        "rejected, 4 refused (MLflow permission or approval rule), 2 error.",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("run", help="run the whole chain for a spec")
    s.add_argument("spec")
    s.add_argument("--json", action="store_true", help="print the chain result as JSON")
    s.add_argument("--pipeline-name", help="pipeline name recorded in lineage details")
    s.add_argument("--pipeline-run-id", help="pipeline run id recorded in lineage details")

    s = sub.add_parser("check", help="validate a spec (estimator, metrics, warehouse tables); writes nothing")
    s.add_argument("spec")
    s.add_argument("--no-warehouse", action="store_true", help="skip the checks that read the warehouse")

    s = sub.add_parser("status", help="versions, aliases, validation status and key metrics of a model")
    s.add_argument("name")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser(
        "promote",
        help="make a PASSED version the champion (manual approval), or copy a PASSED "
        "version from another environment (--from/--to)",
    )
    s.add_argument("name")
    s.add_argument("--version", help="the version (required without --from; with --from default: its champion)")
    s.add_argument("--from", dest="from_env", metavar="ENV", help="copy the version from this environment ...")
    s.add_argument("--to", dest="to_env", metavar="ENV", help="... into this one (default: --env / MLPUBLISH_ENV)")
    s.add_argument(
        "--as",
        dest="as_alias",
        choices=("challenger", "champion"),
        default="challenger",
        help="alias of the copy in the target (default: %(default)s; champion: manual promotion)",
    )

    s = sub.add_parser(
        "compare", help="evaluate another environment's champion on this environment's held-out rows (reads only)"
    )
    s.add_argument("spec")
    s.add_argument("--champion-from", required=True, metavar="ENV", help="environment whose champion to evaluate")
    s.add_argument("--run", help="training run whose held-out rows to use (default: this environment's champion's)")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("rollback", help="restore the champion that the current one replaced")
    s.add_argument("name")

    cli_catalog.add_parser(sub)
    cli_approval.add_parser(sub)

    s = sub.add_parser("demo", help="build the demo warehouse and publish the demo model twice")
    s.add_argument("--workdir", default="demo-workspace", help="where the demo's files go (default: %(default)s)")
    s.add_argument("--spec", default=None, help="spec to publish (default: the bundled specs/churn.yaml)")
    s.add_argument("--customers", type=int, default=4000)

    s = sub.add_parser("demo-data", help="build (or grow) the demo warehouse only")
    s.add_argument("--warehouse", default=os.environ.get("WAREHOUSE_URL", "sqlite:///warehouse.db"))
    s.add_argument("--customers", type=int, default=4000)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--append", action="store_true", help="add customers and rebuild the features")

    from mlpublish.cli import score as cli_score

    cli_score.add_parsers(sub)
    for name, parser in sub.choices.items():
        if not name.startswith("demo") and name != "catalog":  # catalog: on its subcommands (one --env per command)
            add_env(parser)
    return p


def _setup_logging(quiet: bool) -> None:
    import warnings

    from mlpublish.redact import ScrubFilter

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.addFilter(ScrubFilter())
    logging.getLogger("mlpublish").setLevel(logging.WARNING if quiet else logging.INFO)
    # mlflow.utils.environment warns that pip is absent from uv-made venvs: requirements are pinned explicitly anyway
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    for noisy in ("mlflow", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def _drain_catalog() -> None:
    """Deliver the OpenMetadata events this command queued (a bounded attempt); say what stays queued.
    A delivery that cannot work (a refused token) is reported, not raised: the command's own outcome stands."""
    from mlpublish.catalog import drain_queued
    from mlpublish.errors import MlpublishError
    from mlpublish.redact import scrub

    try:
        lines = drain_queued()
    except MlpublishError as exc:
        lines = [f"catalog events stay queued: {exc}"]
    for line in lines:
        print(scrub(line), file=sys.stderr)


def _mlflow_output(args: argparse.Namespace) -> dict[str, str]:
    """MLflow's console output during this command: no INFO logs, no "view run at" URLs, and no artifact download
    progress bars unless a person watches stderr (score and monitor: never, a reference download is noise there).
    Set for the command only, so a caller running commands in its own process keeps its settings; a variable the
    user set wins."""
    from mlpublish.cli import score as cli_score

    env = os.environ
    quiet = {
        "MLFLOW_LOGGING_LEVEL": env.get("MLFLOW_LOGGING_LEVEL", "WARNING"),
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": env.get("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true"),
    }
    if args.command in cli_score.COMMANDS or not sys.stderr.isatty():
        quiet["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = env.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return quiet


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.quiet)
    from mlpublish.errors import GateFailed, MlpublishError, StepInterrupted
    from mlpublish.redact import scrub
    from mlpublish.registry.session import scoped_environ

    try:
        with scoped_environ(_mlflow_output(args)):
            interrupted = False
            try:
                return _dispatch(args)
            except KeyboardInterrupt:
                interrupted = True
                raise
            finally:  # steps only queued their catalog events: a single machine needs no relay running
                if not interrupted:
                    _drain_catalog()
    except GateFailed as exc:
        print(f"REJECTED: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_REJECTED
    except MlpublishError as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except StepInterrupted as exc:  # SIGTERM: the step's MLflow run is KILLED
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mlpublish catalog show ... | head`: the reader left, nothing to say
        return reader_left()
    except Exception as exc:
        # MLflow, SQLAlchemy and network failures outside the wrapped calls are errors, not crashes
        origin = type(exc).__module__.split(".")[0]
        if origin in ("mlflow", "sqlalchemy", "requests", "urllib3", "psycopg2") or isinstance(exc, OSError):
            print(scrub(f"error: {origin}: {exc.__class__.__name__}: {exc}"), file=sys.stderr)
            return EXIT_ERROR
        import traceback

        print(scrub(traceback.format_exc()), file=sys.stderr)
        print("mlpublish crashed: this is a bug, please report it with the lines above", file=sys.stderr)
        return EXIT_CRASH


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "check":
        return _check(args)
    if cmd == "run":
        return _run(args)
    if cmd == "status":
        return _status(args)
    if cmd == "compare":
        return _compare(args)
    if cmd in ("promote", "rollback"):
        return _move(args)
    if cmd == "catalog":
        return cli_catalog.run(args)
    if cmd == "approve":
        return cli_approval.run(
            args, lambda reg, res: _notify(lambda s, om: [_move_notification(reg, res, s, om)], None)
        )
    if cmd == "demo":
        from mlpublish.demo.run import run_demo

        return run_demo(Path(args.workdir), args.spec, args.customers)
    if cmd in ("score", "monitor", "demo-drift"):
        from mlpublish.cli import score as cli_score

        return cli_score.dispatch(args)
    if cmd == "demo-data":
        from mlpublish.demo.data import build_demo_warehouse

        counts = build_demo_warehouse(args.warehouse, args.customers, args.seed, args.append)
        print(json.dumps(counts))
        return EXIT_OK
    raise AssertionError(cmd)


def _check(args: argparse.Namespace) -> int:
    from mlpublish.deployment.preflight import preflight
    from mlpublish.spec import load_spec

    spec = load_spec(args.spec, environment=args.env)
    pf = preflight(spec, check_warehouse=not args.no_warehouse, check_catalog=not args.no_warehouse)
    print(
        f"{args.spec}: OK: {spec.name} ({pf.task}, {pf.estimator.path}), {len(spec.mlFeatures)} features, "
        f"{len(spec.training.grid())} candidate(s), {len(spec.validation.gates)} gate(s)"
        + ("" if args.no_warehouse else f", training table {pf.training_fqn}")
    )
    if not spec.validation.gates:
        print("warning: validation.gates is empty: every candidate will be FAILED", file=sys.stderr)
    cost, why = spec.training.fit_cost(spec.fixed_params)
    if cost > config.max_fit_cost():
        print(
            f"warning: training.candidates and mlHyperParameters: estimated cost {cost:,} ({', '.join(why)}) is "
            f"beyond MLPUBLISH_MAX_FIT_COST ({config.max_fit_cost():,}); training.timeoutMinutes "
            f"({spec.training.timeoutMinutes:g}) will stop it",
            file=sys.stderr,
        )
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from mlpublish.deployment import for_spec
    from mlpublish.spec import load_spec
    from mlpublish.workflows.chain import run_chain
    from mlpublish.workflows.report import chain_summary

    spec = load_spec(args.spec, environment=args.env)
    pipeline = None
    if args.pipeline_name:
        pipeline = {"name": args.pipeline_name, "runId": args.pipeline_run_id or ""}
    with for_spec(spec).mlflow_session():
        result = run_chain(spec, pipeline=pipeline)
    print(json.dumps(result.to_json(), indent=2) if args.json else chain_summary(result))
    if result.nothing_new:  # the champion again: nothing was published, so nobody is told anything
        return EXIT_OK
    _notify(lambda src, om: _chain_notifications(spec, result, src, om), pipeline)
    waits = result.promotion.mode == "manual" or result.promotion.shadow  # as challenger: approval, live labels
    rejected = result.status != "PASSED" or (not result.promotion.promoted and not waits)
    return EXIT_REJECTED if rejected else EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from mlpublish.deployment import for_environment
    from mlpublish.workflows.report import model_status, status_text

    deployment = for_environment(command_environment(args.env))
    with deployment.mlflow_session():
        status = model_status(deployment.open_registry(), model_name(args.name, args.env))
    print(json.dumps(status, indent=2) if args.json else status_text(status))
    outbox_line(deployment)
    return EXIT_OK


def _move(args: argparse.Namespace) -> int:
    from mlpublish.deployment import for_environment
    from mlpublish.errors import SpecError
    from mlpublish.steps import promote_version, rollback_champion

    if args.command == "promote" and (args.from_env or args.to_env):
        return _copy(args)
    if args.command == "promote" and not args.version:
        raise SpecError("mlpublish promote", [("--version", "required (or copy from another environment: --from ENV)")])
    env = command_environment(args.env)
    if env is not None:
        env.require_writable(f"{args.command} {args.name}")
    deployment = for_environment(env)
    reg, catalog, name = deployment.open_registry(), deployment.open_catalog(), model_name(args.name, args.env)
    with deployment.mlflow_session():
        if args.command == "promote":
            result = promote_version(reg, catalog, name, args.version)
        else:
            result = rollback_champion(reg, catalog, name)
    print(result.reason)
    if result.champion_before != result.champion_after:  # a re-run that moved nothing notifies nothing
        _notify(lambda src, om: [_move_notification(reg, result, src, om)], None)
    return EXIT_OK


def _chain_notifications(spec: Any, result: Any, source: Any, om_host: str | None) -> list[Any]:
    from mlpublish.notify import chain_notifications

    return chain_notifications(
        result,
        source=source,
        tracking_uri=config.tracking_uri(spec.mlflow.trackingUri),
        catalog_fqn=spec.fqn,
        openmetadata_host_port=om_host,
    )


def _move_notification(reg: Any, result: Any, source: Any, om_host: str | None) -> Any:
    from mlpublish.notify import move_notification
    from mlpublish.registry.contract import CATALOG_FQN_TAG

    fqn = reg.model_tags(result.model_name).get(CATALOG_FQN_TAG)
    return move_notification(reg, result, source=source, catalog_fqn=fqn, openmetadata_host_port=om_host)


def _copy(args: argparse.Namespace) -> int:
    from mlpublish.deployment import for_environment
    from mlpublish.errors import SpecError
    from mlpublish.spec.environments import environment_named
    from mlpublish.workflows.copy_version import copy_version

    target = args.to_env or args.env or os.environ.get("MLPUBLISH_ENV", "").strip()
    if not args.from_env or not target:
        raise SpecError(
            "mlpublish promote", [("--from/--to", "a copy needs both environments (--to defaults to --env)")]
        )
    result = copy_version(
        args.name, environment_named(args.from_env), environment_named(target), args.version, args.as_alias
    )
    print(result.reason)
    promotion = result.promotion
    if promotion is not None and promotion.champion_before != promotion.champion_after:  # --as champion
        reg = for_environment(environment_named(target)).open_registry()
        _notify(lambda src, om: [_move_notification(reg, result.promotion, src, om)], None)
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from mlpublish.spec import load_spec
    from mlpublish.spec.environments import environment_named
    from mlpublish.workflows.compare import compare_champion, compare_text

    spec = load_spec(args.spec, environment=args.env)
    other = environment_named(args.champion_from, Path(args.spec).parent)
    result = compare_champion(spec, other, args.run)
    print(json.dumps(result, indent=2) if args.json else compare_text(result))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""What every command of the command line shares: exit codes, ``--env``, model names, the outbox line.

Imports are lazy, as in cli.py, so ``--help`` answers fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

EXIT_OK, EXIT_CRASH, EXIT_ERROR, EXIT_REJECTED = 0, 1, 2, 3
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process it stopped
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout left (`mlpublish catalog show ... | head`)


def add_env(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", metavar="ENV", help="environment from environments.yaml (default: MLPUBLISH_ENV)")


def command_environment(name: str | None = None) -> Any:
    """The environment of a command given a model name: ``--env``, else MLPUBLISH_ENV / the file's default; or None."""
    from mlpublish.spec.environments import current_environment, environment_named

    return environment_named(name) if name else current_environment()


def model_name(name: str, env_name: str | None = None) -> str:
    """A model name as the environment's registry and catalog know it (its prefix added)."""
    env = command_environment(env_name)
    # "churn" and "dev_churn" (as printed by commands and cards) both mean the environment's model
    return env.registered_name(env.base_name(name)) if env is not None and "." not in name else name


def outbox_line(deployment: Any) -> None:
    """Events waiting for (or refused by) each OpenMetadata catalog in the store, when OpenMetadata is configured."""
    from mlpublish.config import OpenMetadataSettings

    if OpenMetadataSettings.from_env() is None:
        return
    outbox = deployment.open_catalog().outbox
    for key, counts in outbox.by_catalog().items():
        ours = "" if key == outbox.target else " (not this environment's catalog: is a relay running for it?)"
        print(
            f"OpenMetadata outbox {key}: {counts['pending']} pending, {counts['failed']} failed{ours} "
            "(details: mlpublish catalog sync)",
            file=sys.stderr,
        )


def reader_left() -> int:
    """Stdout's reader closed the pipe: point stdout at /dev/null so the interpreter's last flush stays quiet
    (the recipe of Python's signal documentation, "Note on SIGPIPE"), and exit as a pipe-killed command does."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (a test's capture): nothing will flush into the pipe
        pass
    return EXIT_BROKEN_PIPE


def send_notifications(build: Any, pipeline: dict[str, str] | None) -> None:
    """Send the notifications of what just happened; a failure to notify never changes the exit code."""
    import logging

    from mlpublish.config import OpenMetadataSettings
    from mlpublish.notify import NotifySettings, Source, notify
    from mlpublish.notify.sinks import NotifyConfigError
    from mlpublish.redact import scrub

    try:
        settings = NotifySettings.from_env()
        if not settings.sinks():
            return
        om = OpenMetadataSettings.from_env()
        source = Source(orchestrator="cli", name=(pipeline or {}).get("name"), run_id=(pipeline or {}).get("runId"))
        notify(build(source, om.host_port if om else None), settings)
    except NotifyConfigError as exc:
        logging.getLogger("mlpublish.notify").warning("notifications not sent: %s", scrub(str(exc)))
    except Exception as exc:  # building the message failed (registry gone...): the step's outcome stands
        logging.getLogger("mlpublish.notify").warning(
            "notifications not sent: %s", scrub(f"{type(exc).__name__}: {exc}")
        )

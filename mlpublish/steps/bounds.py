"""Steps that end: a deadline (``training.timeoutMinutes``), and MLflow runs never left RUNNING.

A step that hangs (a grid of two billion trees, a warehouse that stops answering) or whose process
is told to stop must not leave its MLflow run RUNNING: the monitor would count it as a retraining in
flight. :func:`bounded` raises :class:`~mlpublish.errors.StepTimeout` when the deadline passes and
:class:`~mlpublish.errors.StepInterrupted` on SIGTERM; :func:`tracked_run` ends the run FAILED or
KILLED on the way out. SIGKILL cannot be caught: a run whose process died that way stays RUNNING,
and the monitor counts a RUNNING training run as in flight only within its timeout
(:func:`mlpublish.steps.monitor` and ``monitoring.inFlightHours``).

The deadline interrupts the step's own code through SIGALRM when the step runs in the process's
main thread (the CLI, an Airflow task, a Dagster step process; a timer armed by someone else, such as
Airflow's ``execution_timeout``, is put back afterwards); elsewhere it is checked between candidates
and chunks.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mlpublish.errors import StepInterrupted, StepTimeout

log = logging.getLogger("mlpublish.steps")


class Deadline:
    """When a bounded step must stop; :meth:`check` raises once it has passed."""

    def __init__(self, what: str, minutes: float):
        self.what = what
        self.minutes = minutes
        self.expires = time.monotonic() + minutes * 60

    @property
    def seconds_left(self) -> float:
        return self.expires - time.monotonic()

    def expired(self) -> StepTimeout:
        return StepTimeout(f"{self.what} ran past training.timeoutMinutes ({self.minutes:g} min): stopped")

    def check(self) -> None:
        if self.seconds_left <= 0:
            raise self.expired()


@contextmanager
def bounded(what: str, minutes: float) -> Iterator[Deadline]:
    """Run the block under a deadline of ``minutes``, with SIGTERM raising :class:`StepInterrupted`.

    The handlers are the block's only: the previous ones are put back after it, and a previous SIGTERM
    handler (an orchestrator's) still runs first.
    """
    deadline = Deadline(what, minutes)
    if threading.current_thread() is not threading.main_thread():
        yield deadline  # signals reach the main thread only: checked between candidates and chunks
        return
    previous_term = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        if callable(previous_term):
            previous_term(signum, frame)
        raise StepInterrupted(f"{what}: stopped by {signal.Signals(signum).name}")

    def on_alarm(signum: int, frame: Any) -> None:
        raise deadline.expired()

    # SIGALRM has one timer per process: another one (Airflow's execution_timeout, pytest-timeout) is
    # kept if it fires first, else put back afterwards with the time it had left
    other_left, other_interval = signal.getitimer(signal.ITIMER_REAL)
    arm = other_left == 0.0 or deadline.seconds_left < other_left
    began = time.monotonic()
    signal.signal(signal.SIGTERM, on_term)
    previous_alarm = signal.signal(signal.SIGALRM, on_alarm) if arm else None
    try:
        if arm:
            signal.setitimer(signal.ITIMER_REAL, max(deadline.seconds_left, 0.001))
        yield deadline
    finally:
        if arm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_alarm)
            if other_left:
                left = max(other_left - (time.monotonic() - began), 0.001)
                signal.setitimer(signal.ITIMER_REAL, left, other_interval)
        signal.signal(signal.SIGTERM, previous_term)


def end_status(exc: BaseException | None) -> str:
    """The MLflow status a run ends with: FINISHED, KILLED (a signal, Ctrl-C) or FAILED."""
    if exc is None:
        return "FINISHED"
    return "KILLED" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "FAILED"


@contextmanager
def tracked_run(**start: Any) -> Iterator[Any]:
    """``mlflow.start_run(**start)``, ended FINISHED, FAILED or KILLED whatever leaves the block."""
    import mlflow

    run = mlflow.start_run(**start)
    try:
        yield run
    except BaseException as exc:
        _end(run.info.run_id, end_status(exc))
        raise
    _end(run.info.run_id, "FINISHED")


def _end(run_id: str, status: str) -> None:
    import mlflow

    active = mlflow.active_run()
    try:
        if active is not None and active.info.run_id == run_id:
            mlflow.end_run(status)
    except Exception as exc:  # the store is down: the original error matters more
        log.warning("could not end MLflow run %s as %s: %s", run_id, status, type(exc).__name__)

"""Steps that end (mlpublish.steps.bounds): the deadline, SIGTERM as StepInterrupted, runs ended FAILED or KILLED."""

from __future__ import annotations

import os
import signal
import time

import pytest

from mlpublish.errors import StepInterrupted, StepTimeout
from mlpublish.steps.bounds import Deadline, bounded, end_status, tracked_run


def test_the_deadline_interrupts_a_step_that_never_returns():
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(StepTimeout, match=r"m: training ran past training.timeoutMinutes \(0.001 min\)"):
        with bounded("m: training", 0.001):
            while True:  # a fit that would never end
                time.sleep(0.01)
    assert signal.getsignal(signal.SIGALRM) is before  # the handler (pytest-timeout's, perhaps) is put back


def test_a_checked_deadline_raises_once_past():
    deadline = Deadline("m: scoring", 0.0)
    with pytest.raises(StepTimeout, match="m: scoring"):
        deadline.check()
    Deadline("m", 60).check()


def test_sigterm_raises_and_the_previous_handlers_come_back():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
    try:
        with pytest.raises(StepInterrupted, match="stopped by SIGTERM"):
            with bounded("m: training", 10):
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):  # the handler runs between bytecodes of the main thread
                    time.sleep(0.01)
        assert seen == [signal.SIGTERM]  # the orchestrator's own handler ran first
        assert signal.getsignal(signal.SIGTERM) is not None
        os.kill(os.getpid(), signal.SIGTERM)  # outside the block: only the previous handler
        time.sleep(0.01)
        assert seen == [signal.SIGTERM, signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_timer_of_someone_else_is_put_back():
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda s, f: fired.append(s))
    try:
        signal.setitimer(signal.ITIMER_REAL, 300)  # later than the deadline: the deadline fires first
        with pytest.raises(StepTimeout):
            with bounded("m", 0.001):
                while True:
                    time.sleep(0.01)
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 300 and fired == []
        signal.setitimer(signal.ITIMER_REAL, 0.05)  # sooner than the deadline: it is left alone and fires
        with bounded("m", 10):
            while not fired:
                time.sleep(0.01)
        assert fired == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    ("exc", "status"),
    [(None, "FINISHED"), (StepTimeout("x"), "FAILED"), (ValueError("x"), "FAILED"), (StepInterrupted("x"), "KILLED")],
)
def test_end_status(exc, status):
    assert end_status(exc) == status


def test_tracked_runs_end_failed_or_killed_never_running(tmp_path):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    ids = {}
    for name, exc in (("ok", None), ("crash", ValueError("boom")), ("term", StepInterrupted("SIGTERM"))):
        try:
            with tracked_run(run_name=name) as run:
                ids[name] = run.info.run_id
                with tracked_run(run_name=f"{name}-child", nested=True) as child:
                    ids[f"{name}-child"] = child.info.run_id
                    if exc is not None:
                        raise exc
        except (ValueError, StepInterrupted):
            pass
    client = mlflow.MlflowClient()
    assert {k: client.get_run(v).info.status for k, v in ids.items()} == {
        "ok": "FINISHED",
        "ok-child": "FINISHED",
        "crash": "FAILED",
        "crash-child": "FAILED",
        "term": "KILLED",
        "term-child": "KILLED",
    }
    assert mlflow.active_run() is None

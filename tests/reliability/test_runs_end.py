"""Issue 33, runs that end: a training past training.timeoutMinutes stops with a clear error and its MLflow run
FAILED; a step process sent SIGTERM ends its run KILLED. Never left RUNNING (the monitor would count it in flight)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from mlpublish.cli import main

# A boosting loop of a million stages: a Python-level loop the deadline and signals interrupt, and
# light (no list of a million estimators built up front, unlike a forest).
ENDLESS = {
    "training": {"estimator": "sklearn.ensemble.GradientBoostingClassifier", "candidates": {"max_depth": [2]}},
    "algorithm": "GradientBoostingClassifier",
}
ENDLESS_PARAMS = [{"name": "n_estimators", "value": 1_000_000}, {"name": "random_state", "value": 0}]


def _training_runs(workspace):
    from mlflow import MlflowClient

    client = MlflowClient(workspace.tracking_uri)
    experiments = client.search_experiments()
    return client.search_runs([e.experiment_id for e in experiments]) if experiments else []


def test_a_training_past_its_timeout_stops_and_its_run_is_failed(workspace, capsys):
    spec = workspace.spec(**ENDLESS, mlHyperParameters=ENDLESS_PARAMS)
    spec_text = spec.read_text().replace("candidates:", "timeoutMinutes: 0.02\n  candidates:")
    spec.write_text(spec_text)
    assert main(["run", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "training ran past training.timeoutMinutes (0.02 min)" in err and "Traceback" not in err
    runs = _training_runs(workspace)
    assert [r.info.status for r in runs] == ["FAILED"]


def test_a_step_process_sent_sigterm_ends_its_run_killed(workspace):
    spec = workspace.spec(**ENDLESS, mlHyperParameters=ENDLESS_PARAMS)
    code = f"from mlpublish.cli import main; raise SystemExit(main(['run', {str(spec)!r}]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=workspace.env(), cwd=workspace.root, stderr=subprocess.PIPE, text=True
    )
    try:
        give_up = time.monotonic() + 300  # a bound on waiting, not an assertion on speed
        while not [r for r in _training_runs(workspace) if r.info.status == "RUNNING"]:
            assert proc.poll() is None, "the run ended before it could be signalled"
            assert time.monotonic() < give_up, "no RUNNING training run appeared"
            time.sleep(0.2)
        time.sleep(0.5)  # inside the fit
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 143, err[-2000:]
        assert "customer_churn_predictor: training: stopped by SIGTERM" in err and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [r.info.status for r in _training_runs(workspace)] == ["KILLED"]

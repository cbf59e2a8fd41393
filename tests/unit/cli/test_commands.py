"""The CLI passes its choices as values: --env reaches the spec loader without MLPUBLISH_ENV, and MLflow's
console settings hold for the command only."""

from __future__ import annotations

import os

from mlpublish import cli
from tests.conftest import churn_dict, write_spec

WATCHED = ("MLPUBLISH_ENV", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "MLFLOW_LOGGING_LEVEL")


def test_env_is_passed_explicitly_and_mlflow_output_is_scoped(tmp_path, monkeypatch, capsys):
    import mlpublish.deployment.preflight

    for var in (*WATCHED, "MLPUBLISH_ENVIRONMENTS", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "environments.yaml").write_text("environments:\n  dev: {modelNamePrefix: dev_}\n")
    spec = write_spec(tmp_path / "churn.yaml", churn_dict())
    seen: list[dict[str, str | None]] = []
    real = mlpublish.deployment.preflight.preflight

    def spy(*args, **kwargs):
        seen.append({var: os.environ.get(var) for var in WATCHED})
        return real(*args, **kwargs)

    monkeypatch.setattr(mlpublish.deployment.preflight, "preflight", spy)
    assert cli.main(["check", str(spec), "--no-warehouse", "--env", "dev"]) == cli.EXIT_OK
    assert "OK: dev_customer_churn_predictor" in capsys.readouterr().out
    # pytest captures stderr (not a terminal): no progress bars during the command, the process untouched after it
    assert seen == [
        {"MLPUBLISH_ENV": None, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "MLFLOW_LOGGING_LEVEL": "WARNING"}
    ]
    assert {var: os.environ.get(var) for var in WATCHED} == dict.fromkeys(WATCHED)


def test_a_users_own_mlflow_setting_wins(tmp_path, monkeypatch):
    import mlpublish.deployment.preflight

    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    monkeypatch.delenv("MLPUBLISH_ENV", raising=False)
    spec = write_spec(tmp_path / "churn.yaml", churn_dict())
    seen = []
    real = mlpublish.deployment.preflight.preflight
    monkeypatch.setattr(
        mlpublish.deployment.preflight,
        "preflight",
        lambda *a, **k: seen.append(os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"]) or real(*a, **k),
    )
    assert cli.main(["-q", "check", str(spec), "--no-warehouse"]) == cli.EXIT_OK
    assert seen == ["true"] and os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "true"


def test_check_warns_on_an_extreme_training_cost(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MLPUBLISH_ENV", raising=False)
    monkeypatch.delenv("MLPUBLISH_MAX_FIT_COST", raising=False)
    huge = churn_dict(mlHyperParameters=[{"name": "n_estimators", "value": 2_000_000_000}])
    assert cli.main(["check", str(write_spec(tmp_path / "huge.yaml", huge)), "--no-warehouse"]) == cli.EXIT_OK
    err = capsys.readouterr().err
    assert "estimated cost 2,000,000,000 (1 candidate(s), the largest n_estimators=2,000,000,000)" in err
    assert "beyond MLPUBLISH_MAX_FIT_COST (100,000)" in err
    grid = churn_dict(training={"candidates": {"max_depth": list(range(1, 21)), "criterion": ["gini", "entropy"]}})
    spec = write_spec(tmp_path / "grid.yaml", grid)
    assert cli.main(["check", str(spec), "--no-warehouse"]) == cli.EXIT_OK
    assert "warning: training.candidates" not in capsys.readouterr().err  # 40 candidates x 30 trees
    monkeypatch.setenv("MLPUBLISH_MAX_FIT_COST", "1000")
    assert cli.main(["check", str(spec), "--no-warehouse"]) == cli.EXIT_OK
    assert "estimated cost 1,200 (40 candidate(s), the largest n_estimators=30)" in capsys.readouterr().err


def test_a_reader_that_leaves_closes_the_command_quietly(monkeypatch, capsys):
    # `mlpublish catalog show ... | head`: head exits, the next write raises BrokenPipeError
    from mlpublish.cli import commands

    def left(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(commands, "_dispatch", left)
    monkeypatch.setattr(commands, "_drain_catalog", lambda: None)
    assert cli.main(["status", "some_model"]) == 141
    assert capsys.readouterr().err == ""

"""MLflow's stores and credentials are scoped to a step: what was in the process before is there after."""

from __future__ import annotations

import os

import pytest

from mlpublish.registry.session import MlflowCredentials, mlflow_session, point_mlflow_at, scoped_environ

CREDENTIAL_VARS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def globals_as_set() -> tuple[str | None, str | None]:
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    return tracking_utils._tracking_uri, registry_utils._registry_uri


def test_a_session_sets_stores_and_credentials_and_restores_exactly_what_was_there(monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///user.db")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "someone-else")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    before_env = dict(os.environ)
    before_globals = globals_as_set()
    credentials = MlflowCredentials(username="alice", password="pw", token="tok")
    with mlflow_session("http://tracking:5000", "http://registry:5000", credentials):
        assert mlflow.get_tracking_uri() == "http://tracking:5000"
        assert mlflow.get_registry_uri() == "http://registry:5000"
        assert [os.environ.get(v) for v in CREDENTIAL_VARS] == ["alice", "pw", "tok"]
        # the user's own default stays readable: one step's server is not the next spec's default
        assert os.environ["MLFLOW_TRACKING_URI"] == "sqlite:///user.db"
        assert "MLFLOW_REGISTRY_URI" not in os.environ
    assert dict(os.environ) == before_env
    assert globals_as_set() == before_globals


def test_a_failing_step_restores_too(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    before = globals_as_set()
    with pytest.raises(RuntimeError), mlflow_session("sqlite:///a.db", "sqlite:///a.db", MlflowCredentials(token="t")):
        assert os.environ["MLFLOW_TRACKING_TOKEN"] == "t"
        raise RuntimeError("step failed")
    assert "MLFLOW_TRACKING_TOKEN" not in os.environ and globals_as_set() == before


def test_without_credentials_the_processs_own_stay_untouched(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "the-users")
    with mlflow_session("sqlite:///a.db", "sqlite:///a.db"):
        assert os.environ["MLFLOW_TRACKING_TOKEN"] == "the-users"
    assert os.environ["MLFLOW_TRACKING_TOKEN"] == "the-users"


def test_pointing_mlflow_leaves_the_process_environment_alone(monkeypatch):
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    point_mlflow_at("sqlite:///spec.db", "sqlite:///registry.db")
    assert mlflow.get_tracking_uri() == "sqlite:///spec.db" and mlflow.get_registry_uri() == "sqlite:///registry.db"
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ


def test_credentials_never_show_in_a_repr():
    assert "pw" not in repr(MlflowCredentials(username="alice", password="pw", token="tok"))
    assert "tok" not in repr(MlflowCredentials(token="tok"))
    assert MlflowCredentials(token="tok").variables() == {"MLFLOW_TRACKING_TOKEN": "tok"}
    assert MlflowCredentials(username="alice").variables() == {
        "MLFLOW_TRACKING_USERNAME": "alice",
        "MLFLOW_TRACKING_PASSWORD": "",
    }


def test_scoped_environ_unsets_and_restores(monkeypatch):
    monkeypatch.setenv("A_VAR_OF_THE_USER", "x")
    monkeypatch.delenv("A_VAR_NOT_SET", raising=False)
    with scoped_environ({"A_VAR_OF_THE_USER": None, "A_VAR_NOT_SET": "y"}):
        assert "A_VAR_OF_THE_USER" not in os.environ and os.environ["A_VAR_NOT_SET"] == "y"
    assert os.environ["A_VAR_OF_THE_USER"] == "x" and "A_VAR_NOT_SET" not in os.environ


def test_sessions_in_two_threads_do_not_mix_credentials(monkeypatch):
    import threading

    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def first():
        with mlflow_session("sqlite:///a.db", "sqlite:///a.db", MlflowCredentials(token="first")):
            inside.set()
            release.wait(5)
            seen["first"] = os.environ.get("MLFLOW_TRACKING_TOKEN")

    def second():
        inside.wait(5)
        with mlflow_session("sqlite:///b.db", "sqlite:///b.db", MlflowCredentials(token="second")):
            seen["second"] = os.environ.get("MLFLOW_TRACKING_TOKEN")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    inside.wait(5)
    release.set()
    for t in threads:
        t.join(10)
    assert seen == {"first": "first", "second": "second"}
    assert "MLFLOW_TRACKING_TOKEN" not in os.environ


class MovedNameWarning(FutureWarning):
    """Stands for Airflow's DeprecatedImportWarning (a FutureWarning), which the core cannot import."""


def warn_from(module: str) -> None:
    """Warn as code of ``module`` does (the attribution a warning filter's ``module`` matches)."""
    exec("import warnings\nwarnings.warn('moved', W, stacklevel=1)", {"__name__": module, "W": MovedNameWarning})


def test_a_session_keeps_progress_bars_and_skops_lookup_warnings_out_of_step_logs(monkeypatch):
    import warnings

    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with mlflow_session("sqlite:///a.db", "sqlite:///a.db"):
            # pytest captures stderr: no terminal, so no progress bars
            assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
            warn_from("skops.io._utils")  # its module lookup touching Airflow's moved names
            warn_from("mlpublish_airflow.hooks")  # anyone else's warning still shows
    assert [w.filename for w in seen] == ["<string>"] and len(seen) == 1
    assert "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR" not in os.environ


def test_a_users_progress_bar_setting_wins(monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    with mlflow_session("sqlite:///a.db", "sqlite:///a.db"):
        assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "true"

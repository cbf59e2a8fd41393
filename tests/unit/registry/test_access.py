"""What a 401/403 of an MLflow server with authentication becomes (mlpublish.registry.access): an error naming
the user, the model and the permission needed; the password is never in it."""

from __future__ import annotations

from mlpublish.registry.access import identity, refusal


def test_a_403_names_user_model_and_permission(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "hunter2-mlpcanary-0e7a6c35")
    err = refusal("PERMISSION_DENIED", "set_registered_model_alias", "churn", "http://mlflow:5000")
    assert (err.user, err.model, err.permission) == ("reader", "churn", "EDIT")
    assert "user 'reader' lacks the EDIT permission on registered model 'churn'" in str(err)
    assert "hunter2" not in str(err)
    assert refusal("PERMISSION_DENIED", "delete_registered_model_alias", "churn", "u").permission == "MANAGE"
    assert "the experiment it belongs to" in str(refusal("PERMISSION_DENIED", "create_run", "0", "u"))


def test_a_401_names_the_user(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "approver")
    err = refusal("UNAUTHENTICATED", "get_registered_model", "churn", "http://mlflow:5000")
    assert err.permission == "login" and "did not accept user 'approver'" in str(err)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    assert "MLFLOW_TRACKING_USERNAME is not set" in str(refusal("UNAUTHENTICATED", "get_registered_model", "m", "u"))


def test_identity_is_the_mlflow_user_else_the_os_user(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "trainer")
    assert identity() == "trainer"
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    assert identity()

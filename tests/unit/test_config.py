"""Configuration (mlpublish.config): the URIs it reads from the process."""

from __future__ import annotations


def test_one_specs_explicit_uri_does_not_leak_into_the_next(monkeypatch, tmp_path):
    """mlflow.set_tracking_uri writes os.environ; config must still see the user's own setting."""
    from mlpublish import config
    from mlpublish.registry.session import point_mlflow_at

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///user.db")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    explicit = f"sqlite:///{tmp_path / 'spec1.db'}"
    point_mlflow_at(config.tracking_uri(explicit), config.registry_uri(explicit))
    assert config.tracking_uri() == "sqlite:///user.db"  # the next spec, with no URI of its own
    assert config.registry_uri("sqlite:///other.db") == "sqlite:///other.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///changed-by-user.db")
    assert config.tracking_uri() == "sqlite:///changed-by-user.db"

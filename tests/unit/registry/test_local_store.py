"""Local MLflow stores (mlpublish.registry.local_store): which URIs are SQLite files, created once under the lock."""

from __future__ import annotations

from mlpublish.registry.local_store import prepare_local_store, sqlite_file


def test_only_sqlite_files_are_local_stores(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sqlite_file("sqlite:///mlflow.db") == tmp_path / "mlflow.db"
    assert sqlite_file(f"sqlite:///{tmp_path}/x.db?timeout=5") == tmp_path / "x.db"
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("http://mlflow:5000") is None
    assert sqlite_file("postgresql://u@db/mlflow") is None


def test_preparing_creates_the_tracking_and_registry_tables(tmp_path):
    import sqlite3

    db = tmp_path / "mlflow.db"
    prepare_local_store(f"sqlite:///{db}", "http://not-local:5000")
    tables = {r[0] for r in sqlite3.connect(db).execute("select name from sqlite_master where type='table'")}
    assert {"experiments", "runs", "latest_metrics", "registered_models", "model_versions"} <= tables

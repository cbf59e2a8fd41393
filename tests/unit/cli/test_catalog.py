"""The catalog commands (mlpublish.cli.catalog) in an environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.environments import specs  # noqa: F401 (fixture)


def test_catalog_sync_in_a_read_only_environment(specs: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from mlpublish import cli

    monkeypatch.chdir(specs)
    monkeypatch.setenv("MLPUBLISH_ENV", "dev")
    # a readOnly environment refuses a sync (it writes the outbox and the server) before touching anything
    assert cli.main(["-q", "catalog", "sync", "--env", "prod", "--retry-failed"]) == cli.EXIT_ERROR
    assert "'prod' is readOnly" in capsys.readouterr().err
    assert sorted(p.name for p in specs.iterdir()) == ["churn.yaml", "environments.yaml"]


def test_relay_check_health_is_a_probe_exiting_0_or_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """No catalog settings are needed: the probe reads the file only (compose and Kubernetes exec it)."""
    import time

    from mlpublish import cli
    from mlpublish.catalog.relay_health import write_health

    monkeypatch.delenv("OPENMETADATA_HOST_PORT", raising=False)
    path = tmp_path / "health.json"
    argv = ["-q", "catalog", "relay", "--check-health", str(path), "--max-age", "60"]
    assert cli.main(argv) == 1
    assert "no health file" in capsys.readouterr().out
    write_health(
        path, {"catalog": "http://om:8585/api", "state": "ok", "queue_depth": 0, "updated_at_unix": time.time()}
    )
    assert cli.main(argv) == 0
    assert "relay healthy: state=ok" in capsys.readouterr().out
    write_health(path, {"catalog": "http://om:8585/api", "state": "refused", "updated_at_unix": time.time()})
    assert cli.main(argv) == 1

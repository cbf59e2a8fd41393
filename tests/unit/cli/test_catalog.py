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

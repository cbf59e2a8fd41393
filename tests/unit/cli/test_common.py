"""CLI helpers (mlpublish.cli.common): the model names commands print in an environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.environments import specs  # noqa: F401 (fixture)


def test_cli_names_in_an_environment(specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpublish.cli.common import model_name

    monkeypatch.chdir(specs)
    monkeypatch.setenv("MLPUBLISH_ENV", "dev")
    # commands and cards print the prefixed name: both spellings mean the same model
    assert (
        model_name("customer_churn_predictor")
        == model_name("dev_customer_churn_predictor")
        == "dev_customer_churn_predictor"
    )


def test_status_lists_pending_events_per_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The issue's case: events queued for another catalog than this environment's are shown, by catalog."""
    from types import SimpleNamespace

    from mlpublish.catalog.events import UpsertTable
    from mlpublish.catalog.local import LocalCatalog
    from mlpublish.catalog.openmetadata import OpenMetadataCatalog
    from mlpublish.cli.common import outbox_line
    from mlpublish.config import OpenMetadataSettings

    store = tmp_path / "catalog.db"
    events = [UpsertTable(fqn=f"wh.db.s.t{n}", columns=[]) for n in range(3)]
    LocalCatalog(store).publish(events, enqueue_for="http://127.0.0.1:8585")  # = http://localhost:8585/api
    LocalCatalog(store).publish(events[:2], enqueue_for="http://openmetadata:8585/api")
    monkeypatch.setenv("OPENMETADATA_HOST_PORT", "http://localhost:8585/api")
    settings = OpenMetadataSettings("http://localhost:8585/api", "tok")
    deployment = SimpleNamespace(open_catalog=lambda: OpenMetadataCatalog(settings, LocalCatalog(store)))
    outbox_line(deployment)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("OpenMetadata outbox http://localhost:8585/api: 3 pending, 0 failed (details")
    assert err[1].startswith("OpenMetadata outbox http://openmetadata:8585/api: 2 pending, 0 failed (not this")

"""The OpenMetadata sink (mlpublish.catalog.openmetadata): a step only queues, the CLI's drain delivers."""

from __future__ import annotations

from typing import Any

from mlpublish.catalog.events import Column, UpsertTable
from mlpublish.catalog.local import LocalCatalog
from mlpublish.catalog.openmetadata import OpenMetadataCatalog, SyncReport, drain_queued
from mlpublish.catalog.openmetadata.delivery import OutboxDelivery
from mlpublish.config import OpenMetadataSettings


def test_a_step_only_queues_and_the_cli_drain_delivers(tmp_path, monkeypatch) -> None:
    def no_delivery(self: Any, stop: Any = None) -> SyncReport:
        raise AssertionError("a non-strict step must not deliver")

    monkeypatch.setattr(OutboxDelivery, "sync", no_delivery)
    settings = OpenMetadataSettings("http://om:8585/api", "tok")
    sink = OpenMetadataCatalog(settings, LocalCatalog(tmp_path / "c.db"))
    sink.publish([UpsertTable(fqn="w.s.d.t", columns=[Column(name="a", dataType="INTEGER")])])
    assert sink.outbox.counts()["pending"] == 1
    assert sink.get("w.s.d.t") is not None  # the mirror has it at once
    sink.close()

    passes: list[str] = []

    def outage(self: Any, stop: Any = None) -> SyncReport:
        passes.append(self.outbox.local.path)
        return SyncReport(outage="connection refused", pending=1)

    monkeypatch.setattr(OutboxDelivery, "sync", outage)
    [line] = drain_queued()
    assert passes == [str(tmp_path / "c.db")]
    assert "1 event(s) stay queued for `mlpublish catalog relay`" in line
    assert drain_queued() == []  # drained once: nothing left registered

"""The relay's loop (backoff, stop, exit codes, health line), without a server."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from mlpublish.catalog.openmetadata import SyncReport
from mlpublish.catalog.relay import RELAY_BEHIND, RELAY_OK, Relay
from mlpublish.config import OpenMetadataSettings


class FakeOutbox:
    def __init__(self) -> None:
        self.pending, self.failed = 0, 0

    def counts(self) -> dict[str, int]:
        return {"pending": self.pending, "delivered": 0, "failed": self.failed}

    def lag_seconds(self) -> float:
        return 12.0 if self.pending else 0.0


class FakeDelivery:
    """Answers each pass with the next report; ``relay`` stops itself after the last one."""

    def __init__(self, reports: list[SyncReport], outbox: FakeOutbox):
        self.reports, self.outbox, self.relay = list(reports), outbox, None

    def sync(self, stop: Any = None) -> SyncReport:
        report = self.reports.pop(0)
        self.outbox.pending = report.pending
        if not self.reports and self.relay is not None:
            self.relay.stop()
        return report


def relay_for(reports: list[SyncReport], **kw: Any) -> tuple[Relay, list[float]]:
    outbox = FakeOutbox()
    delivery = FakeDelivery(reports, outbox)
    catalog = SimpleNamespace(
        delivery=delivery, outbox=outbox, settings=OpenMetadataSettings("http://bot:s3cret@om:8585/api", "tok")
    )
    relay = Relay(catalog, poll=0.0, **kw)
    delivery.relay = relay
    waits: list[float] = []
    relay.stopping.wait = lambda timeout=None: waits.append(timeout)  # type: ignore[method-assign]
    return relay, waits


def test_backoff_doubles_up_to_the_cap_and_resets_after_a_delivery() -> None:
    down = SyncReport(outage="503", pending=3)
    relay, waits = relay_for([down] * 5 + [SyncReport(delivered=3)] + [down], max_backoff=5.0)
    assert relay.run() == RELAY_OK
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0, 0.0, 1.0]  # 0.0: the poll interval (no outage)
    assert relay.backoff == 1.0 and relay.totals.delivered == 3 and relay.totals.outages == 6


def test_once_exits_2_while_events_stay_pending_and_0_when_delivered() -> None:
    relay, _ = relay_for([SyncReport(outage="connection refused", pending=4)])
    assert relay.run(once=True) == RELAY_BEHIND
    relay, _ = relay_for([SyncReport(delivered=4)])
    assert relay.run(once=True) == RELAY_OK


def test_health_line_counts_and_lag_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    relay, _ = relay_for([SyncReport(delivered=2, pending=1)], health_every=0.0)
    with caplog.at_level("INFO", logger="mlpublish.catalog.relay"):
        relay.run()
    line = next(r.getMessage() for r in caplog.records if "relay health" in r.getMessage())
    assert "delivered=2 pending=1 failed=0 lag=12s" in line
    assert "s3cret" not in line and "tok" not in line

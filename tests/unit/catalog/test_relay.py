"""The relay's loop (backoff, stop, exit codes, health line), without a server."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlpublish.catalog.openmetadata import SyncReport
from mlpublish.catalog.openmetadata.errors import AuthRejected, Misconfigured, SettingsRefused, settings_error
from mlpublish.catalog.outbox import Outbox
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
        if not self.reports and self.relay is not None:
            self.relay.stop()
        if isinstance(report, Exception):
            raise report
        self.outbox.pending = report.pending
        return report


def relay_for(reports: list[Any], **kw: Any) -> tuple[Relay, list[float]]:
    outbox = FakeOutbox()
    delivery = FakeDelivery(reports, outbox)
    catalog = SimpleNamespace(
        delivery=delivery, outbox=outbox, settings=OpenMetadataSettings("http://bot:s3cret@om:8585/api", "tok")
    )
    relay = Relay(catalog, **{"poll": 0.0, **kw})
    delivery.relay = relay
    waits: list[float] = []
    now = [0.0]

    def wait(timeout: float | None = None) -> bool:  # a sleep that takes no time: the clock moves on
        waits.append(timeout)
        now[0] += timeout or 0.0
        return relay.stopping.is_set()

    relay.clock = lambda: now[0]
    relay.stopping.wait = wait  # type: ignore[method-assign]
    return relay, waits


def test_backoff_doubles_up_to_the_cap_and_resets_after_a_delivery() -> None:
    down = SyncReport(outage="503", pending=3)
    relay, waits = relay_for([down] * 5 + [SyncReport(delivered=3)] + [down], max_backoff=5.0, poll=0.5)
    assert relay.run() == RELAY_OK
    # 0.5: the poll interval (no outage); after the last pass the relay is stopping: no sleep, backoff 1 s again
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0, 0.5]
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
    line = [r.getMessage() for r in caplog.records if "relay health" in r.getMessage()][-1]  # the first: at start
    assert "delivered=2 pending=1 failed=0 lag=12s" in line
    assert "s3cret" not in line and "tok" not in line


def refused_token(queued: int = 3) -> SettingsRefused:
    return settings_error(
        "http://om:8585/api", AuthRejected("model m: HTTP 401: the server refused the JWT token"), queued
    )


def test_a_refused_token_backs_off_alerts_keeps_running_and_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """401 three times (the relay does not exit: it backs off, capped, with an alert each time), then accepted."""
    health = tmp_path / "health.json"
    states: list[str] = []
    relay, waits = relay_for(
        [refused_token(), refused_token(), refused_token(), SyncReport(delivered=3)],
        max_backoff=2.0,
        health_file=str(health),
    )
    write = relay.write_health

    def recording() -> None:
        write()
        states.append(json.loads(health.read_text())["state"])

    relay.write_health = recording  # type: ignore[method-assign]
    with caplog.at_level("INFO", logger="mlpublish.catalog.relay"):
        assert relay.run() == RELAY_OK
    assert waits == [1.0, 2.0, 2.0]  # backoff capped at --max-backoff (the poll interval here is 0)
    alerts = [r.getMessage() for r in caplog.records if "relay ALERT" in r.getMessage()]
    assert len(alerts) == 3 and all("http://om:8585/api refused the JWT token" in a for a in alerts)
    assert all("tok" not in a.split("JWT token")[0] for a in alerts)
    assert "refused" in states and states[-1] == "ok"
    final = json.loads(health.read_text())
    assert final["state"] == "ok" and final["delivered"] == 3 and final["last_error_class"] == "AuthRejected"
    assert final["last_delivery_at"] is not None


def test_once_with_a_refused_token_exits_2_with_the_queue_kept(caplog: pytest.LogCaptureFixture) -> None:
    relay, _ = relay_for([refused_token()])
    relay.catalog.outbox.pending = 3
    assert relay.run(once=True) == RELAY_BEHIND
    assert relay.state == "refused" and relay.catalog.outbox.pending == 3


def test_a_wrong_address_still_stops_the_relay() -> None:
    relay, _ = relay_for([settings_error("http://om:8585", Misconfigured("HtmlResponseError"), 2)])
    with pytest.raises(SettingsRefused, match="cannot be used"):
        relay.run()


def test_events_waiting_for_another_catalog_are_named_and_fail_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's case: 87 events queued for one spelling, a relay for another catalog: --once says so and exits 2."""
    from mlpublish.catalog.events import UpsertTable
    from mlpublish.catalog.local import LocalCatalog
    from mlpublish.catalog.openmetadata import OpenMetadataCatalog

    store = tmp_path / "catalog.db"
    LocalCatalog(store).publish(
        [UpsertTable(fqn=f"wh.db.s.t{n}", columns=[]) for n in range(87)],
        enqueue_for="http://openmetadata:8585/api",
    )
    relay_catalog = OpenMetadataCatalog(
        OpenMetadataSettings("http://bot:s3cret@localhost:8585", "tok"), LocalCatalog(store)
    )
    health = tmp_path / "health.json"
    relay = Relay(relay_catalog, health_file=str(health))
    with caplog.at_level("INFO", logger="mlpublish.catalog.relay"):
        assert relay.run(once=True) == RELAY_BEHIND
    warning = next(r.getMessage() for r in caplog.records if "does not serve" in r.getMessage())
    assert "87 event(s) wait for the catalog http://openmetadata:8585/api" in warning
    assert "s3cret" not in caplog.text
    doc = json.loads(health.read_text())
    assert doc["other_catalogs"] == {"http://openmetadata:8585/api": 87} and doc["state"] == "degraded"
    assert doc["catalog"] == "http://localhost:8585/api" and doc["queue_depth"] == 0

    # the same spelling as the workers' (another form of the address): the relay serves them, nothing to report
    same = OpenMetadataCatalog(OpenMetadataSettings("http://OpenMetadata:8585/", "tok"), LocalCatalog(store))
    assert same.outbox.pending() and Outbox.unserved(same.outbox) == {}


def test_a_long_sleep_still_writes_the_health_file_each_interval(tmp_path: Path) -> None:
    """--poll 3 with --health-every 1: the sleep is cut at each health time (the probe sees a fresh file) and
    the relay makes no delivery pass before the poll interval is over."""
    health = tmp_path / "health.json"
    relay, waits = relay_for(
        [SyncReport(delivered=1), SyncReport()], poll=3.0, health_every=1.0, health_file=str(health)
    )
    written: list[float] = []
    write = relay.write_health

    def recording() -> None:
        write()
        written.append(relay.clock())

    relay.write_health = recording  # type: ignore[method-assign]
    relay.run()
    assert waits == [1.0, 1.0, 1.0]  # one sleep of 3 s, in three slices
    assert written[:4] == [0.0, 1.0, 2.0, 3.0]  # at start, then at each interval
    assert relay.totals.wakeups == {"notify": 0, "poll": 1}

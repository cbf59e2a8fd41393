"""Delivering an outbox to the OpenMetadata server: in order, one deliverer at a time.

What a failure does to the event that met it (the kinds are in ``errors``): an outage leaves it and
everything after it queued, for the next sync; a rejection dead-letters it (never retried by itself)
and delivery goes on; refused credentials or a wrong address stop the sync with everything queued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlpublish.catalog.events import (
    AddLineage,
    SetModelProperties,
    SetValidationTag,
    UpsertContainer,
    UpsertMlModel,
    UpsertTable,
)
from mlpublish.catalog.openmetadata.client import connect
from mlpublish.catalog.openmetadata.errors import AuthRejected, Misconfigured, Outage, Rejected, settings_error
from mlpublish.catalog.openmetadata.writes import Session
from mlpublish.catalog.outbox import Outbox, OutboxRow
from mlpublish.config import OpenMetadataSettings
from mlpublish.errors import CatalogUnavailable

log = logging.getLogger("mlpublish.catalog.openmetadata")


@dataclass
class SyncReport:
    delivered: int = 0
    pending: int = 0
    failed: list[str] = field(default_factory=list)
    outage: str | None = None


def compact(rows: list[OutboxRow]) -> list[Any]:
    """The final state the delivered rows asserted: the last table (or container), model, edge and tag, the merged
    properties.

    Alias changes are left out: they live in the local mirror only.
    """
    tables: dict[str, Any] = {}
    models: dict[str, Any] = {}
    edges: dict[tuple[str, str], Any] = {}
    tags: dict[str, Any] = {}
    props: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.state != "delivered":
            continue
        ev = row.event
        if isinstance(ev, UpsertTable | UpsertContainer):
            tables[ev.fqn] = ev
        elif isinstance(ev, UpsertMlModel):
            models[ev.fqn] = ev
        elif isinstance(ev, AddLineage):
            edges[(ev.from_fqn, ev.to_fqn)] = ev
        elif isinstance(ev, SetValidationTag):
            tags[ev.fqn] = ev
        elif isinstance(ev, SetModelProperties):
            props.setdefault(ev.fqn, {}).update(ev.properties)
    return [
        *tables.values(),
        *models.values(),
        *edges.values(),
        *tags.values(),
        *(SetModelProperties(fqn=f, properties=p) for f, p in props.items()),
    ]


class OutboxDelivery:
    """Delivers one outbox to one server. The SDK client and what the server is known to hold
    (services, classification, custom properties) are kept across syncs."""

    def __init__(self, outbox: Outbox, settings: OpenMetadataSettings):
        self.outbox, self.settings = outbox, settings
        self._om: Any = None
        self._known: dict[str, Any] = {}

    def sync(self, stop: Callable[[], bool] | None = None) -> SyncReport:
        """Deliver the queued events in order. Raises CatalogUnavailable on a refused token.

        Another process delivering to the same server holds the outbox lease: then we leave our
        events to it (it looks for new events before it lets go, and so do we). ``stop`` (the relay's
        signal flag) is asked before each event: the event in flight is finished, the lease released.
        """
        report = SyncReport()
        stop = stop or (lambda: False)
        while not stop() and self.outbox.pending():
            if not self.outbox.acquire():
                report.pending = len(self.outbox.pending())
                log.info(
                    "another process is delivering the outbox to %s; %d event(s) left to it",
                    self.settings.host_port,
                    report.pending,
                )
                return report
            try:
                self._deliver_pending(report, stop)
            finally:
                self.outbox.release()
            if report.outage:
                break
        return report

    def _deliver_pending(self, report: SyncReport, stop: Callable[[], bool]) -> None:
        rows = self.outbox.pending()
        session = None
        for i, row in enumerate(rows):
            if stop():
                report.pending = len(rows) - i
                return
            try:
                if session is None:
                    session = self._session()
                session.deliver(row.event)
            except Outage as exc:
                self.outbox.attempt_failed(row.seq, str(exc))
                report.outage, report.pending = str(exc), len(rows) - i
                return
            except (AuthRejected, Misconfigured) as exc:
                self.outbox.attempt_failed(row.seq, str(exc))
                raise settings_error(self.settings.host_port, exc, len(rows) - i) from None
            except Rejected as exc:
                self.outbox.dead_letter(row.seq, str(exc))
                report.failed.append(f"event #{row.seq} ({row.event.kind}): {exc}")
            else:
                self.outbox.delivered(row.seq)
                report.delivered += 1
            self.outbox.acquire()  # renew the lease while we work

    def replay(self) -> SyncReport:
        """Deliver what is queued, then assert again the final state of everything the outbox ever carried.

        The history is compacted first, so a replay moves nothing that already matches: replaying twice
        changes no version, tag or edge.
        """
        report = self.sync()
        if report.outage:
            return report
        events = compact(self.outbox.all())
        if not self.outbox.acquire():
            report.outage = "another process is delivering the outbox: replay later"
            return report
        try:
            self._replay(events, report)
        finally:
            self.outbox.release()
        return report

    def _replay(self, events: list[Any], report: SyncReport) -> None:
        session = self._session()
        for ev in events:
            try:
                session.deliver(ev)
            except Outage as exc:
                report.outage = str(exc)
                return
            except (AuthRejected, Misconfigured) as exc:
                raise CatalogUnavailable(f"OpenMetadata at {self.settings.host_port} cannot be used: {exc}") from None
            except Rejected as exc:
                report.failed.append(f"replay of {ev.kind} {getattr(ev, 'fqn', '')}: {exc}")
            else:
                report.delivered += 1

    def _session(self) -> Session:
        if self._om is None:
            self._om = connect(self.settings)
        return Session(self._om, self.settings, self._known)

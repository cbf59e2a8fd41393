"""The OpenMetadata sink: catalog events delivered through the official SDK, via a durable outbox.

``publish`` applies the events to the local catalog (the mirror that ``mlpublish catalog show`` reads)
and queues them in its outbox in one transaction, and that is all: no SDK import, no network wait. The
queue is delivered in order by ``mlpublish catalog relay`` (the service), ``mlpublish catalog sync``, or
at the end of a CLI command (``drain_queued``: a single machine needs no service). With ``strict`` the
step delivers at once and fails when the server is unreachable or refuses an event. When the server is
unreachable or answers 5xx the events stay queued. A 4xx is the event's fault: it is dead-lettered with
the entity and field at fault and reported, never retried by itself.

Inside the package, each module imports only those below it:
``delivery`` (outbox draining, lease, retry or dead letter) -> ``writes`` (each event's SDK calls) ->
``client`` (connection, lookups, patches) -> ``payloads`` and ``properties`` (request bodies and the
custom property schema, no SDK) -> ``errors`` (what a failed call means). The SDK is imported lazily,
only in ``client`` and ``writes``: its import costs seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from mlpublish.catalog.local import LocalCatalog
from mlpublish.catalog.openmetadata.client import connect, team_types
from mlpublish.catalog.openmetadata.delivery import OutboxDelivery, SyncReport
from mlpublish.catalog.outbox import Outbox
from mlpublish.config import OpenMetadataSettings
from mlpublish.errors import CatalogUnavailable

__all__ = ["OpenMetadataCatalog", "SyncReport", "connect", "drain_queued", "team_types"]

log = logging.getLogger("mlpublish.catalog.openmetadata")

# Outboxes this process queued events in without delivering them: (settings, store URL), for drain_queued.
_QUEUED: dict[tuple[OpenMetadataSettings, str], None] = {}


def drain_queued() -> list[str]:
    """Deliver what this process queued (once, bounded: an outage stops at the first refused connection).
    The CLI calls it at the end of a command; Airflow tasks and Dagster steps do not (the relay delivers).
    Returns one line per outbox that is not empty afterwards, for the user."""
    lines = []
    while _QUEUED:
        settings, url = next(iter(_QUEUED))
        del _QUEUED[(settings, url)]
        catalog = OpenMetadataCatalog(settings, LocalCatalog(url))
        try:
            report = catalog.sync()
            counts = catalog.outbox.counts()
        finally:
            catalog.close()
        if report.outage:
            lines.append(
                f"OpenMetadata at {settings.host_port} is unavailable ({report.outage}): {counts['pending']} event(s) "
                "stay queued for `mlpublish catalog relay` or `mlpublish catalog sync`"
            )
        elif counts["pending"]:  # another process (the relay) holds the lease: it delivers them
            lines.append(f"OpenMetadata outbox: {counts['pending']} event(s) left to the process delivering it")
        lines.extend(
            f"OpenMetadata refused {failure} (dead-lettered: see `mlpublish catalog sync`)" for failure in report.failed
        )
    return lines


class OpenMetadataCatalog:
    """CatalogSink for an OpenMetadata server, with the local catalog file as mirror and outbox."""

    kind = "openmetadata"

    def __init__(self, settings: OpenMetadataSettings, local: LocalCatalog):
        self.settings = settings
        self.local = local
        self.outbox = Outbox(local, settings.host_port)
        self.delivery = OutboxDelivery(self.outbox, settings)

    def __repr__(self) -> str:
        return f"OpenMetadataCatalog({self.settings.host_port!r}, outbox={self.local.store.display!r})"

    # Reader: the local mirror -------------------------------------------------
    def get(self, fqn: str) -> dict[str, Any] | None:
        return self.local.get(fqn)

    def __getattr__(self, name: str) -> Any:
        if name in ("find_model", "versions", "alias_history", "edges", "lineage", "close", "data_contracts"):
            return getattr(self.local, name)
        raise AttributeError(name)

    # Sink ------------------------------------------------------------------
    def publish(self, events: Iterable[Any]) -> None:
        events = list(events)
        if not events:
            return
        self.local.publish(events, enqueue_for=self.outbox.target)
        if not (self.settings.strict or self.settings.deliver_in_step):
            _QUEUED[(self.settings, self.local.store.url)] = None
            return
        report = self.sync()
        if report.outage:
            if self.settings.strict:
                raise CatalogUnavailable(
                    f"OpenMetadata at {self.settings.host_port} is unavailable ({report.outage}); {report.pending} "
                    "event(s) stay queued in the outbox: deliver them with `mlpublish catalog sync`"
                )
            log.warning(
                "OpenMetadata at %s is unavailable (%s): %d event(s) queued, delivered by the relay, the next "
                "step or `mlpublish catalog sync`",
                self.settings.host_port,
                report.outage,
                report.pending,
            )
        if report.failed:
            raise CatalogUnavailable(
                "OpenMetadata refused " + "; ".join(report.failed) + " (dead-lettered: see `mlpublish catalog sync`)"
            )

    def sync(self) -> SyncReport:
        """Deliver the queued events in order (see ``OutboxDelivery.sync``)."""
        return self.delivery.sync()

    def replay(self) -> SyncReport:
        """Deliver what is queued, then assert again the final state of everything delivered before."""
        return self.delivery.replay()

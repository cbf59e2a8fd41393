"""The OpenMetadata sink: catalog events delivered through the official SDK, via a durable outbox.

``publish`` applies the events to the local catalog file (the mirror that ``mlpublish catalog show``
reads) and queues them in its outbox in one transaction, then delivers the queue in order. When the
server is unreachable or answers 5xx the events stay queued (the step goes on, unless ``strict``) and
the next publish or ``mlpublish catalog sync`` delivers them. A 4xx is the event's fault: it is
dead-lettered with the entity and field at fault and reported, never retried by itself.

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

__all__ = ["OpenMetadataCatalog", "SyncReport", "connect", "team_types"]

log = logging.getLogger("mlpublish.catalog.openmetadata")


class OpenMetadataCatalog:
    """CatalogSink for an OpenMetadata server, with the local catalog file as mirror and outbox."""

    kind = "openmetadata"

    def __init__(self, settings: OpenMetadataSettings, local: LocalCatalog):
        self.settings = settings
        self.local = local
        self.outbox = Outbox(local, settings.host_port)
        self.delivery = OutboxDelivery(self.outbox, settings)

    def __repr__(self) -> str:
        return f"OpenMetadataCatalog({self.settings.host_port!r}, outbox={self.local.path!r})"

    # Reader: the local mirror -------------------------------------------------
    def get(self, fqn: str) -> dict[str, Any] | None:
        return self.local.get(fqn)

    def __getattr__(self, name: str) -> Any:
        if name in ("find_model", "versions", "alias_history", "edges", "lineage", "close"):
            return getattr(self.local, name)
        raise AttributeError(name)

    # Sink ------------------------------------------------------------------
    def publish(self, events: Iterable[Any]) -> None:
        events = list(events)
        if not events:
            return
        self.local.publish(events, enqueue_for=self.settings.host_port)
        report = self.sync()
        if report.outage:
            if self.settings.strict:
                raise CatalogUnavailable(
                    f"OpenMetadata at {self.settings.host_port} is unavailable ({report.outage}); {report.pending} "
                    "event(s) stay queued in the outbox: deliver them with `mlpublish catalog sync`"
                )
            log.warning(
                "OpenMetadata at %s is unavailable (%s): %d event(s) queued, delivered by the next step "
                "or `mlpublish catalog sync`",
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

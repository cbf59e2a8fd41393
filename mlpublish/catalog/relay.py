"""``mlpublish catalog relay``: the service that delivers the outbox to OpenMetadata.

Steps only write their events (mirror and outbox, one transaction); the relay delivers them in ``seq``
order, holding the target's lease while it delivers (on PostgreSQL a session lock, freed at once if the
relay dies). When OpenMetadata is unreachable it waits 1 s, 2 s, 4 s ... up to ``max_backoff`` between
attempts, and starts again at the first pending event; a refused event is dead-lettered as by
``mlpublish catalog sync``. Every ``health_every`` seconds it logs one line (delivered, pending, failed,
lag: the age of the oldest pending event). SIGTERM or SIGINT stop it gracefully: the event in flight is
finished and recorded, the lease released, and the process exits 0.

Only the relay (and the other deliverers) import the OpenMetadata SDK, on its first delivery.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlpublish.redact import scrub

log = logging.getLogger("mlpublish.catalog.relay")

# Exit codes (documented in docs/operations/catalog-relay.md)
RELAY_OK = 0  # stopped by SIGTERM/SIGINT, or --once left nothing pending or failed
RELAY_BEHIND = 2  # --once: events still pending (OpenMetadata unavailable) or dead-lettered


@dataclass
class RelayTotals:
    delivered: int = 0
    refused: int = 0
    outages: int = 0
    refusals: list[str] = field(default_factory=list)


class Relay:
    """Delivers one outbox to one OpenMetadata server until stopped."""

    def __init__(
        self,
        catalog: Any,
        *,
        poll: float = 2.0,
        max_backoff: float = 60.0,
        health_every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.catalog, self.poll, self.max_backoff, self.health_every = catalog, poll, max_backoff, health_every
        self.clock = clock
        self.stopping = threading.Event()
        self.totals = RelayTotals()
        self.backoff = 0.0

    def stop(self, *_: Any) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def pass_once(self) -> Any:
        """One delivery pass over the pending events; returns the SyncReport."""
        report = self.catalog.delivery.sync(stop=self.stopping.is_set)
        self.totals.delivered += report.delivered
        self.totals.refused += len(report.failed)
        for failure in report.failed:
            log.warning("relay: OpenMetadata refused %s (dead-lettered)", scrub(failure))
        if report.outage:
            self.totals.outages += 1
            self.backoff = min(self.max_backoff, max(1.0, self.backoff * 2))
            log.warning(
                "relay: OpenMetadata at %s is unavailable (%s); retrying in %.0fs",
                scrub(self.catalog.settings.host_port),
                scrub(report.outage),
                self.backoff,
            )
        else:
            self.backoff = 0.0
        return report

    def health_line(self) -> str:
        outbox = self.catalog.outbox
        counts = outbox.counts()
        return (
            f"relay health: target={scrub(self.catalog.settings.host_port)} delivered={self.totals.delivered} "
            f"pending={counts['pending']} failed={counts['failed']} lag={outbox.lag_seconds():.0f}s "
            f"outages={self.totals.outages}"
        )

    def run(self, once: bool = False) -> int:
        """Deliver until stopped (``once``: one pass). Returns the exit code."""
        next_health = self.clock() + self.health_every
        while not self.stopping.is_set():
            self.pass_once()
            if once:
                break
            if self.clock() >= next_health:
                log.info(self.health_line())
                next_health = self.clock() + self.health_every
            self.stopping.wait(self.backoff or self.poll)
        log.info(self.health_line())
        if once:
            counts = self.catalog.outbox.counts()
            return RELAY_OK if counts["pending"] == 0 and counts["failed"] == 0 else RELAY_BEHIND
        return RELAY_OK

"""``mlpublish catalog relay``: the service that delivers the outbox to OpenMetadata.

Steps only write their events (mirror and outbox, one transaction); the relay delivers them in ``seq``
order, holding the target's lease while it delivers (on PostgreSQL a session lock, freed at once if the
relay dies). Between passes it sleeps: on a PostgreSQL store it ``LISTEN``s on the outbox channel (the
writers ``NOTIFY`` at commit, see ``store``) and wakes as soon as an event is queued, the poll interval
being only the longest sleep; on SQLite, or when listening fails, it polls. When OpenMetadata is
unreachable, or refuses the relay's token or role (401/403), it waits 1 s, 2 s, 4 s ... up to
``max_backoff`` between attempts, keeps the queue, and resumes when the server answers (a refusal is
logged as an alert at each attempt). A refused event is dead-lettered as by ``mlpublish catalog sync``.
Every ``health_every`` seconds it logs one line and writes the health file (``relay_health``); it also
names the catalogs other than its own whose events wait with no deliverer (another spelling of an address
is the same catalog: ``address``). SIGTERM or SIGINT stop it gracefully: the event in flight is finished
and recorded, the lease released, and the process exits 0.

Only the relay (and the other deliverers) import the OpenMetadata SDK.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlpublish.catalog.openmetadata.errors import SettingsRefused
from mlpublish.catalog.relay_health import write_health
from mlpublish.catalog.store import Listener
from mlpublish.clock import now_iso
from mlpublish.redact import scrub

log = logging.getLogger("mlpublish.catalog.relay")

# Exit codes (documented in docs/operations/catalog-relay.md)
RELAY_OK = 0  # stopped by SIGTERM/SIGINT, or --once left nothing pending or failed
# --once: events still pending (OpenMetadata unavailable or refusing the token), dead-lettered, or waiting
# for a catalog no deliverer serves
RELAY_BEHIND = 2


@dataclass
class RelayTotals:
    delivered: int = 0
    refused: int = 0
    outages: int = 0
    token_refusals: int = 0
    refusals: list[str] = field(default_factory=list)
    wakeups: dict[str, int] = field(default_factory=lambda: {"notify": 0, "poll": 0})


class Relay:
    """Delivers one outbox to one OpenMetadata server until stopped."""

    def __init__(
        self,
        catalog: Any,
        *,
        poll: float = 2.0,
        max_backoff: float = 60.0,
        health_every: float = 60.0,
        health_file: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.catalog, self.poll, self.max_backoff, self.health_every = catalog, poll, max_backoff, health_every
        self.health_file, self.clock = health_file, clock
        self.stopping = threading.Event()
        self.totals = RelayTotals()
        self.backoff = 0.0
        self.state, self.last_error_class, self.last_delivery_at = "ok", None, None
        self.unserved: dict[str, int] = {}
        self.next_health = 0.0
        self.listener: Listener | None = None
        self._wake_r, self._wake_w = -1, -1

    def stop(self, *_: Any) -> None:
        self.stopping.set()
        if self._wake_w >= 0:  # wakes a relay sleeping in select() on the listener
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    @property
    def target(self) -> str:
        return getattr(self.catalog.outbox, "target", scrub(self.catalog.settings.host_port))

    # One pass -------------------------------------------------------------------------------------
    def pass_once(self) -> Any:
        """One delivery pass over the pending events; returns the SyncReport (None when refused)."""
        try:
            report = self.catalog.delivery.sync(stop=self._tick)
        except SettingsRefused as exc:
            if not exc.refused:  # not an OpenMetadata API, or another version: nothing to wait for
                raise
            self._refused(exc)
            return None
        self.totals.delivered += report.delivered
        self.totals.refused += len(report.failed)
        if report.delivered:
            self.last_delivery_at = now_iso()
        for failure in report.failed:
            log.warning("relay: OpenMetadata refused %s (dead-lettered)", scrub(failure))
            self.last_error_class = "Rejected"
        if report.outage:
            self.totals.outages += 1
            self.last_error_class = "Outage"
            self._back_off()
            log.warning(
                "relay: OpenMetadata at %s is unavailable (%s); retrying in %.0fs",
                scrub(self.catalog.settings.host_port),
                scrub(report.outage),
                self.backoff,
            )
            self._set_state("degraded")
        else:
            self.backoff = 0.0
            self._set_state("ok")
        return report

    def _refused(self, exc: SettingsRefused) -> None:
        self.totals.token_refusals += 1
        self.last_error_class = exc.cause
        self._back_off()
        log.error("relay ALERT: %s; retrying in %.0fs", scrub(str(exc)), self.backoff)
        self._set_state("refused")

    def _back_off(self) -> None:
        self.backoff = min(self.max_backoff, max(1.0, self.backoff * 2))

    def _set_state(self, state: str) -> None:
        """The delivery's state: ``ok``, ``degraded`` (OpenMetadata unreachable) or ``refused`` (401/403)."""
        changed, self.state = state != self.state, state
        if changed:
            self.write_health()

    def reported_state(self, counts: dict[str, int]) -> str:
        """The state the health file and line show: dead letters and unserved catalogs degrade an ``ok``."""
        if self.state == "ok" and (counts["failed"] or self.unserved):
            return "degraded"
        return self.state

    def _tick(self) -> bool:
        """Asked before each event of a pass (and between passes): health when due; True to stop."""
        if self.clock() >= self.next_health:
            self.health()
        return self.stopping.is_set()

    # Health ---------------------------------------------------------------------------------------
    def health(self) -> None:
        self.next_health = self.clock() + self.health_every
        self.check_other_catalogs()
        log.info(self.health_line())
        self.write_health()

    def check_other_catalogs(self) -> dict[str, int]:
        """Warn about events that wait for another catalog no deliverer serves (its key, never a secret)."""
        unserved = getattr(self.catalog.outbox, "unserved", dict)
        self.unserved = unserved()
        for key, count in self.unserved.items():
            log.warning(
                "relay: %d event(s) wait for the catalog %s, which this relay (for %s) does not serve and no "
                "deliverer holds: start a relay with that OpenMetadata address, or fix the workers' address",
                count,
                key,
                self.target,
            )
        return self.unserved

    def health_line(self) -> str:
        outbox = self.catalog.outbox
        counts = outbox.counts()
        return (
            f"relay health: target={scrub(self.catalog.settings.host_port)} delivered={self.totals.delivered} "
            f"pending={counts['pending']} failed={counts['failed']} lag={outbox.lag_seconds():.0f}s "
            f"outages={self.totals.outages} state={self.reported_state(counts)}"
        )

    def health_document(self) -> dict[str, Any]:
        outbox = self.catalog.outbox
        counts = outbox.counts()
        return {
            "catalog": self.target,
            "state": self.reported_state(counts),
            "queue_depth": counts["pending"],
            "failed": counts["failed"],
            "oldest_event_age_s": round(outbox.lag_seconds(), 1),
            "last_delivery_at": self.last_delivery_at,
            "last_error_class": self.last_error_class,
            "delivered": self.totals.delivered,
            "other_catalogs": dict(self.unserved),
            "listening": self.listener is not None and not self.listener.broken,
            "wakeups": dict(self.totals.wakeups),
            "updated_at": now_iso(),
            "updated_at_unix": time.time(),
        }

    def write_health(self) -> None:
        if self.health_file:
            write_health(self.health_file, self.health_document())

    # Sleeping between passes ----------------------------------------------------------------------
    def _listening(self) -> Listener | None:
        """The LISTEN connection on a PostgreSQL store (started, or restarted after a loss), else None."""
        store = getattr(getattr(self.catalog, "local", None), "store", None)
        if store is None or not store.postgres:
            return None
        if self.listener is None:
            self.listener = Listener(store)
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_w, False)
        if self.listener.broken:
            try:
                self.listener.start()
            except Exception as exc:  # noqa: BLE001 - polling is the fallback; the next sleep tries again
                log.warning("relay: cannot LISTEN on the catalog store (%s); polling", scrub(str(exc)))
                return None
        return self.listener

    def sleep(self) -> None:
        """Until the poll interval (or the backoff) has passed, an event for our catalog is notified, or a stop
        signal; the health file is written when due meanwhile. In a backoff, notifications do not shorten the
        wait (new events must not hammer a server that is down or refusing us)."""
        backing_off = bool(self.backoff)
        deadline = self.clock() + (self.backoff or self.poll)
        listener = None if backing_off else self._listening()
        while not self.stopping.is_set():
            now = self.clock()
            if now >= deadline:
                if not backing_off:
                    self.totals.wakeups["poll"] += 1
                return
            timeout = min(deadline, self.next_health) - now
            if listener is None or listener.broken:
                self.stopping.wait(timeout)
            elif self.target in listener.wait(timeout, self._wake_r):
                self.totals.wakeups["notify"] += 1
                return
            if self.clock() >= self.next_health:
                self.health()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def run(self, once: bool = False) -> int:
        """Deliver until stopped (``once``: one pass). Returns the exit code."""
        try:
            if not once:
                self._listening()  # listen before the first pass: nothing committed after it is missed
                self.health()
            while not self.stopping.is_set():
                self.pass_once()
                if once:
                    break
                self._tick()
                self.sleep()
            self.health()
        finally:
            self.close()
        if once:
            counts = self.catalog.outbox.counts()
            behind = counts["pending"] or counts["failed"] or self.unserved or self.state == "refused"
            return RELAY_BEHIND if behind else RELAY_OK
        return RELAY_OK

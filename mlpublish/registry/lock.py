"""The registry lock: one publish at a time moves a model's aliases, across every client of one registry.

MLflow has no compare-and-set on aliases, so moves of ``champion`` happen under a
lock that every client of the same registry sees: a registered model named
``mlpublish-lock.<model>`` whose tags say who holds it (``owner``), until when
(``expires_at``, the lease) and in which PID namespace (``pidns``).

The registry's only atomic conditional operation is "create this name unless it
exists". So:

* acquire: create the lock model. Exactly one creator succeeds.
* remove (release by the holder, or break of a dead holder): only the *claimant*
  of an incarnation may delete it. The claim is another registered model,
  ``<lock>.claim.<digest of the incarnation's owner>``, created the same atomic
  way; whoever creates it re-reads the lock and deletes it only if it is still
  that incarnation. Nobody else can remove that incarnation meanwhile, so a
  contender acting on an old read can never delete a newer holder's lock.
  Claims are deleted once their incarnation is gone. A claim whose claimant
  died is taken over by the same rule one level down (``<claim>.<digest>``).
* break: a lock whose lease ran out, or whose holder provably died (same host and
  PID namespace, process gone: a killed task about to be retried), is removed by
  the one contender that claims it.

Every call's outcome is either proof of the registry's state (success,
RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST) or unknown (a transport error, a
5xx, a database error: the call may or may not have happened). Unknown outcomes
are resolved by re-reading and retrying, which every step here is built to
survive; a few unknown outcomes in a row mean the registry is unreachable and
fail the step. The table of calls, outcomes and handling is in
docs/operations/registry-lock.md.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import socket
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from mlpublish.errors import RegistryConflict, RegistryError
from mlpublish.redact import scrub
from mlpublish.registry import access

LOCK_PREFIX = "mlpublish-lock."
CLAIM_INFIX = ".claim."
# Consecutive calls with an unknown outcome before the registry counts as unreachable.
UNKNOWN_OUTCOMES_TOLERATED = 4
# Codes that say our request itself is wrong: retrying cannot help and nothing was written.
REFUSED_CODES = frozenset(
    {"INVALID_PARAMETER_VALUE", "PERMISSION_DENIED", "UNAUTHENTICATED", "CUSTOMER_UNAUTHORIZED", "ENDPOINT_NOT_FOUND"}
)

log = logging.getLogger("mlpublish.registry")

OK, EXISTS, MISSING, UNKNOWN = "ok", "exists", "missing", "unknown"


class HasClient(Protocol):
    client: Any
    tracking_uri: str


class Unreachable(RegistryError):
    """Too many registry calls in a row had an unknown outcome."""


def lock_name(model: str) -> str:
    return f"{LOCK_PREFIX}{model}"


def claim_name(of: str, owner: str) -> str:
    """The claim on the incarnation of ``of`` (a lock or a claim) held by ``owner``; owner tokens hold ':',
    which MLflow refuses in names, hence the digest."""
    return f"{of}{CLAIM_INFIX}{hashlib.sha256(owner.encode()).hexdigest()[:24]}"


def new_owner_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"


class RegistryLock:
    """One contender for the lock of one model. ``before_call`` (tests) runs before every registry call;
    ``clock``, ``monotonic`` and ``sleep`` are injectable for the same reason."""

    def __init__(
        self,
        registry: HasClient,
        model: str,
        *,
        lease: float = 300.0,
        timeout: float = 120.0,
        before_call: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client = registry.client
        self.where = registry.tracking_uri
        self.model = model
        self.name = lock_name(model)
        self.lease, self.timeout = lease, timeout
        self.before_call = before_call
        self.clock, self.monotonic, self.sleep = clock, monotonic, sleep
        self.owner: str | None = None  # the owner token of the incarnation we hold
        self.token: int | None = None  # our fencing token, taken at the first alias move (mlpublish.registry.fence)
        self._tried: set[str] = set()  # every token we created the lock with: an unknown outcome may have won
        self._claimant = new_owner_token()
        self._unknown = 0

    # One registry call and what its outcome proves ---------------------------------------------------------
    def _call(self, call: str, name: str, *args: Any, **kwargs: Any) -> tuple[str, Any]:
        from mlflow.exceptions import MlflowException

        if self.before_call is not None:
            self.before_call(call, name)
        try:
            value = getattr(self.client, call)(name, *args, **kwargs)
        except MlflowException as exc:
            code = str(getattr(exc, "error_code", "") or "")
            if code == "RESOURCE_ALREADY_EXISTS":
                return self._known(EXISTS, None)
            if code == "RESOURCE_DOES_NOT_EXIST":
                return self._known(MISSING, None)
            if access.is_denied(code):
                raise access.refusal(code, call, name, self.where, what=f"lock for {self.model!r}: {call}") from None
            if code in REFUSED_CODES:
                raise RegistryError(
                    scrub(f"lock for {self.model!r}: {call} {name!r} refused at {self.where}: {exc.message}")
                ) from None
            return self._unknown_outcome(call, name, f"{code or 'error'}: {exc.message}")
        except Exception as exc:  # transport errors, or a database error from a local registry store
            return self._unknown_outcome(call, name, f"{exc.__class__.__name__}: {exc}")
        return self._known(OK, value)

    def _known(self, outcome: str, value: Any) -> tuple[str, Any]:
        self._unknown = 0
        return outcome, value

    def _unknown_outcome(self, call: str, name: str, detail: str) -> tuple[str, Any]:
        self._unknown += 1
        if self._unknown >= UNKNOWN_OUTCOMES_TOLERATED:
            self._unknown = 0
            raise Unreachable(
                scrub(
                    f"lock for {self.model!r}: {call} {name!r} failed {UNKNOWN_OUTCOMES_TOLERATED} "
                    f"times in a row at {self.where} ({detail})"
                )
            )
        log.info(
            "lock for %s: %s %s had an unknown outcome (%s); re-reading", self.model, call, name, scrub(detail)[:300]
        )
        self.sleep(0.05 * self._unknown)
        return UNKNOWN, None

    def _read(self, name: str) -> tuple[str, dict[str, str]]:
        """OK (exists, with its tags) or MISSING; retried while the outcome is unknown."""
        while True:
            outcome, value = self._call("get_registered_model", name)
            if outcome != UNKNOWN:
                return outcome, dict(value.tags) if outcome == OK else {}

    def _create(self, name: str, owner: str, description: str) -> str:
        tags = {"owner": owner, "expires_at": str(self.clock() + self.lease), "pidns": pid_namespace()}
        return self._call("create_registered_model", name, tags=tags, description=description)[0]

    # Acquire, verify, release --------------------------------------------------------------------------------
    def acquire(self) -> None:
        deadline = self.monotonic() + self.timeout
        delay = 0.05
        while True:
            token = new_owner_token()
            self._tried.add(token)
            created = self._create(
                self.name, token, f"mlpublish lock for {self.model}: held while aliases move; safe to delete if stale"
            )
            if created == OK:
                self.owner = token
                return
            if created == EXISTS:
                found, tags = self._read(self.name)
                if found == OK:
                    if tags.get("owner") in self._tried:  # an earlier attempt of ours won after all
                        self.owner = tags["owner"]
                        return
                    if self.break_if_stale(tags):
                        continue  # we removed a dead holder's lock: take it now
                    if self.monotonic() > deadline:
                        raise RegistryConflict(
                            f"model {self.model!r} is locked by another publish (registered "
                            f"model {self.name!r}) for more than {self.timeout:.0f}s"
                        )
                    self.sleep(delay + random.random() * delay)
                    delay = min(delay * 2, 1.0)
            # Otherwise nothing proves anyone holds it now: MISSING (MLflow's read after the insert hit the
            # unique name found the lock already released: it changed hands), UNKNOWN (ours may exist: its
            # token is in _tried, which the next attempt recognises), or released after the EXISTS. Again now.

    def verify(self) -> None:
        """Right before a guarded write: raise RegistryConflict if our lock was taken from us.

        That happens only if we held it past its lease (a stalled process) and another publish broke it;
        writing then could undo that publish's work.
        """
        if self.owner is None:
            return
        try:
            found, tags = self._read(self.name)
        except Unreachable as exc:
            raise RegistryError(
                f"cannot confirm the lock on {self.model!r} before writing: {exc}; nothing was changed, retry the step"
            ) from None
        current = tags.get("owner") if found == OK else None
        if current != self.owner:
            raise RegistryConflict(
                f"lost the lock on {self.model!r} (held past its lease; now held by "
                f"{current or 'nobody'}): nothing was changed, retry the step"
            )

    def release(self) -> None:
        """Remove our lock if it is still ours. Never raises: a lock left behind expires with its lease, or is
        broken at once by the retry of this task on this host (its holder is gone)."""
        owner, self.owner, self.token = self.owner, None, None
        if owner is None:
            return
        try:
            self.take_down(owner)
        except RegistryError as exc:
            log.warning("could not release %s: %s; it expires with its lease", self.name, exc)

    # Removal of one incarnation ------------------------------------------------------------------------------
    def break_if_stale(self, tags: dict[str, str]) -> bool:
        """A lock whose lease ran out or whose holder died is taken down by one contender: True if by us."""
        return self._stale(tags) and self.take_down(tags.get("owner", ""))

    def _stale(self, tags: dict[str, str]) -> bool:
        try:
            expired = float(tags.get("expires_at", "inf")) < self.clock()
        except ValueError:
            expired = False  # a lease we cannot read is never broken by time
        return expired or holder_gone(tags)

    def take_down(self, owner: str) -> bool:
        """Remove the lock iff it is the incarnation held by ``owner``; True if this call removed it."""
        claims = self._claim(claim_name(self.name, owner))
        if claims is None:
            return False  # a live claimant is removing it (or a holder releasing it)
        removed = self._delete_incarnation(self.name, owner)
        for claim in reversed(claims):  # the incarnation is gone now, so its claims protect nothing
            self._delete(claim)
        return removed

    def _claim(self, name: str) -> list[str] | None:
        """Own the removal ``name`` stands for: the names we now hold (a dead claimant's claim comes first,
        then ours on it), or None if a live claimant holds it."""
        while True:
            created = self._create(name, self._claimant, f"mlpublish: removing {self.name}")
            if created == OK:
                return [name]
            if created != EXISTS:
                continue  # MISSING: that claim was just finished and deleted; UNKNOWN: ours may exist now
            found, tags = self._read(name)
            if found != OK:
                continue
            if tags.get("owner") == self._claimant:
                return [name]
            if not self._stale(tags):
                return None
            deeper = self._claim(claim_name(name, tags.get("owner", "")))
            return None if deeper is None else [name, *deeper]

    def _delete_incarnation(self, name: str, owner: str) -> bool:
        """Delete ``name`` while it is ``owner``'s incarnation. Only its claimant calls this: nobody else can
        remove that incarnation meanwhile, so the read-then-delete cannot hit a newer one."""
        while True:
            found, tags = self._read(name)
            if found != OK or tags.get("owner") != owner:
                return False
            if self._call("delete_registered_model", name)[0] in (OK, MISSING):
                return True

    def sweep_orphans(self) -> int:
        """Remove claims left by claimants that died after their incarnation was gone (they protect nothing
        and nobody else ever deletes them); returns how many. Each is taken over by the claim rule, so a
        claim whose claimant is alive, or whose incarnation still stands, is left alone. Never raises."""
        swept, prefix = 0, f"{self.name}{CLAIM_INFIX}"
        try:
            outcome, found = self._call("search_registered_models", f"name LIKE '{filter_literal(prefix)}%'")
            orphans = [m.name for m in found or [] if m.name.startswith(prefix)] if outcome == OK else []
            for claim in orphans:
                if claim.count(CLAIM_INFIX) != 1:
                    continue  # a claim on a claim goes with the claim it is on
                claims = self._claim(claim)
                if claims is None:
                    continue  # its claimant is alive
                found_lock, tags = self._read(self.name)
                live = found_lock == OK and claim_name(self.name, tags.get("owner", "")) == claim
                if live and self._stale(tags):
                    self._delete_incarnation(self.name, tags.get("owner", ""))
                for name in reversed(claims):
                    self._delete(name)
                swept += not live
        except RegistryError as exc:
            log.warning("could not sweep orphaned claims of %s: %s", self.name, exc)
        return swept

    def _delete(self, name: str) -> None:
        while self._call("delete_registered_model", name)[0] == UNKNOWN:
            pass


# The locks a Registry holds (model name -> lock), for verify_lock() before its guarded writes.
_HELD: weakref.WeakKeyDictionary[Any, dict[str, RegistryLock]] = weakref.WeakKeyDictionary()


@contextmanager
def lock(registry: HasClient, model: str, *, timeout: float = 120.0, lease: float = 300.0) -> Iterator[None]:
    """Hold the registry-wide lock for ``model`` (see the module docstring)."""
    held = RegistryLock(registry, model, lease=lease, timeout=timeout)
    held.acquire()  # if unreachable, a create that may have won is left to its lease or to holder_gone()
    _HELD.setdefault(registry, {})[model] = held
    held.sweep_orphans()
    try:
        yield
    finally:
        _HELD.get(registry, {}).pop(model, None)
        held.release()


def held_lock(registry: HasClient, model: str) -> RegistryLock | None:
    """The lock ``registry`` holds on ``model`` right now (alias moves under it are fenced), else None."""
    return _HELD.get(registry, {}).get(model)


def verify_lock(registry: HasClient, model: str) -> None:
    """Before a guarded write: raise RegistryConflict if the lock ``registry`` holds on ``model`` was lost."""
    held = _HELD.get(registry, {}).get(model)
    if held is not None:
        held.verify()


def take_down(registry: HasClient, name: str, owner: str) -> bool:
    """Remove the lock registered as ``name`` iff ``owner`` holds it (an operator's or a test's tool)."""
    model = name[len(LOCK_PREFIX) :] if name.startswith(LOCK_PREFIX) else name
    return RegistryLock(registry, model).take_down(owner)


def filter_literal(value: str) -> str:
    """``value`` inside a quoted MLflow filter literal."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def pid_namespace() -> str:
    """This process's PID namespace: process ids only mean the same process within one namespace."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def holder_gone(tags: dict[str, str]) -> bool:
    """The lock's holder ran on this host, in this PID namespace, and its process no longer exists.

    Without this, the retry of a task killed while holding the lock (OOM kill,
    worker restart, an MLflow server crash mid-step) waits out the whole lease,
    longer than the lock timeout, and fails. Holders elsewhere keep their lease.
    """
    host, _, rest = tags.get("owner", "").partition(":")
    pid = rest.partition(":")[0]
    ns = tags.get("pidns", "")
    if host != socket.gethostname() or not ns or ns != pid_namespace() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by another user
        return False
    return False

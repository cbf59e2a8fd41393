"""The registry lock protocol under every interleaving that matters, against MLflow's own registry store.

Every registry call of the protocol (and the point inside MLflow's create between its failed insert and
its read) is a point where a contender can be paused; see tests/support/lock_interleavings.py. Each scenario
asserts, for every schedule explored: never two holders, a live holder is never taken down (its checks
pass and its release removes its own lock), a dead holder is taken down, no contender errors out, and
nothing is left in the registry.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from mlflow import MlflowClient

from mlpublish.errors import RegistryConflict
from mlpublish.registry.contract import CHAMPION
from mlpublish.registry.fence import fenced_alias_move
from mlpublish.registry.lock import RegistryLock, claim_name, lock_name, pid_namespace
from tests.support.lock_interleavings import (
    Execution,
    FakeTime,
    FaultyClient,
    Registry,
    contender,
    explore,
    fresh_model,
    leftovers,
    pausing_store,
)
from tests.support.tally import TALLY as RELIABILITY

SUITE = "lock interleavings"
CURRENT: dict[str, Execution | None] = {"run": None}


@pytest.fixture(scope="module")
def registry():
    """MLflow's SqlAlchemyStore on a fresh PostgreSQL database, in this process (where the window is real:
    PostgreSQL lets a delete commit between another transaction's failed insert and its next read)."""
    from tests.support.mlflow_server import postgres_database

    with postgres_database("lock_interleavings") as url:
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        pausing_store(client, lambda: CURRENT["run"])
        yield Registry(client, url)
        client._get_registry_client().store.engine.dispose()


class Tally:
    def __init__(self) -> None:
        self.schedules = self.double_holders = self.spurious_errors = self.windows = 0


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    RELIABILITY.add(
        SUITE,
        schedules_explored=TALLY.schedules,
        double_holders=TALLY.double_holders,
        spurious_errors=TALLY.spurious_errors,
        creates_answered_does_not_exist=TALLY.windows,
    )


def scenario(registry: Registry, n: int | list, *, setup=None, symmetric: bool = True, faults: int = 0, **kwargs):
    """``n`` identical contenders (or the given list of contender makers) for one fresh model;
    ``setup(client, model, clock)`` prepares the registry first; ``faults``: calls that may fail."""
    client = FaultyClient(registry.client, lambda: CURRENT["run"], budget=faults) if faults else registry.client
    seen = Registry(client, registry.tracking_uri)

    def one(prefix: list[int], preemptions: int | None) -> Execution:
        model, clock = fresh_model(), FakeTime(time.time())
        if setup is not None:
            setup(registry.client, model, clock)
        run = Execution(prefix, preemptions, symmetric=symmetric)
        CURRENT["run"] = run
        makers = [contender] * n if isinstance(n, int) else n
        try:
            run.run([make(seen, model, clock, **kwargs) for make in makers])
        finally:
            CURRENT["run"] = None
        run.left = leftovers(registry.client, model)
        run.model = model
        return run

    return one


def check(runs: list[Execution], *, n: int, own_release: bool = True, expect=None) -> None:
    """The protocol's promises, for every schedule; counted into the reliability summary."""
    TALLY.schedules += len(runs)
    print(f"{len(runs)} schedules, {sum(len(run.steps) for run in runs)} steps")
    for run in runs:
        TALLY.double_holders += run.double_holders
        TALLY.windows += run.window_misses
        spurious = dict(run.errors)
        spurious.update(
            {
                cid: out
                for cid, out in run.outcomes.items()
                if out.get("timed_out") or out.get("lost") or (own_release and not out.get("released_own"))
            }
        )
        TALLY.spurious_errors += len(spurious)
        where = f"schedule {run.prefix} steps {run.steps}"
        assert run.double_holders == 0, where
        assert not spurious, f"{spurious} in {where}"
        assert len(run.outcomes) == n and all(out["held"] for out in run.outcomes.values()), where
        assert run.left == [], f"{run.left} left in {where}"


def preemptions(default: int) -> int | None:
    """MLPUBLISH_LOCK_SCHEDULES=all explores every schedule (minutes), else at most ``default`` preemptions."""
    return None if os.environ.get("MLPUBLISH_LOCK_SCHEDULES") == "all" else default


def dead_lock(client, model, clock, owner=None):
    """A lock whose holder is gone: lease over (another host), or its process gone on this host."""
    tags = {"owner": owner or f"dead-host:1:{uuid.uuid4().hex}", "expires_at": str(clock.now - 1)}
    if owner:
        tags.update(expires_at=str(clock.now + 300), pidns=pid_namespace())
    client.create_registered_model(lock_name(model), tags=tags)
    return tags["owner"]


@pytest.fixture(scope="module")
def reaped_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_two_contenders(registry):
    runs = explore(scenario(registry, 2), preemptions(2))
    check(runs, n=2)
    assert sum(run.window_misses for run in runs), "no schedule made a create answer RESOURCE_DOES_NOT_EXIST"


def test_two_contenders_and_a_holder_whose_lease_ran_out(registry):
    check(explore(scenario(registry, 2, setup=dead_lock), preemptions(2)), n=2)


def test_three_contenders(registry):
    check(explore(scenario(registry, 3), preemptions(1)), n=3)


def test_three_contenders_and_a_holder_killed_on_this_host(registry, reaped_pid):
    def setup(client, model, clock):
        dead_lock(client, model, clock, owner=f"{socket.gethostname()}:{reaped_pid}:{uuid.uuid4().hex}")

    check(explore(scenario(registry, 3, setup=setup), preemptions(1)), n=3)


def test_a_claimant_that_died_while_removing_a_dead_holder(registry):
    """A contender died after claiming the dead holder's lock: its claim is taken over, the lock removed."""

    def setup(client, model, clock):
        holder = dead_lock(client, model, clock)
        client.create_registered_model(
            claim_name(lock_name(model), holder),
            tags={"owner": f"dead-host:2:{uuid.uuid4().hex}", "expires_at": str(clock.now - 1)},
        )

    check(explore(scenario(registry, 2, setup=setup), preemptions(1)), n=2)


def test_a_transport_error_before_or_after_any_call(registry):
    """One call of the schedule fails with a transport error, before reaching the registry or after it
    happened (its answer lost): every such outcome is re-read and retried, nobody errors out."""
    runs = explore(scenario(registry, 2, faults=1), preemptions(0))
    check(runs, n=2, own_release=False)
    assert sum(run.faults for run in runs) >= 2 * 12, "the faults reached too few calls"


def test_a_holder_paused_past_its_lease(registry):
    """H takes the lock with a 10 s lease and stalls for a minute; B breaks the expired lock and holds it.
    H, resumed, must not pass its check while B holds the lock, and its release must leave B's lock alone."""
    passed_while_b_held = []

    def holder(registry_, model, clock, **_):
        def stall(run, lock):
            clock.now += 60
            run.park("stalled past its lease")
            lock.verify()  # RegistryConflict if B broke the lock meanwhile
            if run.in_section - {run.local.cid}:
                passed_while_b_held.append(run.steps[-1])

        return contender(registry_, model, clock, lease=10, verifies=0, section=stall)

    runs = explore(scenario(registry, [holder, contender], symmetric=False), preemptions(2))
    TALLY.schedules += len(runs)
    print(f"{len(runs)} schedules, {sum(len(run.steps) for run in runs)} steps")
    for run in runs:
        h, b = run.outcomes.get(0), run.outcomes.get(1)
        where = f"schedule {run.prefix} steps {run.steps}"
        assert not run.errors, f"{run.errors} in {where}"
        assert b["held"] and not b["lost"] and b["released_own"], where
        assert h["held"] and run.left == [], where
    assert not passed_while_b_held
    assert any(run.outcomes[0]["lost"] for run in runs), "B never broke the stalled holder's lock"


def test_a_frozen_holder_that_wakes_after_its_lease_cannot_move_the_alias(registry):
    """H holds the lock (10 s lease) and moves ``champion`` to v1, fenced. H freezes for a minute before one of
    the registry calls of that move (each call in turn, including the alias write itself); meanwhile B breaks
    the expired lock and moves ``champion`` to v2. H, woken, must not leave its move standing: it is refused
    before it writes, or undone right after (a newer fencing token exists); B's move stands every time.
    One run per freeze point, B running whole while H sleeps: the schedules that matter for the fence."""

    def models(clock):
        model = fresh_model()
        registry.client.create_registered_model(model)
        for _ in range(2):
            registry.client.create_model_version(model, "mlpublish:/model")
        return model

    def h_moves(model, clock, before_call):
        h = RegistryLock(registry, model, lease=10, clock=clock.time, monotonic=clock.monotonic)
        h.acquire()
        h.before_call = before_call
        try:
            fenced_alias_move(h, CHAMPION, "1")
        finally:
            h.before_call = None
            h.release()

    clock = FakeTime(time.time())
    calls: list[str] = []
    h_moves(models(clock), clock, lambda call, name: calls.append(f"{call} {name}"))  # undisturbed: H's calls
    assert len(calls) >= 8, calls
    post_check = max(i for i, call in enumerate(calls) if call.startswith("search_model_versions"))
    for freeze_at in range(len(calls)):
        model, clock, seen = models(clock), FakeTime(time.time()), []

        def b_takes_over(call: str, name: str, model=model, clock=clock, seen=seen, freeze_at=freeze_at) -> None:
            if len(seen) == freeze_at:
                clock.now += 60  # H sleeps past its lease; B comes, breaks H's lock, moves, leaves
                b = RegistryLock(registry, model, clock=clock.time, monotonic=clock.monotonic, sleep=lambda _: None)
                b.acquire()
                fenced_alias_move(b, CHAMPION, "2")
                b.release()
            seen.append(f"{call} {name}")

        where = f"H frozen before {calls[freeze_at]!r} (call {freeze_at})"
        if freeze_at <= post_check:
            with pytest.raises(RegistryConflict, match="lock"):
                h_moves(model, clock, b_takes_over)
        else:  # H's move was checked and stood before it froze: B's came after it
            h_moves(model, clock, b_takes_over)
        assert str(registry.client.get_registered_model(model).aliases.get(CHAMPION)) == "2", where
        assert leftovers(registry.client, model) == [], where
    TALLY.schedules += len(calls)


def test_orphaned_claims_are_swept(registry):
    """Claims whose claimant died after their incarnation was gone are removed by the next holder; a live
    claimant's claim stays; a dead claimant's claim on a dead holder's lock goes with that lock."""
    model, clock = fresh_model(), FakeTime(time.time())
    client = registry.client
    dead = {"owner": f"dead-host:3:{uuid.uuid4().hex}", "expires_at": str(clock.now - 1)}
    orphan = claim_name(lock_name(model), f"dead-host:1:{uuid.uuid4().hex}")
    client.create_registered_model(orphan, tags=dead)
    client.create_registered_model(claim_name(orphan, dead["owner"]), tags=dead)  # its claimant died too
    live = claim_name(lock_name(model), f"dead-host:2:{uuid.uuid4().hex}")
    client.create_registered_model(live, tags={"owner": f"live-host:4:{uuid.uuid4().hex}", "expires_at": "inf"})
    holder = RegistryLock(registry, model, clock=clock.time, monotonic=clock.monotonic)
    holder.acquire()
    assert holder.sweep_orphans() == 1
    holder.release()
    assert leftovers(client, model) == [live]
    client.delete_registered_model(live)

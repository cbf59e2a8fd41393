"""Systematic exploration of the registry lock protocol against a real MLflow registry store.

Each contender is a thread running :class:`mlpublish.registry.lock.RegistryLock`; before every registry
call it parks and the explorer decides who makes the next call, so every call is a point where a
contender can be paused. One more point sits *inside* MLflow's ``create_registered_model``: between the
insert that hit the unique name and MLflow's own ``get_registered_model`` that builds the "already exists"
error (the window of issue 16). The store is MLflow's own SqlAlchemyStore on PostgreSQL, in-process, so
every outcome is MLflow's.

Stateless model checking: the scenario is re-run once per schedule and the schedules are enumerated
depth first (all of them, or those with at most ``preemptions`` switches away from a contender that
could have gone on). A contender that sleeps (waiting for a live holder) may only run again after another
contender wrote something, or when nobody else can run: retrying against an unchanged registry under a
frozen clock repeats itself, so those schedules add nothing.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlpublish.errors import RegistryConflict
from mlpublish.registry.lock import RegistryLock, lock_name

WINDOW = "create_registered_model: read after the insert hit the unique name"


class Stuck(AssertionError):
    pass


class FakeTime:
    """One clock for every contender: frozen unless a contender sleeps or a scenario moves it."""

    def __init__(self, start: float):
        self.now = start

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@dataclass
class Execution:
    """One run of a scenario under one schedule, and what every contender saw."""

    prefix: list[int]
    preemptions_allowed: int | None
    symmetric: bool = True
    trace: list[tuple[int, int]] = field(default_factory=list)  # (choice, options) at each point
    steps: list[str] = field(default_factory=list)
    errors: dict[int, BaseException] = field(default_factory=dict)
    outcomes: dict[int, Any] = field(default_factory=dict)
    in_section: set[int] = field(default_factory=set)
    double_holders: int = 0

    def __post_init__(self) -> None:
        self.cv = threading.Condition()
        self.parked: dict[int, str] = {}
        self.running: int | None = None
        self.done: set[int] = set()
        self.writes = 0
        self.slept_at: dict[int, int] = {}  # contender -> write count when it went to sleep
        self.last: int | None = None
        self.preempted = 0
        self.local = threading.local()
        self.faults = 0
        self.window_misses = 0
        self.sleep_order: list[int] = []

    # called from contender threads -------------------------------------------------------------------
    def park(self, label: str) -> None:
        cid = self.local.cid
        with self.cv:
            self.parked[cid] = label
            self.running = None
            self.cv.notify_all()
            if not self.cv.wait_for(lambda: self.running == cid, timeout=60):
                raise Stuck(f"contender {cid} never scheduled again at {label}")

    def enter(self, cid: int) -> None:
        """A contender's acquire returned: it is in the critical section."""
        if self.in_section:
            self.double_holders += 1
        self.in_section.add(cid)

    def leave(self, cid: int) -> None:
        self.in_section.discard(cid)

    # the explorer (main thread) ------------------------------------------------------------------------
    def run(self, contenders: list[Callable[[Execution], Any]]) -> None:
        threads = [
            threading.Thread(target=self._contender, args=(i, fn), daemon=True) for i, fn in enumerate(contenders)
        ]
        for t in threads:
            t.start()
        n = len(contenders)
        while True:
            with self.cv:
                if not self.cv.wait_for(
                    lambda: self.running is None and len(self.parked) + len(self.done) == n, timeout=60
                ):
                    raise Stuck(f"a contender never parked: {self.steps[-5:]}")
                if len(self.done) == n:
                    break
                chosen = self._choose()
                label = self.parked.pop(chosen)
                if label == "sleep":
                    self.slept_at.pop(chosen, None)
                    self.sleep_order.remove(chosen)
                self.steps.append(f"{chosen}:{label}")
                self.running = chosen
                self.cv.notify_all()
        for t in threads:
            t.join(timeout=60)

    def _choose(self) -> int:
        for c, label in self.parked.items():
            if label == "sleep" and c not in self.slept_at:
                self.slept_at[c] = self.writes
                self.sleep_order.append(c)
        awake = [c for c, label in sorted(self.parked.items()) if label != "sleep" or self.writes > self.slept_at[c]]
        if not awake:  # everybody waits, the registry unchanged: time passes, the longest sleeper retries
            awake = [next(c for c in self.sleep_order if c in self.slept_at)]
        if self.symmetric:  # identical contenders that have not started yet are interchangeable
            unstarted = [c for c in awake if self.parked[c] == "start"]
            awake = [c for c in awake if c not in unstarted[1:]]
        options = awake
        if self.last in awake:
            options = [self.last] + [c for c in awake if c != self.last]
            budget_spent = self.preemptions_allowed is not None and self.preempted >= self.preemptions_allowed
            if budget_spent and self.parked[self.last] != "sleep":
                options = [self.last]
        pick = self.decide(len(options))
        chosen = options[pick]
        if pick and self.last in awake and self.parked[self.last] != "sleep":
            self.preempted += 1
        self.last = chosen
        return chosen

    def decide(self, options: int) -> int:
        """The next choice of the schedule: replayed from the prefix, then the first option."""
        depth = len(self.trace)
        pick = self.prefix[depth] if depth < len(self.prefix) else 0
        self.trace.append((pick, options))
        return pick

    def _contender(self, cid: int, fn: Callable[[Execution], Any]) -> None:
        self.local.cid = cid
        try:
            self.park("start")
            self.outcomes[cid] = fn(self)
        except BaseException as exc:  # noqa: BLE001 (reported by the test, with the schedule)
            self.errors[cid] = exc
        finally:
            with self.cv:
                self.done.add(cid)
                self.parked.pop(cid, None)
                self.running = None
                self.cv.notify_all()


def explore(
    scenario: Callable[[list[int], int | None], Execution], preemptions: int | None = None, limit: int = 100_000
) -> list[Execution]:
    """Every schedule of ``scenario`` (depth first), each checked by the caller; returns the executions."""
    done: list[Execution] = []
    prefix: list[int] = []
    while len(done) < limit:
        run = scenario(prefix, preemptions)
        done.append(run)
        trace = list(run.trace)
        while trace and trace[-1][0] + 1 >= trace[-1][1]:
            trace.pop()
        if not trace:
            return done
        prefix = [pick for pick, _ in trace[:-1]] + [trace[-1][0] + 1]
    raise AssertionError(f"more than {limit} schedules: bound the search")


class Registry:
    """What RegistryLock needs of mlpublish's Registry: the MLflow client, and where it points."""

    def __init__(self, client: Any, tracking_uri: str):
        self.client = client
        self.tracking_uri = tracking_uri


def pausing_store(client: Any, run_of: Callable[[], Execution | None]) -> None:
    """Add the point inside MLflow's create_registered_model, between its failed insert and its read; count
    the writes that changed the registry (they wake sleeping contenders)."""
    store = client._get_registry_client().store
    create, get, delete = store.create_registered_model, store.get_registered_model, store.delete_registered_model
    inside = threading.local()

    def wrote() -> None:
        run = run_of()
        if run is not None:
            run.writes += 1

    def create_with_window(*args: Any, **kwargs: Any) -> Any:
        inside.creating = True
        try:
            created = create(*args, **kwargs)
        finally:
            inside.creating = False
        wrote()
        return created

    def delete_counted(name: str) -> None:
        delete(name)
        wrote()

    def get_after_insert(name: str) -> Any:
        run = run_of()
        if not getattr(inside, "creating", False) or run is None:
            return get(name)
        run.park(WINDOW)
        try:
            return get(name)
        except Exception:
            run.window_misses += 1  # issue 16: the create answers RESOURCE_DOES_NOT_EXIST
            raise

    store.create_registered_model = create_with_window
    store.get_registered_model = get_after_insert
    store.delete_registered_model = delete_counted


class FaultyClient:
    """The MLflow client, where the schedule may make one call fail with a transport error: before it
    reaches the store (nothing happened) or after (it happened, the answer was lost)."""

    def __init__(self, client: Any, run_of: Callable[[], Execution | None], budget: int = 1):
        self.client, self.run_of, self.budget = client, run_of, budget

    def __getattr__(self, call: str) -> Any:
        real = getattr(self.client, call)

        def maybe_failing(*args: Any, **kwargs: Any) -> Any:
            run = self.run_of()
            fault = run.decide(3) if run is not None and run.faults < self.budget else 0
            if fault:
                run.faults += 1
                run.steps.append(f"{run.local.cid}:fault {'after' if fault == 2 else 'before'} {call}")
            if fault == 1:
                raise ConnectionError(f"injected: {call} never reached the registry")
            value = real(*args, **kwargs)
            if fault == 2:
                raise ConnectionError(f"injected: {call} happened, its answer was lost")
            return value

        return maybe_failing


def contender(
    registry: Registry,
    model: str,
    clock: FakeTime,
    *,
    lease: float = 300.0,
    timeout: float = 120.0,
    verifies: int = 1,
    section: Callable[[Execution, RegistryLock], None] | None = None,
) -> Callable[[Execution], Any]:
    """acquire, ``verifies`` guarded-write checks, release; the section marks who holds the lock."""

    def body(run: Execution) -> dict[str, Any]:
        cid = run.local.cid
        lock = RegistryLock(
            registry,
            model,
            lease=lease,
            timeout=timeout,
            clock=clock.time,
            monotonic=clock.monotonic,
            before_call=lambda call, name: run.park(f"{call} {name}"),
            sleep=lambda seconds: _sleep(run, clock, seconds),
        )
        try:
            lock.acquire()
        except RegistryConflict as exc:
            return {"timed_out": str(exc)}
        run.enter(cid)
        token = lock.owner
        lost = None
        try:
            for _ in range(verifies):
                lock.verify()
            if section is not None:
                section(run, lock)
        except RegistryConflict as exc:
            lost = str(exc)
        finally:
            run.leave(cid)
            removed = lock.take_down(token) if token else False
            lock.owner = None
        return {"held": token, "lost": lost, "released_own": removed}

    return body


def _sleep(run: Execution, clock: FakeTime, seconds: float) -> None:
    """Every wait takes one second of the shared clock: the protocol's jitter must not change the schedule."""
    run.park("sleep")
    clock.now += 1.0


def fresh_model() -> str:
    return f"il_{uuid.uuid4().hex[:10]}"


def leftovers(client: Any, model: str) -> list[str]:
    return sorted(m.name for m in client.search_registered_models(f"name LIKE '{lock_name(model)}%'"))

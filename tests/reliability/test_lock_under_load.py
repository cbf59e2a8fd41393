"""The registry lock for real, on a saturated machine: a real ``mlflow server`` (PostgreSQL backend), every
core kept busy by other processes, and contenders in separate processes, as orchestrator tasks are.

In one go, while busy loops occupy every core:

* eight-chain rounds: 8 processes take the lock of the same model twice each (register, then promote),
  for ROUNDS models one after the other;
* twenty-model rounds: 5 processes take the locks of 4 models each, ROUNDS times;
* a holder paused past its lease: a process takes a lock with a 3 s lease and is SIGSTOPped; a contender
  breaks the expired lock and finishes; the holder, resumed, is refused its guarded write.

Every section is a guarded read-modify-write of a counter tag (a lost update would mean two holders), and
its holding interval is logged: intervals of one model never overlap, counters are exact, no contender
errors out, nothing is left in the registry.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from itertools import combinations
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT
from tests.support.lock_worker import COUNTER
from tests.support.services import registry_rows, shared_server, wait_for

pytestmark = pytest.mark.integration
SUITE = "lock under load"
ROUNDS = 5


@pytest.fixture
def server(request, tmp_path_factory):
    return shared_server(request.config, tmp_path_factory.getbasetemp() / "reliability-mlflow")


@pytest.fixture
def busy_cores():
    """One busy loop per core (plus one), at normal priority, for the whole test."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range((os.cpu_count() or 2) + 1)]
    yield len(loops)
    for proc in loops:
        proc.kill()
        proc.wait()


def worker(url: str, root: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_TRACKING_URI": url}
    env.pop("MLFLOW_REGISTRY_URI", None)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.lock_worker", url, str(root), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def overlaps(sections: list[dict]) -> int:
    by_model: dict[str, list[dict]] = {}
    for s in sections:
        by_model.setdefault(s["model"], []).append(s)
    return sum(
        a["acquired"] < b["released"] and b["acquired"] < a["released"]
        for held in by_model.values()
        for a, b in combinations(held, 2)
    )


def test_lock_rounds_on_a_saturated_machine(server, busy_cores, tmp_path, reliability_tally):
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)  # never a store an earlier test left
    tag = uuid.uuid4().hex[:6]
    shared = [f"load8_{tag}_{r}" for r in range(ROUNDS)]
    separate = [f"load20_{tag}_{i}" for i in range(20)]
    paused = f"loadstall_{tag}"
    for name in [*shared, *separate, paused]:
        client.create_registered_model(name)

    # the holder that will stall: it holds the lock before anyone else starts
    stall_dir = tmp_path / "stall"
    stall_dir.mkdir()
    holder = worker(server.url, stall_dir, "stall", paused, "3")
    wait_for("the stalling holder to take its lock", lambda: (stall_dir / "held").exists() or holder.poll() is not None)
    assert holder.poll() is None, holder.stderr.read()[-3000:]
    holder.send_signal(signal.SIGSTOP)
    stopped_at = time.time()

    jobs = [("8", ["2", *shared]) for _ in range(8)]
    jobs += [("20", [str(ROUNDS), *separate[i::5]]) for i in range(5)]
    jobs += [("stall-breaker", ["1", paused])]
    procs = [worker(server.url, tmp_path, f"w{i}", *args) for i, (_, args) in enumerate(jobs)]
    wait_for(
        "every worker to import",
        lambda: all((tmp_path / f"ready-w{i}").exists() or p.poll() is not None for i, p in enumerate(procs)),
        timeout=480,
    )
    time.sleep(max(0.0, stopped_at + 3.5 - time.time()))  # the stalled holder's lease has run out
    began = time.time()
    (tmp_path / "go").touch()

    sections, errors = [], []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        for line in out.splitlines():
            record = json.loads(line)
            (errors if "error" in record else sections).append(record)
    took = time.time() - began

    holder.send_signal(signal.SIGCONT)
    (stall_dir / "resume").touch()
    out, err = holder.communicate(timeout=120)
    assert holder.returncode == 0, err[-3000:]
    stalled = json.loads(out.splitlines()[-1])

    double = overlaps(sections)
    assert errors == [], errors
    assert double == 0
    assert "lost the lock" in stalled.get("lost", ""), stalled
    counts = {name: int(client.get_registered_model(name).tags.get(COUNTER, "0")) for name in [*shared, *separate]}
    assert counts == {**{n: 16 for n in shared}, **{n: ROUNDS for n in separate}}
    assert client.get_registered_model(paused).tags.get(COUNTER) == "1", "only the breaker wrote"
    db = server.db()
    assert all(registry_rows(db, name)["locks"] == [] for name in [*shared, *separate, paused])
    print(
        f"lock under load: {len(sections)} sections in {took:.1f}s by {len(procs)} processes, "
        f"{busy_cores} busy loops, double holders {double}"
    )
    reliability_tally.add(
        SUITE,
        rounds=2 * ROUNDS,
        contenders=len(procs) + 1,
        sections=len(sections),
        double_holders=double,
        spurious_errors=len(errors),
        stalled_holders_refused=1,
    )

"""The fleet soak's machinery (tests/reliability/test_fleet_soak.py): many small specs, chains as processes run
N at a time by a seeded scheduler that SIGKILLs some of them mid-step, and the bookkeeping of every chain.

Each chain is ``python -m tests.support.chain_worker 0 SPEC`` in a process group of its own (a kill takes the
whole chain, children included), exactly as a worker of a deployment would run the whole chain.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, churn_dict, write_spec

GATES = {"gates": [{"metric": "roc_auc", "min": 0.5}, {"metric": "roc_auc", "maxDropVsChampion": 0.02}]}


def tiny_spec(path: Path, name: str, seed: int) -> Path:
    """A spec that fits in about a second: a few shallow trees (``max_depth`` its one candidate); ``seed`` makes
    each run a different candidate."""
    hyper = [
        {"name": "n_estimators", "value": 4},
        {"name": "min_samples_leaf", "value": 5},
        {"name": "random_state", "value": seed},
        {"name": "n_jobs", "value": 1},
    ]
    spec = churn_dict(name=name, schedule=None, validation=GATES, mlHyperParameters=hyper)
    spec["training"]["candidates"] = {"max_depth": [4]}
    return write_spec(path, spec)


def break_spec(path: Path) -> None:
    """Turn a spec invalid (an unknown field): its next runs must fail with a SpecError naming the field."""
    text = path.read_text()
    path.write_text(text.replace("target: churned", "target: churned\ntargett: churned", 1))


@dataclass
class Chain:
    spec: Path
    proc: subprocess.Popen
    log: Path
    started: float
    kill_at: float | None = None  # monotonic time of the planned SIGKILL, if any
    killed: bool = False
    invalid: bool = False  # started after its spec was turned invalid
    result: dict[str, Any] | None = None
    returncode: int | None = None
    stderr_tail: str = ""


@dataclass
class Fleet:
    """Runs chains ``parallel`` at a time over ``specs``; never two chains of one spec at once."""

    specs: list[Path]
    env: dict[str, str]
    root: Path
    rng: random.Random
    parallel: int = 4
    kill_probability: float = 0.2
    running: list[Chain] = field(default_factory=list)
    done: list[Chain] = field(default_factory=list)
    runs: dict[Path, int] = field(default_factory=dict)
    invalid: set[Path] = field(default_factory=set)

    def start(self, spec: Path, *, may_kill: bool) -> Chain:
        n = self.runs.get(spec, 0) + 1
        self.runs[spec] = n
        invalid = spec in self.invalid
        if not invalid:  # a new random_state per run: each run is a new candidate for the champion
            tiny_spec(spec, spec.stem, seed=n)
        log = self.root / "chains" / f"{spec.stem}-{n}.err"
        log.parent.mkdir(exist_ok=True)
        with log.open("w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.support.chain_worker", "0", str(spec)],
                cwd=self.root,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,
            )
        kill_at = None
        if may_kill and not invalid and self.rng.random() < self.kill_probability:
            kill_at = time.monotonic() + self.rng.uniform(1.0, 20.0)  # somewhere in import, train ... promote
        chain = Chain(spec, proc, log, time.monotonic(), kill_at=kill_at, invalid=invalid)
        self.running.append(chain)
        return chain

    def poll(self) -> None:
        for chain in list(self.running):
            if chain.kill_at is not None and time.monotonic() >= chain.kill_at and chain.proc.poll() is None:
                os.killpg(chain.proc.pid, signal.SIGKILL)
                chain.killed = True
            if chain.proc.poll() is None:
                continue
            out = chain.proc.stdout.read() if chain.proc.stdout else ""
            chain.returncode = chain.proc.returncode
            lines = [line for line in out.splitlines() if line.startswith("{")]
            chain.result = json.loads(lines[-1]) if lines and chain.returncode == 0 else None
            chain.stderr_tail = chain.log.read_text(errors="replace")[-3000:]
            self.running.remove(chain)
            self.done.append(chain)

    def idle(self) -> list[Path]:
        """Specs with no chain running, fewest runs first (ties in the seeded random order)."""
        busy = {c.spec for c in self.running}
        free = [s for s in self.specs if s not in busy]
        self.rng.shuffle(free)
        return sorted(free, key=lambda s: self.runs.get(s, 0))

    def fill(self, *, may_kill: bool, only: set[Path] | None = None) -> None:
        for spec in self.idle():
            if len(self.running) >= self.parallel:
                return
            if only is None or spec in only:
                self.start(spec, may_kill=may_kill)

    def wait_all(self) -> None:
        while self.running:
            self.poll()
            time.sleep(0.2)

    def last(self, spec: Path) -> Chain | None:
        mine = [c for c in self.done if c.spec == spec]
        return mine[-1] if mine else None

    def finished(self, chain: Chain | None) -> bool:
        return chain is not None and chain.result is not None and not chain.killed

    def stop_all(self) -> None:
        for chain in self.running:
            try:
                os.killpg(chain.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            chain.proc.wait()


def chain_env(mlflow_url: str, catalog_url: str, warehouse: str, host_port: str, token: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OPENMETADATA_", "MLPUBLISH_"))}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "MLFLOW_TRACKING_URI": mlflow_url,
        "WAREHOUSE_URL": warehouse,
        "MLPUBLISH_CATALOG": catalog_url,
        "OPENMETADATA_HOST_PORT": host_port,
        "OPENMETADATA_JWT_TOKEN": token,
        "MLFLOW_LOGGING_LEVEL": "WARNING",
    }


def relay(env: dict[str, str], cwd: Path, log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "mlpublish"), "catalog", "relay", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        start_new_session=True,
    )

"""The reliability tally: what each suite proved, counted for the summary lines (see tests/reliability/conftest.py).

A pytest plugin too (tests/conftest.py lists it): under pytest-xdist each worker counts in its own process and
hands its counts to the controller when it finishes (``workeroutput``), which prints the whole run's lines.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import pytest


class Tally:
    def __init__(self) -> None:
        self.suites: dict[str, Counter[str]] = defaultdict(Counter)

    def add(self, suite: str, **counts: int) -> None:
        self.suites[suite].update({k: 0 for k in counts})  # a zero count is still reported
        for key, value in counts.items():
            self.suites[suite][key] += value

    def lines(self) -> list[str]:
        return [
            f"reliability {suite}: " + " ".join(f"{k}={v}" for k, v in counts.items())
            for suite, counts in sorted(self.suites.items())
        ]

    def to_json(self) -> str:
        return json.dumps({suite: dict(counts) for suite, counts in self.suites.items()})

    def merge(self, text: str) -> None:
        for suite, counts in json.loads(text).items():
            self.add(suite, **counts)


TALLY = Tally()
WORKER_KEY = "mlpublish_reliability_tally"


def pytest_sessionfinish(session: Any) -> None:
    output = getattr(session.config, "workeroutput", None)  # an xdist worker: its counts go to the controller
    if output is not None:
        output[WORKER_KEY] = TALLY.to_json()


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: absent without it
def pytest_testnodedown(node: Any, error: Any) -> None:  # noqa: ARG001 (xdist hook signature)
    counts = getattr(node, "workeroutput", {}).get(WORKER_KEY)
    if counts:
        TALLY.merge(counts)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: Any, config: Any) -> None:  # noqa: ARG001
    if getattr(config, "workerinput", None) is not None:
        return  # a worker: the controller prints the whole run's lines
    lines = TALLY.lines()
    if lines:
        terminalreporter.section("reliability summary")
        for line in lines:
            terminalreporter.write_line(line)

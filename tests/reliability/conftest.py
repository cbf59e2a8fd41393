"""Reliability suites (faults, concurrency, bad input, secrets): shared tally and summary lines.

Each suite counts what it proved with ``reliability_tally.add(suite, **counts)`` (for example
``faults_survived=1, events_lost=0``); at the end of the session pytest prints one line per suite:

    reliability faults: faults_survived=3 events_lost=0

The lines are printed whatever the outcome, so a failed run still says how far it got. Tests assert
their own invariants (events lost must be 0): the tally only reports them.
"""

from __future__ import annotations

from collections import Counter, defaultdict

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


_TALLY = Tally()


@pytest.fixture(scope="session")
def reliability_tally() -> Tally:
    return _TALLY


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001 (pytest hook signature)
    lines = _TALLY.lines()
    if lines:
        terminalreporter.section("reliability summary")
        for line in lines:
            terminalreporter.write_line(line)

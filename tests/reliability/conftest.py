"""Reliability suites (faults, concurrency, bad input, secrets): shared tally and summary lines.

Each suite counts what it proved with ``reliability_tally.add(suite, **counts)`` (for example
``faults_survived=1, events_lost=0``); at the end of the session pytest prints one line per suite:

    reliability faults: faults_survived=3 events_lost=0

The lines are printed whatever the outcome, so a failed run still says how far it got. Tests assert
their own invariants (events lost must be 0): the tally only reports them. Suites outside this folder
(the lock's interleavings in tests/unit) add to the same tally through tests/reliability/tally.py.
"""

from __future__ import annotations

import pytest

from .tally import TALLY


@pytest.fixture(scope="session")
def reliability_tally():
    return TALLY


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001 (pytest hook signature)
    lines = TALLY.lines()
    if lines:
        terminalreporter.section("reliability summary")
        for line in lines:
            terminalreporter.write_line(line)

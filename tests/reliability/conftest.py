"""Reliability suites (faults, concurrency, bad input, secrets): shared tally and summary lines.

Each suite counts what it proved with ``reliability_tally.add(suite, **counts)`` (for example
``faults_survived=1, events_lost=0``); at the end of the session pytest prints one line per suite:

    reliability faults: faults_survived=3 events_lost=0

tests/support/tally.py prints them (a plugin, so that the counts of pytest-xdist's workers are added up). The lines
are printed whatever the outcome, so a failed run still says how far it got. Tests assert
their own invariants (events lost must be 0): the tally only reports them. Suites outside this folder
(the lock's interleavings in tests/unit) add to the same tally through tests/support/tally.py.
"""

from __future__ import annotations

import pytest

from tests.support.tally import TALLY


@pytest.fixture(scope="session")
def reliability_tally():
    return TALLY

"""The reliability tally: what each suite proved, counted for the summary lines (see conftest.py)."""

from __future__ import annotations

from collections import Counter, defaultdict


class Tally:
    def __init__(self) -> None:
        self.suites: dict[str, Counter[str]] = defaultdict(Counter)

    def add(self, suite: str, **counts: int) -> None:
        self.suites[suite].update({k: 0 for k in counts})  # a zero count is still reported
        for key, value in counts.items():
            self.suites[suite][key] += value

    def lines(self) -> list[str]:
        return [f"reliability {suite}: " + " ".join(f"{k}={v}" for k, v in counts.items())
                for suite, counts in sorted(self.suites.items())]


TALLY = Tally()

"""The champion's contract enforced on a run's chunks: ``scoring.onContractViolation`` fail | warn | quarantine.

:class:`ContractGuard` checks each chunk (:func:`mlpublish.contracts.check.check_chunk`), decides what happens
to its rows, and tallies the run's violations (chunks are checked in several threads: the tally is locked):

* **fail**: any violation stops the run (:class:`ContractViolated`, naming column, rule, observed value and
  count); the scoring transaction rolls back, nothing is written.
* **warn**: every row is scored, the violations are counted and logged. A value that cannot be read as its
  column's type cannot be scored at all: such rows fail the run, as they did before contracts.
* **quarantine**: rows that broke a row-level rule are held back (returned apart, with the rules each broke)
  and the rest is scored. ``max_null_fraction`` breaks no single row: it is reported, the rows are scored.

Under every mode a missing column or a column of another type fails the run: no row could be scored.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from mlpublish.contracts.check import ChunkCheck, ContractViolated, check_chunk, describe
from mlpublish.contracts.model import DataContract, Violation

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("mlpublish.contract")

Mode = Literal["fail", "warn", "quarantine"]
RULES_COLUMN = "violated_rules"  # the quarantine table's column of the rules a row broke
QUARANTINED = "mlpublish.quarantined"  # a predicted chunk's attrs key: the rows held back (guarded_predict)
MAX_LISTED = 20  # violations a result carries (one per column and rule; a contract rarely has more)


class ContractSummary(BaseModel):
    """A run's contract checks, small enough for an XCom: counts, and one violation per column and rule."""

    contract: str = Field(description="The contract checked: '<model> v<version>' (its training run's).")
    mode: Mode
    rows_checked: int = 0
    rows_violating: int = 0  # rows that broke at least one row-level rule
    rows_quarantined: int = 0
    quarantine_table: str | None = None
    violations: list[Violation] = []

    @property
    def clean(self) -> bool:
        return not self.violations

    def line(self) -> str:
        """One line for a report or a notification."""
        if self.clean:
            return f"contract {self.contract}: {self.rows_checked} rows checked, no violation"
        held = f", {self.rows_quarantined} quarantined in {self.quarantine_table}" if self.rows_quarantined else ""
        return (
            f"contract {self.contract} ({self.mode}): {self.rows_violating} of {self.rows_checked} rows violating"
            f"{held}: {describe(self.violations)}"
        )


class ContractGuard:
    """Checks a run's chunks against ``contract`` under ``mode``; picklable (the Spark engine ships it)."""

    def __init__(self, contract: DataContract, mode: Mode, *, label: str, quarantine_table: str | None = None):
        """``label`` names the contract in errors (``"<model> v<version>"``)."""
        self.contract, self.mode, self.label = contract, mode, label
        self.quarantine_table = quarantine_table
        self.features = [c.name for c in contract.columns]
        self.reset()

    def reset(self) -> None:
        """An empty tally (a run that starts over counts its rows once)."""
        self.lock = threading.Lock()
        self.rows = self.violating = self.quarantined = 0
        self.found: dict[tuple[str, str], Violation] = {}

    def __getstate__(self) -> dict[str, Any]:  # a lock does not travel to an executor
        return {k: v for k, v in self.__dict__.items() if k != "lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, lock=threading.Lock())

    def fresh(self) -> ContractGuard:
        """A copy with an empty tally (one per Spark task)."""
        return ContractGuard(self.contract, self.mode, label=self.label, quarantine_table=self.quarantine_table)

    def admit(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """(the rows to score, the rows held back with their rules or None); raises ContractViolated."""
        checked = check_chunk(self.contract, frame)
        bad = checked.bad if checked.masks else None
        self.tally(checked, bad)
        if checked.fatal:
            raise ContractViolated(
                f"rows cannot be scored (data contract of {self.label}): {describe(checked.fatal)}", checked.fatal
            )
        if not checked.violations:
            return frame, None
        if self.mode == "fail":
            raise ContractViolated(
                f"rows break the data contract of {self.label} (scoring.onContractViolation: fail): "
                f"{describe(checked.violations)}",
                checked.violations,
            )
        if self.mode == "warn":
            unreadable = [v for v in checked.violations if v.rule == "type"]
            if unreadable:
                raise ContractViolated(
                    f"values cannot be scored (not of their column's type, data contract of {self.label}): "
                    f"{describe(unreadable)}",
                    unreadable,
                )
            return frame, None
        if bad is None or not bad.any():
            return frame, None
        with self.lock:
            self.quarantined += int(bad.sum())
        return frame[~bad], self.held_back(frame, checked, bad)

    def observe(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The monitor's check: count the violations, never stop on them (whatever the mode), and return the
        rows that can be profiled (those whose values are of their column's type). A missing column or a
        column of another type raises ContractViolated, as it does for scoring."""
        checked = check_chunk(self.contract, frame)
        bad = checked.bad if checked.masks else None
        self.tally(checked, bad)
        if checked.fatal:
            raise ContractViolated(
                f"rows cannot be monitored (data contract of {self.label}): {describe(checked.fatal)}", checked.fatal
            )
        unreadable = [m for name, m in checked.masks.items() if name.endswith(".type")]
        if not unreadable:
            return frame
        import numpy as np

        return frame[~np.logical_or.reduce(unreadable)]

    def held_back(self, frame: pd.DataFrame, checked: ChunkCheck, bad: Any) -> pd.DataFrame:
        """The quarantined rows: every column as text (None for a null) and the rules each broke."""
        held = frame[bad]
        out = held.astype("string").astype(object)
        out = out.where(held.notna().to_numpy(), None)
        out[RULES_COLUMN] = checked.rules_of_rows(bad.nonzero()[0])
        return out

    def tally(self, checked: ChunkCheck, bad: Any) -> None:
        with self.lock:
            self.rows += checked.rows
            self.violating += 0 if bad is None else int(bad.sum())
            for v in checked.violations:
                self.add(v)

    def add(self, v: Violation) -> None:
        key = (v.column, v.rule)
        seen = self.found.get(key)
        self.found[key] = v if seen is None else seen.model_copy(update={"count": seen.count + v.count})

    def merge(self, counts: dict[str, Any]) -> None:
        """Add a tally shipped back from elsewhere (a Spark task): :meth:`counts`' output."""
        with self.lock:
            self.rows += counts["rows"]
            self.violating += counts["violating"]
            self.quarantined += counts["quarantined"]
            for v in counts["violations"]:
                self.add(Violation.model_validate(v))

    def counts(self) -> dict[str, Any]:
        with self.lock:
            return {
                "rows": self.rows,
                "violating": self.violating,
                "quarantined": self.quarantined,
                "violations": [v.model_dump() for v in self.found.values()],
            }

    def summary(self, contract_name: str) -> ContractSummary:
        order = {(r.column, r.rule): i for i, r in enumerate(self.contract.rules())}
        with self.lock:
            violations = sorted(self.found.values(), key=lambda v: order.get((v.column, v.rule), len(order)))
            return ContractSummary(
                contract=contract_name,
                mode=self.mode,
                rows_checked=self.rows,
                rows_violating=self.violating,
                rows_quarantined=self.quarantined,
                quarantine_table=self.quarantine_table if self.mode == "quarantine" else None,
                violations=violations[:MAX_LISTED],
            )


def rule_results(contract: DataContract, summary: ContractSummary | None, rows: int) -> list[dict[str, Any]]:
    """One entry per rule of the contract for RecordContractResults: Success, or Failed with what was seen."""
    found = {(v.column, v.rule): v for v in (summary.violations if summary else [])}
    out = []
    for r in contract.rules():
        v = found.get((r.column, r.rule))
        out.append(
            {
                "column": r.column,
                "rule": r.rule,
                "status": "Failed" if v else "Success",
                "observed": v.observed if v else "",
                "count": v.count if v else 0,
                "rows": rows,
            }
        )
    return out


def log_summary(model: str, summary: ContractSummary) -> None:
    (log.info if summary.clean else log.warning)("%s: %s", model, summary.line())


__all__ = ["ContractGuard", "ContractSummary", "ContractViolated", "Mode", "log_summary", "rule_results"]

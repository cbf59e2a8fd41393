"""The model card's "Data contract" section: each column's rules (learned or stated) and the diff vs the champion.

The card owns escaping (:func:`mlpublish.model_card.cell`): it hands its cell function in, so every value
from the contract (column names, categories) is escaped exactly as the rest of the card.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlpublish.contracts.diff import ContractChange
from mlpublish.contracts.model import ColumnContract, DataContract

HEADING = "## Data contract"
# categories shown per column; the rest are counted (every one is in the contract artifact)
SHOWN_CATEGORIES = 20


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _nulls(c: ColumnContract) -> str:
    if not c.nullable:
        return "not null"
    allowed = f"at most {_pct(c.maxNullFraction)}" if c.maxNullFraction is not None else "any share"
    return f"nullable, {allowed} (observed {_pct(c.nullFraction)})"


def _range(c: ColumnContract) -> str:
    if c.minimum is None and c.maximum is None:
        return ""
    low = "" if c.minimum is None else f"{c.minimum:g}"
    high = "" if c.maximum is None else f"{c.maximum:g}"
    return f"{low} to {high}".strip()


def _categories(c: ColumnContract) -> str:
    if c.categories is None:
        return ""
    shown = ", ".join(c.categories[:SHOWN_CATEGORIES])
    more = len(c.categories) - SHOWN_CATEGORIES
    return shown + (f" ... ({more} more)" if more > 0 else "")


def _source(c: ColumnContract) -> str:
    return "stated: " + ", ".join(c.stated) if c.stated else "learned"


def card_section(
    contract: DataContract | None,
    changes: list[ContractChange],
    comparison: str | None,
    cell: Callable[[Any], str],
) -> list[str]:
    """The section's lines. ``comparison``: the detail of validate's contract check (None: validate did not
    compare); ``cell`` escapes a table cell as the card does."""
    out = [HEADING, ""]
    if contract is None:
        return out + ["_No data contract was logged with this run (trained before data contracts)._", ""]
    engine = contract.engine.get("library", "")
    version = contract.engine.get("version", "")
    out += [
        f"Learned from {contract.rows} rows of {cell(contract.table)} at {cell(contract.learnedAt)}"
        + (f" ({cell(engine)} {cell(version)})" if engine else "")
        + "; the spec's stated rules (data.contract.columns) replace the learned ones. Scoring and monitoring "
        "check every chunk against the champion's contract (scoring.onContractViolation).",
        "",
        "| Column | Type | Nulls | Range | Categories | Rules |",
        "|---|---|---|---|---|---|",
    ]
    for c in contract.columns:
        out.append(
            f"| {cell(c.name)} | {cell(c.type)} ({cell(c.kind)}) | {cell(_nulls(c))} | {cell(_range(c))} | "
            f"{cell(_categories(c))} | {cell(_source(c))} |"
        )
    if contract.addedColumns:
        out += ["", "Columns a later version may add without a finding: " + cell(", ".join(contract.addedColumns))]
    out += ["", "### Against the champion's contract", ""]
    if changes:
        out += ["| Column | Change | Before | After | Blocking |", "|---|---|---|---|---|"]
        for ch in changes:
            what = f"{ch.change} {', '.join(ch.values)}" if ch.values else ch.change
            out.append(
                f"| {cell(ch.column)} | {cell(what)} | {cell(ch.before)} | {cell(ch.after)} | "
                f"{'yes' if ch.blocking else 'no'} |"
            )
    else:
        out.append(cell(comparison) if comparison else "_Not compared (validate did not run the check)._")
    return out + [""]

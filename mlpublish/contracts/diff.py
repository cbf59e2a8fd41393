"""A candidate's data contract against the champion's: what changed, column by column, and what blocks validate.

The changes (the names of ``data.contract.blocking``):

* ``removed_column``: the champion's contract has the column, the candidate's has not;
* ``added_column``: the candidate's has a column the champion's has not (none for ``data.contract.addedColumns``);
* ``changed_type``: the column's logical type (or its kind, numerical / categorical) differs;
* ``removed_category`` / ``added_category``: both contracts have a category set (in_set) and a value left / came;
* ``changed_range``: the minimum or the maximum of in_range differs (a bound added or dropped counts);
* ``changed_nullability``: a column that could hold nulls no longer may, or the other way round.

A learned range moves with every retraining on new rows: ``changed_range`` is reported, and blocks only when
the spec says so. A category set present on one side only (learnCategories switched, a stated set dropped) is no
category change: one contract accepts every value there.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from mlpublish.contracts.model import ColumnContract, DataContract
from mlpublish.spec.contract import ContractChange as ChangeKind
from mlpublish.spec.contract import ContractSpec


class ContractChange(BaseModel):
    """One change of the candidate's contract against the champion's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    change: ChangeKind
    column: str
    before: str
    after: str
    values: list[str] = []  # the categories removed or added
    blocking: bool = False

    def describe(self) -> str:
        what = f"{self.change} {', '.join(self.values)}" if self.values else self.change
        return f"{self.column}: {what} ({self.before} -> {self.after})"


def _range(c: ColumnContract) -> str:
    if c.minimum is None and c.maximum is None:
        return "no range"
    low = "-inf" if c.minimum is None else f"{c.minimum:g}"
    high = "inf" if c.maximum is None else f"{c.maximum:g}"
    return f"[{low}, {high}]"


def _type(c: ColumnContract) -> str:
    return f"{c.type} ({c.kind})"


def _nulls(c: ColumnContract) -> str:
    return "nullable" if c.nullable else "not null"


def _set(values: list[str]) -> str:
    return "{" + ", ".join(values) + "}"


def column_changes(before: ColumnContract, after: ColumnContract) -> list[tuple[ChangeKind, str, str, list[str]]]:
    """(change, before, after, values) of one column present in both contracts."""
    out: list[tuple[ChangeKind, str, str, list[str]]] = []
    if (before.type, before.kind) != (after.type, after.kind):
        out.append(("changed_type", _type(before), _type(after), []))
    if before.categories is not None and after.categories is not None:
        removed = sorted(set(before.categories) - set(after.categories))
        added = sorted(set(after.categories) - set(before.categories))
        if removed:
            out.append(("removed_category", _set(before.categories), _set(after.categories), removed))
        if added:
            out.append(("added_category", _set(before.categories), _set(after.categories), added))
    if (before.minimum, before.maximum) != (after.minimum, after.maximum):
        out.append(("changed_range", _range(before), _range(after), []))
    if before.nullable != after.nullable:
        out.append(("changed_nullability", _nulls(before), _nulls(after), []))
    return out


def diff_contracts(
    champion: DataContract, candidate: DataContract, spec_contract: ContractSpec
) -> list[ContractChange]:
    """Every change of ``candidate`` against ``champion``, in the candidate's column order (removed columns last);
    ``blocking`` per ``spec_contract.blocking`` (the candidate's spec decides)."""
    blocking = set(spec_contract.blocking)
    allowed = set(spec_contract.addedColumns)
    found: list[tuple[ChangeKind, str, str, str, list[str]]] = []
    for col in candidate.columns:
        old = champion.column(col.name)
        if old is None:
            if col.name not in allowed:
                found.append(("added_column", col.name, "absent", _type(col), []))
            continue
        found += [(kind, col.name, b, a, v) for kind, b, a, v in column_changes(old, col)]
    for old in champion.columns:
        if candidate.column(old.name) is None:
            found.append(("removed_column", old.name, _type(old), "absent", []))
    return [
        ContractChange(change=kind, column=name, before=b, after=a, values=v, blocking=kind in blocking)
        for kind, name, b, a, v in found
    ]

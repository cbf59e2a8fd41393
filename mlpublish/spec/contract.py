"""The spec's data contract section: the rules it states for feature columns and which changes block validate."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mlpublish.spec.field_rules import IDENT, IDENT_PATTERN, SpecModel


class ColumnRules(SpecModel):
    """Rules the spec states for one feature column; each replaces the rule learned from the training rows."""

    minimum: float | None = Field(default=None, description="Values below are violations (in_range).")
    maximum: float | None = Field(default=None, description="Values above are violations (in_range).")
    categories: list[str | int] | None = Field(
        default=None, description="The values allowed (in_set); compared as strings."
    )
    nullable: bool | None = Field(default=None, description="false: a null is a violation (not_null).")
    maxNullFraction: float | None = Field(
        default=None, ge=0, le=1, description="The share of nulls a chunk may hold (max_null_fraction)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> ColumnRules:
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum:g} is above maximum {self.maximum:g}")
        if self.nullable is False and self.maxNullFraction is not None:
            raise ValueError("nullable: false leaves no nulls to count: drop maxNullFraction")
        return self


ContractChange = Literal[
    "removed_column",
    "added_column",
    "changed_type",
    "removed_category",
    "added_category",
    "changed_range",
    "changed_nullability",
]
CONTRACT_CHANGES: tuple[str, ...] = ContractChange.__args__  # type: ignore[attr-defined]


class ContractSpec(SpecModel):
    """The data contract of the features: learned from the training rows at train, stated rules on top; checked
    at score and monitor (scoring.onContractViolation) and compared with the champion's at validate."""

    learnRanges: bool = Field(
        default=True,
        description="The training rows' minimum and maximum of each numerical feature become its in_range rule "
        "(a stated minimum/maximum wins).",
    )
    learnCategories: bool = Field(
        default=True, description="The categories seen at training become each categorical feature's in_set rule."
    )
    columns: dict[str, ColumnRules] = Field(
        default={},
        description="Stated rules per feature column, e.g. {recency_days: {minimum: 0, maxNullFraction: 0.01}}.",
    )
    addedColumns: list[str] = Field(
        default=[], description="Feature columns this version may add to the champion's contract without a finding."
    )
    blocking: list[ContractChange] = Field(
        default=["changed_type"],
        description="Changes against the champion's contract that fail validate (the others are reported): "
        + ", ".join(CONTRACT_CHANGES)
        + ".",
    )

    @field_validator("columns", "addedColumns")
    @classmethod
    def _idents(cls, v: Any) -> Any:
        for col in v:
            if not IDENT.fullmatch(col):
                raise ValueError(f"column name {col!r} must match {IDENT_PATTERN}")
        return v

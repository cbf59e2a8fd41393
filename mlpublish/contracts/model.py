"""The data contract's format: one JSON document per trained model, logged with its training run.

Everyone reads this one format: train writes it (``contracts.learn``), score and monitor check rows against it
(``contracts.check``), validate compares a candidate's with the champion's (``contracts.diff``), the model card
shows it and the catalog turns it into an OpenMetadata DataContract with test cases (one per :class:`Rule`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONTRACT_FORMAT = "mlpublish.data-contract/1"
# where the contract lies in the training run's artifacts
CONTRACT_ARTIFACT = "contract/data_contract.json"

RuleName = Literal["present", "type", "not_null", "max_null_fraction", "in_range", "in_set"]
# every rule a contract can hold, in the order they are checked and shown
RULES: tuple[str, ...] = ("present", "type", "not_null", "max_null_fraction", "in_range", "in_set")

LogicalType = Literal["integer", "number", "string", "boolean", "datetime"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnContract(_Frozen):
    """What one feature column must hold; ``None`` means no rule of that kind."""

    name: str
    type: LogicalType = Field(description="The column's logical type at training.")
    kind: Literal["numerical", "categorical"]
    nullable: bool = Field(description="False: a null is a violation (not_null).")
    maxNullFraction: float | None = Field(
        default=None, description="With nullable: the share of nulls a chunk may hold (max_null_fraction)."
    )
    minimum: float | None = Field(default=None, description="in_range: values below are violations.")
    maximum: float | None = Field(default=None, description="in_range: values above are violations.")
    categories: list[str] | None = Field(
        default=None, description="in_set: the values allowed (as strings), sorted; others are violations."
    )
    quantiles: dict[str, float] = Field(
        default_factory=dict, description="Observed at training, for people and the diff: {'0.01': v, ...}."
    )
    nullFraction: float = Field(default=0.0, description="Observed at training.")
    stated: list[str] = Field(
        default_factory=list, description="The rules the spec stated (data.contract), the others were learned."
    )


class Rule(_Frozen):
    """One check of the contract: a column and a rule with its parameters (a test case in the catalog)."""

    column: str
    rule: RuleName
    params: dict[str, Any] = Field(default_factory=dict)
    stated: bool = False

    @property
    def name(self) -> str:
        return f"{self.column}.{self.rule}"


class Violation(_Frozen):
    """Rows of a chunk (or a run) that broke a rule: which column and rule, what was seen, how many rows."""

    column: str
    rule: RuleName
    observed: str = Field(description="What was seen, e.g. 'value -3.0 < minimum 0.0', 'category \"gold\"'.")
    count: int = Field(ge=0, description="Rows that broke the rule (the whole chunk for a column-level rule).")

    def __str__(self) -> str:
        return f"{self.column}: {self.rule} ({self.observed}) in {self.count} row(s)"


class DataContract(_Frozen):
    """The contract of a model's feature columns, learned from its training rows and the spec."""

    format: Literal["mlpublish.data-contract/1"] = CONTRACT_FORMAT
    model: str = Field(description="The spec's model name.")
    table: str = Field(description="FQN of the table it was learned from (the training table).")
    rows: int = Field(ge=0, description="Training rows it was learned from.")
    learnedAt: str = Field(description="ISO-8601 UTC time of training.")
    columns: list[ColumnContract]
    addedColumns: list[str] = Field(
        default_factory=list, description="Columns a later version may add without a diff finding (data.contract)."
    )
    engine: dict[str, Any] = Field(
        default_factory=dict,
        description="The library's own serialised schema, e.g. {'pandera': '0.35.0', 'schema': {...}}.",
    )

    def column(self, name: str) -> ColumnContract | None:
        return next((c for c in self.columns if c.name == name), None)

    def rules(self) -> list[Rule]:
        """Every rule of the contract, column by column in the order of :data:`RULES`."""
        out: list[Rule] = []
        for c in self.columns:
            stated = set(c.stated)
            out.append(Rule(column=c.name, rule="present", stated="present" in stated))
            out.append(Rule(column=c.name, rule="type", params={"type": c.type}, stated="type" in stated))
            if not c.nullable:
                out.append(Rule(column=c.name, rule="not_null", stated="not_null" in stated))
            elif c.maxNullFraction is not None:
                out.append(
                    Rule(
                        column=c.name,
                        rule="max_null_fraction",
                        params={"maxNullFraction": c.maxNullFraction},
                        stated="max_null_fraction" in stated,
                    )
                )
            if c.minimum is not None or c.maximum is not None:
                out.append(
                    Rule(
                        column=c.name,
                        rule="in_range",
                        params={"minimum": c.minimum, "maximum": c.maximum},
                        stated="in_range" in stated,
                    )
                )
            if c.categories is not None:
                out.append(
                    Rule(column=c.name, rule="in_set", params={"categories": c.categories}, stated="in_set" in stated)
                )
        return out

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DataContract:
        return cls.model_validate(data)

"""Learn a model's data contract from its training rows (pandera infers the schema), then apply the spec's rules.

What is learned, column by column (the feature columns of ``mlFeatures``, as read from the warehouse, before
any encoding):

* ``type``: pandera's inferred dtype as a logical type (integer, number, string, boolean, datetime). A float
  column whose non-null values are all whole numbers and that holds nulls is ``integer``: the nulls are why
  the driver handed it over as float. A numerical feature read as objects (PostgreSQL ``NUMERIC`` as
  ``Decimal``) is converted to numbers first, as the model sees it.
* ``nullable``: false when the training rows held no null (pandera's ``nullable``); ``nullFraction``: the
  share of nulls observed; with nulls, ``maxNullFraction`` = observed + max(0.05, observed), capped at 1: a
  chunk may hold about twice the observed share (at least 5 points more) before it is a violation.
* ``minimum`` / ``maximum`` (numerical features, ``data.contract.learnRanges``): the observed range.
* ``categories`` (categorical features, ``data.contract.learnCategories``): the values seen, as strings
  (:func:`category_strings`), sorted; none past :data:`MAX_CATEGORIES` values (an identifier, not a category)
  and none when every value was null.
* ``quantiles`` (numerical features): 0.01, 0.05, 0.5, 0.95 and 0.99, for people and the diff.

Then every rule ``data.contract.columns`` states replaces the learned one and is listed in ``stated``.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

from mlpublish.contracts.model import ColumnContract, DataContract
from mlpublish.spec import Spec
from mlpublish.spec.contract import ColumnRules

QUANTILES = (0.01, 0.05, 0.5, 0.95, 0.99)
# a learned maxNullFraction: the observed share plus this much at least (and at least the observed share again)
NULL_MARGIN = 0.05
# a categorical column with more distinct values gets no learned in_set rule (state one to have it)
MAX_CATEGORIES = 1000


def learned_max_null_fraction(observed: float) -> float:
    """The share of nulls a chunk may hold, learned from ``observed`` (the share at training)."""
    return min(1.0, round(observed + max(NULL_MARGIN, observed), 6))


def category_strings(values: Any) -> Any:
    """The non-null values of a series as the strings a contract's categories compare: whole floats lose their
    ``.0`` (an integer column turned float by a null keeps its categories ``"1"``, ``"2"``)."""
    import pandas as pd

    present = values.dropna()
    if pd.api.types.is_float_dtype(present) and bool((present % 1 == 0).all()):
        present = present.astype("int64")
    return present.astype(str)


def pandera_schema(frame: Any) -> Any:
    """pandera's inferred schema of ``frame`` (imported here: importing pandera.pandas warns about PySpark)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from pandera.pandas import infer_schema

        return infer_schema(frame)


def pandera_version() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import pandera

    return str(pandera.__version__)


def logical_type(dtype: Any, values: Any) -> str:
    """The contract's logical type of a column of pandas ``dtype`` holding ``values``."""
    import pandas as pd

    api = pd.api.types
    if api.is_bool_dtype(dtype):
        return "boolean"
    if api.is_integer_dtype(dtype):
        return "integer"
    if api.is_float_dtype(dtype):
        present = values.dropna()
        whole = len(present) > 0 and bool((present % 1 == 0).all())
        return "integer" if whole and values.isna().any() else "number"
    if api.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "string"


def _features_frame(frame: Any, spec: Spec) -> Any:
    """The feature columns as read, a numerical feature read as objects (e.g. Decimal) turned into numbers."""
    import pandas as pd

    out = frame[spec.feature_names].copy()
    for f in spec.mlFeatures:
        col = out[f.name]
        if f.dataType == "numerical" and col.dtype == object:
            converted = pd.to_numeric(col, errors="coerce")
            if converted.notna().sum() == col.notna().sum():  # every value a number: keep them as numbers
                out[f.name] = converted
    return out


def _number(value: Any) -> float | None:
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def learn_column(name: str, kind: str, values: Any, pa_column: Any, spec: Spec) -> ColumnContract:
    """One column's contract as the training rows show it (no stated rule yet)."""
    rows = len(values)
    nulls = int(values.isna().sum())
    observed = nulls / rows if rows else 0.0
    type_ = logical_type(pa_column.dtype.type, values)
    nullable = bool(pa_column.nullable) or nulls > 0
    numeric = type_ in ("integer", "number") and kind == "numerical"
    present = values.dropna()
    fields: dict[str, Any] = {}
    if numeric and len(present):
        as_float = present.astype("float64")
        if spec.data.contract.learnRanges:
            fields["minimum"], fields["maximum"] = _number(as_float.min()), _number(as_float.max())
        fields["quantiles"] = {f"{q:g}": v for q in QUANTILES if (v := _number(as_float.quantile(q))) is not None}
    if kind == "categorical" and spec.data.contract.learnCategories:
        seen = sorted(set(category_strings(values)))
        if 0 < len(seen) <= MAX_CATEGORIES:  # no value seen (all null): no set to hold rows to
            fields["categories"] = seen
    return ColumnContract(
        name=name,
        type=type_,
        kind=kind,
        nullable=nullable,
        maxNullFraction=learned_max_null_fraction(observed) if nullable else None,
        nullFraction=round(observed, 6),
        **fields,
    )


def with_stated(column: ColumnContract, rules: ColumnRules) -> ColumnContract:
    """``column`` with the rules the spec states (data.contract.columns.<column>) in place of the learned ones."""
    update: dict[str, Any] = {}
    stated: list[str] = []
    if rules.minimum is not None or rules.maximum is not None:
        if rules.minimum is not None:
            update["minimum"] = float(rules.minimum)
        if rules.maximum is not None:
            update["maximum"] = float(rules.maximum)
        stated.append("in_range")
    if rules.categories is not None:
        update["categories"] = sorted({str(c) for c in rules.categories})
        stated.append("in_set")
    if rules.nullable is not None:
        update["nullable"] = rules.nullable
        stated.append("not_null")
        if not rules.nullable:  # nullable: true keeps the learned share (none where training saw no null)
            update["maxNullFraction"] = None
    if rules.maxNullFraction is not None:
        update["nullable"] = True
        update["maxNullFraction"] = rules.maxNullFraction
        stated.append("max_null_fraction")
    update["stated"] = stated
    return column.model_copy(update=update)


def learn_contract(frame: Any, spec: Spec, *, table_fqn: str, learned_at: str) -> DataContract:
    """The data contract of ``spec``'s features learned from ``frame`` (the training rows, before encoding),
    with the rules ``spec.data.contract`` states on top. The pandera schema inferred is kept in ``engine``."""
    features = _features_frame(frame, spec)
    schema = pandera_schema(features)
    columns = []
    stated = spec.data.contract.columns
    for f in spec.mlFeatures:
        column = learn_column(f.name, f.dataType, features[f.name], schema.columns[f.name], spec)
        if f.name in stated:
            column = with_stated(column, stated[f.name])
        columns.append(column)
    return DataContract(
        model=spec.name,
        table=table_fqn,
        rows=len(features),
        learnedAt=learned_at,
        columns=columns,
        addedColumns=list(spec.data.contract.addedColumns),
        engine={"library": "pandera", "version": pandera_version(), "schema": json.loads(schema.to_json())},
    )


def summary(contract: DataContract) -> str:
    """One line for results and logs, e.g. '6 columns, 17 rules (2 stated), learned from 1500 rows'."""
    rules = contract.rules()
    stated = sum(r.stated for r in rules)
    return f"{len(contract.columns)} columns, {len(rules)} rules ({stated} stated), learned from {contract.rows} rows"

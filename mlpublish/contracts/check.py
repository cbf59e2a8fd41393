"""A chunk of rows against a data contract: the violations, and which rows broke a row-level rule.

The checks are vectorised numpy/pandas operations generated from the contract's columns (one pass per rule,
no per-row Python): on 50k-row chunks they cost a fraction of what pandera's ``DataFrameSchema.validate(lazy=True)``
does for the same rules (measured by ``bench/contract_overhead.py``, see docs/data-contracts.md), and they give
the per-rule row masks quarantine needs, which a lazy pandera validation reports only as a failure-case frame.

Rules are of two kinds:

* row-level (``not_null``, ``in_range``, ``in_set``, and ``type`` when some values of a column cannot be read
  as its type): :attr:`ChunkCheck.masks` says which rows broke each; they can be quarantined row by row;
* chunk-level: ``present`` (the column is missing), ``type`` when NO value of the column can be read as its
  type (the column changed type) and ``max_null_fraction``. The first two mean the chunk cannot be scored at
  all (:attr:`ChunkCheck.fatal`); a null fraction breaks no single row.

The raw feature columns are checked, before the model's encoding (``prepare_features``): categories compare as
the strings the model sees (``"1"`` for the integer 1), numbers as float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlpublish.contracts.model import ColumnContract, DataContract, Violation
from mlpublish.errors import WarehouseError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# rules that may fail a chunk as a whole; a missing column or a column of another type cannot be scored
FATAL_RULES = ("present", "type")
SHOWN_CATEGORIES = 5  # new categories named in an observation


class ContractViolated(WarehouseError):
    """Rows broke the champion's data contract and the spec says fail (or the rows cannot be scored at all)."""

    def __init__(self, message: str, violations: list[Violation]):
        super().__init__(message)
        self.violations = violations


@dataclass
class ChunkCheck:
    """What :func:`check_chunk` found in one chunk."""

    rows: int
    violations: list[Violation] = field(default_factory=list)
    # "column.rule" -> boolean mask (len == rows) of the rows that broke that row-level rule
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    # chunk-level violations that make the chunk unscorable (present, type of a whole column)
    fatal: list[Violation] = field(default_factory=list)
    # null counts per nullable column with maxNullFraction (the run's fraction is summed from them)
    nulls: dict[str, int] = field(default_factory=dict)

    @property
    def bad(self) -> np.ndarray:
        """Rows that broke at least one row-level rule."""
        import numpy as np

        out = np.zeros(self.rows, dtype=bool)
        for m in self.masks.values():
            out |= m
        return out

    def rules_of_rows(self, rows: np.ndarray) -> list[str]:
        """For each row index in ``rows``: the row-level rules it broke, as ``"col.rule; col.rule"``."""
        names = list(self.masks)
        picked = [self.masks[n][rows] for n in names]
        return ["; ".join(n for n, m in zip(names, col, strict=True) if m) for col in zip(*picked, strict=True)]


def _fmt(v: float) -> str:
    return f"{v:g}"


def _kind(s: pd.Series) -> str:
    """The logical type a column's values have (as a contract names types)."""
    import pandas as pd

    for name, test in (
        ("boolean", pd.api.types.is_bool_dtype),
        ("integer", pd.api.types.is_integer_dtype),
        ("number", pd.api.types.is_numeric_dtype),
        ("datetime", pd.api.types.is_datetime64_any_dtype),
    ):
        if test(s.dtype):
            return name
    return "string"


def _categories(values: Any) -> list[str]:
    return sorted({str(v) for v in values})


def _as_number(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, mask of the non-null values that are no number)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(s.dtype):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        return values, np.zeros(len(s), dtype=bool)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=np.nan), np.zeros(len(s), dtype=bool)
    coerced = pd.to_numeric(s, errors="coerce")
    values = coerced.to_numpy(dtype="float64", na_value=np.nan)
    return values, np.isnan(values) & s.notna().to_numpy()


_BOOL_TEXT = frozenset({"true", "false", "0", "1", "t", "f", "yes", "no"})


def _type_failures(c: ColumnContract, s: pd.Series) -> tuple[np.ndarray | None, np.ndarray]:
    """(float64 values for a numeric column, else None; mask of the values not of the contract's type)."""
    import numpy as np
    import pandas as pd

    if c.type in ("integer", "number"):
        return _as_number(s)
    if c.type == "boolean":
        if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
            return None, np.zeros(len(s), dtype=bool)
        text = s.astype("string").str.lower()
        return None, (~text.isin(_BOOL_TEXT) & s.notna()).to_numpy(dtype=bool)
    if c.type == "datetime":
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            return None, np.zeros(len(s), dtype=bool)
        parsed = pd.to_datetime(s, errors="coerce", utc=True, format="mixed")
        return None, (parsed.isna() & s.notna()).to_numpy(dtype=bool)
    return None, np.zeros(len(s), dtype=bool)  # a string holds any value: in_set judges it


def _in_set(s: pd.Series, allowed: list[str], notnull: np.ndarray) -> np.ndarray:
    """Non-null values outside ``allowed``, compared as the strings the model sees."""
    import pandas as pd

    if pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
        out = ~s.isin(allowed).to_numpy(dtype=bool) & notnull
        if out.any():  # an object column may hold numbers (SQLite): compare those as text
            idx = out.nonzero()[0]
            out[idx[s.iloc[idx].astype("string").isin(allowed).to_numpy(dtype=bool)]] = False
        return out
    return ~s.astype("string").isin(allowed).to_numpy(dtype=bool) & notnull


def check_chunk(contract: DataContract, frame: pd.DataFrame) -> ChunkCheck:
    """Check ``frame`` (the raw feature columns, any extra columns ignored) against ``contract``."""
    import numpy as np

    n = len(frame)
    out = ChunkCheck(rows=n)

    def found(column: str, rule: Any, observed: str, count: int, mask: np.ndarray | None = None) -> None:
        v = Violation(column=column, rule=rule, observed=observed, count=count)
        out.violations.append(v)
        if mask is not None:
            out.masks[f"{column}.{rule}"] = mask
        elif rule in FATAL_RULES:
            out.fatal.append(v)

    for c in contract.columns:
        if c.name not in frame.columns:
            found(c.name, "present", "column missing", n)
            continue
        s = frame[c.name]
        null = s.isna().to_numpy(dtype=bool)
        notnull = ~null
        values, wrong = _type_failures(c, s)
        wrong_count = int(wrong.sum())
        if wrong_count:
            example = s[wrong].iloc[0]
            observed = f"value {str(example)[:40]!r} is not {'a number' if values is not None else c.type}"
            if wrong_count == int(notnull.sum()):  # not one value reads as its type: the column changed type
                found(c.name, "type", f"type {_kind(s)}, expected {c.type} ({observed})", n)
                continue
            found(c.name, "type", observed, wrong_count, wrong)
        nulls = int(null.sum())
        if not c.nullable and nulls:
            found(c.name, "not_null", f"{nulls} null(s)", nulls, null)
        elif c.nullable and c.maxNullFraction is not None and n:
            out.nulls[c.name] = nulls
            if nulls / n > c.maxNullFraction:
                found(
                    c.name,
                    "max_null_fraction",
                    f"null fraction {nulls / n:.3g} > {c.maxNullFraction:g}",
                    nulls,
                )
        if values is not None and (c.minimum is not None or c.maximum is not None):
            with np.errstate(invalid="ignore"):
                low = values < c.minimum if c.minimum is not None else np.zeros(n, dtype=bool)
                high = values > c.maximum if c.maximum is not None else np.zeros(n, dtype=bool)
            broke = low | high
            count = int(broke.sum())
            if count:
                if low.any():
                    observed = f"value {_fmt(float(np.min(values[low])))} < minimum {_fmt(c.minimum)}"
                else:
                    observed = f"value {_fmt(float(np.max(values[high])))} > maximum {_fmt(c.maximum)}"
                found(c.name, "in_range", observed, count, broke)
        if c.categories is not None:
            broke = _in_set(s, c.categories, notnull)
            count = int(broke.sum())
            if count:
                new = _categories(s[broke].unique()[: SHOWN_CATEGORIES * 4])[:SHOWN_CATEGORIES]
                shown = ", ".join(repr(x) for x in new)
                allowed = ", ".join(c.categories[:10]) + (", ..." if len(c.categories) > 10 else "")
                found(c.name, "in_set", f"category {shown} not in [{allowed}]", count, broke)
    return out


def describe(violations: list[Violation], limit: int = 5) -> str:
    """``col: rule (observed) in N row(s); ...`` for an error or a log line."""
    shown = "; ".join(str(v) for v in violations[:limit])
    return shown + (f"; and {len(violations) - limit} more" if len(violations) > limit else "")

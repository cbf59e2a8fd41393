"""Value rules shared by the spec and the environments file: names, plain scalars, store locations, cron.

Kept apart from both models so the environments file can use them without
depending on the spec (the spec depends on the environments, to overlay them).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

# Registered model and catalog service names.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _\-]{0,127}$"
# Column, table, database, schema and parameter names: ASCII identifiers, nothing a SQL statement could trip on.
IDENT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
# fullmatch, not IDENT_PATTERN with re.match: '$' would accept a trailing newline
IDENT = re.compile(IDENT_PATTERN[1:-1])
# MLflow refuses param values past 6000 characters, and it would only say so after training started.
MAX_SCALAR_CHARS = 1000
Scalar = Annotated[str, StringConstraints(max_length=MAX_SCALAR_CHARS)] | int | float | bool | None
# One part of a table FQN (<service>.<database>.<schema>.<table>): no quotes, spaces, ';', '/' or control characters.
FQN_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,127}")
# Estimator paths: public, ASCII Python names (no _private, no __dunder__, no look-alike letters).
PUBLIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# Field metadata of the fields where ``${VAR}`` expands: deployment values (connections, URIs, database and
# schema names). Every other field refuses ``${VAR}``: free text and catalog fields are published.
EXPANDS_VARIABLES = "expandsVariables"
EXPANDS: dict[str, Any] = {EXPANDS_VARIABLES: True}


def expands_variables(info: Any) -> bool:
    """Whether the pydantic field ``info`` is marked :data:`EXPANDS`."""
    extra = getattr(info, "json_schema_extra", None)
    return isinstance(extra, dict) and extra.get(EXPANDS_VARIABLES) is True


# OpenMetadata's FeatureSourceDataType and FeatureType enums.
FeatureSourceDataType = Literal["integer", "number", "string", "array", "date", "timestamp", "object", "boolean"]
FeatureType = Literal["numerical", "categorical"]


def check_location(v: str | None) -> str | None:
    """A store location or experiment name: no control characters, no '..' path segment."""
    if v is None:
        return v
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise ValueError("contains a control character (newline, NUL...)")
    if ".." in re.split(r"[/\\]", v):
        raise ValueError(
            "must not contain '..' path segments: give an absolute path or one below the working directory"
        )
    return v


def check_cron(v: str | None) -> str | None:
    """A five-field cron expression or a preset such as ``@daily``."""
    if v is not None and not v.startswith("@") and len(v.split()) != 5:
        raise ValueError(f"expected a five-field cron expression or a preset like @daily, got {v!r}")
    return v


class SpecModel(BaseModel):
    """Base of every spec section: unknown fields are refused, values are frozen once read."""

    # NaN and infinity are refused: every comparison with NaN is false, so a NaN gate would never fail
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, allow_inf_nan=False)

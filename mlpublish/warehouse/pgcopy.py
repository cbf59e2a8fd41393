"""PostgreSQL's binary COPY format for a chunk of predictions, laid out by numpy in one go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

# PostgreSQL's binary COPY format: a fixed header, then per row a field count and (length, big-endian value)
# per field, then -1. Predictions are numbers and the run's constant texts, so every row has the same layout
# and numpy lays a whole chunk out at once, where CSV formats each number as text and the server parses it back.
_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_BINARY_TYPES = {"BIGINT": "int64", "DOUBLE PRECISION": "float64", "FLOAT": "float64", "BOOLEAN": "bool"}


def copy_binary(
    frame: Any, constant: dict[str, str], names: list[str], declared: dict[str, str], encoding: str
) -> bytes | None:
    """``frame`` and the run's ``constant`` columns as binary COPY data, or None when only CSV fits.

    Only where the table's declared type is exactly what the chunk holds (an int64 key into a BIGINT, ...)
    and nothing is missing (CSV writes NaN as NULL): anything else keeps the CSV path and its conversions.
    """
    import numpy as np

    if encoding.upper().replace("-", "") not in ("UTF8", "SQLASCII", "") or not names:
        return None
    layout: list[tuple[str, Any]] = [("fields", ">i2")]
    values: dict[str, Any] = {"fields": len(names)}
    for i, name in enumerate(names):
        declared_type = declared.get(name, "").upper()
        if name in constant:
            if name == "scored_at":
                if not declared_type.startswith("TIMESTAMP"):
                    return None
                stamp = datetime.fromisoformat(constant[name])
                stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
                layout += [(f"l{i}", ">i4"), (f"v{i}", ">i8")]
                values[f"l{i}"], values[f"v{i}"] = 8, (stamp - _PG_EPOCH) // timedelta(microseconds=1)
                continue
            if declared_type not in ("TEXT", "VARCHAR") and not declared_type.startswith("VARCHAR("):
                return None
            text = constant[name].encode()
            layout.append((f"l{i}", ">i4"))
            values[f"l{i}"] = len(text)
            if text:
                layout.append((f"v{i}", f"S{len(text)}"))
                values[f"v{i}"] = text
            continue
        column = frame[name]
        kind = _BINARY_TYPES.get(declared_type)
        if kind is None or str(column.dtype) != kind:
            return None
        array = column.to_numpy()
        if kind == "float64" and np.isnan(array).any():
            return None
        width = array.dtype.itemsize
        layout += [(f"l{i}", ">i4"), (f"v{i}", ">f8" if kind == "float64" else ">i8" if kind == "int64" else "u1")]
        values[f"l{i}"], values[f"v{i}"] = width, array
    rows = np.empty(len(frame), dtype=layout)
    for field_name, value in values.items():
        rows[field_name] = value
    return _PGCOPY_HEADER + rows.tobytes() + b"\xff\xff"

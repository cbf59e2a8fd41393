"""SQLite appends: multi-row ``INSERT ... VALUES`` with the run's constant columns as literals.

The stdlib ``sqlite3`` driver binds and steps once per row in ``executemany``; a statement of a few
hundred rows binds the same values but steps, resets and crosses into Python once per statement:
about half the time per row. The run's constant columns (model name, version, ids, timestamp) are SQL
literals of the statement, so only the variable columns (keys, prediction, probability) are bound.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

ROWS_PER_STATEMENT = 500  # past a few hundred rows a statement, longer statements gain nothing


def sql_text(value: str) -> str:
    """``value`` as an SQL string literal (quotes doubled; SQLite reads nothing else specially inside one)."""
    return "'" + value.replace("'", "''") + "'"


def insert_rows(dbapi: Any, head: str, names: list[str], frame: Any, constant: dict[str, str]) -> None:
    """Append ``frame`` and the ``constant`` columns through ``dbapi`` (a sqlite3 connection).

    ``head`` is ``INSERT INTO <table> (<names>) VALUES``.
    """
    import sqlite3

    literal = {c: sql_text(v) for c, v in constant.items() if "\x00" not in v}  # a NUL would end the literal
    variable = [c for c in names if c not in literal]
    columns = [[constant[c]] * len(frame) if c in constant else frame[c].tolist() for c in variable]
    row = "(" + ", ".join(literal.get(c, "?") for c in names) + ")"
    try:
        limit = dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except AttributeError:  # Python before 3.11: SQLite's historical default
        limit = 999
    per = max(1, min(ROWS_PER_STATEMENT, limit // max(1, len(variable))))
    full = f"{head} {', '.join([row] * per)}"
    cur = dbapi.cursor()
    for start in range(0, len(frame), per):
        part = [column[start : start + per] for column in columns]
        count = len(part[0]) if part else min(per, len(frame) - start)
        values = list(chain.from_iterable(zip(*part))) if part else []
        cur.execute(full if count == per else f"{head} {', '.join([row] * count)}", values)

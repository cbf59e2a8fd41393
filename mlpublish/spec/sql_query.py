"""``scoring.query`` is untrusted input: one read-only ``SELECT`` (or ``WITH ... SELECT``), checked by a SQL parser.

The query is parsed with sqlglot in the warehouse's dialect (PostgreSQL's nested comments and dollar quotes,
SQLite's, ...), so a ``;`` inside a string or a comment is not a statement boundary and one outside is. It is
refused when the text is not exactly one statement, when that statement is not a query, or when a write hides
anywhere inside it: a data-modifying CTE (``WITH x AS (DELETE ... RETURNING *) SELECT ...``), ``SELECT ... INTO``,
row locks (``FOR UPDATE``), or a call of a function known to have side effects (``set_config``, ``nextval``,
``dblink_exec``, ``lo_import``, ...). A user-defined function that writes cannot be seen here: the read-only
transaction every scoring read runs in (:mod:`mlpublish.warehouse`) is the defence for that.

The spec checks the query at validation (``mlpublish check``); the readers check it again before they run it.
"""

from __future__ import annotations

from typing import Any

# SQLAlchemy backend name (the URL scheme before any "+driver") -> sqlglot dialect; others parse generically
_DIALECTS = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "sqlite": "sqlite",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mssql": "tsql",
    "oracle": "oracle",
    "duckdb": "duckdb",
}

# Functions with side effects (writes, configuration, other sessions, files, other servers), lower case;
# the names ending in "*" are prefixes
_SIDE_EFFECT_FUNCTIONS = (
    "set_config",
    "nextval",
    "setval",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_promote",
    "pg_sleep*",
    "pg_notify",
    "pg_advisory*",
    "pg_try_advisory*",
    "pg_file_*",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_*",
    "pg_stat_reset*",
    "pg_create_*",
    "pg_drop_*",
    "pg_replication_*",
    "pg_logical_*",
    "pg_import_system_collations",
    "lo_*",
    "lowrite",
    "dblink*",
    "query_to_xml*",
    "cursor_to_xml*",
    "txid_current",
    "pg_current_xact_id",
    "load_extension",
    "writefile",
    "readfile",
    "edit",
)


def sql_dialect(connection: str | None) -> str | None:
    """The sqlglot dialect of a SQLAlchemy URL or backend name (``postgresql+psycopg2://...`` -> ``postgres``)."""
    if not connection:
        return None
    backend = connection.split("://", 1)[0].split("+", 1)[0].strip().lower()
    return _DIALECTS.get(backend)


def _position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    return f"line {line}, column {offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def _token_position(text: str, dialect: str | None, word: str) -> str:
    """Where the first token spelled ``word`` (any case) is, or '' when there is none."""
    import sqlglot

    try:
        for token in sqlglot.tokenize(text, read=dialect):
            if token.text.upper() == word:
                return f" at {_position(text, token.start)}"
    except Exception:  # the tokenizer agreed with the parser a moment ago; never fail on a position
        return ""
    return ""


def _side_effect(name: str) -> bool:
    name = name.lower()
    return any(name.startswith(f[:-1]) if f.endswith("*") else name == f for f in _SIDE_EFFECT_FUNCTIONS)


def _writes(tree: Any) -> tuple[str, str] | None:
    """(what was found, its keyword) for the first write or side effect inside ``tree``, else None."""
    from sqlglot import exp

    for node in tree.walk():
        if isinstance(node, (exp.DML, exp.DDL)) and not isinstance(node, exp.Query):
            keyword = node.key.upper()
            return f"a {keyword} inside the query (a data-modifying statement)", keyword
        if isinstance(node, exp.Into):
            return "SELECT ... INTO (it creates a table)", "INTO"
        if isinstance(node, exp.Lock):
            return "a row lock (FOR UPDATE/SHARE) takes locks a read must not", "FOR"
        if isinstance(node, (exp.Command, exp.Set, exp.Pragma, exp.Transaction, exp.Commit, exp.Rollback)):
            keyword = (
                str(node.this).split()[0].upper() if isinstance(node.this, str) and node.this else node.key.upper()
            )
            return f"a {keyword} command", keyword
        if isinstance(node, exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            if name and _side_effect(name):
                return f"a call of {name}(), a function with side effects", name.upper()
    return None


def query_problem(query: str, dialect: str | None = None) -> str | None:
    """Why ``query`` is not one read-only SELECT in ``dialect`` (a message with the position), or None if it is."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    text = query.strip()
    if not text:
        return "is empty; expected one SELECT statement"
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first.get("line") else ""
        found = f" (found {first['highlight']!r})" if first.get("highlight") else ""
        return f"is not one valid SELECT statement: {first.get('description') or 'parse error'}{where}{found}"
    except (TokenError, RecursionError) as exc:
        return f"cannot be read as SQL: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    if len(statements) != 1:
        return (
            f"holds {len(statements)} statements (a second one starts after the ';'"
            f"{_token_position(text, dialect, ';')}); expected exactly one SELECT"
        )
    tree = statements[0]
    if not isinstance(tree, (exp.Select, exp.SetOperation, exp.Subquery)):
        keyword = text.split(None, 1)[0].upper()
        return f"is not a query: found {keyword}; expected one SELECT (or WITH ... SELECT) statement"
    found = _writes(tree)
    if found:
        what, keyword = found
        return f"is not read-only: {what}{_token_position(text, dialect, keyword)}"
    return None

"""Hostile ``scoring.query`` values (issue 33), shared by the unit tests of the check and the warehouse tests.

Each is (id, query, what the refusal must say). The warehouse they target has ``customer_features`` and
``support_tickets``; none may change it.
"""

from __future__ import annotations

# the example: it closes the reader's "SELECT * FROM (" and reopens it at the end
STACKED = (
    "SELECT * FROM customer_features) x; CREATE TABLE pwned AS SELECT current_user AS who; "
    "DROP TABLE support_tickets; COMMIT; SELECT * FROM (SELECT * FROM customer_features"
)

HOSTILE_QUERIES = [
    ("stacked-statements", STACKED, "line 1, column 32"),
    # the second statement behind a line comment's end: the comment hides nothing from a parser
    (
        "comment-smuggling",
        "SELECT * FROM customer_features -- just a read\n; DROP TABLE support_tickets",
        "2 statements",
    ),
    (
        "write-in-cte",
        "WITH gone AS (DELETE FROM support_tickets RETURNING *) SELECT * FROM customer_features",
        "DELETE",
    ),
    ("select-into", "SELECT * INTO pwned FROM customer_features", "INTO"),
    (
        "side-effect-function",
        "SELECT *, set_config('default_transaction_read_only', 'off', false) FROM customer_features",
        "set_config",
    ),
    ("not-a-select", "DROP TABLE support_tickets", "DROP"),
    ("row-locks", "SELECT * FROM customer_features FOR UPDATE", "FOR UPDATE"),
]

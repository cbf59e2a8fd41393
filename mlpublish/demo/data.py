"""The demo warehouse: raw customers, orders and support tickets, then a feature SQL step.

Churn is drawn from a latent behaviour model (engagement, plan, tickets), and the
raw tables are generated from the same behaviour, so the features computed by
SQL from the raw tables genuinely predict the label, with realistic noise.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from mlpublish.warehouse import Warehouse, redact_url

AS_OF = date(2026, 10, 1)
PLANS = ("basic", "standard", "premium")

_DAYS = {
    "sqlite": "CAST(julianday('{as_of}') - julianday({col}) AS INTEGER)",
    "postgresql": "(DATE '{as_of}' - CAST({col} AS DATE))",
    "mysql": "DATEDIFF('{as_of}', {col})",
    "mariadb": "DATEDIFF('{as_of}', {col})",
}

FEATURE_SQL = """
CREATE TABLE customer_features AS
SELECT c.customer_id,
       COALESCE({recency}, 365) AS recency_days,
       COALESCE(o.n_orders, 0) AS frequency,
       COALESCE(o.total_amount, 0.0) AS monetary,
       {tenure} AS tenure_days,
       COALESCE(t.n_tickets, 0) AS support_tickets,
       c.plan AS plan,
       c.churned AS churned
FROM customers c
LEFT JOIN (SELECT customer_id, COUNT(order_id) AS n_orders, SUM(amount) AS total_amount,
                  MAX(order_date) AS last_order
           FROM orders GROUP BY customer_id) o ON o.customer_id = c.customer_id
LEFT JOIN (SELECT customer_id, COUNT(ticket_id) AS n_tickets
           FROM support_tickets GROUP BY customer_id) t ON t.customer_id = c.customer_id
"""


def generate_raw(customers: int = 4000, seed: int = 7, start_id: int = 1):
    """Three DataFrames (customers, orders, support_tickets) drawn from one behaviour model."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = customers
    ids = np.arange(start_id, start_id + n)
    tenure = rng.integers(30, 1500, n)
    plan_idx = rng.choice(3, n, p=[0.5, 0.35, 0.15])
    engagement = rng.normal(0, 1, n)  # latent: how much the customer uses us
    frustration = rng.gamma(1.2, 1.0, n)  # latent: how often things go wrong
    logit = -0.6 - 1.4 * engagement + 0.55 * frustration - 0.45 * plan_idx - 0.0009 * tenure + rng.normal(0, 1.0, n)
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)

    signup = [AS_OF - timedelta(days=int(d)) for d in tenure]
    order_rate = np.exp(0.9 + 0.7 * engagement) * (1 + 0.3 * plan_idx)
    n_orders = rng.poisson(np.minimum(order_rate * tenure / 365, 60))
    # churners stopped ordering a while ago; the others ordered recently
    gap = np.where(churned == 1, rng.exponential(70, n) + 10, rng.exponential(35, n)).astype(int)
    gap = np.minimum(gap, tenure - 1)
    rows = []
    for cid, k, g, t, p in zip(ids, n_orders, gap, tenure, plan_idx):
        if k == 0:
            continue
        last = AS_OF - timedelta(days=int(g))
        span = max(int(t - g), 1)
        offsets = np.sort(rng.integers(0, span, k))
        for j, off in enumerate(offsets):
            amount = float(np.round(rng.lognormal(3.2 + 0.25 * p, 0.5), 2))
            rows.append((cid, last - timedelta(days=int(off)) if j else last, amount))
    orders = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    orders.insert(0, "order_id", np.arange(start_id * 100, start_id * 100 + len(orders)))
    n_tickets = rng.poisson(0.8 * frustration)
    trows = [
        (cid, AS_OF - timedelta(days=int(rng.integers(0, 180)))) for cid, k in zip(ids, n_tickets) for _ in range(k)
    ]
    tickets = pd.DataFrame(trows, columns=["customer_id", "opened_at"])
    tickets.insert(0, "ticket_id", np.arange(start_id * 10, start_id * 10 + len(tickets)))
    cust = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": signup,
            "plan": [PLANS[i] for i in plan_idx],
            "region": rng.choice(["north", "south", "east", "west"], n),
            "churned": churned,
        }
    )
    return cust, orders, tickets


def build_demo_warehouse(url: str, customers: int = 4000, seed: int = 7, append: bool = False) -> dict[str, int]:
    """Create (or, with ``append``, grow) the raw tables and rebuild ``customer_features``."""
    wh = Warehouse(url, "warehouse", create=True)
    engine = wh.engine
    start = 1
    if append:
        with engine.connect() as conn:
            start = int(conn.execute(sa.text("SELECT COALESCE(MAX(customer_id), 0) FROM customers")).scalar_one()) + 1
    cust, orders, tickets = generate_raw(customers, seed, start)
    mode = "append" if append else "replace"
    dialect = wh.dialect
    if dialect not in _DAYS:
        raise ValueError(f"the demo warehouse supports sqlite, postgresql and mysql, not {dialect} ({redact_url(url)})")
    with engine.begin() as conn:
        cust.to_sql("customers", conn, if_exists=mode, index=False, chunksize=5000)
        orders.to_sql("orders", conn, if_exists=mode, index=False, chunksize=5000)
        tickets.to_sql("support_tickets", conn, if_exists=mode, index=False, chunksize=5000)
        conn.execute(sa.text("DROP TABLE IF EXISTS customer_features"))
        days = _DAYS[dialect]
        conn.execute(
            sa.text(
                FEATURE_SQL.format(
                    recency=days.format(as_of=AS_OF.isoformat(), col="o.last_order"),
                    tenure=days.format(as_of=AS_OF.isoformat(), col="c.signup_date"),
                )
            )
        )
    counts = {t: wh.row_count(t) for t in ("customers", "orders", "support_tickets", "customer_features")}
    wh.dispose()
    return counts


DRIFT_SQL = (
    # customers order less and later, complain more, and move to the basic plan
    "UPDATE customer_features SET recency_days = recency_days * 2 + 30, frequency = frequency / 2, "
    "monetary = monetary * 0.6, support_tickets = support_tickets + 2",
    "UPDATE customer_features SET plan = 'basic' WHERE MOD(customer_id, 3) = 0",
)


def shift_feature_distribution(url: str) -> dict[str, int]:
    """Shift ``customer_features`` (the demo's scoring source) so that ``mlpublish monitor`` sees drift."""
    wh = Warehouse(url, "warehouse")
    with wh.engine.begin() as conn:
        for sql in DRIFT_SQL:
            if wh.dialect == "sqlite":
                sql = sql.replace("MOD(customer_id, 3)", "customer_id % 3")
            conn.execute(sa.text(sql))
    counts = {"customer_features": wh.row_count("customer_features")}
    wh.dispose()
    return counts

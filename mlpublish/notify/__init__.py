"""Notifications on gate outcomes, promotions, rollbacks and data contract violations: Slack-compatible and generic webhooks, email.

The core builds the message and delivers it; who calls ``notify`` is the adapter's business, once per
event: the CLI (``run``, ``promote``, ``rollback``), Airflow task callbacks, Dagster run status sensors.
The steps themselves never notify, so an orchestrated run never notifies twice.
"""

from mlpublish.notify.events import (
    chain_notifications,
    contract_notification,
    live_promotion_notification,
    move_notification,
)
from mlpublish.notify.message import (
    SCHEMA,
    Link,
    MetricRow,
    Notification,
    Source,
    gate_notification,
    links_for,
    metric_rows,
    promotion_notification,
)
from mlpublish.notify.sinks import Delivery, NotifyConfigError, NotifySettings, deliver, notify, redact_url

__all__ = [
    "SCHEMA",
    "Delivery",
    "Link",
    "MetricRow",
    "Notification",
    "NotifyConfigError",
    "NotifySettings",
    "Source",
    "chain_notifications",
    "contract_notification",
    "deliver",
    "gate_notification",
    "links_for",
    "live_promotion_notification",
    "metric_rows",
    "move_notification",
    "notify",
    "promotion_notification",
    "redact_url",
]

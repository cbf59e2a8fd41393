"""Timestamps as mlpublish records them: UTC, ISO 8601, to the second.

A neutral module, so the catalog, the registry and the steps share one clock without depending on each other.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

"""The champion's history: every move of ``champion`` recorded as a registered-model tag.

The tag holds JSON, the last :data:`HISTORY_KEEP` moves: rollback walks it back, and a retried
promotion reads it so it never undoes a rollback or a newer champion.
"""

from __future__ import annotations

import json
from typing import Any

from mlpublish.clock import now_iso
from mlpublish.registry import Registry
from mlpublish.registry.contract import (
    HISTORY_TAG,
    PREVIOUS_TAG,
)

HISTORY_KEEP = 25


def champion_history(reg: Registry, name: str) -> list[dict[str, Any]]:
    """The recorded champion moves of ``name``, oldest first (empty when none or unreadable)."""
    raw = reg.model_tags(name).get(HISTORY_TAG)
    try:
        return json.loads(raw) if raw else []
    except ValueError:
        return []


def record_champion_move(
    reg: Registry,
    name: str,
    *,
    to: str,
    frm: str | None,
    action: str,
    reason: str,
    approval: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``approval``: who approved the move, when and why (``approved_by``, ``approved_at``, ``why``)."""
    entry = {"to": to, "from": frm, "action": action, "at": now_iso(), "reason": reason[:200], **(approval or {})}
    hist = (champion_history(reg, name) + [entry])[-HISTORY_KEEP:]
    reg.set_model_tag(name, HISTORY_TAG, json.dumps(hist, separators=(",", ":")))
    if frm is not None:
        reg.set_model_tag(name, PREVIOUS_TAG, frm)
    return entry


def rollback_target(history: list[dict[str, Any]], current: str) -> str | None:
    """The version the current champion replaced when it was last promoted (not by a rollback)."""
    for entry in reversed(history):
        if entry.get("to") == current and entry.get("action") != "rollback":
            return entry.get("from")
    return None

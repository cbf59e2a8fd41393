"""The relay's health file, and the probe that reads it (``mlpublish catalog relay --check-health``).

The relay writes one small JSON document, atomically (a temporary file in the same directory, then
``os.replace``), at start, at every health interval (also in the middle of a long delivery pass) and
whenever its state changes:

    {"catalog": "http://openmetadata:8585/api", "state": "ok", "queue_depth": 0, "failed": 0,
     "oldest_event_age_s": 0.0, "last_delivery_at": "2026-12-07T11:40:02+00:00", "last_error_class": null,
     "delivered": 44, "other_catalogs": {}, "listening": true, "wakeups": {"notify": 12, "poll": 3},
     "updated_at": "2026-12-07T11:41:00+00:00", "updated_at_unix": 1796643660.2}

``state`` is ``refused`` while OpenMetadata refuses the relay's token or role (401/403), ``degraded``
while it is unreachable, events are dead-lettered, or events wait for a catalog no deliverer serves,
else ``ok``. The probe fails (exit 1) when the file is missing, unreadable, older than ``max_age`` (the
relay is stuck or gone) or says ``refused``; ``degraded`` passes (the relay is doing its job: restarting
it would not bring OpenMetadata back) but is printed.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

STATES = ("ok", "degraded", "refused")


def write_health(path: str | Path, health: dict[str, Any]) -> None:
    """Replace the file at ``path`` with ``health`` (a reader sees the old document or the new one, never half)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(health, f, sort_keys=True)
            f.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_health(path: str | Path, max_age: float, now: float | None = None) -> tuple[bool, str]:
    """(healthy, one line saying why) for the health file at ``path``."""
    try:
        health = json.loads(Path(path).read_text())
        age = (time.time() if now is None else now) - float(health["updated_at_unix"])
        state = health["state"]
    except FileNotFoundError:
        return False, f"relay unhealthy: no health file at {path} (is the relay running with --health-file?)"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"relay unhealthy: health file {path} is unreadable ({exc.__class__.__name__})"
    line = (
        f"state={state} catalog={health.get('catalog')} queue_depth={health.get('queue_depth')} "
        f"oldest_event_age={health.get('oldest_event_age_s', 0):.0f}s last_delivery={health.get('last_delivery_at')} "
        f"last_error={health.get('last_error_class')} written {age:.0f}s ago"
    )
    others = health.get("other_catalogs") or {}
    if others:
        line += " waiting for other catalogs: " + ", ".join(f"{k} ({n})" for k, n in sorted(others.items()))
    if age > max_age:
        return False, f"relay unhealthy: health file older than {max_age:.0f}s (stuck or stopped): {line}"
    if state == "refused":
        return False, f"relay unhealthy: OpenMetadata refuses the relay's token or role: {line}"
    return True, f"relay healthy: {line}"

"""The relay's health file and its probe (mlpublish.catalog.relay_health)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mlpublish.catalog.relay_health import check_health, write_health


def health(state: str = "ok", written: float | None = None, **more: object) -> dict[str, object]:
    return {
        "catalog": "http://openmetadata:8585/api",
        "state": state,
        "queue_depth": 4,
        "failed": 0,
        "oldest_event_age_s": 12.0,
        "last_delivery_at": "2026-12-07T11:40:02+00:00",
        "last_error_class": None,
        "other_catalogs": {},
        "updated_at_unix": time.time() if written is None else written,
        **more,
    }


def test_the_file_is_replaced_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "run" / "health.json"
    write_health(path, health(queue_depth=1))
    write_health(path, health(queue_depth=2))
    assert json.loads(path.read_text())["queue_depth"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["health.json"]


@pytest.mark.parametrize("state", ["ok", "degraded"])
def test_a_fresh_file_that_is_not_refused_is_healthy(tmp_path: Path, state: str) -> None:
    path = tmp_path / "health.json"
    write_health(path, health(state, other_catalogs={"http://localhost:8585/api": 87}))
    healthy, line = check_health(path, max_age=60)
    assert healthy, line
    assert f"state={state}" in line and "queue_depth=4" in line and "oldest_event_age=12s" in line
    assert "http://localhost:8585/api (87)" in line


def test_a_stale_file_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    write_health(path, health(written=1000.0))
    healthy, line = check_health(path, max_age=60, now=1061.0)
    assert not healthy and "older than 60s" in line
    assert check_health(path, max_age=60, now=1059.0)[0]


def test_a_refused_token_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    write_health(path, health("refused", last_error_class="AuthRejected"))
    healthy, line = check_health(path, max_age=60)
    assert not healthy and "refuses the relay's token" in line and "last_error=AuthRejected" in line


def test_a_missing_or_broken_file_is_unhealthy(tmp_path: Path) -> None:
    assert not check_health(tmp_path / "none.json", max_age=60)[0]
    (tmp_path / "bad.json").write_text("{not json")
    healthy, line = check_health(tmp_path / "bad.json", max_age=60)
    assert not healthy and "unreadable" in line

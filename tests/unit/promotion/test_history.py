"""The champion's history (mlpublish.promotion.history): a JSON tag of the latest moves, read leniently,
walked back by rollback_target."""

from __future__ import annotations

import json
from typing import Any

from mlpublish.promotion import rollback_target
from mlpublish.promotion.history import HISTORY_KEEP, champion_history, record_champion_move
from mlpublish.registry.contract import HISTORY_TAG, PREVIOUS_TAG


def move(to: str, frm: str | None, action: str = "promote") -> dict[str, Any]:
    return {"to": to, "from": frm, "action": action, "at": "2024-05-01T00:00:00+00:00", "reason": ""}


def test_rollback_walks_back_through_promotions() -> None:
    history = [move("1", None), move("2", "1"), move("3", "2")]
    assert rollback_target(history, "3") == "2"

    history.append(move("2", "3", "rollback"))
    assert rollback_target(history, "2") == "1"

    history.append(move("1", "2", "rollback"))
    assert rollback_target(history, "1") is None


def test_rollback_target_without_history() -> None:
    assert rollback_target([], "1") is None
    assert rollback_target([move("1", None)], "7") is None


def test_rollback_after_a_repromotion_uses_the_latest_promotion() -> None:
    history = [move("1", None), move("2", "1"), move("1", "2", "rollback"), move("3", "1"), move("2", "3", "manual")]
    assert rollback_target(history, "2") == "3"
    assert rollback_target(history, "3") == "1"


class TagStore:
    """The registered-model tags of a registry, in memory: what champion_history and record_champion_move use."""

    def __init__(self, tags: dict[str, str] | None = None) -> None:
        self.tags = dict(tags or {})

    def model_tags(self, name: str) -> dict[str, str]:
        return dict(self.tags)

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self.tags[key] = value


def test_champion_history_is_empty_without_the_tag_or_when_it_is_unreadable() -> None:
    assert champion_history(TagStore(), "m") == []
    assert champion_history(TagStore({HISTORY_TAG: ""}), "m") == []
    assert champion_history(TagStore({HISTORY_TAG: "{not json"}), "m") == []
    moves = [move("1", None), move("2", "1")]
    assert champion_history(TagStore({HISTORY_TAG: json.dumps(moves)}), "m") == moves


def test_a_recorded_move_is_appended_and_names_the_previous_champion() -> None:
    reg = TagStore()
    first = record_champion_move(reg, "m", to="1", frm=None, action="promote", reason="first")
    assert PREVIOUS_TAG not in reg.tags  # no champion before the first
    second = record_champion_move(reg, "m", to="2", frm="1", action="promote", reason="x" * 500)
    assert reg.tags[PREVIOUS_TAG] == "1"
    assert champion_history(reg, "m") == [first, second]
    assert (second["to"], second["from"], second["action"]) == ("2", "1", "promote")
    assert second["reason"] == "x" * 200  # the tag stays small: reasons are cut
    assert rollback_target(champion_history(reg, "m"), "2") == "1"


def test_the_history_keeps_only_the_latest_moves() -> None:
    reg = TagStore()
    for v in range(1, HISTORY_KEEP + 6):
        record_champion_move(reg, "m", to=str(v), frm=str(v - 1), action="promote", reason="")
    history = champion_history(reg, "m")
    assert len(history) == HISTORY_KEEP
    assert history[0]["to"] == "6" and history[-1]["to"] == str(HISTORY_KEEP + 5)

"""The lock's fencing token (mlpublish.registry.fence) on a real MLflow registry store (SQLite): tokens only
grow across holders, every alias move under the lock carries one, and a move is refused once a newer holder
exists. (The frozen holder under every freeze point: tests/reliability/test_lock_interleavings.py.)"""

from __future__ import annotations

import pytest

from mlpublish.errors import RegistryConflict
from mlpublish.registry.contract import CHALLENGER, CHAMPION
from mlpublish.registry.fence import INTENT_TAG, fence_name, newest_token, take_token
from mlpublish.registry.lock import RegistryLock, held_lock

MODEL = "fenced"


@pytest.fixture
def reg(workspace):
    registry = workspace.registry()
    registry.client.create_registered_model(MODEL)
    for _ in range(2):
        registry.client.create_model_version(MODEL, "mlpublish:/model")
    return registry


def test_tokens_only_grow_across_holders(reg):
    tokens = []
    for _ in range(3):
        with reg.lock(MODEL):
            tokens.append(take_token(held_lock(reg, MODEL)))
    assert tokens == sorted(tokens) and len(set(tokens)) == 3
    reg.client.delete_model_version(fence_name(MODEL), str(tokens[-1]))  # even if someone deletes the newest
    with reg.lock(MODEL):
        assert take_token(held_lock(reg, MODEL)) > tokens[-1]


def test_every_alias_move_under_the_lock_carries_the_token(reg):
    with reg.lock(MODEL):
        reg.set_alias(MODEL, CHAMPION, "1")
        reg.set_alias(MODEL, CHALLENGER, "2")
        reg.delete_alias(MODEL, CHALLENGER)
        token = held_lock(reg, MODEL).token
    tags = reg.model_tags(MODEL)
    assert tags[f"{INTENT_TAG.format(alias=CHAMPION)}{token}"] == "1"
    assert tags[f"{INTENT_TAG.format(alias=CHALLENGER)}{token}"] == ""  # a removal
    assert reg.aliases(MODEL) == {CHAMPION: "1"}
    with reg.lock(MODEL):
        reg.set_alias(MODEL, CHAMPION, "2")
        newer = held_lock(reg, MODEL).token
    champion_intents = [k for k in reg.model_tags(MODEL) if k.startswith(INTENT_TAG.format(alias=CHAMPION))]
    assert champion_intents == [f"{INTENT_TAG.format(alias=CHAMPION)}{newer}"]  # the older intent was cleaned up


def test_a_move_is_refused_once_a_newer_holder_exists(reg):
    with reg.lock(MODEL):
        held = held_lock(reg, MODEL)
        take_token(held)
        newer = RegistryLock(reg, MODEL)  # a holder that broke our lock would take the next token
        newer.owner = held.owner
        assert take_token(newer) > held.token == newest_token(held) - 1
        with pytest.raises(RegistryConflict, match=r"a newer holder of the lock exists \(fencing token"):
            reg.set_alias(MODEL, CHAMPION, "2")
    assert CHAMPION not in reg.aliases(MODEL)


def test_without_the_lock_moves_are_plain(reg):
    reg.set_alias(MODEL, CHAMPION, "1")
    assert not reg.has_registered_model(fence_name(MODEL))

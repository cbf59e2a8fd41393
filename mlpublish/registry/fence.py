"""The lock's fencing token: a number that only grows, carried by every alias move made under the lock.

:meth:`RegistryLock.verify` refuses a write whose lock was broken. A holder that freezes *between* that
check and its write (a GC pause, SIGSTOP, a suspended VM) and wakes after its lease ran out would still
move the alias once, over the work of the holder that broke its lock. MLflow cannot compare a token on
write, so the fence works around it:

* **token**: at its first alias move, the holder creates a version of the registered model
  ``mlpublish-fence.<model>`` (never delete it: its numbers would start again) and takes its number. MLflow numbers versions max+1 under a unique
  (name, version) key, counting deleted versions, so numbers only grow and no two holders share one;
  the holder then re-verifies its lock, so every later holder takes a larger number.
* **every alias move** (:func:`fenced_alias_move`): refused if a larger token exists (a newer holder);
  records its intent, model tag ``mlpublish.fence.<alias>.<token>`` = ``<version>``; moves; re-reads the
  newest token. If a newer holder appeared meanwhile, the move may have landed over that holder's: the
  alias is put back to the newest intent (or to its value before the move) and the move is refused.
  A move that stands removes the older intents.

What remains is the case where the frozen process never wakes after its in-flight write lands; the newer
holder's own moves re-read the alias (compare-and-set), and docs/operations/registry-lock.md says so.
"""

from __future__ import annotations

from mlpublish.errors import NotFound, RegistryConflict
from mlpublish.registry.lock import EXISTS, MISSING, OK, UNKNOWN, RegistryLock, filter_literal

FENCE_PREFIX = "mlpublish-fence."
# A source MLflow's server accepts for a version without a run (absolute, non-local, nothing behind it).
FENCE_SOURCE = "mlpublish:/fence"
INTENT_TAG = "mlpublish.fence.{alias}."  # + the token: a stale holder's late write never overwrites a newer intent


def fence_name(model: str) -> str:
    return f"{FENCE_PREFIX}{model}"


def take_token(held: RegistryLock) -> int:
    """A fencing token for the lock ``held`` holds: larger than any earlier holder's, smaller than any later one's."""
    name = fence_name(held.model)
    # The counter is created first if needed: with authentication, a version of a model that does not exist
    # is refused (403), not reported missing. Any identity may create it; one that exists is fine.
    counter = False
    while True:
        if not counter:
            created = held._call(
                "create_registered_model", name, description=f"mlpublish fencing tokens of {held.model}"
            )
            counter = created[0] in (OK, EXISTS)
            continue
        outcome, mv = held._call(
            "create_model_version", name, FENCE_SOURCE, tags={"owner": held.owner or ""}, description="fencing token"
        )
        if outcome == OK:
            token = int(mv.version)
            break
        counter = outcome != MISSING  # UNKNOWN: a version we may have created is only a smaller, unused number
    held.verify()  # the token exists before our lock is confirmed: any later holder takes a larger one
    held.token = token
    return token


def newest_token(held: RegistryLock) -> int:
    while True:
        outcome, found = held._call(
            "search_model_versions",
            f"name = '{filter_literal(fence_name(held.model))}'",
            max_results=1,
            order_by=["version_number DESC"],
        )
        if outcome == OK:
            return max((int(mv.version) for mv in found), default=0)


def _alias_and_intents(held: RegistryLock, alias: str) -> tuple[str | None, dict[int, str]]:
    """The alias's version now, and the recorded intents (token -> version, "" for a removal)."""
    prefix = INTENT_TAG.format(alias=alias)
    while True:
        outcome, rm = held._call("get_registered_model", held.model)
        if outcome == MISSING:
            raise NotFound(f"model {held.model!r}: not found in the registry at {held.where}")
        if outcome == OK:
            found = (rm.aliases or {}).get(alias)
            intents = {
                int(key[len(prefix) :]): value
                for key, value in dict(rm.tags).items()
                if key.startswith(prefix) and key[len(prefix) :].isdigit()
            }
            return (None if found is None else str(found)), intents


def _refuse_if_newer(held: RegistryLock, token: int, alias: str, version: str | None) -> None:
    newest = newest_token(held)
    if newest > token:
        raise RegistryConflict(
            f"{alias} of {held.model!r} not moved to {_show(version)}: a newer holder of the lock exists "
            f"(fencing token {newest} > ours {token}; we held it past its lease): retry the step"
        )


def fenced_alias_move(held: RegistryLock, alias: str, version: str | None) -> None:
    """Point ``alias`` of the locked model at ``version`` (None: remove it), fenced as the module says."""
    token = held.token if held.token is not None else take_token(held)
    held.verify()
    _refuse_if_newer(held, token, alias, version)
    before, _ = _alias_and_intents(held, alias)
    _write(held, "set_registered_model_tag", f"{INTENT_TAG.format(alias=alias)}{token}", version or "")
    _move(held, alias, version)
    newest = newest_token(held)
    _, intents = _alias_and_intents(held, alias)
    if newest <= token:
        for older in (t for t in intents if t < token):
            _write(held, "delete_registered_model_tag", f"{INTENT_TAG.format(alias=alias)}{older}")
        return
    # A newer holder took the lock while we wrote: the newest intent wins, else the alias goes back to what it was.
    latest = max(intents, default=0)
    restore = (intents[latest] or None) if latest > token else before
    _move(held, alias, restore)
    raise RegistryConflict(
        f"{alias} of {held.model!r} not moved to {_show(version)}: a newer holder of the lock (fencing token "
        f"{newest} > ours {token}) appeared during the move; {alias} put back to {_show(restore)}: retry the step"
    )


def _move(held: RegistryLock, alias: str, version: str | None) -> None:
    if version is None:
        _write(held, "delete_registered_model_alias", alias)
    else:
        _write(held, "set_registered_model_alias", alias, version)


def _write(held: RegistryLock, call: str, *args: str) -> None:
    while True:
        outcome, _ = held._call(call, held.model, *args)
        if outcome == MISSING and not call.startswith("delete"):
            raise NotFound(f"{call} {args} on model {held.model!r}: not found in the registry at {held.where}")
        if outcome != UNKNOWN:  # these writes are idempotent: an unknown outcome is simply made again
            return


def _show(version: str | None) -> str:
    return "nothing" if version is None else f"v{version}"

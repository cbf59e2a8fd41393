"""promote: move ``champion`` to a challenger that still beats it; manual promotion; rollback.

Every move of ``champion`` happens under the registry lock and re-reads the
alias first (compare-and-set). If the champion moved since validation, the
candidate is compared again with the new champion on its own held-out rows;
if it no longer beats it, the move is refused and nothing changes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mlpublish import provenance
from mlpublish.catalog import publish
from mlpublish.catalog.events import RecordAliasChange, SetModelProperties, UpsertMlModel
from mlpublish.context import PublishContext
from mlpublish.errors import CatalogUnavailable, GateFailed, NotFound, RegistryConflict
from mlpublish.gates import beats_champion
from mlpublish.redact import scrub
from mlpublish.registry import CHALLENGER, CHAMPION, VALIDATION_TAG, Registry, now_iso
from mlpublish.results import EvaluateResult, PromoteResult, RegisterResult, ValidateResult, same_candidate
from mlpublish.steps.card import champion_card
from mlpublish.steps.evaluate import evaluate_champion
from mlpublish.steps.register import CATALOG_FQN_TAG, CATALOG_RUN_TAG

log = logging.getLogger("mlpublish.promote")


def _move_champion(reg: Registry, catalog: Any, name: str, fqn: str | None, version: str,
                   previous: str | None, action: str, reason: str) -> None:
    """Set the alias, then record the move. Caller holds the lock.

    The alias goes first: if anything after it fails, the retry finds the alias
    already moved and :func:`_complete_move` writes what is missing.
    """
    reg.set_alias(name, CHAMPION, version)
    entry = reg.record_champion_move(name, to=version, frm=previous, action=action, reason=reason)
    _finish(reg, catalog, name, fqn, version, entry)


def _complete_move(reg: Registry, catalog: Any, name: str, fqn: str | None, version: str) -> None:
    """``version`` is champion already: make sure its history entry, tags and catalog records exist (idempotent)."""
    history = reg.history(name)
    entry = history[-1] if history and history[-1].get("to") == version else None
    if entry is None:
        entry = reg.record_champion_move(name, to=version, frm=history[-1]["to"] if history else None,
                                         action="recovered", reason="recorded by a retry after an interrupted move")
    _finish(reg, catalog, name, fqn, version, entry)


def _finish(reg: Registry, catalog: Any, name: str, fqn: str | None, version: str, entry: dict[str, Any]) -> None:
    if reg.alias_version(name, CHALLENGER) == version:
        reg.delete_alias(name, CHALLENGER)
    mv = reg.get_version(name, version)
    if (mv.tags or {}).get("mlpublish.champion_since") != entry["at"]:
        reg.set_version_tag(name, version, "mlpublish.champion_since", entry["at"])
    if catalog is None or not fqn:
        return
    try:
        events: list[Any] = champion_entity_events(reg, mv)
        events += [
            RecordAliasChange(fqn=fqn, alias=CHAMPION, version=version, previous=entry.get("from"),
                              action=entry["action"], at=entry["at"]),
            SetModelProperties(fqn=fqn, properties={
                "championVersion": version, "previousChampionVersion": entry.get("from") or "none",
                "championRunId": mv.run_id, "aliases": json.dumps(reg.aliases(name), sort_keys=True),
                "lastPublishedAt": entry["at"],
                **provenance.champion_properties(_run_tags(reg, mv), (mv.tags or {}).get(provenance.COPIED_FROM_TAG)),
            }),
        ]
        publish(catalog, events, f"{name} v{version}")
    except NotFound:
        log.warning("%s: catalog has no entity %s; alias history kept in the registry only", name, fqn)
    except CatalogUnavailable as exc:
        raise CatalogUnavailable(
            f"{CHAMPION} of {name} is v{version} in the registry, but the catalog was not updated ({exc}); "
            f"finish with: mlpublish promote {name} --version {version}"
        ) from exc


def _run_tags(reg: Registry, mv: Any) -> dict[str, str]:
    """Tags of the run that trained ``mv`` (a copied version: its copy run, which carries them)."""
    try:
        return dict(reg.client.get_run((mv.tags or {}).get(CATALOG_RUN_TAG) or mv.run_id).data.tags)
    except Exception as exc:  # noqa: BLE001 (a version registered by another tool may name no readable run)
        log.warning("%s v%s: cannot read its run's tags (%s); its code version is unknown", mv.name, mv.version,
                    scrub(str(exc)))
        return {}


def champion_entity_events(reg: Registry, mv: Any) -> list[Any]:
    """The MlModel entity and lineage recorded by the champion's own training run (see train).

    A version whose run recorded none (logged by another tool) leaves the entity
    as it is; failing to read one that exists is an error, so the move can be finished.
    """
    import posixpath

    from mlpublish.catalog.events import parse_events
    from mlpublish.steps.train import CATALOG_EVENTS_ARTIFACT

    folder = posixpath.dirname(CATALOG_EVENTS_ARTIFACT)
    # a version copied from another environment: its copy run holds the entity under this environment's names
    run_id = (mv.tags or {}).get(CATALOG_RUN_TAG) or mv.run_id
    try:
        listed = {a.path for a in reg.client.list_artifacts(run_id, folder)}
        if CATALOG_EVENTS_ARTIFACT not in listed:
            log.warning("%s v%s: its run recorded no catalog entity; entity left as it is", mv.name, mv.version)
            return []
        path = reg.client.download_artifacts(run_id, CATALOG_EVENTS_ARTIFACT)
        with open(path) as fh:
            events = parse_events(json.load(fh))
    except Exception as exc:
        raise CatalogUnavailable(scrub(f"cannot read the catalog entity of {mv.name} v{mv.version} "
                                       f"(run {run_id}, {CATALOG_EVENTS_ARTIFACT}): {exc}")) from exc
    return with_card(events, champion_card(reg, mv))


def with_card(events: list[Any], card: str | None) -> list[Any]:
    """The entity events with the champion's model card as the MlModel description.

    The card rides in the entity itself (not a separate event), so a replayed outbox
    asserts one description per entity and the sinks' description handling applies.
    """
    if card is None:
        return events
    return [UpsertMlModel(fqn=e.fqn, entity={**e.entity, "description": card}) if isinstance(e, UpsertMlModel) else e
            for e in events]


def promote_challenger(ctx: PublishContext, evaluation: EvaluateResult, validation: ValidateResult,
                       registration: RegisterResult) -> PromoteResult:
    same_candidate("promote", evaluation, validation, registration)
    spec, reg, name = ctx.spec, ctx.registry, ctx.spec.name
    version = registration.version
    mode = spec.promotion.mode
    base = dict(model_name=name, version=version, mode=mode)
    if version is None or validation.status != "PASSED":
        current = reg.alias_version(name, CHAMPION)
        return PromoteResult(**base, promoted=False, champion_before=current, champion_after=current,
                             reason=f"candidate run {validation.run_id} is {validation.status}: never promoted")
    if mode == "manual":
        current = reg.alias_version(name, CHAMPION)
        reason = (f"promotion.mode is manual: v{version} waits as {CHALLENGER}; "
                  f"approve with: mlpublish promote {name} --version {version}")
        log.info("%s: %s", name, reason)
        return PromoteResult(**base, promoted=False, champion_before=current, champion_after=current, reason=reason)

    with reg.lock(name):
        current = reg.alias_version(name, CHAMPION)
        if current == version:
            _complete_move(reg, ctx.catalog, name, spec.fqn, version)
            return PromoteResult(**base, promoted=True, champion_before=current, champion_after=current,
                                 reason=f"v{version} is already {CHAMPION} (nothing to move)")
        earlier = next((e for e in reg.history(name) if version in (e.get("to"), e.get("from"))), None)
        if earlier is not None:  # a retried task must not undo a rollback or a newer champion
            reason = (f"v{version} was champion before ({earlier['action']} at {earlier['at']}) and has since been "
                      f"replaced by v{current}: "
                      f"a retry does not move it back (to do it on purpose: mlpublish promote {name} --version {version})")
            return PromoteResult(**base, promoted=False, champion_before=current, champion_after=current, reason=reason)
        compared = evaluation.champion_version
        checks = []
        if current is not None and current != compared:
            champ_metrics, err = evaluate_champion(ctx, current, evaluation.run_id)
            if err:
                reason = f"champion moved from v{compared or 'none'} to v{current} after validation and {err}: refused"
                return PromoteResult(**base, promoted=False, champion_before=current, champion_after=current, reason=reason)
            checks = beats_champion(spec.validation.gates, evaluation.metrics, champ_metrics, current)
            failed = [c for c in checks if not c.passed]
            if failed:
                reason = (f"champion moved from v{compared or 'none'} to v{current} after validation and v{version} "
                          f"no longer beats it: " + "; ".join(c.detail for c in failed))
                log.warning("%s: %s", name, reason)
                return PromoteResult(**base, promoted=False, champion_before=current, champion_after=current,
                                     reason=reason, checks=checks)
        if current is None:
            reason = (f"first {CHAMPION} of {name}: promoted on absolute gates alone"
                      if compared is None else f"champion v{compared} was removed meanwhile; v{version} passed its gates")
        else:
            reason = f"v{version} beats {CHAMPION} v{current} on every relative gate"
        _move_champion(reg, ctx.catalog, name, spec.fqn, version, current, "promote", reason)
    log.info("%s: %s -> v%s (%s)", name, CHAMPION, version, reason)
    return PromoteResult(**base, promoted=True, champion_before=current, champion_after=version, reason=reason, checks=checks)


def promote_version(reg: Registry, catalog: Any, name: str, version: str, reason: str = "manual approval") -> PromoteResult:
    """A person approves a version: it must exist and be PASSED. Relative gates are the person's call."""
    mv = reg.get_version(name, version)
    version = str(mv.version)  # "02" -> "2"
    status = (mv.tags or {}).get(VALIDATION_TAG)
    if status != "PASSED":
        raise GateFailed(f"{name} v{version} has {VALIDATION_TAG}={status or 'unset'}: only PASSED versions can become {CHAMPION}",
                         model=name, version=str(version))
    fqn = reg.model_tags(name).get(CATALOG_FQN_TAG)
    with reg.lock(name):
        current = reg.alias_version(name, CHAMPION)
        if current == version:
            _complete_move(reg, catalog, name, fqn, version)
            return PromoteResult(model_name=name, version=version, promoted=True, mode="manual",
                                 champion_before=current, champion_after=current, reason=f"v{version} is already {CHAMPION}")
        _move_champion(reg, catalog, name, fqn, version, current, "manual", reason)
    return PromoteResult(model_name=name, version=version, promoted=True, mode="manual", champion_before=current,
                         champion_after=version, reason=f"{reason}: {CHAMPION} v{current or 'none'} -> v{version}")


def rollback_champion(reg: Registry, catalog: Any, name: str) -> PromoteResult:
    """Restore the champion that the current one replaced (walks back on repeated rollbacks)."""
    fqn = reg.model_tags(name).get(CATALOG_FQN_TAG)
    with reg.lock(name):
        current = reg.alias_version(name, CHAMPION)
        if current is None:
            raise NotFound(f"{name} has no {CHAMPION}: nothing to roll back")
        target = rollback_target(reg.history(name), current)
        if target is None:
            raise RegistryConflict(f"{name}: no earlier {CHAMPION} recorded before v{current}; nothing to roll back to")
        reg.set_version_tag(name, current, "mlpublish.rolled_back_at", now_iso())
        _move_champion(reg, catalog, name, fqn, target, current, "rollback", f"rollback of v{current}")
    log.info("%s: rolled back %s v%s -> v%s", name, CHAMPION, current, target)
    return PromoteResult(model_name=name, version=target, promoted=True, mode="rollback", champion_before=current,
                         champion_after=target, reason=f"{CHAMPION} rolled back from v{current} to v{target}")


def rollback_target(history: list[dict[str, Any]], current: str) -> str | None:
    """The version the current champion replaced when it was last promoted (not by a rollback)."""
    for entry in reversed(history):
        if entry.get("to") == current and entry.get("action") != "rollback":
            return entry.get("from")
    return None

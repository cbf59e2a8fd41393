"""Who is champion and how it moves: moves under the registry lock, their history, rollback, the champion's card.

Every move of ``champion`` happens under the registry lock and re-reads the
alias first (compare-and-set). The alias goes first and everything that follows
(history entry, version tags, catalog entity) is completed idempotently, so a
retry after a crash anywhere in between finishes the move instead of repeating it.

The history is a registered-model tag (JSON, the last :data:`HISTORY_KEEP`
moves): rollback walks it back, and a retried promotion reads it so it never
undoes a rollback or a newer champion.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mlpublish import provenance
from mlpublish.card import rollback_section, with_copy_note, with_rollback
from mlpublish.catalog import publish
from mlpublish.catalog.events import RecordAliasChange, SetModelProperties, UpsertMlModel, parse_events
from mlpublish.clock import now_iso
from mlpublish.contract import (
    CARD_MARKDOWN,
    CATALOG_EVENTS_ARTIFACT,
    CATALOG_FQN_TAG,
    CATALOG_RUN_TAG,
    CHALLENGER,
    CHAMPION,
    CHAMPION_SINCE_TAG,
    COPIED_FROM_TAG,
    DATASET_DIGEST_TAG,
    GIT_COMMIT_TAG,
    GIT_DIRTY_TAG,
    HISTORY_TAG,
    PASSED,
    PREVIOUS_TAG,
    ROLLED_BACK_AT_TAG,
    SPLIT_TAG,
    TRAINING_FQN_TAG,
    VALIDATION_TAG,
)
from mlpublish.errors import CatalogUnavailable, GateFailed, NotFound, RegistryConflict
from mlpublish.gates import TOLERANCE, CheckResult
from mlpublish.metrics import higher_is_better
from mlpublish.redact import scrub
from mlpublish.registry import Registry
from mlpublish.results import PromoteResult

log = logging.getLogger("mlpublish.promote")

HISTORY_KEEP = 25


# History -------------------------------------------------------------------------
def champion_history(reg: Registry, name: str) -> list[dict[str, Any]]:
    """The recorded champion moves of ``name``, oldest first (empty when none or unreadable)."""
    raw = reg.model_tags(name).get(HISTORY_TAG)
    try:
        return json.loads(raw) if raw else []
    except ValueError:
        return []


def record_champion_move(
    reg: Registry, name: str, *, to: str, frm: str | None, action: str, reason: str
) -> dict[str, Any]:
    entry = {"to": to, "from": frm, "action": action, "at": now_iso(), "reason": reason[:200]}
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


# Moves ---------------------------------------------------------------------------
def move_champion(
    reg: Registry,
    catalog: Any,
    name: str,
    fqn: str | None,
    version: str,
    previous: str | None,
    action: str,
    reason: str,
) -> None:
    """Set the alias, then record the move. Caller holds the lock.

    The alias goes first: if anything after it fails, the retry finds the alias
    already moved and :func:`complete_move` writes what is missing.
    """
    reg.set_alias(name, CHAMPION, version)
    entry = record_champion_move(reg, name, to=version, frm=previous, action=action, reason=reason)
    _finish(reg, catalog, name, fqn, version, entry)


def complete_move(reg: Registry, catalog: Any, name: str, fqn: str | None, version: str) -> None:
    """``version`` is champion already: make sure its history entry, tags and catalog records exist (idempotent)."""
    history = champion_history(reg, name)
    entry = history[-1] if history and history[-1].get("to") == version else None
    if entry is None:
        entry = record_champion_move(
            reg,
            name,
            to=version,
            frm=history[-1]["to"] if history else None,
            action="recovered",
            reason="recorded by a retry after an interrupted move",
        )
    _finish(reg, catalog, name, fqn, version, entry)


def _finish(reg: Registry, catalog: Any, name: str, fqn: str | None, version: str, entry: dict[str, Any]) -> None:
    if reg.alias_version(name, CHALLENGER) == version:
        reg.delete_alias(name, CHALLENGER)
    mv = reg.get_version(name, version)
    if (mv.tags or {}).get(CHAMPION_SINCE_TAG) != entry["at"]:
        reg.set_version_tag(name, version, CHAMPION_SINCE_TAG, entry["at"])
    if catalog is None or not fqn:
        return
    try:
        events: list[Any] = champion_entity_events(reg, mv)
        events += [
            RecordAliasChange(
                fqn=fqn,
                alias=CHAMPION,
                version=version,
                previous=entry.get("from"),
                action=entry["action"],
                at=entry["at"],
            ),
            SetModelProperties(
                fqn=fqn,
                properties={
                    "championVersion": version,
                    "previousChampionVersion": entry.get("from") or "none",
                    "championRunId": mv.run_id,
                    "aliases": json.dumps(reg.aliases(name), sort_keys=True),
                    "lastPublishedAt": entry["at"],
                    **provenance.champion_properties(_run_tags(reg, mv), (mv.tags or {}).get(COPIED_FROM_TAG)),
                },
            ),
        ]
        publish(catalog, events, f"{name} v{version}")
    except NotFound:
        log.warning("%s: catalog has no entity %s; alias history kept in the registry only", name, fqn)
    except CatalogUnavailable as exc:
        raise CatalogUnavailable(
            f"{CHAMPION} of {name} is v{version} in the registry, but the catalog was not updated ({exc}); "
            f"finish with: mlpublish promote {name} --version {version}"
        ) from exc


def promote_version(
    reg: Registry, catalog: Any, name: str, version: str, reason: str = "manual approval"
) -> PromoteResult:
    """A person approves a version: it must exist and be PASSED. Relative gates are the person's call."""
    mv = reg.get_version(name, version)
    version = str(mv.version)  # "02" -> "2"
    status = (mv.tags or {}).get(VALIDATION_TAG)
    if status != PASSED:
        raise GateFailed(
            f"{name} v{version} has {VALIDATION_TAG}={status or 'unset'}: only PASSED versions can become {CHAMPION}",
            model=name,
            version=str(version),
        )
    fqn = reg.model_tags(name).get(CATALOG_FQN_TAG)
    with reg.lock(name):
        current = reg.alias_version(name, CHAMPION)
        if current == version:
            complete_move(reg, catalog, name, fqn, version)
            return PromoteResult(
                model_name=name,
                version=version,
                promoted=True,
                mode="manual",
                champion_before=current,
                champion_after=current,
                reason=f"v{version} is already {CHAMPION}",
            )
        move_champion(reg, catalog, name, fqn, version, current, "manual", reason)
    return PromoteResult(
        model_name=name,
        version=version,
        promoted=True,
        mode="manual",
        champion_before=current,
        champion_after=version,
        reason=f"{reason}: {CHAMPION} v{current or 'none'} -> v{version}",
    )


def rollback_champion(reg: Registry, catalog: Any, name: str) -> PromoteResult:
    """Restore the champion that the current one replaced (walks back on repeated rollbacks)."""
    fqn = reg.model_tags(name).get(CATALOG_FQN_TAG)
    with reg.lock(name):
        current = reg.alias_version(name, CHAMPION)
        if current is None:
            raise NotFound(f"{name} has no {CHAMPION}: nothing to roll back")
        target = rollback_target(champion_history(reg, name), current)
        if target is None:
            raise RegistryConflict(f"{name}: no earlier {CHAMPION} recorded before v{current}; nothing to roll back to")
        reg.set_version_tag(name, current, ROLLED_BACK_AT_TAG, now_iso())
        move_champion(reg, catalog, name, fqn, target, current, "rollback", f"rollback of v{current}")
    log.info("%s: rolled back %s v%s -> v%s", name, CHAMPION, current, target)
    return PromoteResult(
        model_name=name,
        version=target,
        promoted=True,
        mode="rollback",
        champion_before=current,
        champion_after=target,
        reason=f"{CHAMPION} rolled back from v{current} to v{target}",
    )


# Is it new? How does it compare? ----------------------------------------------------
# What makes two training runs the same model: the data (digest, table, split), the code version.
REPRODUCTION_TAGS = (DATASET_DIGEST_TAG, TRAINING_FQN_TAG, SPLIT_TAG, GIT_COMMIT_TAG, GIT_DIRTY_TAG)


def reproduced_champion(
    reg: Registry,
    name: str,
    champion_version: str | None,
    run_id: str,
    metrics: dict[str, float],
    champion_metrics: dict[str, float] | None,
) -> str | None:
    """How candidate run ``run_id`` is champion ``champion_version`` again, or None when it is new.

    The same held-out metrics are not enough (a different model can tie): the training data
    digest, table and split, the parameters and estimator (the run's params) and the code
    version must all be the champion's too. A version copied from another environment or
    trained by another tool has no comparable run here, so it is never "the same".
    """
    if champion_version is None or not champion_metrics or set(metrics) != set(champion_metrics):
        return None
    if any(abs(metrics[k] - champion_metrics[k]) > TOLERANCE for k in metrics):
        return None
    mv = reg.get_version(name, champion_version)
    if (mv.tags or {}).get(COPIED_FROM_TAG) or not mv.run_id or mv.run_id == run_id:
        return None
    candidate, champion = reg.run(run_id).data, reg.run(mv.run_id).data
    if candidate.params != champion.params:
        return None
    if any(candidate.tags.get(k) != champion.tags.get(k) for k in REPRODUCTION_TAGS):
        return None
    digest = candidate.tags.get(DATASET_DIGEST_TAG) or "unknown"
    code = candidate.tags.get(GIT_COMMIT_TAG, "unknown")[:12]
    return (
        f"run {run_id} reproduces {CHAMPION} v{champion_version} (run {mv.run_id}): same training data "
        f"(digest {digest}), parameters, estimator {candidate.params.get('mlpublish.estimator', 'unknown')}, "
        f"code version {code} and held-out metrics; no new version, {CHAMPION} stays v{champion_version}"
    )


def promotion_reason(version: str, current: str, checks: list[CheckResult]) -> str:
    """Why ``version`` replaces champion ``current``, with the numbers of the relative gates.

    A candidate "beats" the champion only when it is strictly better on every relative gate;
    one let through by a ``maxDropVsChampion`` tolerance is said to be within it.
    """
    compared = [c for c in checks if c.kind and c.value is not None and c.champion_value is not None]
    if not compared:
        return f"v{version} replaces {CHAMPION} v{current}: the spec has no relative gate (absolute gates passed)"
    parts, within = [], False
    for c in compared:
        delta = c.value - c.champion_value  # type: ignore[operator]
        gain = delta if higher_is_better(c.metric or "") else -delta
        metric = f"{c.metric} [{c.slice}]" if c.slice else c.metric  # a per-slice gate names its slice
        if c.kind == "maxDropVsChampion" and gain <= TOLERANCE:
            within = True
            parts.append(f"{metric} {delta:+.4f}, within {c.kind} {c.threshold:g}")
        else:
            parts.append(f"{metric} {delta:+.4f} ({c.kind} {c.threshold:g})")
    if within:
        return f"v{version} promoted over {CHAMPION} v{current} within tolerance: " + "; ".join(parts)
    return f"v{version} beats {CHAMPION} v{current}: " + "; ".join(parts)


# What the catalog says about the champion ------------------------------------------
def artifact_run_id(mv: Any) -> str:
    """The run holding ``mv``'s card, catalog entity and tags under this environment's names
    (a version copied from another environment: its copy run, which carries the source run's)."""
    return (mv.tags or {}).get(CATALOG_RUN_TAG) or mv.run_id


def _run_tags(reg: Registry, mv: Any) -> dict[str, str]:
    """Tags of the run that trained ``mv`` (a copied version: its copy run, which carries them)."""
    try:
        return dict(reg.run(artifact_run_id(mv)).data.tags)
    except Exception as exc:  # noqa: BLE001 (a version registered by another tool may name no readable run)
        log.warning(
            "%s v%s: cannot read its run's tags (%s); its code version is unknown", mv.name, mv.version, scrub(str(exc))
        )
        return {}


def champion_entity_events(reg: Registry, mv: Any) -> list[Any]:
    """The MlModel entity and lineage recorded by the champion's own training run (see steps.train).

    A version whose run recorded none (logged by another tool) leaves the entity
    as it is; failing to read one that exists is an error, so the move can be finished.
    """
    run_id = artifact_run_id(mv)
    try:
        text = reg.read_text(run_id, CATALOG_EVENTS_ARTIFACT)
        if text is None:
            log.warning("%s v%s: its run recorded no catalog entity; entity left as it is", mv.name, mv.version)
            return []
        events = parse_events(json.loads(text))
    except Exception as exc:
        raise CatalogUnavailable(
            scrub(
                f"cannot read the catalog entity of {mv.name} v{mv.version} "
                f"(run {run_id}, {CATALOG_EVENTS_ARTIFACT}): {exc}"
            )
        ) from exc
    return with_card(events, champion_card(reg, mv))


def with_card(events: list[Any], card: str | None) -> list[Any]:
    """The entity events with the champion's model card as the MlModel description.

    The card rides in the entity itself (not a separate event), so a replayed outbox
    asserts one description per entity and the sinks' description handling applies.
    """
    if card is None:
        return events
    return [
        UpsertMlModel(fqn=e.fqn, entity={**e.entity, "description": card}) if isinstance(e, UpsertMlModel) else e
        for e in events
    ]


def champion_card(reg: Registry, mv: Any) -> str | None:
    """The card of ``mv`` as champion: its logged card with the rollback section as it stands now
    (what ``mlpublish rollback`` would restore, from the registry's champion history)."""
    run_id = artifact_run_id(mv)
    try:
        markdown = reg.read_text(run_id, CARD_MARKDOWN)
    except Exception as exc:
        raise CatalogUnavailable(
            scrub(f"cannot read the model card of {mv.name} v{mv.version} (run {run_id}, {CARD_MARKDOWN}): {exc}")
        ) from exc
    if markdown is None:
        log.warning("%s v%s: its run has no model card; the catalog description is left as it is", mv.name, mv.version)
        return None
    version = str(mv.version)
    history = champion_history(reg, mv.name)
    since = next((e.get("at") for e in reversed(history) if e.get("to") == version), None)
    section = rollback_section(mv.name, version, PASSED, rollback_target(history, version), champion=True, since=since)
    origin = (mv.tags or {}).get(COPIED_FROM_TAG)
    if origin:
        markdown = with_copy_note(markdown, mv.name, version, origin)
    return with_rollback(markdown, section)

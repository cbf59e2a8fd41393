"""What the catalog says about the champion: the entity and lineage its training run recorded, with its model card,
and the data contract learned by that run (on the training table)."""

from __future__ import annotations

import json
import logging
from typing import Any

from mlpublish.catalog.events import AddLineage, UpsertDataContract, UpsertMlModel, parse_events
from mlpublish.contracts.model import CONTRACT_ARTIFACT, DataContract
from mlpublish.errors import CatalogUnavailable
from mlpublish.model_card import esc, rollback_section, with_copy_note, with_rollback
from mlpublish.promotion.history import champion_history, rollback_target
from mlpublish.promotion.live_evidence import live_card_section
from mlpublish.redact import scrub
from mlpublish.registry import Registry
from mlpublish.registry.contract import (
    CARD_MARKDOWN,
    CATALOG_EVENTS_ARTIFACT,
    CATALOG_RUN_TAG,
    COPIED_FROM_TAG,
    PASSED,
    SHADOW_EVIDENCE_TAG,
)

log = logging.getLogger("mlpublish.promote")


def artifact_run_id(mv: Any) -> str:
    """The run holding ``mv``'s card, catalog entity and tags under this environment's names
    (a version copied from another environment: its copy run, which carries the source run's)."""
    return (mv.tags or {}).get(CATALOG_RUN_TAG) or mv.run_id


def run_tags(reg: Registry, mv: Any) -> dict[str, str]:
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
    entry = next((e for e in reversed(history) if e.get("to") == version), {})
    since = entry.get("at")
    section = rollback_section(mv.name, version, PASSED, rollback_target(history, version), champion=True, since=since)
    if entry.get("approved_by"):  # promotion.approval: required: who approved this move, when and why
        section += (
            f"\nApproved by {esc(entry['approved_by'])} on {esc(entry.get('approved_at') or '?')}: "
            f"{esc(entry.get('why') or '')}\n"
        )
    origin = (mv.tags or {}).get(COPIED_FROM_TAG)
    if origin:
        markdown = with_copy_note(markdown, mv.name, version, origin)
    evidence = (mv.tags or {}).get(SHADOW_EVIDENCE_TAG)  # promotion.mode: shadow: what it won on live labels
    return with_rollback(markdown, (live_card_section(evidence) if evidence else "") + section)


def contract_name(model: str) -> str:
    """The catalog name of a model's data contract (unique on its training table)."""
    return f"{model}-contract"


def run_contract(reg: Registry, run_id: str) -> DataContract | None:
    """The data contract a training run logged (:data:`CONTRACT_ARTIFACT`), None when it logged none (a run
    trained before contracts, or by another tool). A contract that cannot be read raises."""
    text = reg.read_text(run_id, CONTRACT_ARTIFACT)
    return None if text is None else DataContract.from_json(json.loads(text))


def champion_contract_events(reg: Registry, mv: Any, fqn: str, entity_events: list[Any]) -> list[Any]:
    """The champion's data contract for the catalog: on the training table its entity's lineage names (a copied
    version: the table under this environment's names), named :func:`contract_name`; none without a contract."""
    run_id = artifact_run_id(mv)
    try:
        contract = run_contract(reg, run_id)
    except ValueError as exc:  # not JSON, or not a contract (pydantic's ValidationError): no retry can mend it
        log.warning(
            "%s v%s: its data contract cannot be read (%s); none sent to the catalog",
            mv.name,
            mv.version,
            scrub(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__),
        )
        return []
    except Exception as exc:
        raise CatalogUnavailable(
            scrub(
                f"cannot read the data contract of {mv.name} v{mv.version} (run {run_id}, {CONTRACT_ARTIFACT}): {exc}"
            )
        ) from exc
    if contract is None:
        log.info("%s v%s: its run logged no data contract; none sent to the catalog", mv.name, mv.version)
        return []
    table = next(
        (e.from_fqn for e in entity_events if isinstance(e, AddLineage) and e.to_type == "mlmodel"), contract.table
    )
    contract = contract.model_copy(update={"model": mv.name, "table": table})
    return [
        UpsertDataContract(table_fqn=table, name=contract_name(mv.name), model_fqn=fqn, contract=contract.to_json())
    ]

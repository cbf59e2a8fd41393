"""Who is champion and how it moves.

* :mod:`~mlpublish.promotion.decision`: is a candidate new, and why it replaces the champion (no writes);
* :mod:`~mlpublish.promotion.moves`: alias moves under the registry lock, manual promotion, rollback;
* :mod:`~mlpublish.promotion.history`: the recorded moves (a registered-model tag);
* :mod:`~mlpublish.promotion.approval_rule`: the four-eyes rule and approval requests, as the registry records them;
* :mod:`~mlpublish.promotion.approval`: approvals: checked, recorded, and the champion moved on them;
* :mod:`~mlpublish.promotion.champion_entity`: what the catalog says about the champion (entity, card, data
  contract).
* :mod:`~mlpublish.promotion.shadow`: promotion.mode shadow: does the challenger win on live labels (no writes);
* :mod:`~mlpublish.promotion.live_evidence`: that decision's evidence for the registry, the catalog and the card.
"""

from mlpublish.promotion.champion_entity import (
    artifact_run_id,
    champion_card,
    champion_contract_events,
    champion_entity_events,
    contract_name,
    run_contract,
    with_card,
)
from mlpublish.promotion.decision import REPRODUCTION_TAGS, promotion_reason, reproduced_champion
from mlpublish.promotion.history import HISTORY_KEEP, champion_history, record_champion_move, rollback_target
from mlpublish.promotion.moves import complete_move, move_champion, promote_version, rollback_champion

__all__ = [
    "HISTORY_KEEP",
    "REPRODUCTION_TAGS",
    "artifact_run_id",
    "champion_card",
    "champion_contract_events",
    "champion_entity_events",
    "champion_history",
    "complete_move",
    "contract_name",
    "move_champion",
    "promote_version",
    "promotion_reason",
    "record_champion_move",
    "reproduced_champion",
    "rollback_champion",
    "rollback_target",
    "run_contract",
    "with_card",
]

"""Outbox delivery to OpenMetadata (mlpublish.catalog.openmetadata.delivery): a replay compacts the history."""

from __future__ import annotations

from mlpublish.catalog.events import AddLineage, Column, SetModelProperties, UpsertTable
from mlpublish.catalog.openmetadata.delivery import compact
from mlpublish.catalog.outbox import OutboxRow


def test_replay_compacts_the_delivered_history_to_its_final_state() -> None:
    def row(seq: int, event: object, state: str = "delivered") -> OutboxRow:
        return OutboxRow(seq, event, state, 1, None)

    t1 = UpsertTable(fqn="t", columns=[Column(name="a", dataType="INT")])
    t2 = UpsertTable(fqn="t", columns=[Column(name="a", dataType="BIGINT")])
    edge = AddLineage(from_fqn="t", from_type="table", to_fqn="m", to_type="mlmodel")
    rows = [
        row(1, t1),
        row(2, SetModelProperties(fqn="m", properties={"a": 1, "b": 1})),
        row(3, edge),
        row(4, t2),
        row(5, SetModelProperties(fqn="m", properties={"b": 2})),
        row(6, SetModelProperties(fqn="m", properties={"c": 3}), state="failed"),
    ]
    assert compact(rows) == [t2, edge, SetModelProperties(fqn="m", properties={"a": 1, "b": 2})]

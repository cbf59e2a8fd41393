"""An MLflow dataset source for a warehouse table, so runs record where their data came from."""

from __future__ import annotations

from typing import Any

from mlflow.data.dataset_source import DatasetSource


class WarehouseTableSource(DatasetSource):
    """A table named by its catalog FQN (``<service>.<database>.<schema>.<table>``)."""

    def __init__(self, fqn: str, dialect: str):
        self.fqn = fqn
        self.dialect = dialect

    @staticmethod
    def _get_source_type() -> str:
        return "warehouse_table"

    def load(self, **kwargs: Any) -> Any:
        raise NotImplementedError("read the table through mlpublish.warehouse.Warehouse")

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> WarehouseTableSource:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"fqn": self.fqn, "dialect": self.dialect}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> WarehouseTableSource:
        return cls(source_dict["fqn"], source_dict.get("dialect", ""))

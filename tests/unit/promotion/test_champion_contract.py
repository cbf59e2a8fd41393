"""The champion's data contract for the catalog: on its training table, named after the model, from its run."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from mlpublish.catalog.events import AddLineage, UpsertDataContract
from mlpublish.contracts import CONTRACT_ARTIFACT
from mlpublish.contracts.learn import learn_contract
from mlpublish.errors import CatalogUnavailable, RegistryError
from mlpublish.promotion import champion_contract_events, contract_name
from mlpublish.registry.contract import CATALOG_RUN_TAG
from tests.support.contract_data import contract_spec, toy_frame

FQN = "mlflow-local.toy"


class Registry:
    def __init__(self, artifacts: dict[tuple[str, str], str], error: Exception | None = None):
        self.artifacts, self.error = artifacts, error

    def read_text(self, run_id: str, path: str) -> str | None:
        if self.error:
            raise self.error
        return self.artifacts.get((run_id, path))


def version(**tags: str) -> Any:
    return SimpleNamespace(name="toy", version="3", run_id="r" * 32, tags=tags)


def contract_json() -> str:
    learned = learn_contract(toy_frame(), contract_spec(), table_fqn="wh.db.sc.toy", learned_at="2026-01-01T00:00:00Z")
    return json.dumps(learned.to_json())


def lineage(table: str) -> AddLineage:
    return AddLineage(from_fqn=table, from_type="table", to_fqn=FQN, to_type="mlmodel")


def test_the_contract_its_run_logged_goes_on_the_training_table():
    reg = Registry({("r" * 32, CONTRACT_ARTIFACT): contract_json()})
    (event,) = champion_contract_events(reg, version(), FQN, [])
    assert isinstance(event, UpsertDataContract)
    assert (event.table_fqn, event.name, event.model_fqn) == ("wh.db.sc.toy", "toy-contract", FQN)
    assert event.name == contract_name("toy")
    assert event.contract["table"] == "wh.db.sc.toy" and [c["name"] for c in event.contract["columns"]][0] == "age"


def test_a_copied_version_names_the_table_as_its_entity_lineage_does():
    reg = Registry({("copy", CONTRACT_ARTIFACT): contract_json()})
    copied = version(**{CATALOG_RUN_TAG: "copy"})
    (event,) = champion_contract_events(reg, copied, FQN, [lineage("prod-wh.db.sc.toy")])
    assert event.table_fqn == event.contract["table"] == "prod-wh.db.sc.toy"


def test_no_contract_or_a_malformed_one_sends_nothing():
    assert champion_contract_events(Registry({}), version(), FQN, []) == []
    broken = Registry({("r" * 32, CONTRACT_ARTIFACT): json.dumps({"format": "other"})})
    assert champion_contract_events(broken, version(), FQN, []) == []


def test_an_unreadable_run_is_the_catalogs_retryable_error():
    with pytest.raises(CatalogUnavailable, match="cannot read the data contract of toy v3"):
        champion_contract_events(Registry({}, RegistryError("timeout")), version(), FQN, [])

"""A data contract in the catalog: the rule -> test case mapping (contract_cases) and the local mirror (contracts).

The mirror keeps the DataContract as a versioned entity and one result per contract, rule and run: a replayed
event writes nothing twice, a new champion's contract is a new version.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlpublish.catalog.contract_cases import (
    DEFINITIONS,
    case_link,
    case_specs,
    contract_fqn,
    quote,
    result_request,
    timestamp_ms,
)
from mlpublish.catalog.entity import table_event
from mlpublish.catalog.events import RecordContractResults, UpsertDataContract, parse_events
from mlpublish.catalog.local import LocalCatalog
from mlpublish.contracts.model import RULES, ColumnContract, DataContract

TABLE = "warehouse.main.main.customer_features"
NAME = "churn-contract"
CONTRACT_FQN = f"{TABLE}.dataContract_{NAME}"


def contract(maximum: float = 500.0, **changes: Any) -> DataContract:
    columns = [
        ColumnContract(name="tenure", type="integer", kind="numerical", nullable=False, minimum=0.0, maximum=maximum),
        ColumnContract(
            name="plan",
            type="string",
            kind="categorical",
            nullable=True,
            maxNullFraction=0.05,
            categories=["basic", "gold"],
            stated=["in_set"],
        ),
    ]
    base = {"model": "churn", "table": TABLE, "rows": 400, "learnedAt": "2026-03-01T10:00:00+00:00", "columns": columns}
    return DataContract(**{**base, **changes})


def upsert(c: DataContract | None = None) -> UpsertDataContract:
    c = c or contract()
    return UpsertDataContract(table_fqn=TABLE, name=NAME, model_fqn="mlflow-local.churn", contract=c.to_json())


def results(run_id: str, at: str, failed: dict[str, int] | None = None) -> RecordContractResults:
    failed = failed or {}
    return RecordContractResults(
        table_fqn=TABLE,
        contract_name=NAME,
        run_id=run_id,
        at=at,
        results=[
            {
                "column": r.column,
                "rule": r.rule,
                "status": "Failed" if r.name in failed else "Success",
                "observed": f"{failed[r.name]} bad" if r.name in failed else "",
                "count": failed.get(r.name, 0),
                "rows": 1000,
            }
            for r in contract().rules()
        ],
    )


def opened(url: str | Path) -> LocalCatalog:
    c = LocalCatalog(url)
    c.publish([table_event(TABLE, {"tenure": "BIGINT", "plan": "VARCHAR"})])
    return c


@pytest.fixture(params=["sqlite", "postgresql"])
def cat(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalCatalog]:
    """The mirror on both stores (the results' ON CONFLICT and ordering are SQL both must run)."""
    if request.param == "sqlite":
        c = opened(tmp_path / "catalog.db")
        yield c
        c.close()
        return
    from tests.support.catalog_store import postgres_catalog_url

    with postgres_catalog_url() as url:
        c = opened(url)
        yield c
        c.close()


def rows(cat: LocalCatalog, table: str) -> int:
    with cat.connection() as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# Mapping ---------------------------------------------------------------------
def test_every_rule_has_a_test_definition_and_each_case_its_parameters() -> None:
    assert set(DEFINITIONS) == set(RULES)
    specs = {(s.column, s.rule): s for s in case_specs(TABLE, NAME, contract())}
    assert sorted(specs) == sorted((r.column, r.rule) for r in contract().rules())
    present = specs[("tenure", "present")]
    assert (present.definition, present.parameters) == ("tableColumnNameToExist", (("columnName", "tenure"),))
    assert present.entity_link == f"<#E::table::{TABLE}>" and present.fqn == f"{TABLE}.{NAME}_tenure_present"
    rng = specs[("tenure", "in_range")]
    assert rng.definition == "columnValuesToBeBetween"
    assert dict(rng.parameters) == {"minValue": "0.0", "maxValue": "500.0"}
    assert rng.entity_link == f"<#E::table::{TABLE}::columns::tenure>"
    assert rng.fqn == f"{TABLE}.tenure.{NAME}_tenure_in_range"
    assert specs[("tenure", "not_null")].parameters == ()
    in_set = specs[("plan", "in_set")]
    assert json.loads(dict(in_set.parameters)["allowedValues"]) == ["basic", "gold"]
    assert "stated in the spec" in in_set.description
    assert "learned" in specs[("plan", "max_null_fraction")].description
    assert dict(specs[("plan", "max_null_fraction")].parameters) == {"maxNullFraction": "0.05"}
    assert dict(specs[("plan", "type")].parameters) == {"type": "string"}
    assert specs[("plan", "type")].request()["testDefinition"] == "mlpublishColumnTypeToBe"


def test_an_open_range_sends_only_its_bound() -> None:
    c = contract(columns=[ColumnContract(name="x", type="number", kind="numerical", nullable=False, minimum=1.5)])
    (rng,) = [s for s in case_specs(TABLE, NAME, c) if s.rule == "in_range"]
    assert rng.parameters == (("minValue", "1.5"),)


def test_names_with_a_dot_are_quoted_in_fqns_like_the_server() -> None:
    assert quote("a.b") == '"a.b"' and quote("ab") == "ab"
    with pytest.raises(ValueError, match="double quote"):
        quote('a"b')
    _, fqn = case_link(TABLE, "m.v2", "col.x", "not_null")
    assert fqn == f'{TABLE}."col.x"."m.v2_col.x_not_null"'
    assert contract_fqn(TABLE, NAME) == CONTRACT_FQN


def test_result_request_counts_rows_and_keys_by_the_events_time() -> None:
    ts = timestamp_ms("2026-03-02T00:00:00+00:00")
    assert ts == timestamp_ms("2026-03-02T00:00:00Z") == timestamp_ms("2026-03-02T00:00:00")
    assert ts == 1772409600000
    failed = {"column": "tenure", "rule": "in_range", "status": "Failed", "observed": "-3 < 0", "count": 4, "rows": 200}
    body = result_request(failed, ts, "run-1")
    assert body["timestamp"] == ts and body["testCaseStatus"] == "Failed"
    assert (body["passedRows"], body["failedRows"], body["failedRowsPercentage"]) == (196, 4, 2.0)
    assert "run-1" in body["result"] and "-3 < 0" in body["result"]
    ok = result_request({"column": "x", "rule": "present", "status": "Success", "count": 0}, ts, "run-1")
    assert "passedRows" not in ok and ok["testResultValue"][0] == {"name": "failedRows", "value": "0"}
    with pytest.raises(ValueError, match="'Aborted'"):
        result_request({"column": "x", "rule": "present", "status": "Aborted"}, ts, "r")


# Local mirror ----------------------------------------------------------------
def test_the_contract_is_a_versioned_entity_and_a_replay_changes_nothing(cat: LocalCatalog) -> None:
    cat.publish([upsert()])
    body = cat.get(CONTRACT_FQN)
    assert body["version"] == 0.1 and body["entity"] == {"type": "table", "fullyQualifiedName": TABLE}
    assert [c["name"] for c in body["schema"]] == ["tenure", "plan"]
    assert len(body["qualityExpectations"]) == len(contract().rules())
    cat.publish([upsert(), upsert()])
    assert [v["version"] for v in cat.versions(CONTRACT_FQN)] == [0.1]
    cat.publish([upsert(contract(maximum=900.0, learnedAt="2026-04-01T10:00:00+00:00"))])
    versions = cat.versions(CONTRACT_FQN)
    assert [v["version"] for v in versions] == [0.1, 0.2]
    assert {f["name"] for f in versions[-1]["changeDescription"]["fieldsUpdated"]} == {
        "contract",
        "qualityExpectations",
    }


def test_results_are_recorded_once_per_contract_rule_and_run(cat: LocalCatalog) -> None:
    cat.publish([upsert(), results("run-1", "2026-03-02T00:00:00+00:00")])
    n = len(contract().rules())
    assert rows(cat, "contract_results") == n
    cat.publish([results("run-1", "2026-03-02T00:00:00+00:00")])  # a replay
    assert rows(cat, "contract_results") == n
    cat.publish([results("run-2", "2026-03-03T00:00:00+00:00", {"tenure.in_range": 7})])
    assert rows(cat, "contract_results") == 2 * n
    (found,) = cat.data_contracts(TABLE)
    latest = found["latestResults"]
    assert (latest["runId"], latest["failed"]) == ("run-2", 1)
    (bad,) = [r for r in latest["results"] if r["status"] == "Failed"]
    assert (bad["name"], bad["count"], bad["observed"]) == ("tenure.in_range", 7, "7 bad")
    assert cat.data_contracts("warehouse.main.main.other") == []


def test_events_round_trip_through_the_outbox_form(cat: LocalCatalog) -> None:
    events = [upsert(), results("run-1", "2026-03-02T00:00:00+00:00")]
    again = parse_events([json.loads(e.model_dump_json()) for e in events])
    cat.publish(again)
    assert cat.data_contracts(TABLE)[0]["latestResults"]["runId"] == "run-1"


def test_catalog_show_of_a_table_shows_its_contract_and_latest_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from mlpublish import cli

    cat = opened(tmp_path / "catalog.db")
    cat.publish([upsert(), results("run-1", "2026-03-02T00:00:00+00:00", {"plan.in_set": 2})])
    monkeypatch.setenv("MLPUBLISH_CATALOG", str(cat.path))
    monkeypatch.delenv("OPENMETADATA_HOST_PORT", raising=False)
    monkeypatch.delenv("MLPUBLISH_ENV", raising=False)
    monkeypatch.chdir(Path(cat.path).parent)
    assert cli.main(["-q", "catalog", "show", TABLE]) == cli.EXIT_OK
    out = json.loads(capsys.readouterr().out)
    (shown,) = out["dataContracts"]
    assert shown["fullyQualifiedName"] == CONTRACT_FQN and shown["version"] == 0.1
    assert f"{NAME}_plan_in_set" in shown["testCases"]
    assert shown["latestResults"]["failed"] == 1
    assert {"name": "plan.in_set", "status": "Failed", "count": 2, "observed": "2 bad"} in shown["latestResults"][
        "results"
    ]

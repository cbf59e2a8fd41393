"""The local catalog's mirror of data contracts: what the OpenMetadata sink writes, kept in the store.

* ``UpsertDataContract`` is an entity of type ``dataContract`` keyed by its FQN (``<table FQN>.dataContract_<name>``,
  DataContractRepository.setFullyQualifiedName), versioned like every entity: a new contract (a new champion
  trained on other rows) is a new version, the same one again changes nothing. Its ``qualityExpectations`` name the
  test cases the sink creates on the table (``contract_cases``), so ``mlpublish catalog show <table>`` shows what
  OpenMetadata shows.
* ``RecordContractResults`` rows go to ``contract_results``, one per contract, rule and run (the primary key):
  replaying an event writes nothing twice.
"""

from __future__ import annotations

import json
from typing import Any

from mlpublish.catalog.contract_cases import case_specs, contract_fqn, description, schema
from mlpublish.catalog.events import RecordContractResults, UpsertDataContract
from mlpublish.catalog.store import Cursor
from mlpublish.contracts.model import DataContract

ENTITY_TYPE = "dataContract"


def contract_body(ev: UpsertDataContract) -> tuple[str, dict[str, Any]]:
    """The DataContract entity as the sink's PUT leaves it (with its test cases named), and its FQN."""
    contract = DataContract.from_json(ev.contract)
    fqn = contract_fqn(ev.table_fqn, ev.name)
    expectations = [
        {
            "type": "testCase",
            "name": c.name,
            "fullyQualifiedName": c.fqn,
            "testDefinition": c.definition,
            "parameterValues": [{"name": n, "value": v} for n, v in c.parameters],
        }
        for c in case_specs(ev.table_fqn, ev.name, contract)
    ]
    body = {
        "name": ev.name,
        "fullyQualifiedName": fqn,
        "description": description(contract, ev.model_fqn),
        "entity": {"type": "table", "fullyQualifiedName": ev.table_fqn},
        "schema": schema(contract),
        "qualityExpectations": expectations,
        "model": ev.model_fqn,
        "contract": ev.contract,
    }
    return fqn, body


def record_results(cur: Cursor, ev: RecordContractResults) -> None:
    """One row per (contract, rule, run); a replay, or a second delivery of the same run, inserts nothing."""
    fqn = contract_fqn(ev.table_fqn, ev.contract_name)
    rows = [
        (
            fqn,
            f"{r['column']}.{r['rule']}",
            ev.run_id,
            ev.at,
            str(r["status"]),
            json.dumps(r, sort_keys=True, default=str),
        )
        for r in ev.results
    ]
    if rows:
        cur.executemany(
            "INSERT INTO contract_results (contract_fqn, rule, run_id, at, status, result) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            rows,
        )


def _result(rule: str, run_id: str, at: str, status: str, text: str) -> dict[str, Any]:
    return {**json.loads(text), "name": rule, "runId": run_id, "at": at, "status": status}


def results(cur: Cursor, contract: str, run_id: str | None = None) -> list[dict[str, Any]]:
    """The results of one contract (by FQN), newest run first; only ``run_id``'s when given."""
    sql = "SELECT rule, run_id, at, status, result FROM contract_results WHERE contract_fqn=?"
    args: tuple[Any, ...] = (contract,)
    if run_id is not None:
        sql, args = sql + " AND run_id=?", (contract, run_id)
    rows = cur.execute(sql + " ORDER BY at DESC, run_id, rule", args).fetchall()
    return [_result(*r) for r in rows]


def latest_run(cur: Cursor, contract: str) -> dict[str, Any] | None:
    """The newest run's results of a contract: {runId, at, failed, results}, or None before any run."""
    row = cur.execute(
        "SELECT run_id, at FROM contract_results WHERE contract_fqn=? ORDER BY at DESC, run_id DESC LIMIT 1",
        (contract,),
    ).fetchone()
    if row is None:
        return None
    found = results(cur, contract, row[0])
    return {"runId": row[0], "at": row[1], "failed": sum(r["status"] == "Failed" for r in found), "results": found}


def contracts_of(cur: Cursor, table_fqn: str) -> list[dict[str, Any]]:
    """The data contracts on a table, each with its latest run's results (``latestResults``)."""
    rows = cur.execute("SELECT body FROM entities WHERE type=? ORDER BY fqn", (ENTITY_TYPE,)).fetchall()
    out = []
    for (text,) in rows:
        body = json.loads(text)
        if body.get("entity", {}).get("fullyQualifiedName") == table_fqn:
            out.append({**body, "latestResults": latest_run(cur, body["fullyQualifiedName"])})
    return out

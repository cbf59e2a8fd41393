"""validate's check "data contract vs champion" and train's logging of the contract, on a recording registry."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from mlpublish.contracts import CONTRACT_ARTIFACT, DataContract
from mlpublish.contracts.learn import learn_contract
from mlpublish.errors import RegistryError
from mlpublish.steps.data_contract import CHECK_NAME, contract_check, log_contract
from tests.support.contract_data import contract_spec, toy_frame

CANDIDATE_RUN, CHAMPION_RUN = "c" * 32, "d" * 32


@pytest.fixture
def frame() -> Any:
    return toy_frame()


class Registry:
    """Artifacts by (run, path); versions by number; get_version raising when told to."""

    def __init__(self, artifacts: dict[tuple[str, str], str] | None = None, broken: bool = False):
        self.artifacts = dict(artifacts or {})
        self.broken = broken

    def get_version(self, name: str, version: str) -> Any:
        if self.broken:
            raise RegistryError("tracking server unreachable at https://admin:pw@mlflow.internal")
        return SimpleNamespace(name=name, version=version, run_id=CHAMPION_RUN, tags={})

    def read_text(self, run_id: str, path: str) -> str | None:
        return self.artifacts.get((run_id, path))

    def log_dict(self, run_id: str, data: Any, path: str) -> None:
        self.artifacts[(run_id, path)] = json.dumps(data)


def ctx(reg: Registry, **contract: Any) -> Any:
    spec = contract_spec(contract)
    return SimpleNamespace(spec=spec, registry=reg, cache={}, preflight=SimpleNamespace(training_fqn="wh.db.sc.toy"))


def learned(frame, **contract: Any) -> DataContract:
    return learn_contract(frame, contract_spec(contract), table_fqn="wh.db.sc.toy", learned_at="2026-01-01T00:00:00Z")


def logged(champion: DataContract | None, candidate: DataContract | None) -> Registry:
    runs = {CHAMPION_RUN: champion, CANDIDATE_RUN: candidate}
    return Registry({(run, CONTRACT_ARTIFACT): json.dumps(c.to_json()) for run, c in runs.items() if c is not None})


def test_train_logs_the_contract_it_learned_and_keeps_it_for_the_later_steps(frame):
    reg = Registry()
    context = ctx(reg, columns={"age": {"minimum": 0}})
    contract = log_contract(context, CANDIDATE_RUN, frame)
    assert DataContract.from_json(json.loads(reg.artifacts[(CANDIDATE_RUN, CONTRACT_ARTIFACT)])) == contract
    assert context.cache[("contract", CANDIDATE_RUN)] is contract
    assert contract.table == "wh.db.sc.toy" and contract.column("age").stated == ["in_range"]


def test_no_champion_or_a_champion_without_contract_passes_saying_so(frame):
    check, changes = contract_check(ctx(logged(None, learned(frame))), CANDIDATE_RUN, None)
    assert (check.name, check.outcome, check.detail, changes) == (CHECK_NAME, "pass", "no champion to compare with", [])
    check, _ = contract_check(ctx(logged(None, learned(frame))), CANDIDATE_RUN, "4")
    assert check.outcome == "pass" and check.detail == "champion v4 has no data contract (trained before contracts)"
    check, _ = contract_check(ctx(logged(learned(frame), None)), CANDIDATE_RUN, "4")
    assert check.outcome == "pass" and "logged no data contract" in check.detail


def test_a_blocking_change_fails_naming_column_change_before_and_after(frame):
    lost = frame.assign(plan=frame["plan"].replace("gold", "silver"))
    reg = logged(learned(frame), learned(lost))
    check, changes = contract_check(ctx(reg, blocking=["removed_category"]), CANDIDATE_RUN, "4")
    assert check.outcome == "fail" and check.check == "contract"
    assert check.detail == (
        "blocking (data.contract.blocking): plan: removed_category gold ({basic, gold, silver} -> {basic, silver})"
    )
    assert [(c.change, c.blocking) for c in changes] == [("removed_category", True)]
    shifted = lost.assign(age=lost["age"] + 1)
    check, changes = contract_check(
        ctx(logged(learned(frame), learned(shifted)), blocking=["removed_category"]), CANDIDATE_RUN, "4"
    )
    assert check.detail.endswith("; not blocking: age: changed_range ([18, 117] -> [19, 118])")
    assert [(c.change, c.blocking) for c in changes] == [("changed_range", False), ("removed_category", True)]


def test_changes_that_do_not_block_pass_with_the_changes_in_the_detail(frame):
    lost = frame.assign(plan=frame["plan"].replace("gold", "silver"), age=frame["age"] + 1)
    check, changes = contract_check(ctx(logged(learned(frame), learned(lost))), CANDIDATE_RUN, "4")
    assert check.outcome == "pass"
    assert check.detail == (
        "2 change(s), none blocking: age: changed_range ([18, 117] -> [19, 118]); "
        "plan: removed_category gold ({basic, gold, silver} -> {basic, silver})"
    )
    assert len(changes) == 2
    check, _ = contract_check(ctx(logged(learned(frame), learned(frame))), CANDIDATE_RUN, "4")
    assert (check.outcome, check.detail) == ("pass", "same contract as champion v4")


def test_a_changed_type_blocks_by_default(frame):
    typed = frame.assign(age=frame["age"] + 0.5)
    check, _ = contract_check(ctx(logged(learned(frame), learned(typed))), CANDIDATE_RUN, "4")
    assert check.outcome == "fail" and "age: changed_type (integer (numerical) -> number (numerical))" in check.detail


def test_an_unreadable_champion_fails_only_when_a_change_could_block(frame):
    reg = logged(learned(frame), learned(frame))
    reg.broken = True
    check, _ = contract_check(ctx(reg), CANDIDATE_RUN, "4")
    assert check.outcome == "fail" and "cannot compare with the contract of champion v4" in check.detail
    assert "pw@" not in check.detail  # scrubbed
    check, _ = contract_check(ctx(reg, blocking=[]), CANDIDATE_RUN, "4")
    assert check.outcome == "pass" and "RegistryError" in check.detail

"""Dagster notification sensors on a re-executed run (from failure): the parent finished validation,
the re-execution only promotes. What each run recorded is given as its materialization metadata
(the real reading of the event log is exercised in tests/integration/dagster/test_notifications.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import churn_dict, write_spec

VALIDATED = {
    "validated_model": {"mlflow_run_id": "r1", "validation_status": "PASSED", "summary": "PASSED"},
    "model_evaluation": {},
}
PROMOTED = {
    "champion_model": {
        "champion_version": "2",
        "previous_champion": "1",
        "promoted": True,
        "reason": "v2 beats champion v1",
    }
}


@pytest.fixture
def ref(tmp_path):
    from mlpublish_dagster.specs import discover

    write_spec(tmp_path / "churn.yaml", churn_dict())
    [spec_ref] = discover(tmp_path)
    return spec_ref


def notifications(monkeypatch, ref, recorded: dict[str, dict], runs: dict[str, SimpleNamespace], run_id: str):
    from mlpublish_dagster import notifications as module

    monkeypatch.setattr(module, "run_materializations", lambda instance, rid, r: dict(recorded.get(rid, {})))
    instance = SimpleNamespace(get_run_by_id=runs.get)
    return module.run_notifications(instance, runs[run_id], ref)


def test_a_reexecution_notifies_its_promotion_once_not_the_parents_gate(monkeypatch, ref):
    runs = {
        "parent": SimpleNamespace(run_id="parent", parent_run_id=None, job_name="j"),
        "child": SimpleNamespace(run_id="child", parent_run_id="parent", job_name="j"),
    }
    recorded = {"parent": VALIDATED, "child": PROMOTED}
    parent = notifications(monkeypatch, ref, recorded, runs, "parent")
    assert [(n.event, n.outcome) for n in parent] == [("gate", "PASSED")]  # the parent failed after validation
    child = notifications(monkeypatch, ref, recorded, runs, "child")
    assert [(n.event, n.outcome, n.run_id) for n in child] == [("promotion", "PROMOTED", "r1")]


def test_a_run_that_never_reached_validation_sends_nothing(monkeypatch, ref):
    runs = {"only": SimpleNamespace(run_id="only", parent_run_id=None, job_name="j")}
    assert notifications(monkeypatch, ref, {"only": {"model_evaluation": {}}}, runs, "only") == []


def test_a_candidate_left_shadowing_the_champion_notifies_the_gate_only(monkeypatch, ref):
    runs = {"only": SimpleNamespace(run_id="only", parent_run_id=None, job_name="j")}
    shadowing = {
        "champion_model": {"champion_version": "1", "previous_champion": "1", "promoted": False, "shadow": True}
    }
    sent = notifications(monkeypatch, ref, {"only": {**VALIDATED, **shadowing}}, runs, "only")
    assert [(n.event, n.outcome) for n in sent] == [("gate", "PASSED")]  # promoted later, on live labels
    refused = {"champion_model": {**shadowing["champion_model"], "shadow": False}}
    sent = notifications(monkeypatch, ref, {"only": {**VALIDATED, **refused}}, runs, "only")
    assert [(n.event, n.outcome) for n in sent] == [("gate", "PASSED"), ("promotion", "NOT_PROMOTED")]

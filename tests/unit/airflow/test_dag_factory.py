"""The DAG factory (mlpublish_airflow.dag_factory): the spec files it reads, the callbacks it attaches."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpublish.spec import load_spec
from tests.conftest import churn_dict, write_spec
from tests.support.environments import specs  # noqa: F401 (fixture)


def test_adapters_do_not_take_the_environments_file_for_a_spec(specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpublish_airflow.dag_factory import build_dags, spec_files

    # (Dagster's side, in .venv-dagster: tests/unit/dagster/test_resources.py)
    assert [p.name for p in spec_files(specs)] == ["churn.yaml"]
    monkeypatch.setenv("MLPUBLISH_ENV", "dev")
    assert sorted(build_dags(specs)) == [
        "mlpublish__dev_customer_churn_predictor",
        "mlpublish__dev_customer_churn_predictor__monitor",
        "mlpublish__dev_customer_churn_predictor__score",
    ]


def test_dag_factory_attaches_the_callbacks_to_validate_and_promote(tmp_path):
    from mlpublish_airflow.dag_factory import build_dag
    from mlpublish_airflow.notifications import notify_gate, notify_promotion

    spec_path = write_spec(tmp_path / "s.yaml", churn_dict())
    dag = build_dag(load_spec(spec_path), str(spec_path))

    def callbacks(task_id: str) -> dict[str, list]:
        task = dag.get_task(task_id)
        return {
            kind: list(getattr(task, kind) or [])
            for kind in ("on_success_callback", "on_failure_callback", "on_skipped_callback", "on_retry_callback")
        }

    assert callbacks("validate") == {
        "on_success_callback": [notify_gate],
        "on_failure_callback": [notify_gate],
        "on_skipped_callback": [notify_gate],
        "on_retry_callback": [],
    }
    assert callbacks("promote") == {
        "on_success_callback": [notify_promotion],
        "on_failure_callback": [],
        "on_skipped_callback": [notify_promotion],
        "on_retry_callback": [],
    }
    assert all(not any(callbacks(t).values()) for t in ("train", "evaluate", "register"))


def test_owner_and_the_whole_description_come_from_the_spec(tmp_path):
    from mlpublish_airflow.dag_factory import build_dag, monitor_dag, score_dag

    description = "Predicts churn in the next 30 days.\n\nTrained weekly on *customer_features*; see the runbook."
    path = write_spec(tmp_path / "s.yaml", churn_dict(owners=["data-science", "user:ada"], description=description))
    spec = load_spec(path)
    for dag in (build_dag(spec, str(path)), score_dag(spec, str(path)), monitor_dag(spec, str(path))):
        assert dag.owner == "data-science, user:ada"  # what the DAG list shows (Airflow joins the tasks' owners)
        assert description in dag.doc_md  # every line, not the first only
        assert "`data-science`" in dag.doc_md and str(path) in dag.doc_md
    assert build_dag(spec, str(path)).description == "Predicts churn in the next 30 days."


def test_without_owners_airflows_default_owner_stays(tmp_path):
    from mlpublish_airflow.dag_factory import build_dag

    path = write_spec(tmp_path / "s.yaml", churn_dict(owners=[], validation={"requireMetadata": False}))
    assert build_dag(load_spec(path), str(path)).owner == "airflow"


@pytest.mark.timeout(120)  # the old scan read /dev/zero for ever or blocked on the FIFO: a guard, not a timing
def test_the_dag_folder_skips_devices_fifos_and_symlinks_out_naming_each(tmp_path: Path) -> None:
    import os

    from mlpublish_airflow.dag_factory import build_dags

    specs, outside = tmp_path / "specs", tmp_path / "outside"
    specs.mkdir()
    outside.mkdir()
    write_spec(specs / "churn.yaml", churn_dict())
    (specs / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(specs / "pipe.yaml")
    (specs / "out.yaml").symlink_to(write_spec(outside / "other.yaml", churn_dict(name="other_model")))
    dags = build_dags(specs)
    assert "mlpublish__customer_churn_predictor" in dags  # the good spec still loads
    assert not any("other_model" in dag_id for dag_id in dags)
    for name, why in (("zero.yaml", "outside the folder"), ("pipe.yaml", "FIFO"), ("out.yaml", "outside the folder")):
        doc = dags[f"mlpublish__invalid__{Path(name).stem}"].doc_md
        assert str(specs / name) in doc and why in doc


def test_approval_required_offers_the_approval_to_the_approvers_only(tmp_path):
    from mlpublish_airflow.dag_factory import build_dag

    spec_path = write_spec(tmp_path / "s.yaml", churn_dict(promotion={"approval": "required", "approvers": ["ada"]}))
    dag = build_dag(load_spec(spec_path), str(spec_path))
    approve = dag.get_task("approve_promotion")
    assert approve.assigned_users == [{"id": "ada", "name": "ada"}]
    assert approve.downstream_task_ids == {"promote"}
    plain = write_spec(tmp_path / "p.yaml", churn_dict())
    assert "approve_promotion" not in build_dag(load_spec(plain), str(plain)).task_ids


def test_every_task_shares_the_one_overrides_schema_and_its_default_passes_it(tmp_path):
    """The DAG's ``overrides`` param reaches every task (Airflow copies it into each) without a copy of the
    spec schema per task; its default {} is valid against that schema (Airflow no longer checks it at parse)."""
    import jsonschema

    from mlpublish_airflow.dag_factory import build_dag

    spec_path = write_spec(tmp_path / "s.yaml", churn_dict())
    dags = [build_dag(load_spec(spec_path), str(spec_path)) for _ in range(2)]
    params = [t.params.get_param("overrides") for dag in dags for t in dag.tasks]
    dag_param = dags[0].params.get_param("overrides")
    assert len(params) == 2 * len(dags[0].tasks) >= 10
    assert all(p.schema is dag_param.schema and p.value == {} for p in params)
    assert dag_param.description.startswith("Spec fields to override for this run")
    jsonschema.validate({}, dag_param.schema)  # raises if the default were refused
    with pytest.raises(jsonschema.ValidationError, match="'nme'"):
        jsonschema.validate({"nme": "x"}, dag_param.schema)

"""An invalid spec becomes its own placeholder DAG: the other specs' DAGs are all built, the placeholder carries
the whole error (file, line, field) and its one task fails with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpublish.errors import SpecError
from tests.conftest import churn_dict, write_spec


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    write_spec(specs / "churn.yaml", churn_dict())
    write_spec(specs / "other.yaml", churn_dict(name="other_model"))
    write_spec(specs / "bad_split.yaml", churn_dict(name="bad_split", training={"split": {"testSize": 1.5}}))
    (specs / "bad_field.yml").write_text(
        (specs / "churn.yaml").read_text().replace("target: churned", "target: churned\ntargett: x")
    )
    return specs


def test_each_invalid_spec_is_its_own_placeholder_and_every_good_dag_is_built(folder: Path) -> None:
    from mlpublish_airflow.dag_factory import build_dags
    from mlpublish_airflow.invalid_specs import INVALID_SPEC_TAG

    dags = build_dags(folder)
    good = {"mlpublish__customer_churn_predictor", "mlpublish__other_model"}
    assert good | {f"{d}__score" for d in good} | {f"{d}__monitor" for d in good} <= set(dags)
    invalid = {d for d in dags if d.startswith("mlpublish__invalid__")}
    assert invalid == {"mlpublish__invalid__bad_split", "mlpublish__invalid__bad_field"}
    split, field = dags["mlpublish__invalid__bad_split"], dags["mlpublish__invalid__bad_field"]
    assert str(folder / "bad_split.yaml") in split.doc_md and "training.split.testSize" in split.doc_md
    assert "training.split.testSize" in split.description
    assert str(folder / "bad_field.yml") in field.doc_md and "unknown field 'targett'" in field.doc_md
    for dag in (split, field):
        assert dag.timetable.can_be_scheduled is False  # never runs by itself
        assert INVALID_SPEC_TAG in dag.tags and "mlpublish" in dag.tags
        assert [t.task_id for t in dag.tasks] == ["spec_error"]
        dag.validate()  # what DagBag checks before it bags a DAG: the placeholder is a valid DAG


def test_the_placeholder_task_fails_with_the_specs_error(folder: Path) -> None:
    from mlpublish_airflow.dag_factory import build_dags

    task = build_dags(folder)["mlpublish__invalid__bad_split"].get_task("spec_error")
    assert task.retries == 0  # the same file gives the same error: a retry would only repeat it
    with pytest.raises(SpecError) as info:
        task.execute({})
    assert info.value.path == str(folder / "bad_split.yaml")
    assert "training.split.testSize" in str(info.value) and "less than 1" in str(info.value)


def test_a_model_named_like_a_placeholder_keeps_its_dag_and_a_second_file_of_the_same_stem_gets_the_suffix(
    tmp_path: Path,
) -> None:
    from mlpublish_airflow.dag_factory import build_dags

    write_spec(tmp_path / "a.yaml", churn_dict(name="invalid__b"))  # a valid model whose DAG is mlpublish__invalid__b
    write_spec(tmp_path / "b.yaml", churn_dict(name="b_model", training={"split": {"testSize": 1.5}}))
    write_spec(tmp_path / "b.yml", churn_dict(name="b_other", training={"split": {"testSize": 2}}))
    dags = build_dags(tmp_path)
    assert [t.task_id for t in dags["mlpublish__invalid__b"].tasks][0] == "train"  # the model's, not a placeholder
    assert str(tmp_path / "b.yaml") in dags["mlpublish__invalid__b_yaml"].doc_md
    assert str(tmp_path / "b.yml") in dags["mlpublish__invalid__b_yml"].doc_md


def test_a_second_spec_with_the_same_model_name_is_a_placeholder_naming_the_first(tmp_path: Path) -> None:
    from mlpublish_airflow.dag_factory import build_dags

    write_spec(tmp_path / "a.yaml", churn_dict())
    write_spec(tmp_path / "b.yaml", churn_dict())
    dags = build_dags(tmp_path)
    assert "mlpublish__customer_churn_predictor" in dags
    doc = dags["mlpublish__invalid__b"].doc_md
    assert "already defined by" in doc and str(tmp_path / "a.yaml") in doc

"""Extra links (mlpublish_airflow.links): built from the task's XComs, never carrying credentials, and empty
where there is no web UI to link to."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlpublish.spec import load_spec
from tests.conftest import churn_dict, write_spec

pytest.importorskip("airflow.sdk")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://alice:s3cret@mlflow:5000/", "http://mlflow:5000"),
        ("https://tok@mlflow.example.com/base/?token=abc#frag", "https://mlflow.example.com/base"),
        ("http://[::1]:5000", "http://[::1]:5000"),
        ("sqlite:////tmp/mlflow.db", None),
        ("postgresql://u:p@db/mlflow", None),
        ("databricks", None),
        ("http://host:notaport", None),
        ("", None),
    ],
)
def test_public_base_keeps_scheme_host_port_path_only(url, expected):
    from mlpublish_airflow.links import public_base

    assert public_base(url) == expected


@pytest.fixture
def xcoms(monkeypatch):
    """The XComs a task pushed, keyed like the worker's XCom.get_value(ti_key=..., key=...)."""
    from airflow.sdk.execution_time import xcom

    pushed: dict[str, object] = {}
    monkeypatch.setattr(xcom.XCom, "get_value", classmethod(lambda cls, *, ti_key, key: pushed.get(key)))
    return pushed


def targets(tmp_path, openmetadata=None, **spec):
    from mlpublish_airflow.links import link_targets

    return link_targets(load_spec(write_spec(tmp_path / "s.yaml", churn_dict(**spec))), openmetadata)


def test_links_to_the_run_the_version_and_the_catalog_entity(tmp_path, xcoms):
    from mlpublish_airflow.links import CatalogEntityLink, MlflowRunLink, ModelVersionLink

    om = SimpleNamespace(host_port="https://bot:jwt@om.example.com:8585/api")
    xcoms["link_targets"] = targets(tmp_path, om, mlflow={"trackingUri": "http://u:pw@mlflow:5000"})
    xcoms["return_value"] = {"run_id": "abc123", "model_name": "customer_churn_predictor", "version": "3"}
    key = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)
    assert MlflowRunLink().get_link(None, ti_key=key) == "http://mlflow:5000/#/runs/abc123"
    assert (
        ModelVersionLink().get_link(None, ti_key=key)
        == "http://mlflow:5000/#/models/customer_churn_predictor/versions/3"
    )
    assert (
        CatalogEntityLink().get_link(None, ti_key=key)
        == "https://om.example.com:8585/mlmodel/mlflow-local.customer_churn_predictor"
    )
    every = "".join(link().get_link(None, ti_key=key) for link in (MlflowRunLink, ModelVersionLink, CatalogEntityLink))
    assert "pw" not in every and "jwt" not in every and "@" not in every


def test_a_rejected_candidate_still_links_its_run(tmp_path, xcoms):
    from mlpublish_airflow.links import MlflowRunLink, ModelVersionLink

    xcoms["link_targets"] = targets(tmp_path, mlflow={"trackingUri": "http://mlflow:5000"})
    xcoms["rejected"] = {"run_id": "r9", "status": "FAILED"}  # validate pushes this before it fails
    assert MlflowRunLink().get_link(None, ti_key=None) == "http://mlflow:5000/#/runs/r9"
    assert ModelVersionLink().get_link(None, ti_key=None) == ""  # nothing registered


def test_no_link_without_a_web_ui_or_a_result(tmp_path, xcoms):
    from mlpublish_airflow.links import CatalogEntityLink, MlflowRunLink

    xcoms["link_targets"] = targets(tmp_path, mlflow={"trackingUri": "sqlite:///mlflow.db"})
    xcoms["return_value"] = {"run_id": "abc"}
    assert MlflowRunLink().get_link(None, ti_key=None) == ""  # a SQLite store has no UI
    assert CatalogEntityLink().get_link(None, ti_key=None) == ""  # the local catalog has none either
    xcoms.clear()
    assert MlflowRunLink().get_link(None, ti_key=None) == ""  # the task died before pushing anything


def test_the_operators_declare_their_links():
    from mlpublish_airflow import PromoteModelOperator, RegisterModelVersionOperator, TrainModelOperator

    def names(op):
        return [link.name for link in op.operator_extra_links]

    assert names(TrainModelOperator) == ["MLflow run"]
    assert names(RegisterModelVersionOperator) == ["MLflow run", "Model version"]
    assert names(PromoteModelOperator) == ["Model version", "Catalog entity"]

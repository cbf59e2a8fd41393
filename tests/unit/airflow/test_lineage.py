"""OpenLineage datasets and facets of the Airflow operators (mlpublish_airflow.lineage)."""

from __future__ import annotations

import pytest

from mlpublish.spec import load_spec
from tests.conftest import churn_dict, write_spec

airflow = pytest.importorskip("airflow.sdk")


def test_openlineage_datasets_name_tables_and_model_without_secrets(tmp_path):
    from mlpublish_airflow.lineage import datasets

    spec = load_spec(
        write_spec(tmp_path / "s.yaml", churn_dict(data={"connection": "postgresql://etl:s3cret@db.example:5433/shop"}))
    )
    inputs, outputs = datasets(spec, "http://ml:pw@mlflow.example:5000")
    assert inputs[0] == ("postgres://db.example:5433", "shop.public.customer_features")
    # feature sources of the demo spec name the SQLite warehouse (main.main) in the same service
    assert ("postgres://db.example:5433", "main.main.orders") in inputs
    assert len(inputs) == len(set(inputs)) == 4
    assert outputs == [("http://ml:***@mlflow.example:5000", f"models/{spec.name}")]
    assert "s3cret" not in repr(inputs)
    assert datasets(spec, None, reads_tables=False, writes_model=False) == ([], [])


def test_openlineage_facets_are_none_without_the_provider():
    from mlpublish_airflow.lineage import operator_lineage

    try:
        import airflow.providers.openlineage  # noqa: F401
    except ImportError:
        assert operator_lineage([("ns", "t")], [("ns", "m")]) is None
    else:
        lineage = operator_lineage([("ns", "t")], [("ns", "m")])
        assert [d.name for d in lineage.inputs] == ["t"] and [d.name for d in lineage.outputs] == ["m"]

"""The scoring and monitoring sections (mlpublish.spec.operations): defaults and the rules between fields."""

from __future__ import annotations

import pytest

from mlpublish.errors import SpecError
from mlpublish.spec import load_spec, parse_spec
from tests.conftest import churn_dict, write_spec


def test_monitoring_and_scoring_spec_sections_are_validated():
    base = "name: m\nalgorithm: a\ntarget: y\nmlFeatures: [{name: x}]\ndata: {trainingTable: t}\ntraining: {estimator: sklearn.linear_model.LogisticRegression}\n"
    spec = parse_spec(base)
    assert spec.monitoring.windowN == 2 and spec.scoring.chunkSize == 50_000
    with pytest.raises(Exception) as err:
        parse_spec(base + "monitoring: {windowN: 4, windowM: 3}\n", "s.yaml")
    assert "windowN (4) cannot exceed windowM (3)" in str(err.value) and "s.yaml" in str(err.value)
    with pytest.raises(Exception) as err:
        parse_spec(base + "scoring: {sourceTable: a, query: 'select 1'}\n", "s.yaml")
    assert "not both" in str(err.value)


def test_one_source_and_one_target_at_most(tmp_path):
    with pytest.raises(SpecError, match="scoring.sourceTable or scoring.sourceParquet, not both"):
        load_spec(write_spec(tmp_path / "a.yaml", churn_dict(scoring={"sourceTable": "t", "sourceParquet": "/p"})))
    with pytest.raises(SpecError, match="predictionsParquet or scoring.predictionsSparkTable"):
        load_spec(
            write_spec(
                tmp_path / "b.yaml",
                churn_dict(scoring={"predictionsParquet": "/p", "predictionsSparkTable": "db.t"}),
            )
        )
    with pytest.raises(SpecError, match="engine"):
        load_spec(write_spec(tmp_path / "c.yaml", churn_dict(scoring={"engine": "dask"})))

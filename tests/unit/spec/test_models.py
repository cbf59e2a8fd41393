"""The spec's data and training sections (mlpublish.spec.models): Training.grid."""

from __future__ import annotations

from mlpublish.spec import (
    Training,
    parse_spec,
)
from tests.support.spec_text import CHURN_TEXT


def test_grid_is_the_cartesian_product_in_spec_order() -> None:
    t = Training(
        estimator="sklearn.ensemble.RandomForestClassifier",
        candidates={"max_depth": [4, 8], "min_samples_leaf": [1, 5, 10], "criterion": ["gini"]},
    )
    assert t.grid() == [
        {"max_depth": 4, "min_samples_leaf": 1, "criterion": "gini"},
        {"max_depth": 4, "min_samples_leaf": 5, "criterion": "gini"},
        {"max_depth": 4, "min_samples_leaf": 10, "criterion": "gini"},
        {"max_depth": 8, "min_samples_leaf": 1, "criterion": "gini"},
        {"max_depth": 8, "min_samples_leaf": 5, "criterion": "gini"},
        {"max_depth": 8, "min_samples_leaf": 10, "criterion": "gini"},
    ]


def test_grid_without_candidates_is_one_empty_combination() -> None:
    assert Training(estimator="sklearn.linear_model.Ridge").grid() == [{}]


def test_grid_of_the_demo_spec() -> None:
    assert parse_spec(CHURN_TEXT).training.grid() == [{"max_depth": 4}, {"max_depth": 8}]


def test_promotion_approval_requires_named_approvers_and_stops_the_chain() -> None:
    import pytest
    from pydantic import ValidationError

    from mlpublish.spec.models import Promotion

    assert not Promotion().needs_approval
    required = Promotion(approval="required", approvers=[" ada ", "bob"])
    assert required.needs_approval and required.approvers == ["ada", "bob"]
    assert Promotion(mode="manual").needs_approval
    with pytest.raises(ValidationError, match="approvers must be user names without commas"):
        Promotion(approval="required", approvers=["ada,bob"])
    with pytest.raises(ValidationError):
        Promotion(approval="sometimes")


def _training(**fields):
    from mlpublish.spec import Training

    return Training(**fields)


def test_training_takes_exactly_one_of_estimator_and_existing_model() -> None:
    import pytest
    from pydantic import ValidationError

    assert _training(existingModel="models:/churn/3", task="classification").estimator is None
    assert _training(existingModel="/models/churn", task="regression").existingModel == "/models/churn"
    for fields, phrase in [
        ({}, "give exactly one of training.estimator"),
        ({"estimator": "sklearn.tree.DecisionTreeClassifier", "existingModel": "runs:/r/model"}, "exactly one"),
        ({"existingModel": "runs:/r/model"}, "needs training.task"),
        ({"existingModel": "runs:/r/model", "task": "regression", "candidates": {"a": [1]}}, "remove training.cand"),
        ({"existingModel": "s3://bucket/model", "task": "regression"}, "expected runs:/<run id>/<path>"),
        ({"existingModel": "models:/churn", "task": "regression"}, "expected models:/<name>/<version>"),
        ({"existingModel": "../up/model", "task": "regression"}, "'..' path segments"),
    ]:
        with pytest.raises(ValidationError, match=phrase.replace("(", r"\(")):
            _training(**fields)

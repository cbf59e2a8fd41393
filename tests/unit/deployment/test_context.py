"""The publish context (mlpublish.deployment.context): a readOnly environment refuses every write."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpublish.errors import ReadOnlyEnvironment
from mlpublish.spec import load_spec
from tests.support.environments import specs  # noqa: F401 (fixture)


def test_read_only_environment_refuses_every_write_before_it_happens(
    specs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlpublish.deployment.context import PublishContext

    monkeypatch.chdir(specs)
    spec = load_spec(specs / "churn.yaml", env="prod")
    with pytest.raises(ReadOnlyEnvironment, match="'prod' is readOnly"):
        PublishContext.create(spec, check_warehouse=False)
    assert not (specs / "prod-mlflow.db").exists() and not (specs / "prod-registry.db").exists()

"""Provenance (mlpublish.registry.provenance): the code version of a spec's repository, as run tags and as
catalog properties."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlpublish.registry.provenance import catalog_properties, champion_properties
from mlpublish.spec import load_spec
from tests.conftest import churn_dict, write_spec


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def test_code_version_is_the_spec_repositorys_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpublish.registry.provenance import catalog_properties, run_tags

    monkeypatch.delenv("MLPUBLISH_GIT_SHA", raising=False)
    monkeypatch.delenv("MLPUBLISH_ENV", raising=False)
    _git(tmp_path, "init", "-q")
    path = write_spec(tmp_path / "churn.yaml", churn_dict())
    _git(tmp_path, "add", "churn.yaml")
    _git(tmp_path, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "spec")
    sha = _git(tmp_path, "rev-parse", "HEAD")
    tags = run_tags(load_spec(path))
    assert tags == {"mlflow.source.git.commit": sha, "mlpublish.git_dirty": "false"}
    path.write_text(path.read_text() + "\n# edited\n")
    tags = run_tags(load_spec(path))
    assert tags["mlpublish.git_dirty"] == "true"
    assert catalog_properties(tags) == {"codeVersion": f"{sha}-dirty"}
    monkeypatch.setenv("MLPUBLISH_GIT_SHA", "0123456789abcdef0123456789abcdef01234567")
    assert run_tags(load_spec(path))["mlflow.source.git.commit"] == "0123456789abcdef0123456789abcdef01234567"


def test_catalog_properties_say_only_what_the_tags_know() -> None:
    assert catalog_properties({}) == {}
    assert catalog_properties({"mlpublish.environment": "prod"}) == {"environment": "prod"}
    clean = {"mlflow.source.git.commit": "abc123", "mlpublish.git_dirty": "false"}
    assert catalog_properties(clean) == {"codeVersion": "abc123"}
    # an unknown dirtiness (not a repository's own answer) is not called dirty
    assert catalog_properties({"mlflow.source.git.commit": "abc123"}) == {"codeVersion": "abc123"}
    assert catalog_properties({**clean, "mlpublish.git_dirty": "true", "mlpublish.environment": "dev"}) == {
        "environment": "dev",
        "codeVersion": "abc123-dirty",
    }


def test_champion_properties_name_unknown_and_none_rather_than_leave_them_out() -> None:
    assert champion_properties({}, None) == {"championCodeVersion": "unknown", "copiedFrom": "none"}
    tags = {"mlflow.source.git.commit": "abc123", "mlpublish.git_dirty": "true"}
    assert champion_properties(tags, "staging:churn/3") == {
        "championCodeVersion": "abc123-dirty",
        "copiedFrom": "staging:churn/3",
    }

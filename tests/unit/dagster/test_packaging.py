"""pyproject lists packages by hand (to install dagster_project/ as mlpublish_dagster): keep the list whole."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_every_package_folder_is_listed_and_the_dagster_folder_is_mapped():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = conf["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "mlpublish").rglob("__init__.py")}
    assert found and found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert setuptools["package-dir"]["mlpublish_dagster"] == "dagster_project"
    assert "mlpublish_dagster" in listed and (ROOT / "dagster_project" / "__init__.py").exists()
    assert not list((ROOT / "dagster_project").glob("*/__init__.py")), "list dagster_project's subpackages too"
    assert conf["tool"]["dagster"]["module_name"] == "mlpublish_dagster.definitions"
    assert (ROOT / "dagster_project" / "definitions.py").exists()

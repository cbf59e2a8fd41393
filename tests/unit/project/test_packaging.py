"""Packaging: every package folder is listed for setuptools, the Airflow adapter under its installed name."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_every_core_package_is_listed_for_setuptools():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "mlpublish").rglob("__init__.py")}
    assert on_disk <= listed
    assert config["package-dir"]["mlpublish_airflow"] == "operators"

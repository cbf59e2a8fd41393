"""`pip install . && mlpublish demo` needs the demo spec in the wheel: specs/churn.yaml, the one copy, as package data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# what setuptools reads to build the wheel (the Dockerfile copies the same before its uv sync)
SOURCES = ("pyproject.toml", "README.md", "mlpublish", "operators", "dagster_project", "specs")


def build_wheel(tmp_path: Path) -> Path:
    src, out = tmp_path / "src", tmp_path / "dist"
    src.mkdir()
    for name in SOURCES:  # a copy: building in the checkout would leave build/ and egg-info behind
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, src / name)
    code = f"import setuptools.build_meta as b; print(b.build_wheel({str(out)!r}))"
    name = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, check=True)
    return out / name.stdout.strip().splitlines()[-1]


def test_the_wheel_carries_the_demo_spec_of_the_repository(tmp_path):
    with zipfile.ZipFile(build_wheel(tmp_path)) as wheel:
        assert wheel.read("mlpublish/demo_specs/churn.yaml") == (ROOT / "specs" / "churn.yaml").read_bytes()
        assert not [n for n in wheel.namelist() if n.startswith("specs/")], "specs/ is installed inside mlpublish/ only"


def test_the_demo_finds_its_spec_in_a_checkout_and_in_an_install(tmp_path, monkeypatch):
    from mlpublish.demo import run as demo

    assert demo.bundled_spec() == ROOT / "specs" / "churn.yaml"  # a source checkout: the original
    installed = tmp_path / "site-packages" / "mlpublish"
    (installed / "demo_specs").mkdir(parents=True)
    (installed / "demo_specs" / "churn.yaml").write_text("name: x\n")
    monkeypatch.setattr(demo, "PACKAGED_SPEC", installed / "demo_specs" / "churn.yaml")
    monkeypatch.setattr(demo, "SOURCE_SPEC", tmp_path / "site-packages" / "specs" / "churn.yaml")
    assert demo.bundled_spec() == installed / "demo_specs" / "churn.yaml"

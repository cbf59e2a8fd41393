"""The layer contracts cover the whole core, and the core's modules stay small (docs/architecture.md)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CORE = ROOT / "mlpublish"


def layers_contract() -> list[str]:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c for c in contracts if c["type"] == "layers"]
    return [name.strip() for layer in layers["layers"] for name in layer.split(":")]


def test_every_module_of_the_core_has_a_place_in_the_layers():
    named = {name.removeprefix("mlpublish.") for name in layers_contract()}
    modules = {p.stem for p in CORE.glob("*.py") if p.stem != "__init__"}
    packages = {p.name for p in CORE.iterdir() if (p / "__init__.py").is_file()}
    packages.discard("demo_specs")  # package data (the demo spec), no code
    assert modules | packages == named, (
        f"not in the layers contract: {sorted((modules | packages) - named)}; "
        f"named but missing: {sorted(named - (modules | packages))}"
    )


# ~400 lines of one concern; past this a module is split by concern, not stretched
MAX_MODULE_LINES = 450


def test_no_module_of_the_core_or_the_adapters_is_oversized():
    sources = [*CORE.rglob("*.py"), *(ROOT / "operators").rglob("*.py"), *(ROOT / "dagster_project").rglob("*.py")]
    long = {str(p.relative_to(ROOT)): n for p in sources if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by concern): {long}"

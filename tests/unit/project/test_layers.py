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
MAX_MODULE_LINES = 400
# the adapters translate: a function of theirs that grows past this holds logic that belongs in the core
MAX_ADAPTER_FUNCTION_LINES = 80
ADAPTERS = ("operators", "dags", "dagster_project")


def test_no_module_of_the_core_or_the_adapters_is_oversized():
    sources = [*CORE.rglob("*.py"), *(ROOT / "operators").rglob("*.py"), *(ROOT / "dagster_project").rglob("*.py")]
    long = {str(p.relative_to(ROOT)): n for p in sources if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by concern): {long}"


def test_no_function_of_the_adapters_is_oversized():
    import ast

    long = {}
    for folder in ADAPTERS:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > MAX_ADAPTER_FUNCTION_LINES:
                        long[f"{path.relative_to(ROOT)}::{node.name}"] = lines
    assert not long, f"adapter functions over {MAX_ADAPTER_FUNCTION_LINES} lines: {long}"


def test_the_adapters_use_only_the_public_api_of_airflow_and_dagster():
    """A private name (``dagster._core...``, ``airflow._...``) can move in any release."""
    import ast

    private = []
    for folder in ADAPTERS:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                for name in names:
                    parts = name.split(".")
                    if parts[0] in ("airflow", "dagster") and any(p.startswith("_") for p in parts[1:]):
                        private.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert not private, f"private names of an orchestrator: {private}"

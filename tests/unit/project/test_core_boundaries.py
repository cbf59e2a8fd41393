"""The core knows nothing of the orchestrators, and stays cheap to import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[3] / "mlpublish"
FORBIDDEN = ("airflow", "dagster")


def test_no_orchestrator_import_statement_in_core():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.relative_to(CORE.parent)}:{node.lineno} {n}" for n in names if n.split(".")[0] in FORBIDDEN
            ]
    assert offenders == []


def test_importing_every_core_module_loads_no_orchestrator():
    code = (
        "import importlib, pkgutil, sys, mlpublish\n"
        "mods = [m.name for m in pkgutil.walk_packages(mlpublish.__path__, 'mlpublish.')]\n"
        "[importlib.import_module(m) for m in mods]\n"
        f"print(len(mods), sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(
        maxsplit=1
    )
    assert int(out[0]) >= 20  # every module was really imported
    assert out[1].strip() == "[]"

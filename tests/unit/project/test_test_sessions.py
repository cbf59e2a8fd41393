"""`make test` runs two pytest sessions: the Dagster tests (Makefile DAGSTER_TESTS) in .venv-dagster, every other
test in .venv (the OpenMetadata SDK and Dagster cannot share an environment: docs/install.md). The split must
leave no test out and put none where its imports are missing; a skip on a missing package would hide a test."""

from __future__ import annotations

import ast
import re
import tomllib
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TESTS = ROOT / "tests"
DAGSTER = ("dagster", "dagster_webserver", "dagster_postgres", "mlpublish_dagster")
# what .venv-dagster does not hold: the SDK (and the modules that import it) and Airflow
MAIN_ONLY = ("metadata", "airflow", "mlpublish_airflow", "tests.support.openmetadata_emulator")


def dagster_tests() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"^DAGSTER_TESTS := (.+)$", text, re.M)
    assert match, "Makefile: DAGSTER_TESTS is gone"
    return match.group(1).split()


def in_dagster_session(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in dagster_tests())


@cache
def imports(path: Path) -> frozenset[str]:
    """Every module ``path`` imports, at any depth of the file, and through the tests' own modules."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    for name in list(found):
        if name.startswith("tests."):
            module = ROOT / (name.replace(".", "/") + ".py")
            if module.exists():
                found |= imports(module)
    return frozenset(found)


def uses(names: frozenset[str], packages: tuple[str, ...]) -> set[str]:
    return {n for n in names if any(n == p or n.startswith(p + ".") for p in packages)}


def _test_files() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def test_the_dagster_session_paths_exist_and_hold_tests():
    for rel in dagster_tests():
        path = ROOT / rel
        assert path.exists(), f"Makefile DAGSTER_TESTS names {rel}, which does not exist"
        assert path.is_file() or list(path.rglob("test_*.py")), rel


def test_every_test_importing_dagster_runs_in_the_dagster_session():
    wrong = {
        str(p.relative_to(ROOT)): sorted(uses(imports(p), DAGSTER))
        for p in _test_files()
        if uses(imports(p), DAGSTER) and not in_dagster_session(p)
    }
    assert wrong == {}, "add these to Makefile DAGSTER_TESTS (or spawn .venv-dagster from the test)"


def test_no_test_of_the_dagster_session_needs_the_sdk_or_airflow():
    wrong = {
        str(p.relative_to(ROOT)): sorted(uses(imports(p), MAIN_ONLY))
        for p in _test_files()
        if in_dagster_session(p) and uses(imports(p), MAIN_ONLY)
    }
    assert wrong == {}


def test_no_test_skips_itself_when_an_environments_package_is_missing():
    """importorskip("dagster") in .venv, or of the SDK in .venv-dagster, would pass a test that never ran
    (Airflow lives in .venv only, with the main session: the check above keeps it out of the Dagster one)."""
    packages = {"dagster", "mlpublish_dagster", "metadata"}
    found = []
    for path in _test_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "importorskip"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).split(".")[0] in packages
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} importorskip({node.args[0].value!r})")
    assert found == []


def test_the_environments_are_the_extras_that_go_together():
    makefile = (ROOT / "Makefile").read_text()
    main = re.search(r"^EXTRAS \?= (.+)$", makefile, re.M).group(1).split()
    dagster = re.search(r"^DAGSTER_EXTRAS \?= (.+)$", makefile, re.M).group(1).split()
    # each side of the conflict in its own environment; the extras that do not conflict (spark) may go in both
    assert {"dev", "airflow", "openmetadata"} <= set(main[1::2]) and "dagster" not in main
    assert {"dev", "dagster"} <= set(dagster[1::2]) and "openmetadata" not in dagster
    conflicts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["conflicts"]
    assert [{"extra": "dagster"}, {"extra": "openmetadata"}] in conflicts
    # both sessions run in `make test`, the second even when the first failed
    test_recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "$(VENV)/bin/python" in test_recipe and "$(DAGSTER_TESTS:%=--ignore=%)" in test_recipe
    assert "$(VENV_DAGSTER)/bin/python $(PYTEST) --durations=10 $(DAGSTER_TESTS) || rc=$$?" in test_recipe


def test_the_python_matrix_runs_existing_tests_in_the_right_environment_after_the_suite():
    """`make test-pythons` (Python 3.12 and 3.13): its test paths exist, Dagster's run in the Dagster environments,
    `make test` runs it after both sessions, and the versions are those pyproject.toml's requires-python allows."""
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    pythons = re.search(r"^MATRIX_PYTHONS \?= (.+)$", makefile, re.M).group(1).split()
    main = re.search(r"^MATRIX_TESTS := (.+)$", makefile, re.M).group(1).split()
    dagster = re.search(r"^MATRIX_DAGSTER_TESTS := (.+)$", makefile, re.M).group(1).split()
    assert main[0] == "tests/unit" and "tests/unit/dagster" in dagster
    for rel in [p for p in main + dagster if re.fullmatch(r"tests/[\w/.:]+", p)]:
        path = ROOT / rel.split("::")[0]
        assert path.exists(), f"Makefile names {rel}, which does not exist"
        if "::" in rel:
            assert f"def {rel.split('::')[1]}(" in path.read_text(), rel
        assert in_dagster_session(path) == (rel in dagster), f"{rel} runs in the wrong environment of the matrix"
    assert "MATRIX_TESTS := tests/unit $(patsubst %,--ignore=%,$(filter tests/unit/%,$(DAGSTER_TESTS)))" in makefile
    test_recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert test_recipe.index("test-pythons || rc=$$?") > test_recipe.index("$(DAGSTER_TESTS) || rc=$$?")
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11,<3.14" and pythons == ["3.12", "3.13"]

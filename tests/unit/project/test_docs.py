"""The documentation site and the README: every page reachable, every variable the code reads documented,
the spec reference complete, the README short with its two commands.

`mkdocs build --strict` (run by `make test` and `make test-fast`) checks links and anchors; these tests check
what a build cannot see.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import yaml

from tests.unit.project.test_compose import env_vars_read_by_the_code

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_MAX_BYTES = 12_000
# pages the docs link from the repository (copied into the site by docs/hooks/repo_files.py)
REPO_COPY = "repo/"


def nav_entries(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in nav_entries(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in nav_entries(value)]
    return []


def docs_pages() -> set[str]:
    return {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "hooks" not in p.relative_to(DOCS).parts}


def docs_text() -> str:
    return "\n".join((DOCS / page).read_text() for page in sorted(docs_pages()))


def load_hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"mkdocs_hook_{name}", DOCS / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_exists():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = nav_entries(config["nav"])
    assert len(nav) == len(set(nav)), f"listed twice in the nav: {sorted({p for p in nav if nav.count(p) > 1})}"
    in_docs = {page for page in nav if not page.startswith(REPO_COPY)}
    assert docs_pages() - in_docs == set(), "pages missing from the nav of mkdocs.yml"
    assert in_docs - docs_pages() == set(), "nav entries without a page under docs/"
    missing = [page for page in nav if page.startswith(REPO_COPY) and not (ROOT / page[len(REPO_COPY) :]).is_file()]
    assert not missing, f"nav entries naming repository files that do not exist: {missing}"


def test_every_variable_the_code_reads_is_documented():
    names, prefixes = env_vars_read_by_the_code()
    assert {"MLFLOW_TRACKING_URI", "MLPUBLISH_ENV", "OPENMETADATA_HOST_PORT"} <= names, "the scan found too little"
    words = set(re.findall(r"[A-Z][A-Z0-9_]*[A-Z0-9]", docs_text()))

    def documented(name: str) -> bool:
        # a name read through a prefixing helper (get("SMTP_HOST") -> MLPUBLISH_NOTIFY_SMTP_HOST) is documented
        # under its full name
        return name in words or any(f"{prefix}{name}" in words for prefix in prefixes)

    assert sorted(n for n in names if not documented(n)) == [], "read by the code, documented on no docs page"
    assert sorted(p for p in prefixes if not any(w.startswith(p) for w in words)) == []


def test_the_readme_names_the_two_commands_make_demo_and_make_test():
    text = README.read_text()
    section = re.search(r"^## Two commands\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert section, "the README lost its 'Two commands' section"
    commands = re.findall(r"^ {4}(make \S+)", section.group(1), re.MULTILINE)
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.MULTILINE) and re.search(r"^test:", makefile, re.MULTILINE)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_readme_stays_short_and_its_links_resolve():
    assert len(README.read_bytes()) < README_MAX_BYTES, "the README is a map: move the text into a docs page"
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    local = [t for t in targets if not re.match(r"^[a-z]+:", t)]
    assert any(t.startswith("docs/") for t in local)
    assert [t for t in local if not (ROOT / t).exists()] == []
    assert {t for t in local if t.startswith("docs/") and t.endswith(".md")} >= {f"docs/{p}" for p in docs_pages()}, (
        "the README's map of the docs misses a page"
    )


def test_make_test_runs_the_checks_and_the_docs_before_the_suite():
    makefile = (ROOT / "Makefile").read_text()
    prerequisites = re.search(r"^test: (.*)$", makefile, re.MULTILINE).group(1).split()
    # the OS packages first: the README's `make test` alone must pass on a fresh machine
    assert prerequisites == ["system-deps", "venv", "check", "docs-check"]
    ci = (ROOT / ".ci" / "run").read_text()
    # the README's test command, then the benchmarks at their smoke size (a CI stage of its own, not a test)
    commands = [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert commands == ["make test", "make bench-smoke"]
    assert re.search(r"^bench-smoke: venv\n\t.*\$\(BENCH_SMOKE\)$", makefile, re.MULTILINE)
    assert "--ignore=$(BENCH_SMOKE)" in makefile  # run once: in CI's bench stage, not also in make test
    fast = re.search(r"^test-fast: (.*)$", makefile, re.MULTILINE).group(1).split()
    assert fast == ["venv", "check", "docs-check"]
    assert "mkdocs build --strict" in makefile


def test_the_spec_reference_documents_every_field_of_every_model():
    hook = load_hook("spec_reference")
    page = (DOCS / hook.PAGE).read_text()
    assert hook.BEGIN in page and hook.END in page
    generated = hook.reference_markdown()
    sections = hook.sections(hook.root_models())
    assert {s.model.__name__ for s in sections} >= {
        "Spec",
        "DataSpec",
        "Training",
        "Split",
        "Gate",
        "MlFeature",
        "FeatureSource",
        "MonitoringSpec",
        "EnvironmentsFile",
        "EnvironmentSpec",
    }
    for section in sections:
        start = generated.index(f"{{#{section.anchor}}}")
        end = generated.find("\n### ", start)
        table = generated[start : end if end > 0 else None]
        for name, field in section.model.model_fields.items():
            assert f"| `{field.alias or name}` |" in table, f"{section.path}: field {name} is not in the reference"
            if field.description:
                assert hook.prose(field.description) in table
    rendered = hook.replace_region(page, generated)
    assert hook.BEGIN not in rendered and "## Field reference" in rendered


def test_the_committed_spec_reference_is_what_the_code_generates():
    # the page reads on GitHub and in an editor, not only in the built site: its copy must not go stale
    hook = load_hook("spec_reference")
    page = (DOCS / hook.PAGE).read_text()
    committed = page[page.index(hook.BEGIN) : page.index(hook.END) + len(hook.END)]
    assert committed == hook.region(), f"docs/{hook.PAGE} is stale: run `make spec-reference` and commit it"


def test_the_spec_reference_escapes_what_markdown_would_misread():
    hook = load_hook("spec_reference")
    assert hook.prose("<service>.<table> | a") == "&lt;service&gt;.&lt;table&gt; \\| a"
    assert hook.cell("a | `x|y`") == "a \\| `x|y`"

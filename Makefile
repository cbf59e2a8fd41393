# Two commands on a fresh machine: `make demo` and `make test`.
# Both create or update .venv from uv.lock (uv itself lives in .tools/).
# The edit loop: `make test-fast` (static checks, the docs build, the unit tests; under two minutes).
PYTHON ?= python3
UV_VERSION ?= 0.13.8
UV := .tools/bin/uv
VENV := .venv
EXTRAS ?= --extra dev --extra openmetadata --extra airflow --extra dagster --extra spark
DOCS_ADDR ?= 127.0.0.1:8000

.PHONY: demo test test-fast check lint-imports docs-check docs docs-serve venv bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

venv: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --compile-bytecode --python $(PYTHON) $(EXTRAS) --quiet

demo: venv
	$(VENV)/bin/mlpublish demo

# in this order: the venv, static checks, the docs (strict), the whole suite
test: venv check docs-check
	$(VENV)/bin/python -m pytest -p no:cacheprovider --durations=15 tests

test-fast: venv check docs-check
	$(VENV)/bin/python -m pytest -p no:cacheprovider -q tests/unit

# static checks (settings in pyproject.toml)
check: venv lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# the layer contracts (pyproject.toml [tool.importlinter]; docs/architecture.md)
lint-imports: venv
	$(VENV)/bin/lint-imports --no-cache

# the docs site, strict (a broken link, anchor or a page missing from the nav fails), into a throwaway folder.
# Not --quiet: it hides the warnings and then --strict lets them pass.
docs-check: venv
	@site=$$(mktemp -d) && trap 'rm -rf "$$site"' EXIT && $(VENV)/bin/mkdocs build --strict -d "$$site"

# Material's banner about its successor is not ours to print on every build
docs-check docs docs-serve: export NO_MKDOCS_2_WARNING = 1

# the docs site into site/
docs: venv
	$(VENV)/bin/mkdocs build --strict

docs-serve: venv
	$(VENV)/bin/mkdocs serve --strict -a $(DOCS_ADDR)

# every benchmark in bench/, one table in bench/RESULTS.md (BENCH_ARGS=--quick: small sizes)
bench: venv
	$(VENV)/bin/python bench/run_all $(BENCH_ARGS)

clean:
	rm -rf .venv .tools demo-workspace site

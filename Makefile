# Two commands on a fresh machine: `make demo` and `make test`.
# Both create or update the environments from uv.lock (uv itself lives in .tools/):
#   .venv          dev + airflow + openmetadata: the CLI, Airflow, the relay, the main test session
#   .venv-dagster  dev + dagster: the code location, webserver, daemon and the Dagster test session
# The OpenMetadata SDK pins ANTLR 4.9.2, Dagster's asset selections need 4.13: they cannot share one
# environment (pyproject.toml [tool.uv] conflicts; docs/install.md).
# The edit loop: `make test-fast` (static checks, the docs build, the unit tests; under two minutes).
PYTHON ?= python3
UV_VERSION ?= 0.13.8
UV := .tools/bin/uv
VENV := .venv
VENV_DAGSTER := .venv-dagster
EXTRAS ?= --extra dev --extra openmetadata --extra airflow --extra spark --extra models
DAGSTER_EXTRAS ?= --extra dev --extra dagster --extra spark --extra models
# every module's .pyc written once at install (PYTHONDONTWRITEBYTECODE=1 machines never write them);
# `make test BYTECODE=` installs without, to measure what it saves (docs/operations/benchmarks.md)
BYTECODE ?= --compile-bytecode
# the tests that import Dagster run in .venv-dagster, every other test in .venv
# (tests/unit/project/test_test_sessions.py checks that the split leaves no test out and puts none in the wrong one)
DAGSTER_TESTS := tests/unit/dagster tests/integration/dagster tests/reliability/test_dagster_bad_input.py
# every benchmark of bench/ at its smoke size (--small): a CI stage of its own (.ci/run: `make test`, then
# `make bench-smoke`), not part of `make test`: it checks the benchmarks still run, not how the product behaves
BENCH_SMOKE := tests/integration/test_bench_small.py
PYTEST := -m pytest -p no:cacheprovider
# The main session and the other Pythons' unit tests run on PYTEST_WORKERS processes (pytest-xdist), a whole test
# file per worker at a time (--dist loadfile: a module's fixtures are built once): most of the suite's time is
# spent waiting on servers (MLflow, Airflow, Dagster, Spark, PostgreSQL), which two workers overlap on 2 cores.
# Every test makes its own ports, folders and databases. `make test PYTEST_WORKERS=0` runs in one process.
PYTEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)
# The other Pythons of requires-python (pyproject.toml): `make test-pythons` (run by `make test` after the main
# suite) builds both environments of each from the same uv.lock (.venv-3.12, .venv-dagster-3.12, ...) and runs
# the unit tests and the Airflow and Dagster smoke tests there: the DagBag, one CLI publish, the Dagster
# definitions and a `dg launch` of the chain (tests/unit/project/test_test_sessions.py checks the paths)
MATRIX_PYTHONS ?= 3.12 3.13
MATRIX_TESTS := tests/unit $(patsubst %,--ignore=%,$(filter tests/unit/%,$(DAGSTER_TESTS))) tests/integration/airflow/test_dagbag.py \
	tests/integration/test_chain_sqlite.py::test_first_publish_registers_promotes_and_catalogs
MATRIX_DAGSTER_TESTS := tests/unit/dagster tests/integration/dagster/test_assets.py::test_definitions_load_and_validate \
	tests/integration/dagster/test_environment_split.py tests/integration/dagster/test_dg_project.py
# pyenv's root, where pyenv keeps its interpreters (PYENV_ROOT, else `pyenv root`, else ~/.pyenv)
PYENV_ROOT ?= $(or $(shell pyenv root 2>/dev/null),$(HOME)/.pyenv)
DOCS_ADDR ?= 127.0.0.1:8000
# `make demo DEMO_ARGS="--workdir /tmp/demo --customers 800"`: the demo's own options (mlpublish demo --help)
DEMO_ARGS ?=
MLFLOW_UI_PORT ?= 5000
OPENMETADATA_EMULATOR_PORT ?= 8585

.PHONY: demo mlflow-ui openmetadata-emulator spec-reference test test-fast test-pythons check lint-imports docs-check docs docs-serve venv venv-main venv-dagster system-deps bench bench-smoke clean

# What the suite needs from the operating system beyond Python: the browser test drives Debian's
# headless Chromium through its chromedriver (tests/integration/dagster/test_browser.py), the Spark
# tests need Java 17+ and PostgreSQL's JDBC driver (tests/integration/spark). Installed with apt-get
# when missing (as root, or through sudo); elsewhere the target says what to install and the tests
# that need them say why they skip.
SYSTEM_DEPS_CHECK := command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	&& command -v java >/dev/null && [ -f /usr/share/java/postgresql.jar ]
SYSTEM_PACKAGES := chromium chromium-driver openjdk-17-jre-headless libpostgresql-jdbc-java

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

venv: venv-main venv-dagster

venv-main: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen $(BYTECODE) --python $(PYTHON) $(EXTRAS) --quiet

venv-dagster: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV_DAGSTER) $(UV) sync --frozen $(BYTECODE) --python $(PYTHON) $(DAGSTER_EXTRAS) --quiet

system-deps:
	@if $(SYSTEM_DEPS_CHECK); then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "make: install $(SYSTEM_PACKAGES) (or your system's equivalents) for the browser and Spark tests" >&2; exit 0; fi; \
	sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	echo "installing $(SYSTEM_PACKAGES) with apt-get (the browser and Spark tests need them)"; \
	$$sudo apt-get update -qq >/dev/null && \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null

demo: venv-main
	$(VENV)/bin/mlpublish demo $(DEMO_ARGS)

# the MLflow UI on the demo's store (after `make demo`), on 127.0.0.1:$(MLFLOW_UI_PORT). One worker, in the
# foreground, without MLflow's job runner (its huey consumers, busy at 100% CPU, outlive Ctrl-C): Ctrl-C stops it all.
mlflow-ui: venv-main
	@[ -f demo-workspace/mlflow.db ] || { echo "make mlflow-ui: no demo-workspace/mlflow.db, run make demo first" >&2; exit 2; }
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false exec $(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/demo-workspace/mlflow.db --workers 1 \
		--host 127.0.0.1 --port $(MLFLOW_UI_PORT)

# in this order: the system packages, the venvs, static checks, the docs (strict), the whole suite in two
# sessions (the second runs even when the first fails; the target fails if either did)
test: system-deps venv check docs-check
	@rc=0; \
	$(VENV)/bin/python $(PYTEST) $(XDIST) --durations=15 tests $(DAGSTER_TESTS:%=--ignore=%) --ignore=$(BENCH_SMOKE) || rc=$$?; \
	$(VENV_DAGSTER)/bin/python $(PYTEST) --durations=10 $(DAGSTER_TESTS) || rc=$$?; \
	$(MAKE) --no-print-directory test-pythons || rc=$$?; \
	exit $$rc

# For each of MATRIX_PYTHONS: the interpreter is pythonX.Y on PATH when it runs (a pyenv shim of a version pyenv
# has not selected does not), else the newest $(PYENV_ROOT)/versions/X.Y.*. A version not found is named; under
# CI (CI set, not false or 0) it fails the target, elsewhere the other versions still run.
test-pythons: $(UV)
	@rc=0; for v in $(MATRIX_PYTHONS); do \
		py=; for c in "$$(command -v python$$v)" $$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin/python$$v 2>/dev/null | sort -rV); do \
			if [ -n "$$c" ] && "$$c" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$$v'.split('.')))" 2>/dev/null; \
			then py=$$c; break; fi; done; \
		if [ -z "$$py" ]; then \
			echo "make test-pythons: Python $$v is missing (no python$$v on PATH, none in $(PYENV_ROOT)/versions): its tests did not run; install it (pyenv install $$v, or your system's python$$v)" >&2; \
			case "$${CI:-}" in ""|0|false|False|FALSE) ;; *) rc=1;; esac; continue; fi; \
		echo "== Python $$v ($$py): the unit tests and the Airflow and Dagster smoke tests"; \
		UV_PROJECT_ENVIRONMENT=$(VENV)-$$v $(UV) sync --frozen $(BYTECODE) --python "$$py" $(EXTRAS) --quiet \
			&& UV_PROJECT_ENVIRONMENT=$(VENV_DAGSTER)-$$v $(UV) sync --frozen $(BYTECODE) --python "$$py" $(DAGSTER_EXTRAS) --quiet \
			|| { rc=1; continue; }; \
		$(VENV)-$$v/bin/python $(PYTEST) $(XDIST) -q $(MATRIX_TESTS) || rc=1; \
		$(VENV_DAGSTER)-$$v/bin/python $(PYTEST) -q $(MATRIX_DAGSTER_TESTS) || rc=1; \
	done; exit $$rc

test-fast: venv check docs-check
	@rc=0; \
	$(VENV)/bin/python $(PYTEST) -q tests/unit $(DAGSTER_TESTS:%=--ignore=%) || rc=$$?; \
	$(VENV_DAGSTER)/bin/python $(PYTEST) -q $(filter tests/unit/%,$(DAGSTER_TESTS)) || rc=$$?; \
	exit $$rc

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

# the OpenMetadata EMULATOR of the tests (not a server: in memory, the API calls of mlpublish's sink only) in the
# foreground on 127.0.0.1:$(OPENMETADATA_EMULATOR_PORT), to try the sink and the relay; it prints what to run
openmetadata-emulator: venv-main
	$(VENV)/bin/python -m tests.support.openmetadata_server --port $(OPENMETADATA_EMULATOR_PORT)

# the spec's field reference, generated from the code into docs/reference/spec.md (committed, so it reads on
# GitHub; tests/unit/project/test_docs.py fails when it is stale)
spec-reference: venv-main
	$(VENV)/bin/python docs/hooks/spec_reference.py

# the docs site into site/
docs: venv
	$(VENV)/bin/mkdocs build --strict

docs-serve: venv
	$(VENV)/bin/mkdocs serve --strict -a $(DOCS_ADDR)

# every benchmark in bench/, one table in bench/RESULTS.md (BENCH_ARGS=--quick: small sizes)
bench: venv
	$(VENV)/bin/python bench/run_all $(BENCH_ARGS)

bench-smoke: venv
	$(VENV)/bin/python $(PYTEST) $(BENCH_SMOKE)

clean:
	rm -rf .venv .venv-dagster $(foreach v,$(MATRIX_PYTHONS),.venv-$(v) .venv-dagster-$(v)) .tools demo-workspace site

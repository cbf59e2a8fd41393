# Two commands on a fresh machine: `make demo` and `make test`.
# Both create or update .venv from uv.lock (uv itself lives in .tools/).
PYTHON ?= python3
UV_VERSION ?= 0.13.8
UV := .tools/bin/uv
VENV := .venv
EXTRAS ?= --extra dev --extra openmetadata --extra airflow --extra dagster

.PHONY: demo test venv bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

venv: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --python $(PYTHON) $(EXTRAS) --quiet

demo: venv
	$(VENV)/bin/mlpublish demo

test: venv
	$(VENV)/bin/python -m pytest -p no:cacheprovider --durations=15 tests

# every benchmark in bench/, one table in bench/RESULTS.md (BENCH_ARGS=--quick: small sizes)
bench: venv
	$(VENV)/bin/python bench/run_all $(BENCH_ARGS)

clean:
	rm -rf .venv .tools demo-workspace

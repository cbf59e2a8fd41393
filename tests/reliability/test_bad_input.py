"""Issue 7, bad input: every spec of the corpus is refused by ``mlpublish check`` and ``mlpublish run`` with a
message naming the file and the field, and nothing is written (MLflow store, artifacts, catalog, warehouse).
The load-stage cases are also refused by the Airflow DAG factory (and the Dagster code location:
test_dagster_bad_input.py, in the Dagster environment), and hostile
trigger-time overrides by the Airflow operators' override loader."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mlpublish.cli import main
from mlpublish.errors import SpecError
from tests.support.bad_input import (
    CANARY_MODULE,
    CONTROL,
    MANIFEST,
    load_stage,
    materialize,
    snapshot,
    write_canary_module,
)

SPECS = "in"  # the workspace folder holding the case itself (not part of the snapshot)


def test_corpus_is_large_and_covers_every_stage():
    assert len(MANIFEST) >= 30
    assert {c["stage"] for c in MANIFEST.values()} == {"load", "preflight"}
    committed = {p.name for p in CONTROL.parent.glob("*.yaml")} - {"manifest.yaml", CONTROL.name}
    assert committed == {n for n, c in MANIFEST.items() if "generate" not in c}  # no case without expectations


def test_control_spec_passes_check(workspace, capsys):
    # the base every case mutates is valid: each case is refused for its own defect, not the base's
    assert main(["check", str(CONTROL)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_bad_spec_is_refused_by_check_and_run_and_nothing_is_written(
    name, workspace, monkeypatch, capsys, reliability_tally, tmp_path_factory
):
    case = MANIFEST[name]
    marker = tmp_path_factory.mktemp("canary") / "imported"
    write_canary_module(marker.parent / "modules", marker)
    monkeypatch.syspath_prepend(str(marker.parent / "modules"))
    monkeypatch.delenv("BAD_INPUT_UNSET_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("MLPUBLISH_ALLOWED_MODULES", raising=False)
    path = materialize(name, workspace.root / SPECS)
    before = snapshot(workspace.root, skip=(SPECS,))
    assert "mlflow.db" in before and "warehouse.db" in before
    for command in ("check", "run"):
        code = main([command, str(path)])
        err = capsys.readouterr().err
        assert code == 2, f"{command} {name}: exit {code}\n{err}"
        assert f"{path}: invalid spec" in err and case["field"] in err and case["phrase"] in err, f"{command}:\n{err}"
        assert "Traceback" not in err
    assert snapshot(workspace.root, skip=(SPECS,)) == before  # no MLflow run, artifact, catalog or table written
    assert not marker.exists() and CANARY_MODULE not in sys.modules
    assert not (workspace.root / "BAD_INPUT_MARKER").exists()
    reliability_tally.add("bad_input", bad_inputs_rejected=1)


def test_dag_factory_reports_each_load_stage_case_as_its_own_placeholder_dag(tmp_path, monkeypatch, reliability_tally):
    from tests.integration.airflow.test_dagbag import parse_dag_folder

    monkeypatch.delenv("BAD_INPUT_UNSET_WAREHOUSE_URL", raising=False)
    specs = tmp_path / "specs"
    for name in load_stage():
        materialize(name, specs)
    (specs / "control.yaml").write_text(CONTROL.read_text())
    parsed = parse_dag_folder(tmp_path, specs)
    assert set(parsed["dags"]) >= {"mlpublish__bad_input_case"}  # the valid spec's DAGs still load
    assert parsed["import_errors"] == {}  # an import error would make Airflow mark every DAG of the file stale
    placeholders = {d: v["doc_md"] for d, v in parsed["dags"].items() if d.startswith("mlpublish__invalid__")}
    assert len(placeholders) == len(load_stage())
    for name in load_stage():
        (doc,) = [doc for doc in placeholders.values() if f"{specs / name}: invalid spec" in doc]
        assert MANIFEST[name]["field"] in doc.split("invalid spec", 1)[1], name
    reliability_tally.add("bad_input", dag_factory_rejected=len(load_stage()))


HOSTILE_OVERRIDES = [
    # (overrides as given at trigger time, field named, phrase)
    ({"data": {"connection": "postgresql://attacker@evil/db"}}, "overrides.data", "cannot be overridden"),
    ({"catalog": {"url": "/tmp/elsewhere.db"}}, "overrides.catalog", "cannot be overridden"),
    ({"mlflow": {"trackingUri": "http://evil.example"}}, "overrides.mlflow", "cannot be overridden"),
    ({"name": "someone_elses_model"}, "overrides.name", "cannot be overridden"),
    ("{not json", "overrides", "not valid JSON"),
    ("[1, 2]", "overrides", "expected a mapping"),
    ("[" * 100_000 + "]" * 100_000, "overrides", "not valid JSON"),
    ({"targett": "x"}, "targett", "unknown field"),
    ({"training": {"split": {"testSize": "NaN"}}}, "training.split.testSize", "finite number"),
    ('{"validation": {"gates": [{"metric": "roc_auc", "min": NaN}]}}', "validation.gates[0].min", "finite number"),
    ({"description": "x" * (2 << 20)}, "<root>", "larger than"),
    ({"training": {"estimator": "os.system"}}, "training.estimator", "is not allowed"),
    ({"training": {"estimator": "sklearn.ensemble.__class__"}}, "training.estimator", "no leading underscore"),
    (
        {"mlHyperParameters": [{"name": "max_depth", "value": {"__reduce__": "os.system"}}]},
        "mlHyperParameters[0].value",
        "valid string",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "field", "phrase"), HOSTILE_OVERRIDES, ids=[f"{i}-{h[1]}" for i, h in enumerate(HOSTILE_OVERRIDES)]
)
def test_hostile_trigger_overrides_are_refused(overrides, field, phrase, workspace, reliability_tally):
    from mlpublish.deployment.preflight import preflight
    from mlpublish_airflow.overrides import load_spec_with_overrides

    with pytest.raises(SpecError) as info:
        preflight(load_spec_with_overrides(str(CONTROL), overrides))
    message = str(info.value)
    assert str(CONTROL) in message and field in message and phrase in message, message
    reliability_tally.add("bad_input", bad_overrides_rejected=1)


def test_overrides_never_expand_the_workers_environment(workspace, monkeypatch):
    from mlpublish_airflow.overrides import load_spec_with_overrides

    monkeypatch.setenv("MLPUBLISH_BAD_INPUT_SECRET", "from-the-worker")
    spec = load_spec_with_overrides(str(CONTROL), json.dumps({"description": "${MLPUBLISH_BAD_INPUT_SECRET}"}))
    assert spec.description == "${MLPUBLISH_BAD_INPUT_SECRET}"


def test_canary_module_would_be_noticed(tmp_path, monkeypatch):
    # the canary is importable and leaves its marker: its absence above means it was never imported
    marker = tmp_path / "imported"
    write_canary_module(tmp_path / "modules", marker)
    monkeypatch.syspath_prepend(str(tmp_path / "modules"))
    import importlib

    importlib.import_module(CANARY_MODULE)
    assert marker.read_text() == "imported"
    sys.modules.pop(CANARY_MODULE)


def test_materialized_cases_are_what_they_claim(tmp_path):
    assert materialize("generated_huge_file.yaml", tmp_path).stat().st_size > 1 << 20
    with pytest.raises(UnicodeDecodeError):
        materialize("generated_not_utf8.yaml", tmp_path).read_text(encoding="utf-8")
    assert Path(tmp_path / "generated_huge_file.yaml").read_text().startswith(CONTROL.read_text())

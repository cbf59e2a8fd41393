"""bench/run_all and the figures' shape (bench/results.py); the benchmarks themselves run in `make bench`."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from pathlib import Path

import pytest

from bench.results import Figure, write_json

BENCH = Path(__file__).resolve().parents[3] / "bench"


def load_run_all():
    loader = importlib.machinery.SourceFileLoader("bench_run_all", str(BENCH / "run_all"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def test_targets_are_judged_on_the_ratio_rounded_as_printed():
    assert Figure("overhead", 2.0, "naive", 4.0, "s", target="<= 0.5").met is True
    assert Figure("overhead", 2.1, "naive", 4.0, "s", target="<= 0.5").met is False
    assert Figure("speed", 3.004, "naive", 1.0, target=">= 3").met is True  # prints as 3.00x
    assert Figure("speed", 2.99, "naive", 1.0, target=">= 3").met is False
    assert Figure("info", 1.0, "naive", 2.0).met is None


def test_a_malformed_target_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="'3x' of 'speed'"):
        write_json(tmp_path / "out.json", "b", [Figure("speed", 3, "naive", 1, target="3x")], {})
    assert not (tmp_path / "out.json").exists()


def test_every_benchmark_is_registered_and_writes_json():
    run_all = load_run_all()
    assert run_all.benchmark_files() == set(run_all.BENCHMARKS)
    for name in run_all.BENCHMARKS:
        text = (BENCH / f"{name}.py").read_text()
        assert "add_json_option(" in text and "write_json(" in text, name


def test_results_table_marks_quick_runs_failures_and_missed_targets(tmp_path):
    run_all = load_run_all()
    path = tmp_path / "a.json"
    write_json(
        path,
        "a",
        [
            Figure("overhead", 3.0, "naive", 4.0, "s", target="<= 0.5"),
            Figure("rows/s", 250_000, "naive", 50_000, "rows/s"),
        ],
        {"repeat": 1},
    )
    info = {
        "cpu": "Test CPU",
        "cores": "2",
        "memory": "24.0 GiB",
        "load": "1.0 1.0 1.0",
        "python": "3.11",
        "os": "Linux",
    }
    text = run_all.render(
        {"a": (json.loads(path.read_text()), 12.0, ""), "b": (None, 3.0, "boom")}, True, info, "2026-01-01 00:00 UTC"
    )
    assert "**QUICK RUN**" in text and "Test CPU, 2 cores, 24.0 GiB RAM" in text
    assert "| a | overhead | 3 s | naive | 4 s | 0.75x | <= 0.5x | **no** |" in text
    assert "| a | rows/s | 250,000 rows/s | naive | 50,000 rows/s | 5.00x |  |  |" in text
    assert "| b | FAILED" in text and "* `a`: repeat=1 (12 s)" in text

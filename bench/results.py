"""The figures a benchmark reports, in the one shape ``bench/run_all`` collects into ``bench/RESULTS.md``.

A figure is a value measured in this run, the baseline measured alongside it, their ratio,
and the target for that ratio when the benchmark states one (``None``: reported, no claim).
Each benchmark takes ``--json PATH`` and writes its figures there, besides printing its table, and
``--small``: its smallest sizes, so that a test runs every benchmark in seconds and none rots.
"""

from __future__ import annotations

import argparse
import json
import operator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    baseline: str
    baseline_value: float
    unit: str = ""
    target: str | None = None  # on the ratio: "<= 0.5", ">= 3", ...

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else float("inf")

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        op, bound = self.target.split()
        return _OPS[op](round(self.ratio, 2), float(bound))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json PATH`` (the figures for bench/run_all) and ``--small`` (every benchmark takes it)."""
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write the figures there (for bench/run_all)")
    parser.add_argument(
        "--small",
        action="store_true",
        help="the smallest sizes that still measure every figure against its baseline, one repeat: checks in "
        "seconds that the benchmark runs (tests/integration/test_bench_small.py); not figures to quote",
    )


def write_json(path: Path | None, benchmark: str, figures: list[Figure], settings: dict[str, Any]) -> None:
    if path is None:
        return
    for f in figures:
        if f.target is not None and f.target.split()[0] not in _OPS:
            raise ValueError(f"{benchmark}: target {f.target!r} of {f.name!r} is not '<op> <number>'")
    path.write_text(
        json.dumps({"benchmark": benchmark, "settings": settings, "figures": [f.as_dict() for f in figures]}, indent=2)
    )


def mlflow_store(path: Path) -> Path:
    """An empty, migrated MLflow SQLite store at ``path``, made before any clock starts: a copy of
    ``$BENCH_MLFLOW_TEMPLATE`` when that names one (tests/integration/test_bench_small.py migrates one for every
    benchmark, as the tests' ``mlflow_template`` fixture does), else migrated here (seconds of Alembic)."""
    import os
    import shutil

    template = os.environ.get("BENCH_MLFLOW_TEMPLATE")
    if template and Path(template).is_file():
        shutil.copy(template, path)
    else:
        from mlflow import MlflowClient

        MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


def parse_args(parser: argparse.ArgumentParser, **small: Any) -> argparse.Namespace:
    """The arguments; with ``--small``, the sizes given here replace those of the command line."""
    args = parser.parse_args()
    if args.small:
        for name, value in small.items():
            setattr(args, name, value)
    return args

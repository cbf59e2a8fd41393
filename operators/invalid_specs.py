"""What an invalid spec becomes in Airflow: its own placeholder DAG, so that it hides nothing else.

Airflow keys import errors by DAG file: when ``mlpublish_models.py`` reports one, the DAG processor marks
*every* DAG of that file stale (``is_stale``), so one bad spec would take the whole fleet's DAGs out of the
list and hold their runs. Instead, each invalid spec gets the DAG ``mlpublish__invalid__<file stem>``: no
schedule, tagged ``mlpublish:invalid-spec``, its description and docs carrying the spec's whole error (file,
line and field), and one task, ``spec_error``, that fails with that error if someone triggers it. Fix or
remove the file and the placeholder goes on the next parse (Airflow marks it stale like any vanished DAG).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, BaseOperator

from mlpublish.errors import SpecError

INVALID_DAG_PREFIX = "mlpublish__invalid__"
INVALID_SPEC_TAG = "mlpublish:invalid-spec"


class InvalidSpecOperator(BaseOperator):
    """Fails with the spec's error (as read when the DAG file was parsed, on the worker that runs it)."""

    ui_color = "#f4a6a6"

    def __init__(self, *, spec_path: str, problems: list[tuple[str, str]], what: str = "spec", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec_path = spec_path
        self.problems = [(str(loc), str(msg)) for loc, msg in problems]
        self.what = what

    def execute(self, context: Any) -> None:
        raise SpecError(self.spec_path, self.problems, self.what)


def invalid_dag_id(path: Path, taken: set[str] | dict[str, Any]) -> str:
    """``mlpublish__invalid__<file stem>``; ``bad.yaml`` beside ``bad.yml`` gets the suffix too."""
    dag_id = INVALID_DAG_PREFIX + re.sub(r"[^A-Za-z0-9_.\-]", "_", path.stem)
    if dag_id in taken:
        dag_id += "_" + re.sub(r"[^A-Za-z0-9_]", "_", path.suffix.lstrip("."))
    return dag_id


def invalid_spec_dag(path: Path, error: SpecError, dag_id: str) -> DAG:
    """The placeholder of one invalid spec (see the module's docstring)."""
    first = error.problems[0] if error.problems else ("", "")
    dag = DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=None,
        catchup=False,
        max_active_runs=1,
        description=f"INVALID SPEC {path.name}: {first[0]}: {first[1]}"[:200],
        doc_md=f"The spec `{path}` is invalid, so its model has no DAG until it is fixed:\n\n```\n{error}\n```",
        tags=["mlpublish", INVALID_SPEC_TAG],
        default_args={"retries": 0},
    )
    InvalidSpecOperator(task_id="spec_error", spec_path=error.path, problems=error.problems, what=error.what, dag=dag)
    return dag

"""Run in a subprocess: parse the DAG folder with a real DagBag and print what it found as JSON.

A subprocess because Airflow reads AIRFLOW_HOME and its config once, at import.
"""

from __future__ import annotations

import json
import sys

if __name__ == "__main__":
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=sys.argv[1])
    heavy = sorted(m for m in ("mlflow", "sklearn", "metadata", "pandas", "matplotlib") if m in sys.modules)
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "tasks": {
                t.task_id: {
                    "downstream": sorted(t.downstream_task_ids),
                    "type": type(t).__name__,
                    "retries": t.retries,
                    "template_fields": list(t.template_fields),
                }
                for t in dag.tasks
            },
            "timetable": type(dag.timetable).__name__,
            "timetable_summary": dag.timetable.summary if hasattr(dag.timetable, "summary") else None,
            "asset": str(getattr(dag.timetable, "asset_condition", None)),
            "params": sorted(dag.params.keys()),
            "tags": sorted(dag.tags),
            "doc_md": dag.doc_md,
        }
        trigger = next((t for t in dag.tasks if type(t).__name__ == "TriggerDagRunOperator"), None)
        if trigger is not None:
            dags[dag_id]["trigger"] = {
                "trigger_dag_id": trigger.trigger_dag_id,
                "skip_when_already_exists": trigger.skip_when_already_exists,
            }
    print(json.dumps({"import_errors": bag.import_errors, "dags": dags, "heavy_modules": heavy}))

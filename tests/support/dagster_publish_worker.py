"""Run a spec's Dagster publish job in this process and write what Dagster kept, for a test in the other environment.

    .venv-dagster/bin/python -m tests.support.dagster_publish_worker SPECS_DIR DEPLOYMENT JOB OUT.json

The tests of .venv (the OpenMetadata SDK, the emulator) cannot import Dagster (docs/install.md): they start
this in .venv-dagster (``tests.support.dagster_support.dagster_python``). Settings come from the environment
(``DAGSTER_HOME`` names the instance's folder). OUT.json: success, the failure messages, the materialization
metadata, every event log entry and the run config, serialized as Dagster stores them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(specs: str, deployment: str, job: str, out: str) -> int:
    import os

    from dagster import DagsterInstance, serialize_value

    from mlpublish_dagster.definitions import build_definitions

    defs = build_definitions(Path(specs), deployment)
    with DagsterInstance.local_temp(os.environ["DAGSTER_HOME"]) as instance:
        result = defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False)
        records = instance.all_logs(result.run_id)
        metadata = [
            e.dagster_event.event_specific_data.materialization.metadata
            for e in records
            if e.dagster_event and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
        ]
        report = {
            "success": result.success,
            "failures": [e.message for e in result.all_events if e.is_failure],
            "materializations": len(metadata),
            "metadata": serialize_value(metadata),
            "events": [[entry.dagster_event_type or "log", serialize_value(entry)] for entry in records],
            "run_config": json.dumps(instance.get_run_by_id(result.run_id).run_config, default=str),
            "sdk_imported": "metadata" in sys.modules,
        }
    Path(out).write_text(json.dumps(report))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

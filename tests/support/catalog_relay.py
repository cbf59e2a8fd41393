"""The relay suite's machinery: a slowed emulator, publishing workers, the relay as a process, a reference run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, churn_dict, write_spec
from tests.support.canary_secrets import OPENMETADATA_JWT
from tests.support.catalog_store import wait_until as wait_until  # the relay tests import it from here
from tests.support.openmetadata_server import serve_emulator


def serve_slow_emulator(write_delay: float) -> Any:
    """The emulator, each write held ``write_delay`` seconds first, so that a relay killed while it delivers
    is killed in the middle of the outbox, not after it."""
    return serve_emulator(write_delay=write_delay)


def worker_dir(root: Path, name: str, warehouse_template: Path, mlflow_template: Path) -> Path:
    """A worker's own working directory: its warehouse copy, MLflow store and one spec (model ``name``)."""
    home = root / f"worker-{name}"
    home.mkdir()
    shutil.copy(warehouse_template, home / "warehouse.db")
    shutil.copy(mlflow_template, home / "mlflow.db")
    write_spec(home / "spec.yaml", churn_dict(name=name))
    return home


def worker_env(home: Path, catalog_url: str, host_port: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OPENMETADATA_", "MLPUBLISH_"))}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        "WAREHOUSE_URL": f"sqlite:///{home / 'warehouse.db'}",
        "MLPUBLISH_CATALOG": catalog_url,
        "OPENMETADATA_HOST_PORT": host_port,
        "OPENMETADATA_JWT_TOKEN": OPENMETADATA_JWT,
    }


def start_chain(home: Path, env: dict[str, str]) -> subprocess.Popen:
    """The whole chain in a process working in ``home`` (as a worker of a deployment would run it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.chain_worker", str(time.time()), str(home / "spec.yaml")],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, what: str, timeout: float = 600) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"{what} exited {proc.returncode}:\n{err[-3000:]}"
    return out


def start_relay(home: Path, env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "mlpublish"), "catalog", "relay", *args],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 120) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=timeout)


def reference_snapshot(events: list[Any], tmp: Path) -> dict[str, Any]:
    """What one deliverer sending ``events`` once, in order, to a fresh server leaves there."""
    from mlpublish.catalog.local import LocalCatalog
    from mlpublish.catalog.openmetadata import OpenMetadataCatalog
    from mlpublish.config import OpenMetadataSettings

    with serve_emulator() as fresh:
        settings = OpenMetadataSettings(host_port=fresh.host_port, jwt_token=fresh.token, deliver_in_step=True)
        sink = OpenMetadataCatalog(settings, LocalCatalog(tmp / "reference.db"))
        sink.publish(events)
        assert sink.outbox.counts()["pending"] == 0 and not sink.outbox.failed()
        sink.close()
        return fresh.emulator.snapshot()

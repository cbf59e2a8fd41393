"""Take the registry lock over and over in this process, as the register and promote steps do (the loaded rounds).

    python -m tests.reliability.lock_worker TRACKING_URI DIR WORKER SECTIONS MODEL [MODEL ...]

Touches DIR/ready-WORKER once imported, waits for DIR/go, then for each model takes its lock SECTIONS times.
Inside each section: the guarded read-modify-write of a counter tag on the model (a lost update would show
two holders) after verify_lock, as set_alias does. Prints one JSON line per section (when it held the lock)
and one per error.

    python -m tests.reliability.lock_worker TRACKING_URI DIR stall MODEL LEASE

Takes MODEL's lock with a LEASE-second lease, touches DIR/held and waits for DIR/resume (the test stops this
process meanwhile, past its lease), then tries the guarded write: prints {"lost": ...} if it was refused.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

COUNTER = "mlpublish.test.sections"


def _wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.05)


def guarded_increment(reg, model: str) -> None:
    reg.verify_lock(model)
    count = int(reg.model_tags(model).get(COUNTER, "0"))
    reg.verify_lock(model)
    reg.client.set_registered_model_tag(model, COUNTER, str(count + 1))


def sections(uri: str, root: Path, worker: str, times: str, *models: str) -> None:
    from mlpublish.errors import MlpublishError
    from mlpublish.registry import Registry

    reg = Registry(uri)
    (root / f"ready-{worker}").touch()
    _wait_for(root / "go")
    for model in models:
        for _ in range(int(times)):
            try:
                with reg.lock(model):
                    acquired = time.time()
                    guarded_increment(reg, model)
                    released = time.time()
                print(json.dumps({"worker": worker, "model": model, "acquired": acquired, "released": released}),
                      flush=True)
            except MlpublishError as exc:
                print(json.dumps({"worker": worker, "model": model, "error": f"{type(exc).__name__}: {exc}"}),
                      flush=True)


def stall(uri: str, root: Path, model: str, lease: str) -> None:
    from mlpublish.errors import RegistryConflict
    from mlpublish.registry import Registry

    reg = Registry(uri)
    with reg.lock(model, lease=float(lease)):
        (root / "held").touch()
        _wait_for(root / "resume")
        try:
            guarded_increment(reg, model)
            print(json.dumps({"wrote": True}), flush=True)
        except RegistryConflict as exc:
            print(json.dumps({"lost": str(exc)}), flush=True)


if __name__ == "__main__":
    uri, root, worker, *rest = sys.argv[1:]
    if worker == "stall":
        stall(uri, Path(root), *rest)
    else:
        sections(uri, Path(root), worker, *rest)

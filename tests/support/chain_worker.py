"""Run the whole chain for each spec, one after the other, in this process (the concurrency suite).

    python -m tests.support.chain_worker START_EPOCH SPEC [SPEC ...]

Waits until START_EPOCH (so every worker has imported and starts together), then prints one JSON line
per spec: model, status, version, promoted, the promotion's reason, and the chain's wall-clock start/end.
"""

from __future__ import annotations

import json
import sys
import time


def main(start: str, *spec_paths: str) -> None:
    import logging

    from mlpublish.spec import load_spec
    from mlpublish.workflows.chain import run_chain

    logging.disable(logging.WARNING)
    time.sleep(max(0.0, float(start) - time.time()))
    for path in spec_paths:
        began = time.time()
        result = run_chain(load_spec(path))
        print(
            json.dumps(
                {
                    "model": result.training.model_name,
                    "spec": path,
                    "status": result.status,
                    "run_id": result.training.run_id,
                    "version": result.registration.version,
                    "promoted": result.promotion.promoted,
                    "reason": result.promotion.reason,
                    "start": began,
                    "end": time.time(),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main(*sys.argv[1:])

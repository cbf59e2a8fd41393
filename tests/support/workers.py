"""Worker processes that start their work at one moment: the concurrency tests' common launch."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any


def run_together(
    commands: Sequence[Callable[[float], list[str]]], *, lead: float, timeout: float, **popen: Any
) -> list[str]:
    """Start one process per command, each told the same start time (``lead`` seconds from now: long enough
    for every worker to import and connect, even on a busy machine); wait for all, fail on any non-zero exit
    (with its stderr); return their standard outputs in order."""
    start = time.time() + lead
    procs = [
        subprocess.Popen(make(start), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
        for make in commands
    ]
    outputs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        assert p.returncode == 0, stderr[-3000:]
        outputs.append(stdout)
    return outputs

"""`make openmetadata-emulator`: the tests' emulator in the foreground for a person, marked as an emulator,
answering the API with the caller's token and showing what it holds; Ctrl-C stops it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.canary_secrets import OPENMETADATA_JWT
from tests.support.mlflow_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def get(url: str, token: str | None = None) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_the_emulator_command_serves_until_ctrl_c(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.openmetadata_server", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "OPENMETADATA_JWT_TOKEN": OPENMETADATA_JWT},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        banner = [proc.stdout.readline() for _ in range(8)]
        assert banner[0].startswith(f"=== OpenMetadata EMULATOR on http://127.0.0.1:{port}/api: NOT an OpenMetadata")
        snapshot_line = next(line for line in banner if "curl -s " in line)
        assert get(f"http://127.0.0.1:{port}/api/v1/system/version", OPENMETADATA_JWT)["revision"] == "emulator"
        held = get(snapshot_line.split("curl -s ", 1)[1].strip())
        assert set(held) == {"entities", "versions", "edges", "customProperties"} and held["edges"] == []
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert "emulator stopped" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

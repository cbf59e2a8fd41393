"""Serve the emulator over HTTP on a free loopback port, in a thread of the test process; or, run as a command
(``make openmetadata-emulator``), in the foreground for a person trying the catalog path without a server."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

from tests.support.canary_secrets import OPENMETADATA_JWT
from tests.support.openmetadata_emulator import OpenMetadataEmulator

SNAPSHOT_PATH = "/emulator/snapshot"
BANNER = """\
=== OpenMetadata EMULATOR on http://127.0.0.1:{port}/api: NOT an OpenMetadata server ===
It answers only the API calls mlpublish's sink makes, checked by the server's rules (each cited in
tests/support/openmetadata_rules.py), and keeps everything in memory: gone when it stops (Ctrl-C).
It knows one team, data-science (the demo spec's owner). In another shell, from the checkout:
  export OPENMETADATA_HOST_PORT=http://127.0.0.1:{port}/api OPENMETADATA_JWT_TOKEN={token}
  .venv/bin/mlpublish demo       # the demo; each command also delivers its catalog events here
  cd demo-workspace && ../.venv/bin/mlpublish catalog relay --once    # delivers what stayed queued, if any
What the emulator holds (entities, versions, lineage edges): curl -s http://127.0.0.1:{port}{snapshot}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="serve the OpenMetadata emulator in the foreground (not a server)")
    parser.add_argument("--port", type=int, default=8585)
    args = parser.parse_args(argv)
    # the token the emulator accepts: the caller's, else a fresh one for this run (a local toy, not a secret)
    token = os.environ.get("OPENMETADATA_JWT_TOKEN") or f"emulator-{secrets.token_hex(8)}"
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # explicitly: a shell's background job inherits SIGINT ignored
        signal.signal(signum, lambda *_: stop.set())
    with serve_emulator(token, port=args.port) as server:
        server.emulator.add_team("data-science")
        port = server.host_port.rsplit(":", 1)[1].split("/", 1)[0]
        print(BANNER.format(port=port, token=token, snapshot=SNAPSHOT_PATH), flush=True)
        stop.wait()
    print("emulator stopped; what it held is gone", flush=True)
    return 0


class EmulatedServer:
    def __init__(self, emulator: OpenMetadataEmulator, host_port: str):
        self.emulator, self.host_port = emulator, host_port

    @property
    def token(self) -> str:
        return self.emulator.token


@contextmanager
def serve_emulator(token: str | None = None, write_delay: float = 0.0, port: int = 0) -> Iterator[EmulatedServer]:
    """The emulator on a loopback port (0: a free one); ``write_delay`` holds each write (PUT, PATCH, POST) that
    many seconds first (a deliverer killed while it delivers is then killed in the middle of its outbox)."""
    emulator = OpenMetadataEmulator(token or OPENMETADATA_JWT)  # a canary: the run's secret scan looks for it

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == SNAPSHOT_PATH:  # what it holds, for a person (outside the emulated API)
            body = json.dumps(emulator.snapshot(), indent=2).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if write_delay and environ.get("REQUEST_METHOD") in ("PUT", "PATCH", "POST"):
            time.sleep(write_delay)
        return emulator.wsgi(environ, start_response)

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="om-emulator", daemon=True)
    thread.start()
    try:
        yield EmulatedServer(emulator, f"http://127.0.0.1:{server.server_port}/api")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())

"""Serve the emulator over HTTP on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

from tests.support.canary_secrets import OPENMETADATA_JWT
from tests.support.openmetadata_emulator import OpenMetadataEmulator


class EmulatedServer:
    def __init__(self, emulator: OpenMetadataEmulator, host_port: str):
        self.emulator, self.host_port = emulator, host_port

    @property
    def token(self) -> str:
        return self.emulator.token


@contextmanager
def serve_emulator(token: str | None = None, write_delay: float = 0.0) -> Iterator[EmulatedServer]:
    """The emulator on a loopback port; ``write_delay`` holds each write (PUT, PATCH, POST) that many seconds
    first (a deliverer killed while it delivers is then killed in the middle of its outbox)."""
    emulator = OpenMetadataEmulator(token or OPENMETADATA_JWT)  # a canary: the run's secret scan looks for it

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if write_delay and environ.get("REQUEST_METHOD") in ("PUT", "PATCH", "POST"):
            time.sleep(write_delay)
        return emulator.wsgi(environ, start_response)

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="om-emulator", daemon=True)
    thread.start()
    try:
        yield EmulatedServer(emulator, f"http://127.0.0.1:{server.server_port}/api")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

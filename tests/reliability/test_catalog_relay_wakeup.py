"""The relay finds every event and wakes on it: real PostgreSQL catalog stores, the OpenMetadata emulator,
``mlpublish catalog relay`` processes, and writers in processes of their own.

* NOTIFY: a relay asleep with a 30 s poll interval delivers an event another process queued, woken by the
  writer's commit (the latency is measured and printed; the bound of the wait is 10 s, not the assertion).
* A refused token: the relay keeps running, reports ``refused`` (log alert, health file, probe exit 1), and
  drains the queue when the server accepts the token again.
* The issue's three spellings of one address (``http://127.0.0.1:P``, ``http://localhost:P/api``,
  ``http://127.0.0.1:P/api``), including rows an older mlpublish stored under the raw text: one catalog; a
  relay for another catalog names it and exits 2 with ``--once``; a relay for any spelling delivers them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.support.canary_secrets import OPENMETADATA_JWT
from tests.support.catalog_relay import start_relay, stop, wait_until
from tests.support.catalog_store import postgres_catalog_url
from tests.support.openmetadata_server import serve_emulator

pytestmark = pytest.mark.integration
SUITE = "catalog-relay"
MLPUBLISH = str(Path(sys.executable).parent / "mlpublish")


def relay_env(url: str, host_port: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OPENMETADATA_", "MLPUBLISH_"))}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "MLPUBLISH_CATALOG": url,
        "OPENMETADATA_HOST_PORT": host_port,
        "OPENMETADATA_JWT_TOKEN": OPENMETADATA_JWT,
    }


def write_events(url: str, writer: str, host_port: str, count: int = 1) -> list[float]:
    """``count`` events queued for ``host_port`` by a process of its own (one table, one transaction each);
    returns the wall time of each commit."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.catalog_writer", url, writer, str(count), host_port],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    return [float(line) for line in done.stdout.split()]


def delivered_at(outbox: Any, count: int, relay: subprocess.Popen, bound: float) -> float:
    """The wall time at which the outbox first shows ``count`` delivered events (looked at every 10 ms)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if outbox.counts()["delivered"] >= count:
            return time.time()
        assert relay.poll() is None, f"the relay exited {relay.returncode}"
        time.sleep(0.01)
    raise AssertionError(f"no delivery within {bound:.0f}s: the relay slept through the NOTIFY")


def outbox_of(url: str, host_port: str) -> Any:
    from mlpublish.catalog.local import LocalCatalog
    from mlpublish.catalog.outbox import Outbox

    return Outbox(LocalCatalog(url), host_port)


def health_of(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def probe(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MLPUBLISH, "catalog", "relay", "--check-health", str(path), "--max-age", "60"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_sleeping_relay_is_woken_by_the_writers_notify(tmp_path, reliability_tally):
    with postgres_catalog_url("wake") as url, serve_emulator() as om:
        env = relay_env(url, om.host_port)
        health = tmp_path / "health.json"
        outbox = outbox_of(url, om.host_port)
        write_events(url, "warmup", om.host_port)
        relay = start_relay(
            tmp_path, env, tmp_path / "relay.log", "--poll", "30", "--health-every", "1", "--health-file", str(health)
        )
        # the first delivery imports the SDK and connects; after it the relay sleeps for up to 30 s
        wait_until("the warm-up delivery", lambda: outbox.counts()["delivered"] == 1, relay)
        wait_until("the relay to finish its pass", lambda: health_of(health).get("delivered") == 1, relay)
        asleep = health_of(health)
        assert asleep["listening"] is True and asleep["queue_depth"] == 0

        (committed,) = write_events(url, "late", om.host_port)  # another process
        latency = delivered_at(outbox, 2, relay, bound=10) - committed  # 10 s: a third of the poll interval
        wait_until("the health file after the wake-up", lambda: health_of(health).get("delivered") == 2, relay)
        woken = health_of(health)
        assert woken["wakeups"]["notify"] >= 1  # the sleep ended on the notification, not on the poll interval
        assert ("table", "warehouse.main.main.late") in om.emulator.fqns

        stopping = time.monotonic()
        assert stop(relay) == 0  # SIGTERM ends the sleep at once (the relay's wake pipe), not after the poll
        stopped_in = time.monotonic() - stopping
        outbox.local.close()
    print(
        f"\nNOTIFY wake-up: event delivered {latency * 1000:.0f} ms after the writer's commit (poll interval 30 s); "
        f"SIGTERM to exit {stopped_in:.2f}s"
    )
    reliability_tally.add(SUITE, notify_wakeups=woken["wakeups"]["notify"], notify_latency_ms=round(latency * 1000))


def test_a_refused_token_keeps_the_relay_running_until_the_server_accepts_it(tmp_path, reliability_tally):
    with postgres_catalog_url("refused") as url, serve_emulator() as om:
        env = relay_env(url, om.host_port)
        health = tmp_path / "health.json"
        log = tmp_path / "relay.log"
        outbox = outbox_of(url, om.host_port)
        write_events(url, "queued", om.host_port, count=3)
        om.emulator.token = "a-rotated-token-the-relay-does-not-have"  # every request is a 401 now
        relay = start_relay(
            tmp_path,
            env,
            log,
            *("--poll", "0.2", "--max-backoff", "1", "--health-every", "1", "--health-file", str(health)),
        )
        wait_until("the relay to report refused", lambda: health_of(health).get("state") == "refused", relay)
        wait_until("a second alert (still running)", lambda: log.read_text().count("relay ALERT") >= 2, relay)
        assert outbox.counts()["pending"] == 3  # the queue is kept
        refused = probe(health, env)
        assert refused.returncode == 1 and "refuses the relay's token" in refused.stdout
        assert health_of(health)["last_error_class"] == "AuthRejected"

        om.emulator.token = OPENMETADATA_JWT  # the server accepts the relay's token again
        wait_until("the queue to drain", lambda: outbox.counts()["pending"] == 0, relay)
        wait_until("the relay to report ok", lambda: health_of(health).get("state") == "ok", relay)
        healthy = probe(health, env)
        assert healthy.returncode == 0, healthy.stdout
        assert stop(relay) == 0
        text = log.read_text()
        assert "http://127.0.0.1" in text.split("relay ALERT", 1)[1].splitlines()[0]  # the alert names the catalog
        assert OPENMETADATA_JWT not in text and om.emulator.token not in text
        assert outbox.counts() == {"pending": 0, "delivered": 3, "failed": 0}
        outbox.local.close()
    reliability_tally.add(SUITE, token_refusals_survived=text.count("relay ALERT"))


def test_three_spellings_of_one_address_are_one_catalog(tmp_path, reliability_tally):
    with postgres_catalog_url("spellings") as url, serve_emulator() as om:
        port = om.host_port.rsplit(":", 1)[1].split("/")[0]
        spellings = [f"http://127.0.0.1:{port}", f"http://localhost:{port}/api", f"http://127.0.0.1:{port}/api"]
        for n, spelling in enumerate(spellings):
            write_events(url, f"new{n}", spelling)  # this mlpublish: keyed by the catalog's identity
        # rows an older mlpublish queued under the raw text of each spelling, re-keyed when a store opens
        import psycopg2

        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            for n, spelling in enumerate(spellings):
                event = {
                    "kind": "upsert_table",
                    "fqn": f"warehouse.main.main.old{n}",
                    "columns": [{"name": "c", "dataType": "INTEGER"}],
                }
                cur.execute(
                    "INSERT INTO outbox (target, event, created_at) VALUES (%s, %s, %s)",
                    (spelling, json.dumps(event), "2026-12-07T10:00:00+00:00"),
                )
        conn.close()

        # a relay for another catalog names this one, with the count and no secret, and --once exits 2
        other = subprocess.run(
            [MLPUBLISH, "catalog", "relay", "--once"],
            env=relay_env(url, "http://bot:s3cret@127.0.0.1:9/api"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert other.returncode == 2, other.stderr
        assert f"6 event(s) wait for the catalog http://localhost:{port}/api" in other.stderr
        assert "s3cret" not in other.stderr

        # a relay for any of the spellings delivers all six, to the one server
        once = subprocess.run(
            [MLPUBLISH, "catalog", "relay", "--once"],
            env=relay_env(url, spellings[0]),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert once.returncode == 0, once.stderr
        tables = {f for t, f in om.emulator.fqns if t == "table"}
        expected = {f"warehouse.main.main.{w}{n}" for w in ("new", "old") for n in range(3)}
        assert expected <= tables
        outbox = outbox_of(url, spellings[1])
        assert outbox.counts() == {"pending": 0, "delivered": 6, "failed": 0}
        assert outbox.by_catalog() == {}
        outbox.local.close()
    reliability_tally.add(SUITE, spellings_one_catalog=len(spellings))

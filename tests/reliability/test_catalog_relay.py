"""The relay: one PostgreSQL catalog store shared by two workers, delivered to OpenMetadata (the emulator)
by ``mlpublish catalog relay`` processes.

* Two chain processes in different working directories publish two models at once (they share the source
  and feature tables, so their events interleave on the same entities). The steps only write: the server
  sees no request until the relay starts. The relay is SIGKILLed in the middle of the outbox and started
  again: at the end every event is delivered once, and the server holds exactly what one deliverer sending
  the outbox once, in seq order, leaves on a fresh server (entities, version lists, edges): no event lost,
  none applied twice (no extra version or edge), every entity's events in order.
* OpenMetadata down for a whole chain: the chain finishes, the relay backs off, and catches up when the
  server returns; a SIGTERM then stops it cleanly (exit 0, lease released: ``catalog sync`` can take it).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.catalog_relay import (
    finish,
    reference_snapshot,
    serve_slow_emulator,
    start_chain,
    start_relay,
    stop,
    wait_until,
    worker_dir,
    worker_env,
)
from tests.support.catalog_store import postgres_catalog_url

pytestmark = pytest.mark.integration
SUITE = "catalog-relay"


def outbox_of(url: str, host_port: str):
    from mlpublish.catalog.local import LocalCatalog
    from mlpublish.catalog.outbox import Outbox

    return Outbox(LocalCatalog(url), host_port)


def test_two_workers_one_postgres_store_relay_killed_mid_delivery(
    tmp_path, warehouse_template, mlflow_template, reliability_tally
):
    with postgres_catalog_url("relay") as url, serve_slow_emulator(write_delay=0.05) as om:
        homes = [worker_dir(tmp_path, name, warehouse_template, mlflow_template) for name in ("churn_a", "churn_b")]
        envs = [worker_env(home, url, om.host_port) for home in homes]
        chains = [start_chain(home, env) for home, env in zip(homes, envs, strict=True)]
        results = [
            json.loads(finish(p, f"chain in {h.name}").splitlines()[-1]) for p, h in zip(chains, homes, strict=True)
        ]
        assert [r["status"] for r in results] == ["PASSED", "PASSED"]
        assert om.emulator.requests == []  # the steps wrote their events and never waited on the server

        outbox = outbox_of(url, om.host_port)
        emitted = outbox.counts()["pending"]
        models = {json.loads(r.event.model_dump_json()).get("fqn") for r in outbox.all()}
        assert {"mlflow-local.churn_a", "mlflow-local.churn_b"} <= models

        log = tmp_path / "relay-1.log"
        relay = start_relay(homes[0], envs[0], log, "--poll", "0.2")
        wait_until("the relay to deliver part of the outbox", lambda: outbox.counts()["delivered"] >= 5, relay)
        relay.kill()  # SIGKILL: no cleanup, an event may be half-sent
        relay.wait(timeout=60)
        at_kill = outbox.counts()
        assert 0 < at_kill["pending"] < emitted, f"the kill should land mid-delivery: {at_kill}"

        relay = start_relay(homes[1], envs[1], tmp_path / "relay-2.log", "--poll", "0.2")  # the lease is free
        wait_until("the restarted relay to empty the outbox", lambda: outbox.counts()["pending"] == 0, relay)
        assert stop(relay) == 0
        counts = outbox.counts()
        assert counts == {"pending": 0, "delivered": emitted, "failed": 0}
        assert "relay health:" in (tmp_path / "relay-2.log").read_text()

        events = [row.event for row in outbox.all()]  # in seq order
        outbox.local.close()
        assert om.emulator.unknown_routes == []
        assert om.emulator.snapshot() == reference_snapshot(events, tmp_path)
    reliability_tally.add(SUITE, events_emitted=emitted, relay_kills=1, events_lost=0, duplicates=0)


def test_openmetadata_down_for_a_whole_chain_the_relay_catches_up(
    tmp_path, warehouse_template, mlflow_template, reliability_tally
):
    with postgres_catalog_url("relay") as url, serve_slow_emulator(write_delay=0.0) as om:
        home = worker_dir(tmp_path, "churn_down", warehouse_template, mlflow_template)
        env = worker_env(home, url, om.host_port)
        om.emulator.down = True
        log = tmp_path / "relay.log"
        relay = start_relay(home, env, log, "--poll", "0.2", "--max-backoff", "1", "--health-every", "1")
        result = json.loads(finish(start_chain(home, env), "chain while OpenMetadata is down").splitlines()[-1])
        assert result["status"] == "PASSED"
        outbox = outbox_of(url, om.host_port)
        queued = outbox.counts()
        assert queued["pending"] > 0 and queued["delivered"] == 0
        wait_until("the relay to meet the outage", lambda: "is unavailable" in log.read_text(), relay)

        om.emulator.down = False
        wait_until("the relay to catch up", lambda: outbox.counts()["pending"] == 0, relay)
        assert stop(relay, signal.SIGINT) == 0
        # the lease was released: a one-off sync takes it at once and finds nothing to do
        sync = subprocess.run(
            [str(Path(sys.executable).parent / "mlpublish"), "catalog", "sync"],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
        )
        assert sync.returncode == 0, sync.stderr
        assert f"0 pending, {queued['pending']} delivered, 0 failed" in sync.stdout
        text = log.read_text()
        assert "retrying in" in text and "relay health:" in text
        assert om.emulator.token not in text  # no secret in the relay's log

        events = [row.event for row in outbox.all()]
        outbox.local.close()
        assert om.emulator.snapshot() == reference_snapshot(events, tmp_path)
    reliability_tally.add(SUITE, outage_chains=1, events_lost=0)

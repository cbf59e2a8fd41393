"""Fleet soak (issue 32): many models on one real ``mlflow server`` and one PostgreSQL catalog store, whole chains
run 4 at a time for a bounded time while things die at random points:

* some chains are SIGKILLed mid-step (anywhere from the imports to promote), and their spec runs again;
* the MLflow server is SIGKILLed and restarted once, on the same port, while chains run;
* a ``mlpublish catalog relay`` delivering the outbox to OpenMetadata (the emulator) is SIGKILLed mid-delivery;
* one spec is turned invalid midway: its runs fail with a SpecError naming the field, the others go on.

At the end the outbox is drained with ``mlpublish catalog relay --once``, and: every model has at most one
champion, its history is one unbroken chain of moves ending at it and holding every move a chain reported; no
model has two versions from one training run; every event of the outbox is delivered (none pending or failed)
and the server holds exactly what one deliverer sending each event once, in order, leaves on a fresh server
(nothing lost, nothing applied twice); every good spec's last run finished.

Bounded: ``MLPUBLISH_SOAK_SECONDS`` (default 60) of random kills, then a settling pass that runs each good spec
whose last run did not finish once more. ``MLPUBLISH_SOAK_SPECS`` (default 20) models; ``MLPUBLISH_SOAK_SEED``
replays a run (the seed is printed). See docs/operations/reliability.md.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

import pytest

from tests.support.catalog_relay import reference_snapshot
from tests.support.catalog_store import postgres_catalog_url
from tests.support.fleet_soak import Fleet, break_spec, chain_env, relay, tiny_spec
from tests.support.mlflow_server import postgres_database
from tests.support.openmetadata_server import serve_emulator
from tests.support.services import new_server

pytestmark = pytest.mark.integration
SUITE = "fleet-soak"
SOAK_SECONDS = float(os.environ.get("MLPUBLISH_SOAK_SECONDS", "60"))
SOAK_SPECS = int(os.environ.get("MLPUBLISH_SOAK_SPECS", "20"))


def soak_seed() -> int:
    return int(os.environ.get("MLPUBLISH_SOAK_SEED") or random.SystemRandom().randrange(1, 2**31))


def test_fleet_soak(tmp_path: Path, warehouse_template: Path, reliability_tally) -> None:
    seed = soak_seed()
    print(
        f"\nfleet soak: seed {seed} (MLPUBLISH_SOAK_SEED={seed} replays it), {SOAK_SPECS} specs, {SOAK_SECONDS:.0f} s"
    )
    rng = random.Random(seed)
    shutil.copy(warehouse_template, tmp_path / "warehouse.db")
    specs = [tiny_spec(tmp_path / f"soak_{i:02d}.yaml", f"soak_{i:02d}", seed=0) for i in range(SOAK_SPECS)]
    turned_invalid = rng.choice(specs)
    with (
        postgres_database("soak_mlflow") as backend,
        postgres_catalog_url("soak") as catalog_url,
        serve_emulator() as om,
    ):
        (tmp_path / "mlflow").mkdir()
        server = new_server(backend, tmp_path / "mlflow")
        env = chain_env(server.url, catalog_url, f"sqlite:///{tmp_path / 'warehouse.db'}", om.host_port, om.token)
        fleet = Fleet(specs, env, tmp_path, rng)
        try:
            figures = soak(fleet, server, env, tmp_path, rng, turned_invalid)
            settle(fleet, turned_invalid)
        finally:
            fleet.stop_all()
        check_registry(fleet, server, turned_invalid)
        figures |= drain_and_check_catalog(env, tmp_path, catalog_url, om)
        server.stop()
    good = [s for s in specs if s != turned_invalid]
    kills_survived = sum(1 for c in fleet.done if c.killed) + figures["mlflow_restarts"] + figures["relay_kills"]
    line = (
        f"fleet soak (seed {seed}): {len(specs)} specs, chains run {len(fleet.done)}, "
        f"chains killed {sum(c.killed for c in fleet.done)}, MLflow restarts {figures['mlflow_restarts']}, "
        f"relay kills {figures['relay_kills']}, kills survived {kills_survived}, "
        f"invalid-spec runs refused {sum(c.invalid for c in fleet.done)}, events delivered {figures['delivered']}, "
        f"relay --once {figures['drained']} events in {figures['drain_seconds']:.1f} s "
        f"({figures['drained'] / max(figures['drain_seconds'], 1e-6):.0f} events/s), lost 0, duplicated 0, "
        f"good specs finished {len(good)}/{len(good)}"
    )
    print(line)
    reliability_tally.add(
        SUITE,
        chains_run=len(fleet.done),
        kills_survived=kills_survived,
        events_delivered=figures["delivered"],
        events_lost=0,
        duplicated=0,
    )


def soak(fleet: Fleet, server, env, root: Path, rng: random.Random, turned_invalid: Path) -> dict[str, int]:
    """Chains 4 at a time until the time is up, with the planned kills, the restart and the invalid spec."""
    begin = time.monotonic()
    restart_at = begin + SOAK_SECONDS * rng.uniform(0.25, 0.45)
    invalid_at = begin + SOAK_SECONDS * rng.uniform(0.45, 0.6)
    relay_kill_at = begin + SOAK_SECONDS * rng.uniform(0.3, 0.8)
    deliverer = relay(env, root, root / "relay-killed.log", "--poll", "0.5")
    restarts = relay_kills = 0
    while time.monotonic() - begin < SOAK_SECONDS:
        fleet.poll()
        if restarts == 0 and time.monotonic() >= restart_at:
            server.kill()  # SIGKILL: whatever a chain had in flight gets no answer
            server.start()  # same port and backend: the chains' clients find it again
            restarts = 1
        busy = {c.spec for c in fleet.running}
        if turned_invalid not in fleet.invalid and turned_invalid not in busy and time.monotonic() >= invalid_at:
            break_spec(turned_invalid)
            fleet.invalid.add(turned_invalid)
        if relay_kills == 0 and time.monotonic() >= relay_kill_at:
            assert deliverer.poll() is None, (root / "relay-killed.log").read_text()[-2000:]
            deliverer.kill()
            deliverer.wait()
            relay_kills = 1
        fleet.fill(may_kill=True)
        time.sleep(0.2)
    fleet.wait_all()
    if relay_kills == 0:
        deliverer.kill()
        deliverer.wait()
        relay_kills = 1
    if turned_invalid not in fleet.invalid:  # a very short soak: turn it now
        break_spec(turned_invalid)
        fleet.invalid.add(turned_invalid)
    return {"mlflow_restarts": restarts, "relay_kills": relay_kills}


def settle(fleet: Fleet, turned_invalid: Path) -> None:
    """No more kills: the invalid spec runs once more (it must be refused), and each good spec whose last run did
    not finish (killed, caught by the restart, or never run) runs again, at most 3 times."""
    for _ in range(3):
        todo = {s for s in fleet.specs if s != turned_invalid and not fleet.finished(fleet.last(s))}
        if not any(c.invalid for c in fleet.done) and not any(c.invalid for c in fleet.running):
            todo.add(turned_invalid)
        while todo:
            fleet.poll()
            for spec in fleet.idle():
                if spec in todo and len(fleet.running) < fleet.parallel:
                    fleet.start(spec, may_kill=False)
                    todo.discard(spec)
            time.sleep(0.2)
        fleet.wait_all()
    for spec in fleet.specs:
        if spec == turned_invalid:
            continue
        last = fleet.last(spec)
        assert fleet.finished(last), (
            f"{spec.name}: last run did not finish:\n{last.stderr_tail if last else 'never run'}"
        )


def check_registry(fleet: Fleet, server, turned_invalid: Path) -> None:
    import sqlalchemy as sa
    from mlflow import MlflowClient

    invalid_runs = [c for c in fleet.done if c.invalid]
    assert invalid_runs, "the invalid spec never ran after it was turned invalid"
    for chain in invalid_runs:
        assert chain.returncode != 0 and chain.result is None
        assert "SpecError" in chain.stderr_tail and "targett" in chain.stderr_tail, chain.stderr_tail
        assert str(turned_invalid) in chain.stderr_tail
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    with server.db().connect() as conn:
        twice = conn.execute(
            sa.text(
                "SELECT name, run_id, count(*) FROM model_versions WHERE name LIKE 'soak\\_%' "
                "GROUP BY name, run_id HAVING count(*) > 1"
            )
        ).all()
        models = [r[0] for r in conn.execute(sa.text("SELECT name FROM registered_models WHERE name LIKE 'soak\\_%'"))]
        locks = conn.execute(sa.text("SELECT name FROM registered_models WHERE name LIKE 'mlpublish-lock.%'")).all()
    assert twice == [], f"two versions from one training run: {twice}"
    assert locks == [], f"locks left behind: {locks}"
    assert {s.stem for s in fleet.specs if s != turned_invalid} <= set(models)
    for name in models:
        reported = {
            c.result["version"] for c in fleet.done if c.result and c.spec.stem == name and c.result["promoted"]
        }
        model = client.get_registered_model(name)
        champion = model.aliases.get("champion")  # one alias names one version: at most one champion
        moves = json.loads(model.tags.get("mlpublish.champion_history", "[]"))
        if champion is None:
            assert moves == [] and not reported, (name, moves)
            continue
        assert moves and moves[0]["from"] is None and moves[-1]["to"] == champion, (name, moves)
        assert all(b["from"] == a["to"] for a, b in zip(moves, moves[1:], strict=False)), (name, moves)
        assert reported <= {m["to"] for m in moves}, (name, reported, moves)  # every reported move is recorded
        version = client.get_model_version(name, champion)
        assert version.tags.get("model_validation_status") == "PASSED", (name, champion, version.tags)


def drain_and_check_catalog(env, root: Path, catalog_url: str, om) -> dict[str, int | float]:
    from mlpublish.catalog.local import LocalCatalog
    from mlpublish.catalog.outbox import Outbox

    outbox = Outbox(LocalCatalog(catalog_url), om.host_port)
    before = outbox.counts()
    began = time.monotonic()
    once = relay(env, root, root / "relay-once.log", "--once")
    assert once.wait(timeout=900) == 0, (root / "relay-once.log").read_text()[-3000:]
    drain_seconds = time.monotonic() - began
    counts = outbox.counts()
    rows = outbox.all()
    assert counts == {"pending": 0, "delivered": len(rows), "failed": 0}, counts
    assert len({r.seq for r in rows}) == len(rows)  # one row per event: the key
    events = [r.event for r in rows]  # in seq order
    outbox.local.close()
    actual, expected = om.emulator.snapshot(), reference_snapshot(events, root)
    lost = [k for k in expected["versions"] if k not in actual["versions"]]
    lost += [e for e in expected["edges"] if e not in actual["edges"]]
    duplicated = [k for k, v in actual["versions"].items() if len(v) > len(expected["versions"].get(k, []))]
    duplicated += [e for e in actual["edges"] if e not in expected["edges"]]
    assert lost == [] and duplicated == [], (lost, duplicated)
    assert actual == expected
    assert om.emulator.unknown_routes == []
    return {
        "delivered": len(rows),
        "drained": before["pending"],
        "drain_seconds": drain_seconds,
    }

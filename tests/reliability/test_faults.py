"""Faults: services killed or cut off in the middle of a step, then the step retried as an orchestrator would.

* the MLflow server SIGKILLed while register is between "version created" and "alias set" (and while
  promote holds the lock and writes ``champion``), then restarted on the same port and backend;
* the step's own process SIGKILLed while promote holds the registry lock and moves the alias;
* the OpenMetadata server down from evaluate to register (the OpenMetadata suite's shared scenario);
* the warehouse connection terminated by PostgreSQL in the middle of a scoring run.

The kills land at a real intermediate point, deterministically: the test holds a PostgreSQL table lock on
the registry's alias table, so the server's alias write waits in the database while everything before it
is committed; the test sees the write waiting (pg_stat_activity) before it kills anything.
"""

from __future__ import annotations

import json
import signal

import pytest
import sqlalchemy as sa
from mlflow import MlflowClient

from mlpublish.errors import WarehouseError
from tests.conftest import churn_dict, write_spec
from tests.support.helpers import run_steps
from tests.support.services import (
    blocked_on,
    registry_rows,
    shared_server,
    start_worker,
    terminate_others,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.integration
SUITE = "faults"


@pytest.fixture
def server(request, tmp_path_factory):
    return shared_server(request.config, tmp_path_factory.getbasetemp() / "reliability-mlflow")


@pytest.fixture
def remote(workspace, server, monkeypatch):
    import uuid

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    workspace.tracking_uri = server.url
    workspace.model = f"faults_{uuid.uuid4().hex[:8]}"
    return workspace


class AliasTableLock:
    """Hold ``LOCK TABLE registered_model_aliases IN EXCLUSIVE MODE`` in the registry's database:
    reads go on, any alias write waits in the database until the lock is released."""

    def __init__(self, backend: str):
        self.engine = sa.create_engine(backend, poolclass=sa.pool.NullPool)
        self.conn = self.engine.connect()
        self.conn.execute(sa.text("LOCK TABLE registered_model_aliases IN EXCLUSIVE MODE"))

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()
        self.engine.dispose()


def running(worker) -> bool:
    if worker.poll() is not None:
        raise AssertionError(f"the worker exited early ({worker.returncode}):\n{worker.log.read_text()[-3000:]}")
    return True


def champion_history(name: str) -> list[tuple[str, str | None, str]]:
    raw = MlflowClient().get_registered_model(name).tags.get("mlpublish.champion_history", "[]")
    return [(h["to"], h["from"], h["action"]) for h in json.loads(raw)]


@pytest.mark.parametrize("step", ["register", "promote"])
def test_mlflow_server_killed_mid_step_then_restarted(step, remote, server, tmp_path, reliability_tally):
    """register: the version row is committed, the challenger alias write waits. promote: the lock is held,
    the champion alias write waits. Then the server is SIGKILLed, restarted, and the step retried."""
    name = remote.model
    steps = run_steps(remote.spec(name=name), register=step == "promote")
    inputs = ("train", "evaluate", "validate") if step == "register" else ("evaluate", "validate", "register")
    state = tmp_path / "state.json"
    state.write_text(json.dumps({k: steps[k].to_json() for k in inputs}))
    before = {"versions": [1], "aliases": {"challenger": "1"} if step == "promote" else {}}
    db = server.db()

    lock = AliasTableLock(server.backend)
    try:
        worker = start_worker(
            f"{step}_worker.py",
            [steps["spec"], str(state)],
            worker_env(remote.env(), server.url),
            tmp_path / "worker.log",
        )
        wait_for(
            f"{step} to wait on its alias write", lambda: running(worker) and blocked_on(db, "registered_model_aliases")
        )
        assert registry_rows(db, name)["versions"] == [1]
        server.kill()
        # the dead server's connections (the waiting alias write among them) end; our lock ends after them
        terminate_others(lock.conn)
    finally:
        lock.release()
    assert worker.wait(timeout=120) != 0, "the task must fail when its server dies"
    assert registry_rows(db, name) == {**before, "locks": [f"mlpublish-lock.{name}"]}

    server.start()  # same port, same backend store
    from mlpublish.deployment.context import PublishContext
    from mlpublish.steps import promote_challenger, register_version

    retry = PublishContext.create(steps["ctx"].spec)  # the orchestrator's retry: a fresh task
    registration = steps.get("register")
    if step == "register":
        registration = register_version(retry, steps["train"], steps["evaluate"], steps["validate"])
        assert (registration.version, registration.created) == ("1", False)
        assert registry_rows(db, name) == {"versions": [1], "aliases": {"challenger": "1"}, "locks": []}
    promotion = promote_challenger(retry, steps["evaluate"], steps["validate"], registration)
    assert promotion.promoted and promotion.champion_after == "1"
    assert registry_rows(db, name) == {"versions": [1], "aliases": {"champion": "1"}, "locks": []}
    assert champion_history(name) == [("1", None, "promote")]
    entity = remote.catalog().find_model(name)
    assert entity["extension"]["latestVersion"] == "1" and entity["extension"]["championVersion"] == "1"
    moves = remote.catalog().alias_history(f"mlflow-local.{name}")
    lost = len(champion_history(name)) - len([m for m in moves if m["alias"] == "champion"])
    assert lost == 0
    reliability_tally.add(SUITE, faults_survived=1, events_lost=lost)


def test_task_killed_while_promote_holds_the_lock(remote, server, tmp_path, reliability_tally):
    """SIGKILL of the step's process between "alias moved" and "move recorded": the retry breaks the dead
    holder's lock at once (not after its 5-minute lease) and records the move it finds."""
    name = remote.model
    steps = run_steps(remote.spec(name=name))
    assert steps["register"].version == "1"
    state = tmp_path / "state.json"
    state.write_text(json.dumps({k: steps[k].to_json() for k in ("evaluate", "validate", "register")}))
    db = server.db()

    lock = AliasTableLock(server.backend)
    try:
        worker = start_worker(
            "promote_worker.py",
            [steps["spec"], str(state)],
            worker_env(remote.env(), server.url),
            tmp_path / "worker.log",
        )
        wait_for(
            "promote to wait on its champion alias write",
            lambda: running(worker) and blocked_on(db, "registered_model_aliases"),
        )
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=60) == -signal.SIGKILL  # reaped: its pid is gone
    finally:
        lock.release()
    # the server finishes the write the dead task had sent; the task never recorded it
    wait_for("the champion alias the killed task had sent", lambda: registry_rows(db, name)["aliases"].get("champion"))
    assert registry_rows(db, name)["locks"] == [f"mlpublish-lock.{name}"]
    assert champion_history(name) == []

    from mlpublish.deployment.context import PublishContext
    from mlpublish.steps import promote_challenger

    retry = promote_challenger(
        PublishContext.create(steps["ctx"].spec), steps["evaluate"], steps["validate"], steps["register"]
    )
    assert retry.promoted and retry.champion_after == "1"
    assert registry_rows(db, name) == {"versions": [1], "aliases": {"champion": "1"}, "locks": []}
    assert champion_history(name) == [("1", None, "recovered")]
    moves = [m for m in remote.catalog().alias_history(f"mlflow-local.{name}") if m["alias"] == "champion"]
    assert [(m["version"], m["action"]) for m in moves] == [("1", "recovered")]
    reliability_tally.add(SUITE, faults_survived=1, events_lost=len(champion_history(name)) - len(moves))


def test_openmetadata_down_during_validate(workspace, tmp_path, reliability_tally):
    """The OpenMetadata suite's outage scenario: the chain completes, the outbox delivers later, and the
    server ends equal to an uninterrupted run of the same events."""
    from mlpublish.config import OpenMetadataSettings
    from tests.openmetadata.scenarios import outage_during_middle_steps
    from tests.support.openmetadata_server import serve_emulator

    with serve_emulator() as om:
        counts = outage_during_middle_steps(
            workspace,
            om,
            OpenMetadataSettings(host_port=om.host_port, jwt_token=om.token, deliver_in_step=True),
            tmp_path,
        )
        assert om.emulator.unknown_routes == []
    lost = counts["emitted"] - counts["delivered"]
    assert counts["queued"] >= 4 and lost == 0 and counts["pending"] == counts["failed"] == 0
    reliability_tally.add(SUITE, faults_survived=1, events_lost=lost)


@pytest.fixture(scope="module")
def pg_champion(tmp_path_factory, warehouse_template):
    """A champion trained on a PostgreSQL warehouse (registry and catalog in files)."""
    from tests.support.score_fixtures import postgres_champion

    root = tmp_path_factory.mktemp("faults-score")
    with postgres_champion(root, warehouse_template, "faults_wh") as (url, rows):
        yield root, url, rows


def test_warehouse_connection_dropped_during_scoring(pg_champion, monkeypatch, reliability_tally):
    from mlpublish.deployment.context import PublishContext
    from mlpublish.spec import load_spec
    from mlpublish.steps import score_batch

    root, url, n = pg_champion
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    monkeypatch.setenv("MLPUBLISH_CATALOG", str(root / "catalog.db"))
    monkeypatch.setenv("WAREHOUSE_URL", url)
    # an earlier in-process chain's mlflow.set_registry_uri leaves MLFLOW_REGISTRY_URI in os.environ
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    spec = write_spec(root / "score.yaml", churn_dict(scoring={"chunkSize": 100}))
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def run_ids() -> dict[str, tuple[int, int]]:
        with admin.connect() as conn:
            return {
                r[0]: (r[1], r[2])
                for r in conn.execute(
                    sa.text(
                        "SELECT scoring_run_id, count(*), count(DISTINCT customer_id) FROM churn_predictions "
                        "GROUP BY scoring_run_id"
                    )
                )
            }

    assert score_batch(PublishContext.create(load_spec(spec)), scoring_run_id="monday").rows == n
    killed = []

    def cut_connection(chunk: int, rows: int) -> None:
        if chunk == 4:  # mid-run: 400 rows written in the open transaction, the cursor still has more
            with admin.connect() as conn:
                killed.extend(
                    r[0]
                    for r in conn.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid() AND query ILIKE 'COPY %churn_predictions%'"
                        )
                    )
                )

    with pytest.raises(WarehouseError, match="nothing written"):
        score_batch(PublishContext.create(load_spec(spec)), scoring_run_id="tuesday", on_chunk=cut_connection)
    assert killed == [True], "exactly the scoring connection is terminated"
    assert run_ids() == {"monday": (n, n)}, "no partial predictions of the cut run"

    retry = score_batch(PublishContext.create(load_spec(spec)), scoring_run_id="tuesday")
    assert retry.rows == n
    assert run_ids() == {"monday": (n, n), "tuesday": (n, n)}  # the complete set, once
    reliability_tally.add(SUITE, faults_survived=1)

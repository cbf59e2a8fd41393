"""The catalog store (mlpublish.catalog.store): re-keying old outbox rows, NOTIFY and LISTEN; on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlpublish.catalog.events import UpsertTable
from mlpublish.catalog.local import LocalCatalog
from mlpublish.catalog.outbox import Outbox
from mlpublish.catalog.store import Listener

OLD_SPELLINGS = ["http://127.0.0.1:8585/api", "http://127.0.0.1:8585", "http://localhost:8585/api"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "catalog.db")  # a file: the migration runs when a second process opens it
        return
    from tests.support.catalog_store import postgres_catalog_url

    with postgres_catalog_url() as url:
        yield url


def table(n: int) -> UpsertTable:
    return UpsertTable(fqn=f"wh.db.s.t{n}", columns=[])


def test_rows_queued_under_old_spellings_are_rekeyed_when_the_store_is_opened(store_url: str) -> None:
    """An older mlpublish keyed rows by the address's text: three spellings, one catalog, in commit order."""
    old = LocalCatalog(store_url)
    for n, spelling in enumerate(OLD_SPELLINGS * 2):
        old.publish([table(n)])
        with old.connection() as db:  # as the old code wrote them: the raw address
            db.execute(
                "INSERT INTO outbox (target, event, created_at) VALUES (?,?,?)",
                (spelling, table(n).model_dump_json(), "2026-01-01T00:00:00+00:00"),
            )
        with old.connection() as db:
            db.execute(
                "INSERT INTO outbox (target, event, created_at) VALUES (?,?,?)", ("http://other:8585/api", "{}", "x")
            )
    old.close()

    reopened = LocalCatalog(store_url)
    outbox = Outbox(reopened, "http://localhost:8585")
    rows = outbox.pending()
    assert [r.event.fqn for r in rows] == [f"wh.db.s.t{n}" for n in range(6)]  # all six, seq (commit) order
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    assert outbox.by_catalog() == {
        "http://localhost:8585/api": {"pending": 6, "failed": 0},
        "http://other:8585/api": {"pending": 6, "failed": 0},
    }
    reopened.close()


def test_new_events_are_queued_under_the_catalog_key(store_url: str) -> None:
    from mlpublish.catalog.openmetadata import OpenMetadataCatalog
    from mlpublish.config import OpenMetadataSettings

    for spelling in OLD_SPELLINGS:
        sink = OpenMetadataCatalog(OpenMetadataSettings(spelling, "tok"), LocalCatalog(store_url))
        sink.publish([table(1)])
        sink.close()
    local = LocalCatalog(store_url)
    with local.connection() as db:
        assert db.execute("SELECT DISTINCT target FROM outbox").fetchall() == [("http://localhost:8585/api",)]
    local.close()


def test_another_catalogs_events_count_as_unserved_until_a_deliverer_holds_its_lease(store_url: str) -> None:
    local = LocalCatalog(store_url)
    local.publish([table(1), table(2)], enqueue_for="http://other:8585/api")
    ours, theirs = Outbox(local, "http://localhost:8585/api"), Outbox(LocalCatalog(store_url), "http://other:8585")
    assert ours.unserved() == {"http://other:8585/api": 2}
    assert theirs.acquire()  # a relay of the other catalog is at work: its events are served
    assert ours.unserved() == {}
    theirs.release()
    assert ours.unserved() == {"http://other:8585/api": 2}
    assert theirs.unserved() == {}  # our outbox is empty
    theirs.local.close()
    local.close()


def test_a_listener_wakes_on_a_commit_and_not_on_a_rollback() -> None:
    from tests.support.catalog_store import postgres_catalog_url

    with postgres_catalog_url() as url:
        writer = LocalCatalog(url)
        writer.publish([table(0)])  # tables created
        listener = Listener(LocalCatalog(url).store)
        listener.start()
        assert listener.wait(0.2) == set()  # nothing queued: the timeout
        with pytest.raises(RuntimeError), writer.transaction() as cur:  # a rolled-back write notifies no one
            from mlpublish.catalog.store import notify_outbox

            notify_outbox(cur, "http://localhost:8585/api")
            raise RuntimeError("abort")
        assert listener.wait(0.2) == set()
        writer.publish([table(1)], enqueue_for="http://localhost:8585/api")
        assert listener.wait(30) == {"http://localhost:8585/api"}  # the key: woken by the commit, not the timeout
        listener.close()
        writer.close()

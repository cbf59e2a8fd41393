"""The creation lock (mlpublish.creation_lock): one holder at a time across processes, keyed by the absolute path."""

from __future__ import annotations

import subprocess
import sys

from mlpublish.creation_lock import creating, lock_path


def test_the_lock_is_outside_the_workspace_and_keyed_by_the_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lock_path("mlflow.db") == lock_path(tmp_path / "mlflow.db")
    assert lock_path(tmp_path / "a.db") != lock_path(tmp_path / "b.db")
    assert tmp_path not in lock_path("mlflow.db").parents


def test_another_process_waits_while_the_lock_is_held(tmp_path):
    store = tmp_path / "store.db"
    probe = (
        "import fcntl, sys\n"
        "from mlpublish.creation_lock import lock_path\n"
        f"h = open(lock_path({str(store)!r}), 'a')\n"
        "try:\n    fcntl.flock(h.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(7)\n"
    )
    with creating(store):
        assert subprocess.run([sys.executable, "-c", probe]).returncode == 7  # held: it would have to wait
    assert subprocess.run([sys.executable, "-c", probe]).returncode == 0  # released

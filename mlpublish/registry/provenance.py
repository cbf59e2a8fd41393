"""Which code and which environment produced a run: promote code, not models.

The code version is the git commit of the repository holding the spec file
(MLflow's standard tag ``mlflow.source.git.commit``), so prod can retrain from
exactly what staging validated. Images built without ``.git`` pass it in
``MLPUBLISH_GIT_SHA``. Uncommitted changes are recorded (``mlpublish.git_dirty``):
a dirty tree is not reproducible.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

from mlpublish.registry.contract import ENVIRONMENT_TAG, GIT_COMMIT_TAG, GIT_DIRTY_TAG

SHA_VAR = "MLPUBLISH_GIT_SHA"
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")


def _git(folder: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )  # status must not take index.lock
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _repo_version(folder: str) -> tuple[str | None, bool | None]:
    sha = _git(Path(folder), "rev-parse", "HEAD")
    if sha is None:
        return None, None
    status = _git(Path(folder), "status", "--porcelain", "--untracked-files=no")
    return sha.strip(), (bool(status.strip()) if status is not None else None)


def code_version(spec_path: str) -> tuple[str | None, bool | None]:
    """(commit SHA, dirty) of the spec file's repository; (None, None) when unknown.

    ``MLPUBLISH_GIT_SHA`` wins (its tree is taken as clean). Two git calls, once per training run.
    """
    explicit = os.environ.get(SHA_VAR, "").strip()
    if explicit:
        return (explicit, False) if _SHA.match(explicit) else (None, None)
    path = Path(spec_path)
    if not path.is_file():
        return None, None
    return _repo_version(str(path.resolve().parent))


def run_tags(spec: Any) -> dict[str, str]:
    """Tags of a training run: environment and code version, when known."""
    tags: dict[str, str] = {}
    if spec.environment_name:
        tags[ENVIRONMENT_TAG] = spec.environment_name
    sha, dirty = code_version(spec.source_path)
    if sha:
        tags[GIT_COMMIT_TAG] = sha
        if dirty is not None:
            tags[GIT_DIRTY_TAG] = str(dirty).lower()
    return tags


def catalog_properties(tags: dict[str, str]) -> dict[str, str]:
    """The catalog entity's ``environment`` and ``codeVersion`` custom properties, from a run's tags."""
    props = {}
    if ENVIRONMENT_TAG in tags:
        props["environment"] = tags[ENVIRONMENT_TAG]
    if GIT_COMMIT_TAG in tags:
        props["codeVersion"] = tags[GIT_COMMIT_TAG] + ("-dirty" if tags.get(GIT_DIRTY_TAG) == "true" else "")
    return props


def champion_properties(tags: dict[str, str], copied_from: str | None) -> dict[str, str]:
    """What the catalog says about the champion's provenance once it moves (``codeVersion`` follows
    the latest candidate, as the other ``latest*`` facts do)."""
    code = catalog_properties(tags).get("codeVersion")
    return {"championCodeVersion": code or "unknown", "copiedFrom": copied_from or "none"}

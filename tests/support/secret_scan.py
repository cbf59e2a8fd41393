"""Grep the outputs of the whole test run for the canary secrets (issue 7).

Sources: every test report's captured stdout, stderr and log sections (setup, call and teardown, passed or
not) and its failure text, and, at session end, every file under the session's base temporary folder: the
MLflow, Airflow and Dagster stores and server logs, catalogs and outboxes the tests' services wrote there.
A leak fails the run (exit status 1) and is reported by source and kind of secret, never by value.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.canary_secrets import CANARIES

MAX_FILE_BYTES = 256 << 20  # larger files (none today) are scanned by their first 256 MiB
CHUNK = 8 << 20


def _needles() -> list[tuple[str, bytes]]:
    """Each canary, plus the part of its base64 form that does not depend on its neighbours (3 alignments)."""
    out = []
    for kind, value in CANARIES.items():
        raw = value.encode()
        out.append((kind, raw))
        for pad in range(3):
            encoded = base64.b64encode(b"\0" * pad + raw)
            out.append((f"{kind} (base64)", encoded[4 if pad else 0 : -4]))
        if quote(value, safe="") != value:  # the / and @ passwords: encoded in a URL, or cut at the / or @
            out.append((f"{kind} (percent-encoded)", quote(value, safe="").encode()))
            out.append((f"{kind} (its tail)", re.split(r"[/@]", value, maxsplit=1)[1].encode()))
    return out


NEEDLES = _needles()
OVERLAP = max(len(n) for _, n in NEEDLES)


def kinds_in(data: bytes | str) -> set[str]:
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    return {kind for kind, needle in NEEDLES if needle in data}


def file_kinds(path: Path) -> set[str]:
    found: set[str] = set()
    read, tail = 0, b""
    with path.open("rb") as fh:
        while read < MAX_FILE_BYTES:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            found |= kinds_in(tail + chunk)
            tail, read = chunk[-OVERLAP:], read + len(chunk)
    return found


class SecretScan:
    def __init__(self) -> None:
        self.sources = 0
        self.leaks: list[tuple[str, str]] = []  # (where, kind)
        self.seen: set[tuple[str, str]] = set()  # a later phase's report repeats the earlier phases' sections

    def report(self, report: pytest.TestReport) -> None:
        texts = list(report.sections)
        if report.failed and report.longrepr is not None:
            texts.append(("failure report", str(report.longrepr)))
        for name, text in texts:
            if (report.nodeid, name) in self.seen:
                continue
            self.seen.add((report.nodeid, name))
            self.sources += 1
            for kind in sorted(kinds_in(text)):
                self.leaks.append((f"{report.nodeid} [{name}]", kind))

    def scan_folder(self, root: Path) -> None:
        for folder, _, files in os.walk(root):
            for name in files:
                path = Path(folder, name)
                if path.is_symlink() or not path.is_file():
                    continue
                self.sources += 1
                try:
                    kinds = file_kinds(path)
                except OSError:  # removed while we walked (a server still shutting down)
                    continue
                self.leaks += [(str(path), kind) for kind in sorted(kinds)]

    def finish(self, session: pytest.Session) -> None:
        factory: Any = getattr(session.config, "_tmp_path_factory", None)
        basetemp = getattr(factory, "_basetemp", None)  # None: no test asked for a temporary folder
        if basetemp is not None and Path(basetemp).is_dir():
            self.scan_folder(Path(basetemp))
        if self.leaks:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def summary(self, terminalreporter: Any) -> None:
        if self.leaks:
            terminalreporter.section("secret leaks", red=True)
            for where, kind in self.leaks:
                terminalreporter.write_line(f"LEAK {kind}: {where}", red=True)
        terminalreporter.write_line(
            f"reliability secrets (whole run): sources_scanned={self.sources} leaks={len(self.leaks)}"
        )


# The hooks (tests/conftest.py imports them; ``pytest -p tests.support.secret_scan`` loads them elsewhere).
_SCAN = SecretScan()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _SCAN.report(report)


def pytest_sessionfinish(session: pytest.Session) -> None:
    _SCAN.finish(session)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    _SCAN.summary(terminalreporter)

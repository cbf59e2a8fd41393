"""No silent skips (issue 34): a skip names what is missing, CI fails on it, opt-in suites are deselected.

* A skip must say why: a skip whose reason is empty fails, everywhere.
* Under CI (the variable ``CI`` set to anything but ``""``, ``0`` or ``false``) every skip fails with its
  reason: CI installs everything the suite needs (``make test``), so a skipped test there is a test that
  never ran. Expected failures (``xfail``) are not skips and are left alone.
* Suites that need what no machine of ours has (a real OpenMetadata server) are opt-in markers: deselected
  unless the ``-m`` expression names them (``pytest -m openmetadata_live ...``). Deselected tests are not
  skips: they are counted as deselected and CI does not fail on them.
"""

from __future__ import annotations

import os

import pytest

# marker -> what it needs, shown in the session header when its tests are deselected
OPT_IN = {"openmetadata_live": "a real OpenMetadata server (OPENMETADATA_HOST_PORT, OPENMETADATA_JWT_TOKEN)"}
_DESELECTED = pytest.StashKey[list]()


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr or "")
    reason = reason.removeprefix("Skipped: ").strip()
    return "" if reason == "Skipped" else reason  # pytest.skip() with no reason


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markexpr = config.getoption("markexpr", "") or ""
    opted_out = [m for m in OPT_IN if m not in markexpr]
    deselected = [item for item in items if any(item.get_closest_marker(m) for m in opted_out)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
        config.stash[_DESELECTED] = sorted({m for item in deselected for m in opted_out if item.get_closest_marker(m)})


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    return [
        f"deselected the opt-in {m} tests (they need {OPT_IN[m]}; run them with -m {m})"
        for m in config.stash.get(_DESELECTED, [])
    ]


def _refuse_silent_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Turn a skip into a failure when it names nothing, or when CI runs the suite."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if not reason:
        report.outcome = "failed"
        report.longrepr = f"{report.nodeid} skipped without a reason: a skip must name what is missing"
    elif under_ci():
        report.outcome = "failed"
        report.longrepr = (
            f"{report.nodeid} skipped under CI={os.environ['CI']}: {reason}\n"
            "CI runs every test: install what the reason names (make test does), or make the test opt-in "
            "(tests/support/skips.py OPT_IN)"
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    _refuse_silent_skip(report)
    return report


class _SkippedModules:
    """A module that skips itself (importorskip at its top) is a skipped collection, not a test: refused ones fail
    the session at its end (turned into a collection error, one would stop the session before any test ran)."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped and (under_ci() or not _skip_reason(report)):
            reason = _skip_reason(report) or "skipped without a reason"
            self.refused.append(
                f"{report.nodeid}: {reason}" + (f" (skipped under CI={os.environ['CI']})" if under_ci() else "")
            )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.refused and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.refused:
            terminalreporter.section("skipped modules, refused (tests/support/skips.py)", red=True)
            for line in self.refused:
                terminalreporter.line(line)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_SkippedModules(), "mlpublish-skipped-modules")

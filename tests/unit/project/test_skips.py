"""tests/support/skips.py: a skip names what is missing, CI fails on any skip, opt-in suites are deselected."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import pytest

def test_runs():
    pass

def test_skips_naming_what_is_missing():
    pytest.skip("needs chromium (apt-get install chromium)")

@pytest.mark.skipif(True, reason="needs Java 17")
def test_skipif_naming_what_is_missing():
    pass

def test_skips_without_a_reason():
    pytest.skip()

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_expected_failure():
    assert False

@pytest.mark.openmetadata_live
def test_needs_a_real_server():
    pass
"""
SKIPPED_MODULE = """
import pytest
pytest.importorskip("a_package_nobody_installed")

def test_never_collected():
    pass
"""


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None, *args: str):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    pytester.makeini("[pytest]\nmarkers =\n    openmetadata_live: a real server\n")
    pytester.makepyfile(test_suite=SUITE, test_skipped_module=SKIPPED_MODULE)
    return pytester.runpytest_inprocess(
        "-p", "tests.support.skips", "-p", "no:cacheprovider", "-p", "no:pytest_openmetadata", "-rA", *args
    )


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_outside_ci_a_named_skip_is_a_skip_and_an_unnamed_one_fails(pytester, monkeypatch, ci):
    result = run(pytester, monkeypatch, ci)
    result.assert_outcomes(passed=1, skipped=3, failed=1, xfailed=1, deselected=1)
    result.stdout.fnmatch_lines(["*test_skips_without_a_reason skipped without a reason*"])
    result.stdout.fnmatch_lines(["*could not import 'a_package_nobody_installed'*"])


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_every_skip_fails_with_its_reason(pytester, monkeypatch, ci):
    result = run(pytester, monkeypatch, ci)
    # every skip fails (a skipif mark at setup: an error), the expected failure stays one; the skipped module
    # fails the session at its end
    result.assert_outcomes(passed=1, failed=2, errors=1, skipped=1, xfailed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            f"*test_skips_naming_what_is_missing skipped under CI={ci}: needs chromium (apt-get install chromium)*",
            f"*test_skipif_naming_what_is_missing skipped under CI={ci}: needs Java 17*",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines([f"test_skipped_module.py: could not import 'a_package_nobody_installed'*CI={ci})"])
    assert result.ret != 0


def test_the_opt_in_suite_is_deselected_and_named_unless_asked_for(pytester, monkeypatch):
    result = run(pytester, monkeypatch, "true")
    result.stdout.fnmatch_lines(["deselected the opt-in openmetadata_live tests (they need a real OpenMetadata*"])
    asked = run(pytester, monkeypatch, "true", "-m", "openmetadata_live")
    asked.assert_outcomes(passed=1, deselected=5, skipped=1)  # the skipped module: refused at the end under CI
    assert asked.ret == pytest.ExitCode.TESTS_FAILED
    assert "deselected the opt-in" not in asked.stdout.str()

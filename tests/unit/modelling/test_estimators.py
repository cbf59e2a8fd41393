"""Import rules for training.estimator: a spec can never make mlpublish import or run arbitrary code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlpublish.errors import SpecError
from mlpublish.modelling import EstimatorRef, resolve_estimator

SOURCE = "specs/estimator.yaml"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _default_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLPUBLISH_ALLOWED_MODULES", raising=False)


def refused(path: str, task: str | None = None) -> tuple[str, str]:
    with pytest.raises(SpecError) as info:
        resolve_estimator(path, task, SOURCE)
    exc = info.value
    assert str(exc).startswith(f"{SOURCE}: invalid spec (1 problem)")
    [problem] = exc.problems
    return problem


NOT_ALLOWED = "is not allowed; allowed packages: sklearn (an operator can add more with MLPUBLISH_ALLOWED_MODULES)"


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("os.system", "os"),
        ("os:system", "os"),
        ("subprocess.Popen", "subprocess"),
        ("subprocess:run", "subprocess"),
        ("builtins.eval", "builtins"),
        ("sklearnx.Model", "sklearnx"),  # a prefix of the name is not the package
    ],
)
def test_modules_outside_the_allow_list_are_refused(path: str, module: str) -> None:
    where, msg = refused(path)
    assert where == "training.estimator"
    assert msg == f"{path!r}: module {module!r} {NOT_ALLOWED}"


@pytest.mark.parametrize(
    "path",
    [
        "sklearn._private.X",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble.__class__",
        "sklearn:__import__",
        "_sklearn.X",
    ],
)
def test_private_and_dunder_segments_are_refused(path: str) -> None:
    assert refused(path) == (
        "training.estimator",
        f"{path!r}: every part must be a public Python name (no leading underscore)",
    )


def test_missing_class() -> None:
    assert refused("sklearn.ensemble.NoSuchClass") == (
        "training.estimator",
        "'sklearn.ensemble.NoSuchClass': module 'sklearn.ensemble' has no attribute 'NoSuchClass'",
    )


def test_missing_module() -> None:
    where, msg = refused("sklearn.nosuchmodule.Model")
    assert where == "training.estimator"
    assert msg.startswith("'sklearn.nosuchmodule.Model': cannot import module 'sklearn.nosuchmodule' (")


def test_a_module_is_not_a_class() -> None:
    assert refused("sklearn.ensemble") == (
        "training.estimator",
        "'sklearn.ensemble': expected an estimator class with fit, predict and get_params",
    )


def test_a_function_not_defined_in_the_named_module_is_not_a_trainer() -> None:
    # roc_auc_score lives in sklearn.metrics._ranking and is only re-exported by sklearn.metrics
    assert refused("sklearn.metrics:roc_auc_score") == (
        "training.estimator",
        "'sklearn.metrics:roc_auc_score': a trainer must be a function defined in 'sklearn.metrics'",
    )


def test_a_function_is_not_an_estimator_class() -> None:
    assert refused("sklearn.metrics.roc_auc_score") == (
        "training.estimator",
        "'sklearn.metrics.roc_auc_score': expected an estimator class with fit, predict and get_params",
    )


@pytest.mark.parametrize("path", ["sklearn.preprocessing.StandardScaler", "sklearn.base.BaseEstimator"])
def test_a_class_without_fit_and_predict_is_refused(path: str) -> None:
    assert refused(path) == (
        "training.estimator",
        f"{path!r}: expected an estimator class with fit, predict and get_params",
    )


def test_an_estimator_that_neither_classifies_nor_regresses_needs_a_task() -> None:
    assert refused("sklearn.cluster.KMeans") == (
        "training.task",
        "cannot tell whether sklearn.cluster.KMeans classifies or regresses: set training.task",
    )


def test_a_trainer_function_needs_a_task() -> None:
    assert refused("sklearn.base:clone") == (
        "training.task",
        "a trainer function needs training.task: classification or regression",
    )


# --------------------------------------------------------------------------
# Accepted estimators


def test_classifier_is_accepted_and_its_task_inferred() -> None:
    from sklearn.ensemble import RandomForestClassifier

    ref = resolve_estimator("sklearn.ensemble.RandomForestClassifier", None, SOURCE)
    assert ref == EstimatorRef(
        "sklearn.ensemble.RandomForestClassifier", RandomForestClassifier, False, "classification"
    )
    assert {"n_estimators", "max_depth"} <= ref.param_names()
    assert (
        resolve_estimator("sklearn.ensemble.RandomForestClassifier", "classification", SOURCE).task == "classification"
    )


def test_regressor_is_accepted_and_its_task_inferred() -> None:
    from sklearn.linear_model import Ridge

    ref = resolve_estimator("sklearn.linear_model.Ridge", None, SOURCE)
    assert (ref.obj, ref.is_trainer, ref.task) == (Ridge, False, "regression")
    assert resolve_estimator("sklearn.linear_model.Ridge", "regression", SOURCE).task == "regression"


@pytest.mark.parametrize(
    ("path", "task", "inferred"),
    [
        ("sklearn.ensemble.RandomForestClassifier", "regression", "classification"),
        ("sklearn.linear_model.Ridge", "classification", "regression"),
    ],
)
def test_a_contradicting_task_is_refused(path: str, task: str, inferred: str) -> None:
    assert refused(path, task) == ("training.task", f"{task!r} contradicts {path}, which is a {inferred} estimator")


# --------------------------------------------------------------------------
# The operator's allow-list


def test_allow_list_env_var_opens_a_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPUBLISH_ALLOWED_MODULES", "json")
    # allowed now, so the import rules proper decide
    assert refused("json:loads") == (
        "training.task",
        "a trainer function needs training.task: classification or regression",
    )
    assert refused("json.loads") == (
        "training.estimator",
        "'json.loads': expected an estimator class with fit, predict and get_params",
    )
    assert refused("json.decoder:scanstring", "regression") == (
        "training.estimator",
        "'json.decoder:scanstring': a trainer must be a function defined in 'json.decoder'",
    )
    # json.loads is a plain function defined in json: with a task it passes the rules (the
    # allow-list is the operator's decision, the rules cannot know what the function does)
    import json

    ref = resolve_estimator("json:loads", "regression", SOURCE)
    assert (ref.obj, ref.is_trainer, ref.task) == (json.loads, True, "regression")
    # other packages stay closed
    where, msg = refused("os.system")
    assert where == "training.estimator" and "allowed packages: sklearn, json (" in msg


def test_allow_list_entry_with_dots_opens_only_that_subpackage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPUBLISH_ALLOWED_MODULES", " json.decoder , ")
    assert resolve_estimator("json.decoder:py_scanstring", "regression", SOURCE).is_trainer
    for path, module in (("json:loads", "json"), ("json.decoderx:x", "json.decoderx")):
        where, msg = refused(path, "regression")
        assert where == "training.estimator"
        assert msg.startswith(f"{path!r}: module {module!r} is not allowed; allowed packages: sklearn, json.decoder ")


# --------------------------------------------------------------------------
# Refused modules are never imported


SIDE_EFFECT_MODULES = ["antigravity", "this"]  # antigravity opens a web browser, this prints the Zen


@pytest.mark.parametrize("module", SIDE_EFFECT_MODULES)
@pytest.mark.parametrize("form", ["{m}.geohash", "{m}:geohash", "{m}.sub.Model", "{m}._private.X"])
def test_refused_modules_are_not_imported(module: str, form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)  # imported by something else in this process: forget it for the test
    path = form.format(m=module)
    where, _ = refused(path)
    assert where == "training.estimator"
    assert module not in sys.modules
    assert not any(name.startswith(module + ".") for name in sys.modules)


def test_refused_module_is_not_imported_in_a_fresh_interpreter() -> None:
    """Independent of what this test process imported before: a clean interpreter, no browser."""
    code = (
        "import sys\n"
        "from mlpublish.errors import SpecError\n"
        "from mlpublish.modelling import resolve_estimator\n"
        "for p in ('antigravity.geohash', 'antigravity:geohash', 'this.s'):\n"
        "    try:\n"
        "        resolve_estimator(p, 'regression')\n"
        "    except SpecError as e:\n"
        "        assert e.problems[0][0] == 'training.estimator', e.problems\n"
        "    else:\n"
        "        raise SystemExit('accepted ' + p)\n"
        "assert 'antigravity' not in sys.modules and 'this' not in sys.modules\n"
        "assert 'webbrowser' not in sys.modules\n"
        "print('ok')\n"
    )
    env = {"PATH": "", "BROWSER": "true", "MLPUBLISH_ALLOWED_MODULES": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_a_trainer_not_installed_here_is_refused_only_when_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """score and monitor load the model with its own code: they need not import the trainer."""
    monkeypatch.setenv("MLPUBLISH_ALLOWED_MODULES", "teamnotinstalled")
    ref = resolve_estimator("teamnotinstalled.models:train", "classification", SOURCE)
    assert ref.obj is None and ref.param_names() is None
    with pytest.raises(SpecError) as info:
        ref.require(SOURCE)
    [(where, message)] = info.value.problems
    assert where == "training.estimator"
    assert message == (
        "'teamnotinstalled.models:train': cannot import module 'teamnotinstalled.models': training needs it "
        "(score and monitor do not: a model carries its code)"
    )
    # without a task, or for a class, the import is needed at once
    where, msg = refused("teamnotinstalled.models:train")
    assert msg.startswith("'teamnotinstalled.models:train': cannot import module 'teamnotinstalled.models' (")
    where, msg = refused("teamnotinstalled.models.Model")
    assert msg.startswith("'teamnotinstalled.models.Model': cannot import module 'teamnotinstalled.models' (")

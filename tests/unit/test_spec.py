"""Spec parsing and validation: a corpus of bad specs derived from specs/churn.yaml.

Every bad spec must be refused with a SpecError whose ``problems`` name the
field (and, for YAML field errors, its line) and whose message says what is
wrong; ``str(exc)`` starts with the file the spec came from.
"""

from __future__ import annotations

import copy
import re
import signal
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

import mlpublish.spec as spec_module
from mlpublish.errors import SpecError
from mlpublish.spec import (
    MAX_SPEC_BYTES,
    MAX_YAML_ALIASES,
    MAX_YAML_DEPTH,
    NAME_PATTERN,
    Training,
    environments,
    load_spec,
    parse_spec,
)

REPO = Path(__file__).resolve().parents[2]
CHURN = REPO / "specs" / "churn.yaml"
CHURN_TEXT = CHURN.read_text(encoding="utf-8")
SOURCE = "specs/bad-churn.yaml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The corpus must not depend on the caller's environment."""
    for var in ("WAREHOUSE_URL", "MLPUBLISH_TEST_UNSET_VAR", "MLPUBLISH_TEST_VAR"):
        monkeypatch.delenv(var, raising=False)


def churn() -> dict[str, Any]:
    return yaml.safe_load(CHURN_TEXT)


def dump(d: Any) -> str:
    return yaml.safe_dump(d, sort_keys=False)


def parse_error(text: str, source: str = SOURCE) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_spec(text, source)
    return info.value


def line_of(text: str, needle: str, start: int = 0) -> int:
    """1-based line number of the first line at or after ``start`` (0-based) containing ``needle``."""
    for i, line in enumerate(text.splitlines()[start:], start=start):
        if needle in line:
            return i + 1
    raise AssertionError(f"{needle!r} not in text")


def test_the_demo_spec_is_valid() -> None:
    spec = parse_spec(CHURN_TEXT, str(CHURN))
    assert spec.name == "customer_churn_predictor"
    assert spec.fqn == "mlflow-local.customer_churn_predictor"
    assert spec.data.connection == "sqlite:///warehouse.db"
    assert spec.categorical_features == ["plan"]
    assert spec.source_path == str(CHURN)
    assert load_spec(CHURN).model_dump() == spec.model_dump()


# --------------------------------------------------------------------------
# The corpus. Each case: a builder returning the spec text, the expected field
# path of one problem (before any " (line N)") and a fragment of its message.


def mutate(fn: Callable[[dict[str, Any]], Any]) -> Callable[[], str]:
    def build() -> str:
        d = churn()
        fn(d)
        return dump(d)

    return build


def edit_text(fn: Callable[[str], str]) -> Callable[[], str]:
    def build() -> str:
        out = fn(CHURN_TEXT)
        assert out != CHURN_TEXT, "the text edit did not apply"
        return out

    return build


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set a dotted path ("training.split.testSize", "mlFeatures.0.dataType")."""

    def fn(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        node[int(last) if last.isdigit() else last] = value

    return fn


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.pop(key)


def _dupe_feature(d: dict[str, Any]) -> None:
    d["mlFeatures"].append(copy.deepcopy(d["mlFeatures"][0]))


def _candidates_clash(d: dict[str, Any]) -> None:
    d["training"]["candidates"]["n_estimators"] = [50, 100]


def _alias_bomb(text: str) -> str:
    aliases = ", ".join(["*leaf"] * (MAX_YAML_ALIASES + 1))
    return text + f"x-anchors:\n  leaf: &leaf [a, b]\n  many: [{aliases}]\n"


def _too_deep(text: str) -> str:
    n = MAX_YAML_DEPTH + 1  # the top-level mapping already counts as one level
    return text + "x-deep: " + "[" * n + "]" * n + "\n"


def _too_big(text: str) -> str:
    return text + "x-padding: " + "x" * MAX_SPEC_BYTES + "\n"


def _syntax_error(text: str) -> str:
    return text.replace("algorithm: RandomForestClassifier", "algorithm: Random: Forest")


SYNTAX_LINE = line_of(CHURN_TEXT, "algorithm: RandomForestClassifier")
SYNTAX_COLUMN = len("algorithm: Random:")  # 1-based column of the second colon

BAD_SPECS = [
    # YAML level
    pytest.param(
        edit_text(_syntax_error),
        f"line {SYNTAX_LINE}, column {SYNTAX_COLUMN}",
        "YAML syntax error: mapping values are not allowed here",
        id="yaml-syntax-error",
    ),
    pytest.param(lambda: "", "<root>", "the file is empty", id="empty-file"),
    pytest.param(lambda: "# only a comment\n", "<root>", "the file is empty", id="only-comments"),
    pytest.param(lambda: dump([churn()]), "<root>", "expected a mapping of fields, got list", id="top-level-list"),
    pytest.param(lambda: "42\n", "<root>", "expected a mapping of fields, got int", id="top-level-scalar"),
    pytest.param(edit_text(_alias_bomb), "<root>", f"more than {MAX_YAML_ALIASES} YAML aliases", id="alias-bomb"),
    pytest.param(edit_text(_too_deep), "<root>", f"nesting deeper than {MAX_YAML_DEPTH} levels", id="too-deep"),
    pytest.param(edit_text(_too_big), "<root>", f"spec larger than {MAX_SPEC_BYTES} bytes", id="larger-than-1MiB"),
    # unknown fields
    pytest.param(
        mutate(_set("foo", 1)),
        "foo",
        "unknown field 'foo'; expected one of: algorithm, catalog, dashboard, data, description",
        id="unknown-top-level",
    ),
    pytest.param(
        mutate(_set("training.split.foo", 1)),
        "training.split.foo",
        "unknown field 'foo'; expected one of: seed, stratify, testSize, validationSize",
        id="unknown-nested",
    ),
    pytest.param(
        mutate(_set("mlFeatures.0.featureSources.0.column", "x")),
        "mlFeatures[0].featureSources[0].column",
        "expected one of: dataSourceFqn, dataType, description, name",
        id="unknown-in-list-item",
    ),
    # types and ranges
    pytest.param(
        mutate(_set("training.split.testSize", "abc")),
        "training.split.testSize",
        "valid number",
        id="testSize-not-a-number",
    ),
    pytest.param(
        mutate(_set("training.split.testSize", 0)), "training.split.testSize", "greater than 0", id="testSize-zero"
    ),
    pytest.param(
        mutate(_set("training.split.testSize", 1.5)), "training.split.testSize", "less than 1", id="testSize-above-one"
    ),
    # required fields
    *[
        pytest.param(mutate(_drop(key)), key, "required field is missing", id=f"missing-{key}")
        for key in ("name", "algorithm", "target", "data", "training", "mlFeatures")
    ],
    pytest.param(mutate(_set("mlFeatures", [])), "mlFeatures", "at least 1 item", id="empty-mlFeatures"),
    # features
    pytest.param(
        mutate(_set("mlFeatures.0.dataType", "text")),
        "mlFeatures[0].dataType",
        "'numerical' or 'categorical'",
        id="bad-feature-dataType",
    ),
    pytest.param(
        mutate(_set("mlFeatures.0.featureSources.0.dataType", "datetime")),
        "mlFeatures[0].featureSources[0].dataType",
        "'timestamp'",
        id="bad-source-dataType",
    ),
    pytest.param(
        mutate(_set("mlFeatures.1.featureSources.0.dataSourceFqn", "warehouse.main.orders")),
        "mlFeatures[1].featureSources[0].dataSourceFqn",
        "expected <service>.<database>.<schema>.<table>",
        id="fqn-three-parts",
    ),
    pytest.param(
        mutate(_set("mlFeatures.1.featureSources.0.dataSourceFqn", "warehouse..main.orders")),
        "mlFeatures[1].featureSources[0].dataSourceFqn",
        "expected <service>.<database>.<schema>.<table>",
        id="fqn-empty-part",
    ),
    # cross-field consistency (model-level: reported at the root)
    pytest.param(
        mutate(_dupe_feature),
        "mlFeatures[6].name",
        "duplicate feature name 'recency_days' (first at mlFeatures[0])",
        id="duplicate-features",
    ),
    pytest.param(
        mutate(_set("target", "plan")), "target", "target 'plan' is also listed in mlFeatures", id="target-is-a-feature"
    ),
    pytest.param(
        mutate(_set("data.keyColumns", ["customer_id", "plan"])),
        "data.keyColumns[1]",
        "key column 'plan' is also a feature or the target",
        id="key-overlaps-feature",
    ),
    pytest.param(
        mutate(_set("data.timeColumn", "snapshot date")),
        "data.timeColumn",
        "should match pattern",
        id="timeColumn-not-an-identifier",
    ),
    pytest.param(
        mutate(_set("data.timeColumn", "churned")),
        "data.timeColumn",
        "time column 'churned' is the target",
        id="timeColumn-is-the-target",
    ),
    pytest.param(
        mutate(_candidates_clash),
        "mlHyperParameters[0].name",
        "'n_estimators' is set both here and in training.candidates",
        id="hyperparameter-twice",
    ),
    # gates
    pytest.param(
        mutate(_set("validation.gates.0", {"metric": "roc_auc"})),
        "validation.gates[0]",
        "a gate needs exactly one of min, max, maxDropVsChampion, minGainVsChampion",
        id="gate-no-threshold",
    ),
    pytest.param(
        mutate(_set("validation.gates.1", {"metric": "f1", "min": 0.5, "max": 0.9})),
        "validation.gates[1]",
        "(got min, max)",
        id="gate-two-thresholds",
    ),
    pytest.param(
        mutate(_set("validation.gates.2.maxDropVsChampion", -0.01)),
        "validation.gates[2].maxDropVsChampion",
        "greater than or equal to 0",
        id="gate-negative-drop",
    ),
    # schedule
    pytest.param(mutate(_set("schedule", "0 3 * *")), "schedule", "five-field cron expression", id="cron-four-fields"),
    pytest.param(
        mutate(_set("schedule", "0 3 * * 1 2024")), "schedule", "five-field cron expression", id="cron-six-fields"
    ),
    # names that end up in FQNs, paths and SQL
    pytest.param(mutate(_set("name", "churn'model")), "name", "should match pattern", id="name-with-quote"),
    pytest.param(mutate(_set("name", "churn/model")), "name", "should match pattern", id="name-with-slash"),
    pytest.param(mutate(_set("name", "../x")), "name", "should match pattern", id="name-path-traversal"),
    pytest.param(mutate(_set("name", "churn.model")), "name", "should match pattern", id="name-with-dot"),
    pytest.param(
        mutate(_set("serviceName", "svc/../etc")), "serviceName", "should match pattern", id="service-traversal"
    ),
    pytest.param(
        mutate(_set("data.trainingTable", "t; DROP TABLE x")),
        "data.trainingTable",
        "should match pattern",
        id="table-sql-injection",
    ),
    pytest.param(
        mutate(_set("data.predictionsTable", "p; DROP TABLE x")),
        "data.predictionsTable",
        "should match pattern",
        id="predictions-table-sql-injection",
    ),
    pytest.param(
        mutate(_set("data.schema", 'main"; --')), "data.schema", "should match pattern", id="schema-injection"
    ),
    pytest.param(
        mutate(_set("mlFeatures.1.name", "freq'uency")),
        "mlFeatures[1].name",
        "should match pattern",
        id="feature-column-with-quote",
    ),
    pytest.param(mutate(_set("target", 'churned"')), "target", "should match pattern", id="target-with-quote"),
    pytest.param(
        mutate(_set("data.keyColumns", ["customer'id"])),
        "data.keyColumns",
        'column name "customer\'id" must match',
        id="key-column-with-quote",
    ),
    pytest.param(
        mutate(_set("training.candidates", {"max depth": [4]})),
        "training.candidates",
        "parameter name 'max depth' must match",
        id="candidate-name-with-space",
    ),
    pytest.param(
        mutate(_set("training.estimator", "os.system('rm -rf /')")),
        "training.estimator",
        "expected a dotted path",
        id="estimator-not-a-dotted-path",
    ),
    # environment
    pytest.param(
        mutate(_set("data.connection", "${MLPUBLISH_TEST_UNSET_VAR}")),
        "data.connection",
        "environment variable MLPUBLISH_TEST_UNSET_VAR is not set and has no default",
        id="env-unset-no-default",
    ),
]


def test_corpus_is_large_enough() -> None:
    assert len(BAD_SPECS) >= 25


def _path_of(location: str) -> str:
    return location.split(" (line ")[0]


@pytest.mark.parametrize(("build", "where", "fragment"), BAD_SPECS)
def test_bad_spec_is_refused(build: Callable[[], str], where: str, fragment: str) -> None:
    exc = parse_error(build())
    assert str(exc).startswith(f"{SOURCE}: invalid spec"), str(exc)
    assert exc.path == SOURCE
    matching = [(loc, msg) for loc, msg in exc.problems if _path_of(loc) == where and fragment in msg]
    assert matching, f"no problem at {where!r} containing {fragment!r}; got {exc.problems}"
    # every reported problem also appears in the message shown to the user
    for loc, msg in exc.problems:
        assert f"{loc}: {msg}" in str(exc)


# --------------------------------------------------------------------------
# Line numbers


def test_nested_field_error_names_its_line_in_the_original_file() -> None:
    text = CHURN_TEXT.replace("testSize: 0.25", "testSize: abc")
    exc = parse_error(text)
    expected = line_of(CHURN_TEXT, "split: {testSize: 0.25")
    assert exc.problems[0][0] == f"training.split.testSize (line {expected})"


def test_field_error_in_a_list_item_names_its_line() -> None:
    start = line_of(CHURN_TEXT, "- name: tenure_days")  # 1-based, so it is the 0-based index of the next line
    target = line_of(CHURN_TEXT, "dataType: numerical", start)
    lines = CHURN_TEXT.splitlines(keepends=True)
    lines[target - 1] = lines[target - 1].replace("numerical", "numeric")
    exc = parse_error("".join(lines))
    assert exc.problems == [
        (f"mlFeatures[3].dataType (line {target})", "Input should be 'numerical' or 'categorical' (got 'numeric')")
    ]


def test_line_of_a_block_style_nested_field() -> None:
    d = churn()
    d["training"]["split"]["foo"] = 1
    text = dump(d)
    exc = parse_error(text)
    expected = line_of(text, "foo: 1")
    assert exc.problems[0][0] == f"training.split.foo (line {expected})"


def test_every_problem_is_reported_at_once() -> None:
    d = churn()
    d["training"]["split"]["testSize"] = 2
    d["schedule"] = "weekly"
    del d["target"]
    exc = parse_error(dump(d))
    paths = {_path_of(loc) for loc, _ in exc.problems}
    assert paths == {"training.split.testSize", "schedule", "target"}
    assert "(3 problems)" in str(exc)


# --------------------------------------------------------------------------
# Environment expansion


def _with_connection(value: str) -> str:
    d = churn()
    d["data"]["connection"] = value
    return dump(d)


def test_env_default_is_used_when_unset() -> None:
    spec = parse_spec(_with_connection("${MLPUBLISH_TEST_VAR:-sqlite:///fallback.db}"))
    assert spec.data.connection == "sqlite:///fallback.db"


def test_env_default_is_used_when_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPUBLISH_TEST_VAR", "")
    spec = parse_spec(_with_connection("${MLPUBLISH_TEST_VAR:-sqlite:///fallback.db}"))
    assert spec.data.connection == "sqlite:///fallback.db"


def test_env_value_wins_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPUBLISH_TEST_VAR", "postgresql://wh/db")
    spec = parse_spec(_with_connection("${MLPUBLISH_TEST_VAR:-sqlite:///fallback.db}"))
    assert spec.data.connection == "postgresql://wh/db"
    spec = parse_spec(_with_connection("${MLPUBLISH_TEST_VAR}"))
    assert spec.data.connection == "postgresql://wh/db"


def test_env_values_are_not_reparsed_or_reexpanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPUBLISH_TEST_VAR", "x: ${HOME}\n- y")
    spec = parse_spec(_with_connection("${MLPUBLISH_TEST_VAR}"))
    assert spec.data.connection == "x: ${HOME}\n- y"


def test_double_dollar_is_a_literal_dollar() -> None:
    d = churn()
    d["description"] = "costs $$5, not $${MLPUBLISH_TEST_UNSET_VAR}"
    spec = parse_spec(dump(d))
    assert spec.description == "costs $5, not ${MLPUBLISH_TEST_UNSET_VAR}"


def test_demo_spec_picks_up_warehouse_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://warehouse/main")
    assert parse_spec(CHURN_TEXT).data.connection == "postgresql://warehouse/main"


# --------------------------------------------------------------------------
# The OpenMetadata demo's ml_model.yaml, verbatim, plus the chain's own sections

OPENMETADATA_DEMO = """\
serviceName: CustomMLService
name: Revenue Predictions
description: |
  This model computes how long it will take for an order to be picked up and delivered
  when a user has completed the payment and is updated until the order reaches it destination.
algorithm: XGBoost
target: expected_time
mlFeatures:
  - name: last_update_bucket
    dataType: categorical
    featureAlgorithm: Bucketing
    featureSources:
      - name: orders
        dataType: timestamp
        dataSourceFqn: demo_pg.postgres.public.orders
  - name: restaurant_dimension
    dataType: numerical
    featureAlgorithm: PCA
    featureSources:
      - name: rating
        dataType: integer
        dataSourceFqn: demo_pg.postgres.public.restaurants
      - name: average_price
        dataType: integer
        dataSourceFqn: demo_pg.postgres.public.restaurants
  - name: is_premium
    dataType: categorical
    featureSources:
      - name: premium
        dataType: boolean
        dataSourceFqn: demo_pg.postgres.public.users
mlHyperParameters:
  - name: regularisation
    value: 0.5
    description: Adding some room for error
mlStore:
  storage: s3://path-to-pickle
  imageRepository: https://docker.hub.com/image
"""

CHAIN_SECTIONS = """\
data:
  connection: postgresql://demo_pg/postgres
  trainingTable: order_features
training:
  estimator: sklearn.linear_model.Ridge
"""


def test_name_pattern_accepts_a_space() -> None:
    assert re.match(NAME_PATTERN, "Revenue Predictions")


def test_openmetadata_demo_fields_are_accepted_as_they_are() -> None:
    spec = parse_spec(OPENMETADATA_DEMO + CHAIN_SECTIONS, "ml_model.yaml")
    assert spec.serviceName == "CustomMLService"
    assert spec.name == "Revenue Predictions"
    assert spec.fqn == "CustomMLService.Revenue Predictions"
    assert spec.algorithm == "XGBoost"
    assert spec.target == "expected_time"
    assert spec.description.startswith("This model computes how long")
    assert spec.feature_names == ["last_update_bucket", "restaurant_dimension", "is_premium"]
    assert spec.categorical_features == ["last_update_bucket", "is_premium"]
    assert spec.mlFeatures[0].featureAlgorithm == "Bucketing"
    assert [s.name for s in spec.mlFeatures[1].featureSources] == ["rating", "average_price"]
    assert spec.mlFeatures[2].featureSources[0].dataType == "boolean"
    assert spec.fixed_params == {"regularisation": 0.5}
    assert spec.mlHyperParameters[0].description == "Adding some room for error"
    assert spec.mlStore is not None
    assert spec.mlStore.storage == "s3://path-to-pickle"
    assert spec.mlStore.imageRepository == "https://docker.hub.com/image"


def test_openmetadata_demo_without_chain_sections_names_what_is_missing() -> None:
    exc = parse_error(OPENMETADATA_DEMO)
    assert {_path_of(loc) for loc, _ in exc.problems} == {"data", "training"}


# --------------------------------------------------------------------------
# load_spec


def test_load_spec_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(str(path))
    assert info.value.problems == [("<file>", "no such file")]


def test_load_spec_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    assert str(info.value).startswith(str(tmp_path))
    assert info.value.problems == [("<file>", "is a directory, expected a YAML file")]


def test_load_spec_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(CHURN_TEXT.replace("Predicts", "Pr\u00e9dit").encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(str(path))
    [(where, msg)] = info.value.problems
    assert where == "<file>"
    assert msg.startswith("not UTF-8 text (")
    offset = CHURN_TEXT.index("Predicts") + 2
    assert f"at byte {offset})" in msg


def test_load_spec_too_large_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(CHURN_TEXT + "x-padding: " + "x" * MAX_SPEC_BYTES + "\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    [(where, msg)] = info.value.problems
    assert where == "<root>" and msg.startswith(f"spec larger than {MAX_SPEC_BYTES} bytes (")


def test_load_spec_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CHURN_TEXT.replace("testSize: 0.25", "testSize: 0"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: invalid spec (1 problem)")
    assert info.value.path == str(path)


# --------------------------------------------------------------------------
# Training.grid


def test_grid_is_the_cartesian_product_in_spec_order() -> None:
    t = Training(
        estimator="sklearn.ensemble.RandomForestClassifier",
        candidates={"max_depth": [4, 8], "min_samples_leaf": [1, 5, 10], "criterion": ["gini"]},
    )
    assert t.grid() == [
        {"max_depth": 4, "min_samples_leaf": 1, "criterion": "gini"},
        {"max_depth": 4, "min_samples_leaf": 5, "criterion": "gini"},
        {"max_depth": 4, "min_samples_leaf": 10, "criterion": "gini"},
        {"max_depth": 8, "min_samples_leaf": 1, "criterion": "gini"},
        {"max_depth": 8, "min_samples_leaf": 5, "criterion": "gini"},
        {"max_depth": 8, "min_samples_leaf": 10, "criterion": "gini"},
    ]


def test_grid_without_candidates_is_one_empty_combination() -> None:
    assert Training(estimator="sklearn.linear_model.Ridge").grid() == [{}]


def test_grid_of_the_demo_spec() -> None:
    assert parse_spec(CHURN_TEXT).training.grid() == [{"max_depth": 4}, {"max_depth": 8}]


# --------------------------------------------------------------------------
# Hostile YAML that gets past the guards (known bugs, see reasons)


class _Deadline(Exception):
    pass


def _parse_with_deadline(text: str, seconds: float) -> None:
    def on_alarm(signum: int, frame: Any) -> None:
        raise _Deadline()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        parse_spec(text, SOURCE)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM to bound the run time")
def test_alias_bomb_below_the_alias_limit_is_refused_quickly() -> None:
    levels = 24  # 2 aliases per level: 46 aliases in all, under MAX_YAML_ALIASES
    bomb = ["x-bomb:", "  l0: &l0 [a, b]"] + [f"  l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, levels)]
    text = CHURN_TEXT + "\n".join(bomb) + "\n"
    assert text.count("*l") < MAX_YAML_ALIASES
    try:
        _parse_with_deadline(text, 10.0)
    except SpecError:
        pass
    except _Deadline:
        pytest.fail("parse_spec was still expanding a 46-alias YAML bomb after 2 s")
    else:
        pytest.fail("an alias bomb was accepted")


def test_recursive_anchor_is_a_spec_error() -> None:
    exc = parse_error(CHURN_TEXT + "x-loop: &loop [*loop]\n")
    assert any(loc.startswith("<root>") for loc, _ in exc.problems)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("name: !!python/object:os.system x\n", "could not determine a constructor"),
        ("? [a, b]\n: 1\n", "found unhashable key"),
        ("x: !!binary notbase64@@\n", "failed to decode base64"),
        ("schedule: 2024-13-45\n", "a value cannot be read: month must be in 1..12"),
    ],
)
def test_values_yaml_cannot_construct_are_spec_errors(text, fragment):
    with pytest.raises(SpecError) as info:
        parse_spec(text, "hostile.yaml")
    assert any(fragment in msg for _, msg in info.value.problems)


def test_unreadable_path_is_a_spec_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SpecError, match="cannot read: Not a directory"):
        load_spec(tmp_path / "file" / "spec.yaml")


# --------------------------------------------------------------------------
# The spec reference is generated from the models: every field must say what it means.


def _models_under(root: type[BaseModel]) -> set[type[BaseModel]]:
    """Every model reachable from ``root`` through field annotations (walked here independently of yamlio)."""
    found: set[type[BaseModel]] = set()

    def annotations(tp: Any) -> list[Any]:
        return [tp, *(a for arg in typing.get_args(tp) for a in annotations(arg))]

    def visit(model: type[BaseModel]) -> None:
        if model in found:
            return
        found.add(model)
        for info in model.model_fields.values():
            for tp in annotations(info.annotation):
                if isinstance(tp, type) and issubclass(tp, BaseModel):
                    visit(tp)

    visit(root)
    return found


@pytest.mark.parametrize(
    "reference_models, root",
    [
        (spec_module.reference_models, spec_module.Spec),
        (environments.reference_models, environments.EnvironmentsFile),
    ],
    ids=["spec", "environments file"],
)
def test_every_field_of_every_model_has_a_description(reference_models, root) -> None:
    models = reference_models()
    assert models[0] is root
    assert len(models) == len(set(models)) and set(models) == _models_under(root)
    undocumented = [
        f"{m.__name__}.{name}"
        for m in models
        for name, info in m.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert undocumented == []
    assert [m.__name__ for m in models if not (m.__doc__ or "").strip()] == []


def test_reference_models_come_in_document_order() -> None:
    assert [m.__name__ for m in spec_module.reference_models()] == [
        "Spec",
        "MlStore",
        "MlFeature",
        "FeatureSource",
        "HyperParameter",
        "DataSpec",
        "Training",
        "Split",
        "Validation",
        "Gate",
        "Slice",
        "SliceBin",
        "Fairness",
        "Importances",
        "Promotion",
        "MlflowSpec",
        "CatalogSpec",
        "ScoringSpec",
        "MonitoringSpec",
        "MonitoringWindow",
    ]
    assert [m.__name__ for m in environments.reference_models()] == [
        "EnvironmentsFile",
        "EnvironmentSpec",
        "MlflowOverlay",
        "WarehouseOverlay",
        "CatalogOverlay",
    ]

"""The whole spec (mlpublish.spec.document): parse_spec and load_spec over a corpus of bad specs derived from
specs/churn.yaml, the OpenMetadata demo's fields, the reference models.

Every bad spec must be refused with a SpecError whose ``problems`` name the
field (and, for YAML field errors, its line) and whose message says what is
wrong; ``str(exc)`` starts with the file the spec came from.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import mlpublish.spec as spec_module
from mlpublish.errors import SpecError
from mlpublish.spec import (
    MAX_SPEC_BYTES,
    MAX_YAML_ALIASES,
    MAX_YAML_DEPTH,
    environments,
    load_spec,
    parse_spec,
)
from tests.support.spec_text import CHURN, CHURN_TEXT, SOURCE, churn, dump, line_of, parse_error, path_of


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
        mutate(_set("data.connection", "${UNSET_TEST_WAREHOUSE_URL}")),
        "data.connection",
        "environment variable UNSET_TEST_WAREHOUSE_URL is not set and has no default",
        id="env-unset-no-default",
    ),
]


def test_corpus_is_large_enough() -> None:
    assert len(BAD_SPECS) >= 25


@pytest.mark.parametrize(("build", "where", "fragment"), BAD_SPECS)
def test_bad_spec_is_refused(build: Callable[[], str], where: str, fragment: str) -> None:
    exc = parse_error(build())
    assert str(exc).startswith(f"{SOURCE}: invalid spec"), str(exc)
    assert exc.path == SOURCE
    matching = [(loc, msg) for loc, msg in exc.problems if path_of(loc) == where and fragment in msg]
    assert matching, f"no problem at {where!r} containing {fragment!r}; got {exc.problems}"
    # every reported problem also appears in the message shown to the user
    for loc, msg in exc.problems:
        assert f"{loc}: {msg}" in str(exc)


def test_every_problem_is_reported_at_once() -> None:
    d = churn()
    d["training"]["split"]["testSize"] = 2
    d["schedule"] = "weekly"
    del d["target"]
    exc = parse_error(dump(d))
    paths = {path_of(loc) for loc, _ in exc.problems}
    assert paths == {"training.split.testSize", "schedule", "target"}
    assert "(3 problems)" in str(exc)


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
    assert {path_of(loc) for loc, _ in exc.problems} == {"data", "training"}


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
        "ContractSpec",
        "ColumnRules",
        "Training",
        "Split",
        "Validation",
        "Gate",
        "Slice",
        "SliceBin",
        "Fairness",
        "Importances",
        "Promotion",
        "ShadowPromotion",
        "MlflowSpec",
        "CatalogSpec",
        "ScoringSpec",
        "MonitoringSpec",
        "MonitoringWindow",
        "LabelsSpec",
    ]
    assert [m.__name__ for m in environments.reference_models()] == [
        "EnvironmentsFile",
        "EnvironmentSpec",
        "MlflowOverlay",
        "WarehouseOverlay",
        "CatalogOverlay",
        "OverridePolicy",
    ]

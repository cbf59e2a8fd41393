"""The environments file (mlpublish.spec.environments): parsing, errors, the overlay on a spec, the environment
given to load_spec as a value."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpublish.errors import SpecError
from mlpublish.spec import load_spec
from tests.conftest import churn_dict, write_spec
from tests.support.environments import ENVIRONMENTS, specs  # noqa: F401 (fixture)


def test_no_environment_loads_the_spec_as_written(specs: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    alone = tmp_path_factory.mktemp("alone")
    write_spec(alone / "churn.yaml", churn_dict())
    plain = load_spec(alone / "churn.yaml")
    beside_file = load_spec(specs / "churn.yaml")  # a file without default and no MLPUBLISH_ENV: no overlay
    assert plain.model_dump() == beside_file.model_dump()
    assert plain.environment is None and beside_file.environment_name is None


def test_overlay_names_every_store_of_the_environment(specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPUBLISH_ENV", "dev")
    monkeypatch.setenv("DEV_WAREHOUSE", "sqlite:///elsewhere.db")
    spec = load_spec(specs / "churn.yaml")
    assert spec.environment_name == "dev"
    assert spec.name == "dev_customer_churn_predictor"
    assert spec.fqn == "mlflow-dev.dev_customer_churn_predictor"
    assert spec.mlflow.trackingUri == "sqlite:///dev-mlflow.db"
    assert spec.data.service == "warehouse_dev" and spec.data.connection == "sqlite:///elsewhere.db"
    assert spec.catalog.url == "dev-catalog.db" and spec.catalog.pipelineService == "pipelines-dev"
    sources = {s.dataSourceFqn for f in spec.mlFeatures for s in f.featureSources}
    assert sources == {
        "warehouse_dev.main.main.orders",
        "warehouse_dev.main.main.customers",
        "warehouse_dev.main.main.support_tickets",
    }
    # the flag wins over the variable
    prod = load_spec(specs / "churn.yaml", env="prod")
    assert prod.name == "customer_churn_predictor" and prod.mlflow.registryUri == "sqlite:///prod-registry.db"
    assert prod.environment.read_only


def test_default_environment_applies_without_the_variable(specs: Path) -> None:
    (specs / "environments.yaml").write_text("default: dev\n" + ENVIRONMENTS)
    assert load_spec(specs / "churn.yaml").environment_name == "dev"


def test_unknown_environment_lists_the_known_ones_and_the_file(specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPUBLISH_ENV", "qa")
    with pytest.raises(SpecError) as err:
        load_spec(specs / "churn.yaml")
    msg = str(err.value)
    assert str(specs / "environments.yaml") in msg and "'qa'" in msg and "known: dev, prod" in msg


def test_environment_without_a_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLPUBLISH_ENVIRONMENTS", raising=False)
    write_spec(tmp_path / "churn.yaml", churn_dict())
    monkeypatch.setenv("MLPUBLISH_ENV", "prod")
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "churn.yaml")
    assert "MLPUBLISH_ENV=prod" in str(err.value) and str(tmp_path / "environments.yaml") in str(err.value)


def test_environments_file_is_overridable(
    specs: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path_factory.mktemp("conf") / "envs.yaml"
    other.write_text("environments:\n  qa: {modelNamePrefix: qa_}\n")
    monkeypatch.setenv("MLPUBLISH_ENVIRONMENTS", str(other))
    assert load_spec(specs / "churn.yaml", env="qa").name == "qa_customer_churn_predictor"


@pytest.mark.parametrize(
    "text, where, message",
    [
        (
            "environments:\n  dev:\n    readonly: true\n",
            "environments.dev.readonly (line 3)",
            "unknown field 'readonly'; expected one of",
        ),
        (
            "environments:\n  dev:\n    modelNamePrefix: 'dev.'\n",
            "environments.dev.modelNamePrefix (line 3)",
            "should match pattern",
        ),
        ("environments: {}\n", "environments (line 1)", "at least 1"),
        ("default: qa\nenvironments:\n  dev: {}\n", "default (line 1)", "unknown environment 'qa'; known: dev"),
        (
            "environments:\n  dev:\n    mlflow: {trackingUri: '${NOPE_NOT_SET_MLFLOW_URI}'}\n",
            "environments.dev.mlflow.trackingUri",
            "NOPE_NOT_SET_MLFLOW_URI is not set",
        ),
        ("environments:\n  dev: [\n", "line", "YAML syntax error"),
        ("environments:\n  'prod env': {}\n", "environments (line 2)", "must match"),
    ],
)
def test_bad_environments_file_is_reported_with_field_and_line(
    specs: Path, text: str, where: str, message: str
) -> None:
    (specs / "environments.yaml").write_text(text)
    with pytest.raises(SpecError) as err:
        load_spec(specs / "churn.yaml", env="dev")
    assert err.value.path == str(specs / "environments.yaml")
    assert str(err.value).startswith(f"{specs / 'environments.yaml'}: invalid environments file (")
    assert any(where in loc and message in msg for loc, msg in err.value.problems), err.value.problems


def test_only_the_chosen_environment_needs_its_variables(specs: Path) -> None:
    (specs / "environments.yaml").write_text(
        "environments:\n  dev: {modelNamePrefix: dev_}\n  prod:\n    mlflow: {trackingUri: '${PROD_ONLY_MLFLOW_URI}'}\n"
    )
    assert load_spec(specs / "churn.yaml", env="dev").name == "dev_customer_churn_predictor"
    with pytest.raises(SpecError, match="PROD_ONLY_MLFLOW_URI is not set"):
        load_spec(specs / "churn.yaml", env="prod")


def test_overlay_that_breaks_the_spec_is_reported_against_the_spec(specs: Path) -> None:
    (specs / "environments.yaml").write_text("environments:\n  dev: {modelNamePrefix: " + "x" * 32 + "}\n")
    data = churn_dict(name="n" * 100)
    write_spec(specs / "churn.yaml", data)
    with pytest.raises(SpecError) as err:
        load_spec(specs / "churn.yaml", env="dev")
    assert err.value.path == str(specs / "churn.yaml") and err.value.problems[0][0].startswith("name")


def test_an_environment_with_its_own_tracking_server_keeps_its_registry_there(
    specs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment-wide MLFLOW_REGISTRY_URI (perhaps another environment's registry) must not capture dev's versions."""
    from mlpublish.spec.environments import environment_named

    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "sqlite:///deployment-registry.db")
    dev = load_spec(specs / "churn.yaml", env="dev")
    assert dev.mlflow.registryUri == "sqlite:///dev-mlflow.db"
    assert environment_named("dev", specs).registry_uri() == "sqlite:///dev-mlflow.db"
    assert environment_named("prod", specs).registry_uri() == "sqlite:///prod-registry.db"  # its own, explicit


def test_load_spec_takes_the_environment_as_a_value(specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpublish.spec.environments import environment_named

    monkeypatch.setenv("MLPUBLISH_ENV", "prod")  # an explicit environment wins over the process environment
    by_name = load_spec(specs / "churn.yaml", environment="dev")
    assert by_name.environment_name == "dev" and by_name.name == "dev_customer_churn_predictor"
    dev = environment_named("dev", specs)
    by_value = load_spec(specs / "churn.yaml", environment=dev)
    assert by_value.environment is dev and by_value.model_dump() == by_name.model_dump()
    assert load_spec(specs / "churn.yaml", environment=None).environment_name == "prod"  # None: as before
    with pytest.raises(TypeError, match="environment or env, not both"):
        load_spec(specs / "churn.yaml", "dev", environment="dev")


def _mlpublish_imports(module: str) -> set[str]:
    import ast

    import mlpublish

    path = Path(mlpublish.__file__).parent.joinpath(*module.split(".")[1:]).with_suffix(".py")
    tree = ast.parse(path.read_text(), str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mlpublish"):
            out |= {f"{node.module}.{a.name}" if node.module == "mlpublish" else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("mlpublish")}
    return out


def test_the_environments_and_the_yaml_reader_do_not_depend_on_the_spec() -> None:
    """One way: the spec overlays the environments, which are read by yamlio; neither reaches back."""
    assert _mlpublish_imports("mlpublish.spec.yamlio") == {"mlpublish.errors"}
    assert _mlpublish_imports("mlpublish.spec.field_rules") == set()
    assert _mlpublish_imports("mlpublish.spec.variables") == {
        "mlpublish.config",
        "mlpublish.spec.field_rules",
        "mlpublish.spec.yamlio",
    }
    assert _mlpublish_imports("mlpublish.spec.environments") == {
        "mlpublish.config",
        "mlpublish.errors",
        "mlpublish.spec.field_rules",
        "mlpublish.spec.files",
        "mlpublish.spec.override_policy",
        "mlpublish.spec.variables",
        "mlpublish.spec.yamlio",
    }
    assert _mlpublish_imports("mlpublish.spec.files") == {"mlpublish.errors"}  # the bounded reader of user files
    assert _mlpublish_imports("mlpublish.spec.override_policy") == set()


def test_the_environment_is_passed_not_read_from_the_process(clean_env, monkeypatch):
    (clean_env / "environments.yaml").write_text(
        "environments:\n  dev: {modelNamePrefix: dev_}\n  qa: {modelNamePrefix: qa_}\n"
    )
    path = write_spec(clean_env / "churn.yaml", churn_dict())
    monkeypatch.setenv("MLPUBLISH_ENV", "qa")
    assert load_spec(path, environment="dev").name.startswith("dev_")
    assert load_spec(path, environment=None).name.startswith("qa_")  # None: MLPUBLISH_ENV, as before

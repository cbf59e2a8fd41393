"""The environments file: parsing, errors, the overlay on a spec, code version, readOnly refusal."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlpublish.errors import ReadOnlyEnvironment, SpecError
from mlpublish.spec import load_spec
from tests.conftest import churn_dict, write_spec

ENVIRONMENTS = """\
environments:
  dev:
    modelNamePrefix: dev_
    serviceName: mlflow-dev
    mlflow: {trackingUri: "sqlite:///dev-mlflow.db"}
    warehouse: {service: warehouse_dev, connection: "${DEV_WAREHOUSE:-sqlite:///dev-warehouse.db}"}
    catalog: {url: dev-catalog.db, pipelineService: pipelines-dev}
  prod:
    mlflow: {trackingUri: "sqlite:///prod-mlflow.db", registryUri: "sqlite:///prod-registry.db"}
    readOnly: true
"""


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLPUBLISH_ENV", raising=False)
    monkeypatch.delenv("MLPUBLISH_ENVIRONMENTS", raising=False)
    monkeypatch.delenv("DEV_WAREHOUSE", raising=False)
    write_spec(tmp_path / "churn.yaml", churn_dict())
    (tmp_path / "environments.yaml").write_text(ENVIRONMENTS)
    return tmp_path


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
            "environments:\n  dev:\n    mlflow: {trackingUri: '${NOPE_NOT_SET}'}\n",
            "environments.dev.mlflow.trackingUri",
            "NOPE_NOT_SET is not set",
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
        "environments:\n  dev: {modelNamePrefix: dev_}\n  prod:\n    mlflow: {trackingUri: '${PROD_ONLY_SECRET_URI}'}\n"
    )
    assert load_spec(specs / "churn.yaml", env="dev").name == "dev_customer_churn_predictor"
    with pytest.raises(SpecError, match="PROD_ONLY_SECRET_URI is not set"):
        load_spec(specs / "churn.yaml", env="prod")


def test_overlay_that_breaks_the_spec_is_reported_against_the_spec(specs: Path) -> None:
    (specs / "environments.yaml").write_text("environments:\n  dev: {modelNamePrefix: " + "x" * 32 + "}\n")
    data = churn_dict(name="n" * 100)
    write_spec(specs / "churn.yaml", data)
    with pytest.raises(SpecError) as err:
        load_spec(specs / "churn.yaml", env="dev")
    assert err.value.path == str(specs / "churn.yaml") and err.value.problems[0][0].startswith("name")


def test_read_only_environment_refuses_every_write_before_it_happens(
    specs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlpublish.deployment.context import PublishContext

    monkeypatch.chdir(specs)
    spec = load_spec(specs / "churn.yaml", env="prod")
    with pytest.raises(ReadOnlyEnvironment, match="'prod' is readOnly"):
        PublishContext.create(spec, check_warehouse=False)
    assert not (specs / "prod-mlflow.db").exists() and not (specs / "prod-registry.db").exists()


def test_trigger_overrides_keep_the_environment(specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpublish_airflow.overrides import load_spec_with_overrides

    monkeypatch.setenv("MLPUBLISH_ENV", "dev")
    spec = load_spec_with_overrides(str(specs / "churn.yaml"), {"promotion": {"mode": "manual"}})
    assert spec.name == "dev_customer_churn_predictor" and spec.promotion.mode == "manual"
    assert spec.environment_name == "dev" and spec.source_path == str(specs / "churn.yaml")


def test_adapters_do_not_take_the_environments_file_for_a_spec(specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpublish_airflow.dag_factory import build_dags, spec_files

    # (Dagster's side, in .venv-dagster: tests/unit/dagster/test_resources.py)
    assert [p.name for p in spec_files(specs)] == ["churn.yaml"]
    monkeypatch.setenv("MLPUBLISH_ENV", "dev")
    assert sorted(build_dags(specs)) == [
        "mlpublish__dev_customer_churn_predictor",
        "mlpublish__dev_customer_churn_predictor__monitor",
        "mlpublish__dev_customer_churn_predictor__score",
    ]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def test_code_version_is_the_spec_repositorys_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpublish.registry.provenance import catalog_properties, run_tags

    monkeypatch.delenv("MLPUBLISH_GIT_SHA", raising=False)
    monkeypatch.delenv("MLPUBLISH_ENV", raising=False)
    _git(tmp_path, "init", "-q")
    path = write_spec(tmp_path / "churn.yaml", churn_dict())
    _git(tmp_path, "add", "churn.yaml")
    _git(tmp_path, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "spec")
    sha = _git(tmp_path, "rev-parse", "HEAD")
    tags = run_tags(load_spec(path))
    assert tags == {"mlflow.source.git.commit": sha, "mlpublish.git_dirty": "false"}
    path.write_text(path.read_text() + "\n# edited\n")
    tags = run_tags(load_spec(path))
    assert tags["mlpublish.git_dirty"] == "true"
    assert catalog_properties(tags) == {"codeVersion": f"{sha}-dirty"}
    monkeypatch.setenv("MLPUBLISH_GIT_SHA", "0123456789abcdef0123456789abcdef01234567")
    assert run_tags(load_spec(path))["mlflow.source.git.commit"] == "0123456789abcdef0123456789abcdef01234567"


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


def test_cli_names_and_catalog_sync_in_an_environment(specs: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from mlpublish import cli
    from mlpublish.cli.common import model_name

    monkeypatch.chdir(specs)
    monkeypatch.setenv("MLPUBLISH_ENV", "dev")
    # commands and cards print the prefixed name: both spellings mean the same model
    assert (
        model_name("customer_churn_predictor")
        == model_name("dev_customer_churn_predictor")
        == "dev_customer_churn_predictor"
    )
    # a readOnly environment refuses a sync (it writes the outbox and the server) before touching anything
    assert cli.main(["-q", "catalog", "sync", "--env", "prod", "--retry-failed"]) == cli.EXIT_ERROR
    assert "'prod' is readOnly" in capsys.readouterr().err
    assert sorted(p.name for p in specs.iterdir()) == ["churn.yaml", "environments.yaml"]


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
    assert _mlpublish_imports("mlpublish.spec.environments") == {
        "mlpublish.config",
        "mlpublish.errors",
        "mlpublish.spec.field_rules",
        "mlpublish.spec.yamlio",
    }

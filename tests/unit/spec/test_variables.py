"""``${VAR}`` (mlpublish.spec.variables): only in deployment fields, only allowed names, never echoed in an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpublish.errors import SpecError
from mlpublish.spec import Spec, load_spec, parse_spec, reference_models
from mlpublish.spec.environments import reference_models as environment_models
from mlpublish.spec.field_rules import expands_variables
from mlpublish.spec.variables import variable_refusal
from tests.support.spec_text import churn, dump, parse_error

TOKEN = "eyJhbGciOi-canary-token-4711"


@pytest.fixture(autouse=True)
def _variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLPUBLISH_SPEC_VARIABLES", raising=False)
    monkeypatch.setenv("OPENMETADATA_JWT_TOKEN", TOKEN)


def _spec_text(**fields: object) -> str:
    d = churn()
    for dotted, value in fields.items():
        *parents, last = dotted.split("__")
        node = d
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return dump(d)


def _problems(text: str) -> list[tuple[str, str]]:
    exc = parse_error(text)
    assert TOKEN not in str(exc)
    return exc.problems


# --------------------------------------------------------------------------
# The examples


def test_a_token_in_the_description_is_refused_naming_the_field_not_copied() -> None:
    problems = _problems(_spec_text(description="token ${OPENMETADATA_JWT_TOKEN}"))
    assert len(problems) == 1
    where, msg = problems[0]
    assert where.startswith("description (line ")
    assert "${OPENMETADATA_JWT_TOKEN}" in msg and "does not expand variables" in msg


def test_a_token_in_the_server_url_is_refused() -> None:
    problems = _problems(_spec_text(server="https://serve.example/?t=${OPENMETADATA_JWT_TOKEN}"))
    assert [p[0].split(" (")[0] for p in problems] == ["server"]


def test_a_credential_name_is_refused_even_in_a_deployment_field() -> None:
    problems = _problems(_spec_text(data__connection="postgresql://u:${OPENMETADATA_JWT_TOKEN}@db/x"))
    assert problems[0][0].startswith("data.connection (line ")
    assert "looks like a credential" in problems[0][1] and "MLPUBLISH_SPEC_VARIABLES" in problems[0][1]


# --------------------------------------------------------------------------
# Where and what expands


def test_deployment_fields_expand_allowed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://wh/analytics")
    monkeypatch.setenv("WAREHOUSE_SCHEMA", "features")
    monkeypatch.setenv("TEAM_MLFLOW_URI", "http://mlflow.internal:5000")
    spec = parse_spec(
        _spec_text(
            data__connection="${WAREHOUSE_URL}",
            data__schema="${WAREHOUSE_SCHEMA}",
            mlflow__trackingUri="${TEAM_MLFLOW_URI}",
        )
    )
    assert spec.data.connection == "postgresql://wh/analytics"
    assert spec.data.schema_ == "features"
    assert spec.mlflow.trackingUri == "http://mlflow.internal:5000"


@pytest.mark.parametrize(
    "field",
    ["displayName", "algorithm", "dashboard", "mlStore__storage", "scoring__query", "training__selectBy"],
)
def test_free_text_and_catalog_fields_never_expand(monkeypatch: pytest.MonkeyPatch, field: str) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://wh/analytics")  # allowed: the field is what refuses it
    problems = _problems(_spec_text(**{field: "x ${WAREHOUSE_URL}"}))
    assert any(where.startswith(field.replace("__", ".")) and "does not expand" in msg for where, msg in problems)


def test_a_list_of_free_text_refuses_variables_with_its_index() -> None:
    problems = _problems(_spec_text(limitations=["fine", "see ${WAREHOUSE_URL}"]))
    assert problems[0][0].startswith("limitations[1] (line ")


def test_a_name_outside_the_allow_list_is_refused_until_the_operator_lists_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_DSN", "postgresql://acme/db")
    problems = _problems(_spec_text(data__connection="${ACME_DSN}"))
    assert "${ACME_DSN} is not an allowed variable" in problems[0][1]
    monkeypatch.setenv("MLPUBLISH_SPEC_VARIABLES", "OTHER, ACME_*")
    assert parse_spec(_spec_text(data__connection="${ACME_DSN}")).data.connection == "postgresql://acme/db"


@pytest.mark.parametrize("name", ["DB_PASSWORD", "ACME_TOKEN_URL", "S3_SECRET_PATH", "API_KEY", "GCP_CREDENTIALS"])
def test_credential_names_need_their_exact_name_listed(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("MLPUBLISH_SPEC_VARIABLES", "*")  # a pattern does not let a credential through
    assert "looks like a credential" in (variable_refusal(name) or "")
    monkeypatch.setenv("MLPUBLISH_SPEC_VARIABLES", f"X,{name}")
    assert variable_refusal(name) is None


def test_a_listed_credential_expands_in_a_deployment_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WH_PASSWORD", "pa55word")
    monkeypatch.setenv("MLPUBLISH_SPEC_VARIABLES", "WH_PASSWORD")
    spec = parse_spec(_spec_text(data__connection="postgresql://u:${WH_PASSWORD}@db/x"))
    assert spec.data.connection == "postgresql://u:pa55word@db/x"


def test_no_error_echoes_an_expanded_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # data.database must be an identifier: the refusal would quote the value, it names the variable instead
    monkeypatch.setenv("PROD_WAREHOUSE_DATABASE", "not an ident; s3cr3t-ish")
    exc = parse_error(_spec_text(data__database="${PROD_WAREHOUSE_DATABASE}"))
    assert "s3cr3t-ish" not in str(exc)
    assert "(got <the value of ${PROD_WAREHOUSE_DATABASE}>)" in str(exc)
    # a validator that quotes its input (dataSourceFqn's 'got ...') is hidden the same way
    monkeypatch.setenv("WAREHOUSE_SCHEMA", "leaky.schema.value")
    d = churn()
    d["mlFeatures"][0]["featureSources"] = [
        {"name": "c", "dataType": "integer", "dataSourceFqn": "warehouse.main.${WAREHOUSE_SCHEMA}.orders"}
    ]
    exc = parse_error(dump(d))
    assert "leaky.schema.value" not in str(exc)
    assert "<the value of ${WAREHOUSE_SCHEMA}>" in str(exc)


def test_double_dollar_escapes_in_every_field() -> None:
    spec = parse_spec(_spec_text(description="costs $$5, see $${OPENMETADATA_JWT_TOKEN}"))
    assert spec.description == "costs $5, see ${OPENMETADATA_JWT_TOKEN}"


def test_the_rule_lives_beside_the_field() -> None:
    marked = {
        f"{m.__name__}.{f.alias or n}"
        for m in (*reference_models(), *environment_models())
        for n, f in m.model_fields.items()
        if expands_variables(f)
    }
    assert "DataSpec.connection" in marked and "MlflowOverlay.trackingUri" in marked
    assert not any(expands_variables(f) for f in Spec.model_fields.values())  # description, server, ...


# --------------------------------------------------------------------------
# The environments file


def test_environments_file_follows_the_same_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLPUBLISH_ENV", raising=False)
    monkeypatch.delenv("MLPUBLISH_ENVIRONMENTS", raising=False)
    (tmp_path / "churn.yaml").write_text(dump(churn()))
    env = tmp_path / "environments.yaml"
    env.write_text("environments:\n  dev:\n    description: 'for ${OPENMETADATA_JWT_TOKEN}'\n")
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "churn.yaml", env="dev")
    assert err.value.problems[0][0].startswith("environments.dev.description (line 3)")
    assert TOKEN not in str(err.value)
    env.write_text("environments:\n  dev:\n    warehouse: {connection: '${OPENMETADATA_JWT_TOKEN}'}\n")
    with pytest.raises(SpecError, match="looks like a credential") as err:
        load_spec(tmp_path / "churn.yaml", env="dev")
    assert TOKEN not in str(err.value)
    monkeypatch.setenv("DEV_WAREHOUSE_URL", "sqlite:///dev.db")
    env.write_text("default: dev\nenvironments:\n  dev:\n    warehouse: {connection: '${DEV_WAREHOUSE_URL}'}\n")
    assert load_spec(tmp_path / "churn.yaml").data.connection == "sqlite:///dev.db"


def test_a_short_value_is_hidden_where_it_is_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_SCHEMA", "a;b")
    exc = parse_error(_spec_text(data__schema="${WAREHOUSE_SCHEMA}"))
    assert "'a;b'" not in str(exc) and "(got <the value of ${WAREHOUSE_SCHEMA}>)" in str(exc)

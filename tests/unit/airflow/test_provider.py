"""The provider registration (mlpublish_airflow.provider): the info dict passes Airflow's own schema, the
entry point is installed, and Airflow's CLI discovers the provider with its connection types and links."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest.importorskip("airflow.sdk")

AIRFLOW = Path(sys.executable).parent / "airflow"
OUR_TYPES = {"mlpublish_mlflow", "mlpublish_openmetadata", "mlpublish_warehouse", "mlpublish_catalog"}


def test_provider_info_is_valid_against_airflows_runtime_schema():
    import jsonschema
    from airflow.providers_manager import _create_provider_info_schema_validator

    from mlpublish_airflow.provider import get_provider_info

    info = get_provider_info()
    _create_provider_info_schema_validator().validate(info)  # what ProvidersManager runs on every provider
    assert info["package-name"] == "mlpublish"  # must equal the distribution's canonical name
    assert {c["connection-type"] for c in info["connection-types"]} == OUR_TYPES
    with pytest.raises(jsonschema.ValidationError):  # the validator is not a rubber stamp
        _create_provider_info_schema_validator().validate({**info, "connection-types": [{"hook-class-name": "x"}]})


def import_string(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_every_declared_class_and_module_imports_and_each_hook_declares_its_type():
    from airflow.sdk import BaseOperatorLink

    from mlpublish_airflow.provider import get_provider_info

    info = get_provider_info()
    for conn in info["connection-types"]:
        hook = import_string(conn["hook-class-name"])
        assert hook.conn_type == conn["connection-type"] and hook.hook_name == conn["hook-name"]
        assert hook.default_conn_name and hook.conn_name_attr
        # the declarative form and the hook's form methods say the same
        assert set(hook.get_ui_field_behaviour()["relabeling"]) == set(conn["ui-field-behaviour"]["relabeling"])
    for link in info["extra-links"]:
        assert issubclass(import_string(link), BaseOperatorLink)
    for section in ("operators", "hooks"):
        for module in info[section][0]["python-modules"]:
            importlib.import_module(module)


def test_the_entry_point_is_installed():
    found = [ep for ep in entry_points(group="apache_airflow_provider") if ep.dist.name == "mlpublish"]
    assert [ep.value for ep in found] == ["mlpublish_airflow.provider:get_provider_info"]


def airflow_cli(tmp_path: Path, *args: str) -> str:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow-home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    out = subprocess.run(
        [str(AIRFLOW), *args, "-o", "json"], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _json(text: str):
    return json.loads(text[text.index("[") :])  # the CLI may print a notice before the table


def test_airflow_cli_lists_the_provider_its_connection_types_and_links(tmp_path):
    listed = {p["package_name"]: p for p in _json(airflow_cli(tmp_path, "providers", "list"))}
    assert "mlpublish" in listed
    full = _json(airflow_cli(tmp_path, "providers", "get", "mlpublish", "--full"))[0]
    assert {c["connection-type"] for c in full["connection-types"]} == OUR_TYPES
    hooks = {h["connection_type"]: h for h in _json(airflow_cli(tmp_path, "providers", "hooks"))}
    assert OUR_TYPES <= set(hooks)
    assert hooks["mlpublish_mlflow"]["class"] == "mlpublish_airflow.hooks.MlflowHook"
    assert hooks["mlpublish_mlflow"]["package_name"] == "mlpublish"
    links = json.dumps(_json(airflow_cli(tmp_path, "providers", "links")))
    assert "mlpublish_airflow.links.MlflowRunLink" in links and "mlpublish_airflow.links.CatalogEntityLink" in links


def test_the_provider_info_imports_nothing_of_airflow():
    """Airflow calls get_provider_info while it initialises, inside whatever import started it (our modules
    import airflow.sdk): an import of Airflow or of a hook from there was a circular import."""
    import subprocess
    import sys

    code = (
        "import sys; from mlpublish_airflow.provider import get_provider_info; get_provider_info(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow' or m == 'mlpublish_airflow.hooks'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_hooks_carry_the_declared_connection_types():
    from mlpublish_airflow.connection_types import ALL
    from mlpublish_airflow.hooks import CatalogStoreHook, MlflowHook, OpenMetadataHook, WarehouseHook

    for hook, declared in zip((MlflowHook, OpenMetadataHook, WarehouseHook, CatalogStoreHook), ALL, strict=True):
        assert declared.hook_class == f"mlpublish_airflow.hooks.{hook.__qualname__}"
        assert (hook.conn_type, hook.hook_name, hook.default_conn_name) == (
            declared.conn_type,
            declared.hook_name,
            declared.default_conn_name,
        )
        assert hook.conn_fields == declared.conn_fields and hook.ui_field_behaviour == declared.ui_field_behaviour

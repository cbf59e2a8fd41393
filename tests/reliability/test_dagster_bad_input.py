"""Issue 7, bad input, the Dagster side (it runs in .venv-dagster, Makefile DAGSTER_TESTS): for every load-stage
case of the corpus the code location still loads (issue 32: a bad spec never errors the location), serves the
control spec's assets, and reports the bad file as its own asset naming the file and the field, as
``mlpublish check`` does; ``discover`` (strict) refuses it with the same error."""

from __future__ import annotations

import pytest

from mlpublish.errors import SpecError
from mlpublish_dagster.definitions import build_definitions
from mlpublish_dagster.specs import discover
from tests.support.bad_input import CONTROL, MANIFEST, load_stage, materialize


def test_dagster_code_location_reports_each_load_stage_case_and_keeps_the_control(tmp_path, reliability_tally):
    for name in load_stage():
        folder = tmp_path / name.replace(".", "_")
        (folder / "control.yaml").parent.mkdir(parents=True)
        (folder / "control.yaml").write_text(CONTROL.read_text())
        path = materialize(name, folder)
        with pytest.raises(SpecError) as info:
            discover(folder)
        assert info.value.path == str(path)
        assert MANIFEST[name]["field"] in str(info.value) and MANIFEST[name]["phrase"] in str(info.value), name
        defs = build_definitions(folder, "local")  # loads: never an errored code location
        keys = set(defs.resolve_all_asset_keys())
        invalid = [k for k in keys if k.path[0] == "invalid_spec"]
        assert len(invalid) == 1, (name, invalid)
        assert any(k.path[-1] == "champion_model" for k in keys if k not in invalid), name  # the control is served
        (spec,) = defs.resolve_assets_def(invalid[0]).specs_by_key.values()
        assert str(path) in spec.description, name
        assert MANIFEST[name]["field"] in spec.description and MANIFEST[name]["phrase"] in spec.description, name
    reliability_tally.add("bad_input", dagster_rejected=len(load_stage()))

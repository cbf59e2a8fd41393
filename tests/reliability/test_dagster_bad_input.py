"""Issue 7, bad input, the Dagster side (it runs in .venv-dagster, Makefile DAGSTER_TESTS): the code location
refuses every load-stage case of the corpus with the file and the field, as ``mlpublish check`` does."""

from __future__ import annotations

import pytest

from mlpublish.errors import SpecError
from mlpublish_dagster.definitions import build_definitions
from tests.support.bad_input import CONTROL, MANIFEST, load_stage, materialize


def test_dagster_code_location_refuses_each_load_stage_case(tmp_path, reliability_tally):
    for name in load_stage():
        folder = tmp_path / name.replace(".", "_")
        (folder / "control.yaml").parent.mkdir(parents=True)
        (folder / "control.yaml").write_text(CONTROL.read_text())
        path = materialize(name, folder)
        with pytest.raises(SpecError) as info:
            build_definitions(folder, "local")
        assert info.value.path == str(path)
        assert MANIFEST[name]["field"] in str(info.value) and MANIFEST[name]["phrase"] in str(info.value), name
    reliability_tally.add("bad_input", dagster_rejected=len(load_stage()))

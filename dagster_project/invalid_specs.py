"""What an invalid spec becomes in Dagster: an asset of its own, so that the code location still loads.

A code location that raises while loading shows as errored and serves none of its assets; so a bad spec file
is reported instead as the asset ``invalid_spec/<file stem>`` in the group ``invalid_specs``: its description
and definition metadata carry the spec's whole error (file, line, field), and materialising it fails with that
error. The load also logs a warning naming the file. Fix or remove the file and reload the code location: the
asset goes, the model's assets come.
"""

from __future__ import annotations

import logging

from dagster import AssetKey, AssetsDefinition, MetadataValue, asset

from mlpublish_dagster.specs import InvalidSpec, dagster_name

INVALID_GROUP = "invalid_specs"
INVALID_PREFIX = "invalid_spec"

log = logging.getLogger("mlpublish_dagster")


def invalid_spec_key(bad: InvalidSpec, taken: set[AssetKey]) -> AssetKey:
    """``invalid_spec/<file stem>``; ``bad.yaml`` beside ``bad.yml`` gets its suffix too. A component's inline spec
    (its ``defs.yaml``) is named by the component's folder, as dg names the component."""
    stem = bad.path.parent.name if bad.path.name == "defs.yaml" else bad.path.stem
    key = AssetKey([INVALID_PREFIX, dagster_name(stem)])
    if key in taken:
        key = AssetKey([INVALID_PREFIX, dagster_name(stem + "_" + bad.path.suffix.lstrip("."))])
    return key


def invalid_spec_asset(bad: InvalidSpec, key: AssetKey) -> AssetsDefinition:
    """The asset standing for one invalid spec (see the module's docstring)."""
    error = bad.error
    log.warning("mlpublish: the spec %s is invalid; its model is not loaded:\n%s", bad.path, error)

    @asset(
        key=key,
        group_name=INVALID_GROUP,
        description=f"INVALID SPEC: its model has no assets until the file is fixed.\n\n{error}",
        metadata={
            "spec_file": MetadataValue.path(str(bad.path)),
            "error": MetadataValue.md(f"```\n{error}\n```"),
        },
        tags={"mlpublish/invalid_spec": "true"},
    )
    def _invalid_spec() -> None:
        raise error

    return _invalid_spec

"""mlpublish as a Dagster component: ``dg scaffold defs mlpublish_dagster.component.MlpublishComponent <name>``.

The scaffold writes ``defs.yaml`` and a starter spec beside it; ``defs.yaml`` names a spec file or a folder of
specs (``spec_path``) or carries one spec inline (``spec``), and may set the environment, the resource set and
prefix, the retraining schedule and whether the sensors are built. The component builds what the factory builds
(factory.py): the same assets, checks, jobs, schedules and sensors. ``dg list components`` finds it through the
``dagster_dg_cli.registry_modules`` entry point in pyproject.toml.

    type: mlpublish_dagster.component.MlpublishComponent
    attributes:
      spec_path: churn.yaml
      environment: dev
      resource_prefix: mlpublish_
      schedule: "0 4 * * 1"
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import dagster as dg
import yaml

from mlpublish.errors import SpecError
from mlpublish_dagster.factory import definitions_for
from mlpublish_dagster.specs import InvalidSpec, SpecRef, collect, dagster_name, spec_ref, survey
from mlpublish_dagster.translator import MlpublishTranslator

STARTER_SPEC = "spec.yaml"


class MlpublishScaffolder(dg.Scaffolder):
    """``dg scaffold defs``: a ``defs.yaml`` pointing at a starter spec (the demo's churn model) to edit."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        from mlpublish.demo.run import bundled_spec  # the wheel's copy, else the checkout's specs/churn.yaml

        (request.target_path / STARTER_SPEC).write_text(bundled_spec().read_text(encoding="utf-8"), encoding="utf-8")
        dg.scaffold_component(request, {"spec_path": STARTER_SPEC})


@dg.scaffold_with(MlpublishScaffolder)
class MlpublishComponent(dg.Component, dg.Resolvable, dg.Model):
    """A model's gated publish chain (train, evaluate, validate, register, promote, score, monitor) from its spec."""

    spec_path: str | None = None  # a spec file, or a folder of specs, relative to this defs.yaml
    spec: dict[str, Any] | None = None  # or one spec inline
    environment: str | None = None  # the specs' environment (None: MLPUBLISH_ENV, else the file's default)
    deployment: Literal["local", "prod"] | None = None  # the resource set (None: MLPUBLISH_DEPLOYMENT)
    resource_prefix: str = ""  # mlpublish's resource keys become <prefix>mlflow, <prefix>warehouse...
    schedule: str | None = None  # the retraining cron, instead of the spec's own
    sensors: bool = True  # the retraining and notification sensors
    running: bool | None = None  # schedules and sensors start running (None: only in prod)
    # the translator's decisions, as data: keys <prefix...>/<model>/<noun>, one group for every model, and the
    # upstream asset each feature table is ("analytics/{training_table}": a dbt model of the same name)
    asset_key_prefix: list[str] = []
    group_name: str | None = None
    feature_table_key: str | None = None

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        self.check_feature_table_key(context.path / "defs.yaml")
        refs, invalid = self.read_specs(context.path)
        if self.schedule is not None:
            refs = [replace(ref, schedule=self.schedule) for ref in refs]
        return definitions_for(
            refs,
            invalid,
            resource_prefix=self.resource_prefix,
            translator=AttributesTranslator(self.asset_key_prefix, self.group_name, self.feature_table_key),
            deployment=self.deployment,
            running=self.running,
            sensors=self.sensors,
            # one project holds a component per model: each has its own notification sensors
            sensor_prefix=f"{self.resource_prefix}{dagster_name(context.path.name)}_",
        )

    def check_feature_table_key(self, defs_yaml: Path) -> None:
        try:
            if self.feature_table_key is not None:
                self.feature_table_key.format(training_table="t", model="m")
        except (KeyError, IndexError, ValueError) as exc:
            problem = f"{self.feature_table_key!r}: the placeholders are {{training_table}} and {{model}} ({exc})"
            raise SpecError(str(defs_yaml), [("attributes.feature_table_key", problem)]) from None

    def read_specs(self, folder: Path) -> tuple[list[SpecRef], list[InvalidSpec]]:
        """The specs this component serves, each validated as the factory validates them."""
        defs_yaml = folder / "defs.yaml"
        if (self.spec_path is None) == (self.spec is None):
            raise SpecError(str(defs_yaml), [("attributes", "give spec_path (a spec file or folder) or spec, one")])
        if self.spec is not None:
            text = yaml.safe_dump(self.spec, sort_keys=False)
            return collect([defs_yaml], lambda path: spec_ref(path, self.environment, text))
        target = (folder / self.spec_path).resolve()
        if target.is_dir():
            return survey(target, self.environment)
        return collect([target], lambda path: spec_ref(path, self.environment))


class AttributesTranslator(MlpublishTranslator):
    """The component's ``asset_key_prefix``, ``group_name`` and ``feature_table_key`` over the default placement."""

    def __init__(self, key_prefix: list[str], group: str | None, feature_table: str | None) -> None:
        self.key_prefix, self.group, self.feature_table = list(key_prefix), group, feature_table

    def get_asset_key(self, ref: SpecRef, noun: str) -> dg.AssetKey:
        return dg.AssetKey([*self.key_prefix, ref.key, noun])

    def get_group_name(self, ref: SpecRef) -> str:
        return self.group or ref.key

    def get_feature_table_key(self, ref: SpecRef) -> dg.AssetKey | None:
        if self.feature_table is None:
            return None
        path = self.feature_table.format(training_table=ref.training_table, model=ref.key)
        return dg.AssetKey.from_user_string(path)

"""Copy a validated model version from one environment to another (``mlpublish promote NAME --from A --to B``).

The default is to promote code, not models: prod retrains from the same spec and
commit. Teams that promote models copy a PASSED version instead:

* Both environments share a registry (same registry URI, names told apart by the
  prefix): MLflow's ``MlflowClient.copy_model_version``. The copy's source is
  ``models:/<source name>/<version>``, its run is the source run, its tags are
  the source version's (validation status included).
* Separate registries: ``copy_model_version`` cannot work (the destination store
  would resolve ``models:/...`` and the run id in its own registry, where they do
  not exist), so the model files are downloaded from the source and registered in
  the target from the copy run below, with the source version's tags.

Either way the target environment gets a *copy run* in its own experiment: the
source run's params, metrics, tags and artifacts (held-out rows, evaluation,
model card...) and its ``catalog/events.json`` rewritten to the target's model
name and service names. The version's ``mlpublish.catalog_run`` tag points at it,
so a later champion move in the target publishes the target's names.

The copy lands as ``challenger`` (``--as champion`` moves champion through the
ordinary manual-promotion path, under the registry lock). Copying again finds the
earlier copy (tag ``mlpublish.copied_from``, or the ``models:/`` source) and makes
no second version.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpublish import config
from mlpublish.catalog import publish
from mlpublish.catalog.events import SetModelProperties, parse_events
from mlpublish.deployment import for_environment
from mlpublish.errors import GateFailed, MlpublishError, NoChampion, NotFound, RegistryError
from mlpublish.promotion import promote_version
from mlpublish.redact import scrub
from mlpublish.registry import Registry, escape_filter_value, provenance
from mlpublish.registry.contract import (
    CATALOG_EVENTS_ARTIFACT,
    CATALOG_FQN_TAG,
    CATALOG_RUN_TAG,
    CHALLENGER,
    CHAMPION,
    CHAMPION_SINCE_TAG,
    COPIED_FROM_RUN_TAG,
    COPIED_FROM_TAG,
    COPY_COMPLETE_TAG,
    ENVIRONMENT_TAG,
    GIT_COMMIT_TAG,
    MODEL_NAME_IN_RUN,
    MODEL_TAG,
    PASSED,
    ROLLED_BACK_AT_TAG,
    SOURCE_NAME_TAG,
    VALIDATION_TAG,
)
from mlpublish.spec.environments import Environment

log = logging.getLogger("mlpublish.copy")

# Facts about the source environment's champion, not about the copy
SOURCE_ONLY_VERSION_TAGS = (CHAMPION_SINCE_TAG, ROLLED_BACK_AT_TAG)


@dataclass(frozen=True)
class CopyResult:
    source: str  # environment:name/version
    model_name: str
    version: str
    created: bool
    alias: str
    copy_run_id: str
    same_registry: bool
    promotion: Any = None  # the PromoteResult of --as champion

    @property
    def reason(self) -> str:
        how = "MLflow copy_model_version" if self.same_registry else "files copied across registries"
        return (
            f"{self.source} -> {self.model_name} v{self.version} ({'copied' if self.created else 'already copied'}, "
            f"{how}; copy run {self.copy_run_id}), alias {self.alias}"
        )


def registry_for(env: Environment) -> Registry:
    return for_environment(env).open_registry()


def copy_version(
    name: str, source: Environment, target: Environment, version: str | None = None, alias: str = CHALLENGER
) -> CopyResult:
    """Copy ``name`` (the spec's name, without environment prefix) from ``source`` to ``target``."""
    target.require_writable(f"copy {name} into it")
    if source.name == target.name:
        raise RegistryError(f"--from and --to are both {source.name!r}: nothing to copy")
    src_reg, dst_reg = registry_for(source), registry_for(target)
    src_name, dst_name = source.registered_name(name), target.registered_name(name)
    if version is None:
        version = src_reg.alias_version(src_name, CHAMPION)
        if version is None:
            raise NoChampion(f"{src_name} has no {CHAMPION} in environment {source.name!r}: give --version N")
    mv = src_reg.get_version(src_name, version)
    version = str(mv.version)
    status = (mv.tags or {}).get(VALIDATION_TAG)
    if status != PASSED:
        raise GateFailed(
            f"{src_name} v{version} in environment {source.name!r} has {VALIDATION_TAG}="
            f"{status or 'unset'}: only PASSED versions are copied to {target.name!r}",
            model=src_name,
            version=version,
        )
    origin = f"{source.name}:{src_name}/{version}"
    same_registry = source.registry_uri() == target.registry_uri()
    src_run = src_reg.run(mv.run_id)

    with dst_reg.lock(dst_name):
        copy_run_id, catalog_events = _copy_run(
            src_reg, dst_reg, src_run, mv, origin, source, target, dst_name, with_model=not same_registry
        )
        existing = _existing_copy(dst_reg, dst_name, src_name, version, origin)
        created = existing is None
        if existing is not None:
            new = existing
        elif same_registry:
            new = dst_reg.copy_version(f"models:/{src_name}/{version}", dst_name, what=f"copy {origin} to {dst_name!r}")
        else:
            dst_reg.ensure_registered_model(dst_name, mv.description)
            run = dst_reg.run(copy_run_id)
            tags = {k: v for k, v in (mv.tags or {}).items() if k not in SOURCE_ONLY_VERSION_TAGS}
            new = dst_reg.create_version(
                dst_name,
                f"{run.info.artifact_uri}/{MODEL_NAME_IN_RUN}",
                copy_run_id,
                None,
                {**tags, COPIED_FROM_TAG: origin},
                mv.description,
            )
        new_version = str(new.version)
        _complete_tags(dst_reg, dst_name, new_version, origin, copy_run_id, target.name)
        fqn = next((e.fqn for e in catalog_events if e.kind == "upsert_mlmodel"), None)
        if fqn and dst_reg.model_tags(dst_name).get(CATALOG_FQN_TAG) != fqn:
            dst_reg.set_model_tag(dst_name, CATALOG_FQN_TAG, fqn)
        champion = dst_reg.alias_version(dst_name, CHAMPION)
        if (
            alias == CHALLENGER
            and champion != new_version
            and dst_reg.alias_version(dst_name, CHALLENGER) != new_version
        ):
            dst_reg.set_alias(dst_name, CHALLENGER, new_version)

    catalog = for_environment(target).open_catalog()
    if fqn:
        events: list[Any] = list(catalog_events) if catalog.get(fqn) is None else []
        events.append(
            SetModelProperties(
                fqn=fqn,
                properties={
                    "latestVersion": new_version,
                    "aliases": json.dumps(dst_reg.aliases(dst_name), sort_keys=True),
                    "copiedFrom": origin,
                    **provenance.catalog_properties({**src_run.data.tags, ENVIRONMENT_TAG: target.name}),
                },
            )
        )
        publish(catalog, events, f"{dst_name} v{new_version} (copied from {origin})")
    if alias == CHAMPION:
        promotion = promote_version(dst_reg, catalog, dst_name, new_version, reason=f"copied from {origin}")
    else:
        promotion = None
    result = CopyResult(origin, dst_name, new_version, created, alias, copy_run_id, same_registry, promotion)
    log.info("%s", result.reason)
    return result


def _existing_copy(reg: Registry, dst_name: str, src_name: str, version: str, origin: str) -> Any | None:
    try:
        versions = reg.versions(dst_name)
    except NotFound:
        return None
    source = f"models:/{src_name}/{version}"  # a same-registry copy interrupted before it was tagged
    return next((v for v in versions if (v.tags or {}).get(COPIED_FROM_TAG) == origin or v.source == source), None)


def _complete_tags(reg: Registry, name: str, version: str, origin: str, copy_run_id: str, env: str) -> None:
    """Idempotent: a retry after a crash between the copy and its tags finishes them."""
    mv = reg.get_version(name, version)
    tags = mv.tags or {}
    wanted = {COPIED_FROM_TAG: origin, CATALOG_RUN_TAG: copy_run_id, ENVIRONMENT_TAG: env}
    for key, value in wanted.items():
        if tags.get(key) != value:
            reg.set_version_tag(name, version, key, value)
    for key in SOURCE_ONLY_VERSION_TAGS:
        if key in tags:
            reg.delete_version_tag(name, version, key)


def _copy_run(
    src_reg: Registry,
    dst_reg: Registry,
    src_run: Any,
    mv: Any,
    origin: str,
    source: Environment,
    target: Environment,
    dst_name: str,
    *,
    with_model: bool,
) -> tuple[str, list[Any]]:
    """The target's copy run (found again on a retry) and its rewritten catalog events."""
    exp_id = dst_reg.ensure_experiment(f"mlpublish/{dst_name}", config.artifact_root(dst_reg.tracking_uri))
    found = dst_reg.search_runs(
        [exp_id], f"tags.`{COPIED_FROM_TAG}` = '{escape_filter_value(origin)}'", what="search copy runs"
    )
    for run in found:
        if run.data.tags.get(COPY_COMPLETE_TAG) == "true":
            return run.info.run_id, _read_events(dst_reg, run.info.run_id)
        dst_reg.delete_run(run.info.run_id)

    src_tags = src_run.data.tags
    keep = {k: v for k, v in src_tags.items() if not k.startswith("mlflow.") or k in (GIT_COMMIT_TAG, SOURCE_NAME_TAG)}
    tags = {
        **keep,
        ENVIRONMENT_TAG: target.name,
        COPIED_FROM_TAG: origin,
        COPIED_FROM_RUN_TAG: src_run.info.run_id,
        MODEL_TAG: dst_name,
    }
    run_id = dst_reg.create_run(exp_id, f"{dst_name}-copy-of-{source.name}-v{mv.version}", tags, what="create copy run")
    dst_reg.log_batch(run_id, src_run.data.metrics, src_run.data.params, what="copy params and metrics")
    run = dst_reg.run(run_id)
    with tempfile.TemporaryDirectory() as tmp:
        files = Path(tmp) / "run"
        files.mkdir()
        try:
            src_reg.download_artifacts(src_run.info.run_id, dst_path=str(files))
        except MlpublishError as exc:
            raise RegistryError(
                scrub(f"cannot read the artifacts of {origin} (run {src_run.info.run_id}): {exc}")
            ) from None
        events_path = files / CATALOG_EVENTS_ARTIFACT
        events: list[Any] = []
        if events_path.is_file():
            model_dir = f"{run.info.artifact_uri}/{MODEL_NAME_IN_RUN}" if with_model else None
            events = rewrite_events(parse_events(json.loads(events_path.read_text())), dst_name, target, model_dir)
            events_path.write_text(json.dumps([e.model_dump(mode="json") for e in events], indent=2))
        if with_model:
            model = Path(tmp) / "model"
            model.mkdir()
            try:
                src_reg.download_version(mv.name, mv.version, str(model))
            except MlpublishError as exc:
                raise RegistryError(scrub(f"cannot download the model files of {origin}: {exc}")) from None
            inner = [p for p in model.iterdir()]
            dst_reg.log_artifacts(
                run_id,
                str(inner[0] if len(inner) == 1 and inner[0].is_dir() and not (model / "MLmodel").exists() else model),
                MODEL_NAME_IN_RUN,
                what="upload the model files",
            )
        dst_reg.log_artifacts(run_id, str(files), what="upload the run artifacts")
    dst_reg.set_run_tag(run_id, COPY_COMPLETE_TAG, "true")
    dst_reg.end_run(run_id, "FINISHED", what="finish copy run")
    return run_id, events


def _read_events(reg: Registry, run_id: str) -> list[Any]:
    try:
        path = reg.download_artifacts(run_id, CATALOG_EVENTS_ARTIFACT)
    except MlpublishError:
        return []
    with open(path) as fh:
        return parse_events(json.load(fh))


def rewrite_events(events: list[Any], dst_name: str, target: Environment, model_dir: str | None) -> list[Any]:
    """The source run's entity and lineage under the target's model name and service names.

    Names the target environment does not set (serviceName, warehouse.service) stay as in the source.
    """
    model_ev = next((e for e in events if e.kind == "upsert_mlmodel"), None)
    if model_ev is None:
        return events
    old_fqn = model_ev.fqn
    service = target.settings.serviceName or model_ev.entity.get("service") or old_fqn.split(".", 1)[0]
    new_fqn = f"{service}.{dst_name}"
    training = next((e.from_fqn for e in events if e.kind == "add_lineage" and e.to_type == "mlmodel"), None)
    old_ws = training.split(".", 1)[0] if training else None
    new_ws = target.settings.warehouse.service or old_ws

    def name(value: str) -> str:
        if value == old_fqn or value.startswith(old_fqn + "."):
            return new_fqn + value[len(old_fqn) :]
        if old_ws and new_ws and value.startswith(old_ws + "."):
            return new_ws + value[len(old_ws) :]
        return value

    out: list[Any] = []
    for ev in events:
        data = ev.model_dump(mode="json")
        if ev.kind == "upsert_mlmodel":
            entity = data["entity"]
            entity.update(name=dst_name, service=service)
            if entity.get("displayName") in (None, model_ev.entity.get("name")):
                entity["displayName"] = dst_name
            for feature in entity.get("mlFeatures", []):
                for src in feature.get("featureSources", []):
                    ref = src.get("dataSource")
                    if ref and ref.get("fullyQualifiedName"):
                        ref["fullyQualifiedName"] = name(ref["fullyQualifiedName"])
            if model_dir and entity.get("mlStore", {}).get("storage"):
                entity["mlStore"]["storage"] = model_dir
            data["fqn"] = new_fqn
        elif ev.kind == "add_lineage":
            data["from_fqn"], data["to_fqn"] = name(data["from_fqn"]), name(data["to_fqn"])
            if data.get("description") and model_ev.entity.get("name"):  # "training data of <model>"
                data["description"] = data["description"].replace(model_ev.entity["name"], dst_name)
            for col in data.get("columns", []):
                col["fromColumns"] = [name(c) for c in col["fromColumns"]]
                col["toColumn"] = name(col["toColumn"])
        elif "fqn" in data:
            data["fqn"] = name(data["fqn"])
        out.append(data)
    return parse_events(out)

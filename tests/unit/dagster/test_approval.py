"""The Dagster approval path (mlpublish_dagster.approval): a spec that requires approval gets a sensor and a job;
the sensor asks for one run per recorded approval; the job's op promotes on the recorded approval."""

from __future__ import annotations

from dagster import build_sensor_context

from mlpublish.promotion.approval import approve_version
from mlpublish.promotion.approval_rule import open_request
from mlpublish.registry.contract import CHAMPION, PASSED, VALIDATION_TAG
from mlpublish.spec.models import Promotion
from mlpublish_dagster.approval import VERSION_TAG, approval_definitions, approved_runs
from mlpublish_dagster.definitions import build_definitions
from mlpublish_dagster.specs import survey
from tests.conftest import churn_dict, write_spec


def test_only_a_spec_that_requires_approval_gets_the_sensor_and_job(tmp_path):
    write_spec(tmp_path / "plain.yaml", churn_dict(name="plain_model"))
    write_spec(tmp_path / "guarded.yaml", churn_dict(name="guarded_model", promotion={"approval": "required"}))
    refs, invalid = survey(tmp_path)
    assert not invalid
    built = {ref.name: approval_definitions(ref, running=False) for ref in refs}
    assert built["plain_model"] == {"jobs": [], "sensors": []}
    (job,), (sensor,) = built["guarded_model"]["jobs"], built["guarded_model"]["sensors"]
    assert sensor.job_name == job.name == "guarded_model_promote_approved"
    defs = build_definitions(tmp_path, "local")
    assert defs.get_job_def("guarded_model_promote_approved") is not None
    assert defs.get_sensor_def("guarded_model_approval_sensor") is not None


def test_a_recorded_approval_runs_the_promotion(workspace, monkeypatch):
    """The approver records the approval; the sensor asks for one run; the job's op makes the version champion
    on that approval (run here in process, with the code location's resources) and notifies who approved."""
    from mlpublish_dagster.resources import CatalogResource, MlflowResource
    from tests.support.notify_receivers import HttpReceiver

    (workspace.root / "specs").mkdir()
    write_spec(
        workspace.root / "specs" / "guarded.yaml", churn_dict(name="guarded", promotion={"approval": "required"})
    )
    (ref,), _ = survey(workspace.root / "specs")
    (job,), (sensor,) = approval_definitions(ref, running=False).values()
    reg = workspace.registry()
    reg.client.create_registered_model("guarded")
    mv = reg.client.create_model_version("guarded", "mlpublish:/candidate", tags={VALIDATION_TAG: PASSED})
    open_request(reg, "guarded", str(mv.version), Promotion(approval="required"), "trainer")
    resources = {"mlflow": MlflowResource(), "catalog": CatalogResource(path=str(workspace.catalog_path))}
    assert approved_runs(reg, "guarded") == []
    approve_version(reg, None, "guarded", "1", reason="ok", approver="approver", move=False)
    with build_sensor_context(resources={"mlflow": resources["mlflow"]}) as context:
        (run,) = sensor.evaluate_tick(context).run_requests
    assert run.tags[VERSION_TAG] == "1" and run.run_key.startswith("approved-guarded-v1-")
    assert reg.alias_version("guarded", CHAMPION) is None
    with HttpReceiver() as http:
        monkeypatch.setenv("MLPUBLISH_NOTIFY_WEBHOOK_URL", http.url("/hook"))
        assert job.execute_in_process(resources=resources, tags={VERSION_TAG: run.tags[VERSION_TAG]}).success
        (sent,) = http.received("/hook")
    assert "approved by approver: ok" in sent["json"]["summary"]
    assert reg.alias_version("guarded", CHAMPION) == "1" and approved_runs(reg, "guarded") == []

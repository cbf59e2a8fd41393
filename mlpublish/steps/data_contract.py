"""The data contract in the publish chain: train learns and logs it, validate compares it with the champion's.

Train learns the contract from every labelled row it read (the rows trained on and the rows held out: the model
was fitted on the one and evaluated on the other, so both are inputs it is proven on; and the contract then
describes the table, not the luck of a split, so two versions trained on the same rows have the same contract).
It is logged on the training run at :data:`~mlpublish.contracts.CONTRACT_ARTIFACT`.
"""

from __future__ import annotations

import logging
from typing import Any

from mlpublish.clock import now_iso
from mlpublish.contracts.diff import ContractChange, diff_contracts
from mlpublish.contracts.learn import learn_contract, summary
from mlpublish.contracts.model import CONTRACT_ARTIFACT, DataContract
from mlpublish.deployment.context import PublishContext
from mlpublish.evaluation.gates import CheckResult
from mlpublish.promotion import artifact_run_id, run_contract
from mlpublish.redact import scrub

log = logging.getLogger("mlpublish.contract")
CHECK_NAME = "data contract vs champion"


def log_contract(ctx: PublishContext, run_id: str, frame: Any) -> DataContract:
    """Learn the contract of the features from ``frame`` (the labelled rows read) and log it on ``run_id``."""
    contract = learn_contract(frame, ctx.spec, table_fqn=ctx.preflight.training_fqn, learned_at=now_iso())
    ctx.registry.log_dict(run_id, contract.to_json(), CONTRACT_ARTIFACT)
    ctx.cache[("contract", run_id)] = contract
    log.info("%s: data contract of run %s: %s", ctx.spec.name, run_id, summary(contract))
    return contract


def candidate_contract(ctx: PublishContext, run_id: str) -> DataContract | None:
    """The contract train logged for ``run_id`` (this context's, else read back from MLflow); None: none logged."""
    key = ("contract", run_id)
    if key not in ctx.cache:
        ctx.cache[key] = run_contract(ctx.registry, run_id)
    return ctx.cache[key]


def contract_check(
    ctx: PublishContext, run_id: str, champion_version: str | None
) -> tuple[CheckResult, list[ContractChange]]:
    """The candidate's contract against the champion's: FAILED on a change ``data.contract.blocking`` names."""
    spec = ctx.spec
    blocking = spec.data.contract.blocking

    def result(outcome: str, detail: str) -> CheckResult:
        return CheckResult(check="contract", name=CHECK_NAME, outcome=outcome, detail=detail)

    if champion_version is None:
        return result("pass", "no champion to compare with"), []
    try:
        candidate = candidate_contract(ctx, run_id)
        if candidate is None:
            return result("pass", f"run {run_id} logged no data contract: nothing to compare"), []
        champion = run_contract(ctx.registry, artifact_run_id(ctx.registry.get_version(spec.name, champion_version)))
    except Exception as exc:  # noqa: BLE001 (unreadable: fail only when a change could have blocked)
        detail = f"cannot compare with the contract of champion v{champion_version}: {exc.__class__.__name__}: {exc}"
        return result("fail" if blocking else "pass", scrub(detail)), []
    if champion is None:
        return result("pass", f"champion v{champion_version} has no data contract (trained before contracts)"), []
    changes = diff_contracts(champion, candidate, spec.data.contract)
    blocked = [c for c in changes if c.blocking]
    if blocked:
        detail = "blocking (data.contract.blocking): " + "; ".join(c.describe() for c in blocked)
        others = [c.describe() for c in changes if not c.blocking]
        return result("fail", detail + (f"; not blocking: {'; '.join(others)}" if others else "")), changes
    if not changes:
        return result("pass", f"same contract as champion v{champion_version}"), changes
    return result(
        "pass", f"{len(changes)} change(s), none blocking: " + "; ".join(c.describe() for c in changes)
    ), changes

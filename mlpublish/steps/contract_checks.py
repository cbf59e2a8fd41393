"""The champion's data contract on a scoring or monitor run: the guard, the guarded predictor, the catalog record.

The score step wraps its predictor (:class:`GuardedPredictor`): each chunk is checked before the model sees it
(:class:`mlpublish.contracts.enforce.ContractGuard`, under ``scoring.onContractViolation``), and the rows held
back by quarantine travel with the predicted chunk to the writer. Both engines use it (the Spark engine pickles
it to its executors). At the end of a run, :func:`record_contract` emits the run's result of every rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mlpublish.catalog.events import RecordContractResults, UpsertDataContract
from mlpublish.clock import now_iso
from mlpublish.contracts.enforce import QUARANTINED, ContractGuard, ContractSummary, log_summary, rule_results
from mlpublish.contracts.model import DataContract
from mlpublish.deployment.context import PublishContext
from mlpublish.promotion.champion_entity import contract_name
from mlpublish.steps.scoring_inputs import load_contract


def quarantine_name(spec: Any, predictions_table: str | None) -> str | None:
    """``scoring.quarantineTable``, else ``<predictions table>_quarantine``."""
    if spec.scoring.quarantineTable:
        return spec.scoring.quarantineTable
    return f"{predictions_table}_quarantine" if predictions_table else None


def contract_guard(
    ctx: PublishContext, version: str, run_id: str, *, quarantine_table: str | None = None
) -> ContractGuard | None:
    """The guard of the champion's contract under ``scoring.onContractViolation``; None without a contract."""
    contract = load_contract(ctx, version, run_id)
    if contract is None:
        return None
    return ContractGuard(
        contract,
        ctx.spec.scoring.onContractViolation,
        label=f"{ctx.name} v{version}",
        quarantine_table=quarantine_table,
    )


class GuardedPredictor:
    """A predictor (``ChampionPredictor``) whose chunks are checked by ``guard`` first.

    The rows the guard holds back are not predicted; they ride on the predicted chunk's ``attrs[QUARANTINED]``
    to the writer, which puts them in the quarantine table in the scoring transaction. Other attributes
    (``keys``, ``model``, ``pos_index``) are the predictor's."""

    def __init__(self, predict: Any, guard: ContractGuard):
        self.predict, self.guard = predict, guard

    def __getattr__(self, name: str) -> Any:
        if name in ("predict", "guard"):  # not set yet (unpickling): never recurse
            raise AttributeError(name)
        return getattr(self.predict, name)

    def fresh(self) -> GuardedPredictor:
        """A copy with its own label check and tally (one per Spark task)."""
        return GuardedPredictor(self.predict.fresh(), self.guard.fresh())

    def reset(self) -> None:
        """Forget the rows counted so far: the scoring run starts over (warehouse.scoring.write_predictions)."""
        self.guard.reset()

    def __call__(self, frame: Any) -> Any:
        admitted, held = self.guard.admit(frame)
        if len(admitted):
            out = self.predict(admitted)
        else:  # the whole chunk held back: an empty chunk of the predicted columns
            out = admitted[self.predict.keys].copy()
            out["prediction"] = []
            if self.predict.pos_index is not None:
                out["probability"] = []
        if held is not None:
            out.attrs[QUARANTINED] = held
        return out


def record_contract(
    ctx: PublishContext, guard: ContractGuard | None, run_id: str, *, name: str
) -> ContractSummary | None:
    """The run's contract summary (logged), and its result of every rule in the catalog; None without a guard."""
    if guard is None:
        return None
    summary = guard.summary(name)
    log_summary(ctx.name, summary)
    emit_results(ctx, guard.contract, summary, run_id)
    return summary


def emit_results(ctx: PublishContext, contract: DataContract, summary: ContractSummary, run_id: str) -> None:
    """RecordContractResults on the training table (where the contract is): one entry per rule. The contract
    checked goes first (an idempotent upsert): results never arrive for a contract the catalog lacks (a champion
    promoted before the catalog was configured, or before contracts reached it)."""
    spec = ctx.spec
    table = ctx.preflight.warehouse.table_fqn(spec.data.trainingTable)
    name = contract_name(spec.name)
    ctx.emit(
        UpsertDataContract(
            table_fqn=table,
            name=name,
            model_fqn=spec.fqn,
            contract=contract.model_copy(update={"model": spec.name, "table": table}).to_json(),
        ),
        RecordContractResults(
            table_fqn=table,
            contract_name=name,
            run_id=run_id,
            at=now_iso(),
            results=rule_results(contract, summary, summary.rows_checked),
        ),
    )


@contextmanager
def contract_failure(ctx: PublishContext, guard: ContractGuard | None, run_id: str) -> Iterator[None]:
    """A run that fails having found violations (``fail``, or rows that cannot be scored) still records what it
    found in the catalog: the rules it broke are Failed there, then the error goes on."""
    try:
        yield
    except Exception:
        if guard is not None and guard.found:
            try:
                emit_results(ctx, guard.contract, guard.summary(f"{ctx.name}"), run_id)
            except Exception:  # the catalog is a courtesy here: the run's own error matters
                pass
        raise

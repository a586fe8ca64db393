"""Tasks of ``ns_contract_item_to_sf_contract_item``: NetSuite contract items to ``Contract_Item__c`` (nightly).

extract -> transform -> load -> report.

- ``extract`` reads the contract items in scope (changed in the run's window ``[start, end)``, the
  NetSuite ids of a manual run, or everything on a full resync), plus every item still waiting for its
  contract (the Airflow Variable :data:`WAITING_VARIABLE`), keyset-paged (yielded to
  ``@task.netsuite_extract``, whose operator reads them); then looks up which of their
  contracts exist in Salesforce (one SOQL query per chunk of contract ids).
- ``transform`` maps them to ``Contract_Item__c`` upserts by ``NetSuite_Id__c`` parented through the
  Contract's ``NetSuite_Id__c``. Items whose Contract is not in Salesforce yet are not written and not
  failed: they are skipped with reason ``waiting_for_contract``.
- ``load`` upserts (collections, or Bulk API 2.0 above the threshold), then rewrites the waiting list:
  items read in this run leave it (loaded or failed), items still waiting join it. Every later run
  re-reads them with its window until their Contract exists.
- ``report`` logs the run summary and fails the run when any record failed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from crsync import fields as f
from crsync.queries import (
    ChangeScope,
    chunked,
    contract_items_query,
    contracts_by_netsuite_ids_soql,
)
from crsync.records import ContractItemExtract, ContractItemPlan, RunSummary
from crsync.runtime.flows import common, retry
from crsync.runtime.flows.common import log_dry_run, netsuite_hook, run_scope
from crsync.settings import FlowId, load_settings
from crsync_provider.decorators import NetSuiteReadRequest, NetSuiteReads

log = logging.getLogger(__name__)

FLOW_ID = FlowId.CONTRACT_ITEM_TO_CONTRACT_ITEM.value
#: Airflow Variable holding the NetSuite ids of items waiting for their Contract (JSON list of integers).
WAITING_VARIABLE = f"{FLOW_ID}.waiting_item_ids"
WAITING_REASON = "waiting_for_contract"


def waiting_item_ids() -> list[int]:
    """The items remembered as waiting for their Contract (an unreadable value counts as none, logged)."""
    return retry.netsuite_ids_in_variable(WAITING_VARIABLE)


def extract(context: Any, *, window_length: timedelta) -> NetSuiteReads[dict[str, Any]]:
    """Items in scope plus the items waiting for their contract, and which contracts Salesforce has.

    A generator for ``@task.netsuite_extract``: it yields each SuiteQL read and receives its rows.
    """
    scope = run_scope(
        context, FLOW_ID, window_length=window_length, ids_param="netsuite_ids", read_overlap=True
    )
    settings = scope.settings
    page = settings.batch_sizes.suiteql_page
    hook = netsuite_hook()
    rows: list[dict[str, Any]] = []
    for change in common.change_scopes(scope):
        query = contract_items_query(change, settings)
        log.info("SuiteQL (%s): %s", change.mode, query.render(0))
        rows += yield NetSuiteReadRequest(query, page_size=page, hook=hook)
    log.info("Read %d contract item(s) in scope", len(rows))

    # A manual run for named ids reads only those (both lists are kept as they are for later runs).
    waiting = [] if scope.ids else waiting_item_ids()
    retried = retry.ids_to_retry(scope)
    seen = {int(r[f.NsContractItem.ID]) for r in rows}
    again = sorted({i for i in waiting + retried if i not in seen})
    for part in chunked(again, common.SUITEQL_IN_LIMIT):
        query = contract_items_query(ChangeScope.by_ids(part), settings)
        rows += yield NetSuiteReadRequest(query, page_size=page, hook=hook)
    if waiting:
        log.info(
            "%d item(s) were waiting for their contract; %d re-read (the others were in scope already)",
            len(waiting),
            len(again),
        )

    outcome = retry.extract_outcome(scope, retried, (r[f.NsContractItem.ID] for r in rows))
    contracts = [str(r[f.NsContractItem.CONTRACT]) for r in rows if r.get(f.NsContractItem.CONTRACT)]
    known = common.salesforce_ids_with(
        contracts_by_netsuite_ids_soql, contracts, chunk_size=settings.batch_sizes.id_lookup
    )
    log.info("%d of %d contract(s) of these items are in Salesforce", len(known), len(set(contracts)))
    known_ids = sorted(known, key=int)
    return ContractItemExtract(
        dry_run=scope.dry_run, items=rows, waiting_before=waiting, known_contract_ids=known_ids, retry=outcome
    ).to_xcom()


def transform(extracted: dict[str, Any]) -> dict[str, Any]:
    """Map to ``Contract_Item__c`` upserts; set aside the items whose contract is not in Salesforce yet."""
    from crsync.mappings.contract_item import contract_items_to_salesforce

    batch = ContractItemExtract.from_xcom(extracted)
    settings = load_settings()
    mapped = contract_items_to_salesforce(batch.items, settings, known_contract_ids=batch.known_contract_ids)
    log.info(
        "Mapped %d contract item(s), %d refused, %d waiting for their contract (%s)",
        len(mapped.items),
        len(mapped.failures),
        len(mapped.waiting_for_contract),
        ", ".join(mapped.waiting_contract_ids[:20]) or "none",
    )
    for failure in mapped.failures[:20]:
        log.warning("Refused %s [%s]: %s", failure.key, failure.code, failure.message)
    for waiting in mapped.waiting_for_contract[:20]:
        log.info("Waiting %s: %s", waiting.key, waiting.message)
    read_ids = sorted({int(r[f.NsContractItem.ID]) for r in batch.items if str(r.get("id", "")).isdigit()})
    plan = ContractItemPlan(
        dry_run=batch.dry_run, read=len(batch.items), read_ids=read_ids, waiting_before=batch.waiting_before,
        items=mapped.items, failures=mapped.failures, waiting=mapped.waiting_for_contract,
        waiting_contract_ids=mapped.waiting_contract_ids, retry=batch.retry,
    )  # fmt: skip
    return plan.to_xcom()


def load(transformed: dict[str, Any], context: Any) -> dict[str, Any]:
    """Upsert the items, then remember the ones still waiting and the ones that failed; the run summary."""
    settings = load_settings()
    plan = ContractItemPlan.from_xcom(transformed)
    batch = plan.items
    failed = [x.key for x in plan.failures]
    waiting_now = sorted({int(w.key) for w in plan.waiting if w.key.isdigit()})
    # A dry run's refusals are what a real run would refuse: reported, not failed (common.report).
    summary = RunSummary(flow=FLOW_ID, dry_run=plan.dry_run).add_read(plan.read).add_failures(plan.failures)
    summary.add_skipped(WAITING_REASON, len(plan.waiting))
    if plan.dry_run:
        log_dry_run(f"{batch.sobject} (upsert by {batch.external_id_field})", batch.records)
        _remember_waiting(plan, waiting_now, dry_run=True)
        summary.add_skipped("dry_run", len(batch.records))
        retry.finish(summary, plan.retry, failed_ids=failed, dry_run=True, settings=settings,
                     not_found="contract item")  # fmt: skip
        return summary.as_dict()

    results = common.salesforce_upsert(batch.sobject, batch.external_id_field, batch.records, settings, context)
    log.info("Contract items: %s", common.count_statuses(results))
    summary.add_results(results)
    # Only after the writes: a failed load keeps the previous list, so nothing waiting is forgotten.
    _remember_waiting(plan, waiting_now, dry_run=False)
    failed += [r["external_id"] for r in results if r["status"] == "failed"]
    retry.finish(summary, plan.retry, failed_ids=failed, dry_run=False, settings=settings,
                 not_found="contract item")  # fmt: skip
    return summary.as_dict()


def _remember_waiting(plan: ContractItemPlan, waiting_now: list[int], *, dry_run: bool) -> None:
    """Rewrite the waiting list: drop what this run read (or found gone), add what still waits.

    The Variable is read again here (not taken from extract) so that ids added meanwhile are kept.
    """
    from airflow.sdk import Variable

    current = waiting_item_ids()
    handled = set(plan.read_ids) | set(plan.waiting_before)
    gone = sorted(set(plan.waiting_before) - set(plan.read_ids))
    new = sorted((set(current) - handled) | set(waiting_now))
    recovered = sorted(set(plan.waiting_before) - set(waiting_now) - set(gone))
    if gone:
        log.warning("Waiting item(s) no longer in NetSuite, forgotten: %s", gone[:50])
    if recovered:
        log.info("%d waiting item(s) were read again with their contract now in Salesforce", len(recovered))
    if new == current:
        log.info("Variable %s unchanged (%d item(s) waiting)", WAITING_VARIABLE, len(new))
        return
    if dry_run:
        log.info(
            "Dry run: would set Variable %s to %d item id(s) (now %d): %s%s; nothing was written.",
            WAITING_VARIABLE,
            len(new),
            len(current),
            new[:50],
            " ..." if len(new) > 50 else "",
        )
        return
    Variable.set(
        WAITING_VARIABLE,
        new,
        description="NetSuite contract item ids whose Contract is not in Salesforce yet; every run of "
        f"{FLOW_ID} re-reads them until it is (managed by the flow).",
        serialize_json=True,
    )
    log.info(
        "Variable %s: %d item(s) waiting for their contract (was %d)",
        WAITING_VARIABLE,
        len(new),
        len(current),
    )

"""Tasks of ``ns_contract_to_sf_contract``: NetSuite contracts to Salesforce Contracts (nightly).

extract -> transform -> load -> link_opportunities -> report.

- ``extract`` reads the contracts in scope (changed in the run's window ``[start, end)``, the NetSuite ids
  of a manual run, or everything on a full resync) with keyset-paged SuiteQL (yielded to
  ``@task.netsuite_extract``, whose operator reads them), and looks up which of
  their customers have a Salesforce Account (one SOQL query per chunk of customer ids), so that a
  contract without an Account fails alone with our message instead of a raw Salesforce error.
- ``transform`` maps them to Contract upserts by ``NetSuite_Id__c`` (pure, no I/O).
- ``load`` upserts them: sObject Collections, or Bulk API 2.0 above the settings' threshold.
- ``link_opportunities`` sets ``Opportunity.ContractId`` on the Opportunity each loaded contract came
  from (the originating sales order's external id is the Opportunity id), skipping those already linked;
  a renewal order's Opportunity keeps the contract it renews. Each contract records the Opportunity whose
  order made it in ``Contract.Opportunity__c`` (lineage both ways), again only where it differs.
- ``report`` logs the run summary and fails the run when any record failed.

Every write is an upsert by external id or an update by Id, so reruns and backfills never duplicate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from crsync import fields as f
from crsync.ids import SOQL_IDS_PER_GET
from crsync.queries import (
    ChangeScope,
    accounts_by_netsuite_ids_soql,
    chunked,
    contract_orders_query,
    contract_origins_soql,
    contracts_query,
    opportunity_contracts_soql,
)
from crsync.records import (
    ContractExtract,
    ContractPlan,
    LoadOutcome,
    RecordFailure,
    RunSummary,
    WriteResult,
)
from crsync.runtime.flows import retry
from crsync.runtime.flows.common import (
    SUITEQL_IN_LIMIT,
    change_scopes,
    count_statuses,
    keyset_rows,
    log_dry_run,
    netsuite_hook,
    run_scope,
    salesforce_hook,
    salesforce_ids_with,
    salesforce_refusals,
    salesforce_upsert,
)
from crsync.settings import FlowId, IntegrationSettings, load_settings
from crsync_provider.decorators import NetSuiteReadRequest, NetSuiteReads
from crsync_provider.links import link_task_to_salesforce

log = logging.getLogger(__name__)

FLOW_ID = FlowId.CONTRACT_TO_CONTRACT.value
#: Ids per SOQL ``Id IN (...)`` query (what ``validate_salesforce_ids`` accepts at most).
SOQL_ID_LIMIT = SOQL_IDS_PER_GET


# --------------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------------


def extract(context: Any, *, window_length: timedelta) -> NetSuiteReads[dict[str, Any]]:
    """Contracts in scope, and which of their customers have a Salesforce Account.

    A generator for ``@task.netsuite_extract``: it yields each SuiteQL read and receives its rows.
    """
    scope = run_scope(
        context, FLOW_ID, window_length=window_length, ids_param="netsuite_ids", read_overlap=True
    )
    settings = scope.settings
    hook = netsuite_hook()
    page = settings.batch_sizes.suiteql_page
    rows: list[dict[str, Any]] = []
    for change in change_scopes(scope):
        query = contracts_query(change, settings)
        log.info("SuiteQL (%s): %s", change.mode, query.render(0))
        rows += yield NetSuiteReadRequest(query, page_size=page, hook=hook)
    retried = retry.ids_to_retry(scope)
    seen = {int(r[f.NsContract.ID]) for r in rows}
    for part in chunked([i for i in retried if i not in seen], SUITEQL_IN_LIMIT):
        query = contracts_query(ChangeScope.by_ids(part), settings)
        rows += yield NetSuiteReadRequest(query, page_size=page, hook=hook)
    log.info("Read %d contract(s) from NetSuite", len(rows))
    outcome = retry.extract_outcome(scope, retried, (r[f.NsContract.ID] for r in rows))
    customers = [str(r[f.NsContract.BILL_TO]) for r in rows if r.get(f.NsContract.BILL_TO) not in (None, "")]
    known = salesforce_ids_with(
        accounts_by_netsuite_ids_soql, customers, chunk_size=settings.batch_sizes.id_lookup
    )
    log.info("%d of %d customer(s) have a Salesforce Account", len(known), len(set(customers)))
    batch = ContractExtract(
        dry_run=scope.dry_run, contracts=rows, known_account_ids=sorted(known, key=int), retry=outcome
    )
    return batch.to_xcom()


def transform(extracted: dict[str, Any]) -> dict[str, Any]:
    """Map to Contract upserts; a contract that cannot be written fails alone with what to fix."""
    from crsync.mappings.contract import contracts_to_salesforce

    batch = ContractExtract.from_xcom(extracted)
    settings = load_settings()
    mapped = contracts_to_salesforce(batch.contracts, settings, known_account_ids=batch.known_account_ids)
    log.info("Mapped %d contract(s), %d refused", len(mapped.contracts), len(mapped.failures))
    for failure in mapped.failures[:20]:
        log.warning("Refused %s [%s]: %s", failure.key, failure.code, failure.message)
    return ContractPlan(
        dry_run=batch.dry_run,
        read=len(batch.contracts),
        contracts=mapped.contracts,
        failures=mapped.failures,
        retry=batch.retry,
    ).to_xcom()


def load(transformed: dict[str, Any], context: Any) -> dict[str, Any]:
    """Upsert the Contracts by ``NetSuite_Id__c``; one write result per contract."""
    plan = ContractPlan.from_xcom(transformed)
    batch = plan.contracts
    if plan.dry_run:
        log_dry_run(f"{batch.sobject} (upsert by {batch.external_id_field})", batch.records)
        return LoadOutcome().to_xcom()
    results = salesforce_upsert(batch.sobject, batch.external_id_field, batch.records, load_settings(), context)
    log.info("Contracts: %s", count_statuses(results))
    return LoadOutcome.model_validate({"results": results}).to_xcom()


def link_opportunities(transformed: dict[str, Any], loaded: dict[str, Any], context: Any) -> dict[str, Any]:
    """Set ``ContractId`` on the Opportunities the loaded contracts came from; build the run summary and
    remember the contracts that failed (any step) for the next run."""
    settings = load_settings()
    plan = ContractPlan.from_xcom(transformed)
    results = LoadOutcome.from_xcom(loaded).results
    summary = (
        RunSummary(flow=FLOW_ID, dry_run=plan.dry_run)
        .add_read(plan.read)
        .add_results(results)
        .add_failures(plan.failures)
    )
    link_failed = _link(plan, results, _Linking(plan.dry_run, summary, settings, context))
    failed = [x.key for x in plan.failures] + [r.external_id for r in results if not r.ok] + link_failed
    retry.finish(
        summary,
        plan.retry,
        failed_ids=failed,
        dry_run=plan.dry_run,
        settings=settings,
        not_found="contract",
    )
    return summary.as_dict()


@dataclass(frozen=True)
class _Linking:
    """What the link steps of one run share: refusals and skips go on ``summary``."""

    dry_run: bool
    summary: RunSummary
    settings: IntegrationSettings
    context: Any


def _link(plan: ContractPlan, results: list[WriteResult], run: _Linking) -> list[str]:
    """Set the Opportunities' ``ContractId``; refusals go on ``summary``. Returns the contracts whose
    Opportunity could not be linked."""
    from crsync.mappings.contract import contract_opportunity_links, contract_origin_links

    settings, summary = run.settings, run.summary
    if plan.dry_run:
        contract_ids = [str(r[f.Contract.NETSUITE_ID]) for r in plan.contracts.records]
        summary.add_skipped("dry_run", len(contract_ids))
    else:
        contract_ids = [r.external_id for r in results if r.ok]
    if not contract_ids:
        return []

    hook = netsuite_hook()
    orders: list[dict[str, Any]] = []
    for part in chunked(sorted(set(contract_ids), key=int), SUITEQL_IN_LIMIT):
        orders += keyset_rows(
            contract_orders_query(part), page_size=settings.batch_sizes.suiteql_page, hook=hook
        )
    links = contract_opportunity_links(orders).records
    origins = contract_origin_links(orders, _adding_order_type_ids(settings)).records
    if not links and not origins:
        log.info(
            "No sales order from Salesforce among the %d contract(s): no Opportunity to link",
            len(contract_ids),
        )
        return []

    opportunity_ids = {str(r[f.Opportunity.ID]) for r in links} | {
        str(r[f.Contract.ORIGINATING_OPPORTUNITY]) for r in origins
    }
    current = _current_links(sorted(opportunity_ids), settings)
    origin_failed = _record_origins(origins, current, run)
    return _set_contract_ids(links, current, run) + origin_failed


def _adding_order_type_ids(settings: IntegrationSettings) -> list[str]:
    """``custbody_order_type`` ids of orders that add to an existing contract (they never make one)."""
    adding = [f.OrderType.UPSELL, f.OrderType.DOWNSELL]
    return [str(settings.order_type_map[t.value]) for t in adding if t.value in settings.order_type_map]


def _set_contract_ids(links: list[dict[str, Any]], current: dict[str, str | None], run: _Linking) -> list[str]:
    """Set ``Opportunity.ContractId`` where it differs; returns the contracts whose link was refused."""
    dry_run, summary, settings, context = run.dry_run, run.summary, run.settings, run.context
    missing = [r for r in links if r[f.Opportunity.ID] not in current]
    for record in missing:
        log.warning(
            "Opportunity %s (external id of the sales order of contract %s) is not in Salesforce; not linked",
            record[f.Opportunity.ID],
            record[f.Opportunity.CONTRACT][f.Contract.NETSUITE_ID],
        )
    summary.add_skipped("opportunity_not_in_salesforce", len(missing))
    pending = [
        r
        for r in links
        if r[f.Opportunity.ID] in current
        and current[r[f.Opportunity.ID]] != r[f.Opportunity.CONTRACT][f.Contract.NETSUITE_ID]
    ]
    already = len(links) - len(missing) - len(pending)
    log.info(
        "Opportunity links: %d to set, %d already set, %d not in Salesforce",
        len(pending),
        already,
        len(missing),
    )
    if dry_run:
        log_dry_run("Opportunity ContractId", pending)
        return []
    if not pending:
        return []

    sf = salesforce_hook()
    outcome = sf.update_collection(
        f.Opportunity.SOBJECT, pending, chunk_size=settings.batch_sizes.salesforce_collection
    )
    link_task_to_salesforce(context, sf.instance_url, f.Opportunity.SOBJECT, outcome)
    refused = salesforce_refusals(
        pending,
        outcome,
        code="opportunity_link_failed",
        key=lambda record: str(record[f.Opportunity.ID]),
        refused=lambda record: (
            "Salesforce refused to set ContractId (contract NetSuite id "
            f"{record[f.Opportunity.CONTRACT][f.Contract.NETSUITE_ID]}) on Opportunity {record[f.Opportunity.ID]}"
        ),
    )
    summary.add_failures(refused)
    log.info(
        "Linked %d Opportunity(ies) to their contract, %d refused", len(pending) - len(refused), len(refused)
    )
    refused_ids = {failure.key for failure in refused}
    return [
        str(record[f.Opportunity.CONTRACT][f.Contract.NETSUITE_ID])
        for record in pending
        if str(record[f.Opportunity.ID]) in refused_ids
    ]


def _record_origins(origins: list[dict[str, Any]], current: dict[str, str | None], run: _Linking) -> list[str]:
    """Set ``Contract.Opportunity__c`` (the Opportunity whose order made the contract) where it differs;
    returns the contracts Salesforce refused."""
    dry_run, summary, settings, context = run.dry_run, run.summary, run.settings, run.context
    c = f.Contract
    known = [r for r in origins if str(r[c.ORIGINATING_OPPORTUNITY]) in current]
    if len(origins) > len(known):
        summary.add_skipped("origin_opportunity_not_in_salesforce", len(origins) - len(known))
    if not known:
        return []
    sf = salesforce_hook()
    saved: dict[str, str | None] = {}
    for part in chunked([str(r[c.NETSUITE_ID]) for r in known], min(settings.batch_sizes.id_lookup, SOQL_ID_LIMIT)):
        for record in sf.query(contract_origins_soql(part), strip_attributes=True):
            saved[str(record[c.NETSUITE_ID])] = record.get(c.ORIGINATING_OPPORTUNITY)
    pending = [r for r in known if saved.get(str(r[c.NETSUITE_ID])) != r[c.ORIGINATING_OPPORTUNITY]]
    log.info("Contract origins: %d to set, %d already set", len(pending), len(known) - len(pending))
    if dry_run:
        log_dry_run("Contract Opportunity__c", pending)
        return []
    if not pending:
        return []
    results = salesforce_upsert(c.SOBJECT, c.NETSUITE_ID, pending, settings, context)
    refused = [r for r in results if r["status"] == "failed"]
    summary.add_failures([
        RecordFailure(
            key=str(r["external_id"]), code="contract_origin_failed",
            message=f"Salesforce refused to set Opportunity__c on Contract (NetSuite id {r['external_id']}): "
            f"{(r.get('error') or {}).get('code')}: {(r.get('error') or {}).get('message')}",
        )
        for r in refused
    ])  # fmt: skip
    return [str(r["external_id"]) for r in refused]


def _current_links(opportunity_ids: list[str], settings: IntegrationSettings) -> dict[str, str | None]:
    """Opportunity id -> the NetSuite id of its current Contract (None when unlinked), existing ones only."""
    sf = salesforce_hook()
    o = f.Opportunity
    current: dict[str, str | None] = {}
    size = min(settings.batch_sizes.id_lookup, SOQL_ID_LIMIT)
    for part in chunked(opportunity_ids, size):
        for record in sf.query(opportunity_contracts_soql(part), strip_attributes=True):
            contract = record.get(o.CONTRACT) or {}
            value = contract.get(f.Contract.NETSUITE_ID) if record.get(o.CONTRACT_ID) else None
            current[str(record[o.ID])] = None if value in (None, "") else str(value)
    return current

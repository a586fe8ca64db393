"""Tasks of ``ns_contract_to_sf_contract``: NetSuite contracts to Salesforce Contracts (nightly).

extract -> transform -> load -> link_opportunities -> report.

- ``extract`` reads the contracts in scope (changed in the run's window ``[start, end)``, the NetSuite ids
  of a manual run, or everything on a full resync) with keyset-paged SuiteQL, and looks up which of
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
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from crsync import fields as f
from crsync.queries import (
    ChangeScope,
    KeysetQuery,
    accounts_by_netsuite_ids_soql,
    chunked,
    contract_orders_query,
    contract_origins_soql,
    contracts_query,
    opportunity_contracts_soql,
    validate_netsuite_ids,
)
from crsync.records import RecordFailure, RunSummary, WriteResult, load_all
from crsync.runtime.flows import retry
from crsync.runtime.flows.common import (
    RunScope,
    log_dry_run,
    netsuite_hook,
    run_scope,
    salesforce_hook,
)
from crsync.settings import FlowId, IntegrationSettings, load_settings
from crsync_provider.links import link_task_to_salesforce

log = logging.getLogger(__name__)

FLOW_ID = FlowId.CONTRACT_TO_CONTRACT.value
#: Ids per SuiteQL ``IN (...)`` list (Oracle refuses more than 1,000 expressions in one list).
SUITEQL_IN_LIMIT = 1000
#: Ids per SOQL ``Id IN (...)`` query (what ``validate_salesforce_ids`` accepts at most).
SOQL_ID_LIMIT = 500


# --------------------------------------------------------------------------------------------------
# Helpers shared with the contract item flow
# --------------------------------------------------------------------------------------------------


def change_scopes(scope: RunScope) -> list[ChangeScope]:
    """The NetSuite change scopes of a run: named ids (in chunks), everything, or the run's window."""
    if scope.ids:
        ids = validate_netsuite_ids(scope.ids)
        return [ChangeScope.by_ids(part) for part in chunked(ids, SUITEQL_IN_LIMIT)]
    window = scope.read_window  # the run's window extended back by the overlap
    if window.start is None:
        return [ChangeScope.full()]
    return [ChangeScope.window(window.start, window.end)]


def keyset_rows(query: KeysetQuery, *, page_size: int, hook: Any = None) -> Iterator[dict[str, Any]]:
    """All rows of a keyset query, paged by the hook's one keyset pager (``key > last key``, no offset cap)."""
    return (hook or netsuite_hook()).suiteql_keyset(query, page_size=page_size)


def salesforce_ids_with(
    soql_for: Any,
    netsuite_ids: Sequence[str],
    *,
    chunk_size: int,
    field: str = "NetSuite_Id__c",
    sf: Any = None,
) -> set[str]:
    """NetSuite ids (``field``) that Salesforce records carry, one SOQL query per chunk of ids."""
    wanted = sorted({str(i) for i in netsuite_ids if str(i).isdigit()}, key=int)
    if not wanted:
        return set()
    sf = sf or salesforce_hook()
    found: set[str] = set()
    for part in chunked(wanted, chunk_size):
        for record in sf.query(soql_for(part), strip_attributes=True):
            if record.get(field) not in (None, ""):
                found.add(str(record[field]))
    return found


def upsert(
    sobject: str,
    external_id_field: str,
    records: list[dict[str, Any]],
    settings: IntegrationSettings,
    context: Any = None,
) -> list[dict[str, Any]]:
    """Upsert by external id; collections (settings' chunk size) or Bulk 2.0 above the threshold.

    Returns one design.md write result per record, in order; points the running task's
    "Open in Salesforce" link at what it wrote.
    """
    from crsync_provider.hooks.salesforce import to_write_results

    if not records:
        return []
    sf = salesforce_hook()
    if len(records) > settings.salesforce.bulk_threshold:
        log.info("Upserting %d %s record(s) through Bulk API 2.0", len(records), sobject)
        results = sf.upsert_bulk(sobject, external_id_field, records)
    else:
        log.info("Upserting %d %s record(s) through sObject Collections", len(records), sobject)
        results = sf.upsert_collection(
            sobject, external_id_field, records, chunk_size=settings.batch_sizes.salesforce_collection
        )
    write_results = to_write_results(records, results, external_id_field=external_id_field)
    link_task_to_salesforce(context, sf.instance_url, sobject, write_results)
    return write_results


def count_statuses(results: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return counts


# --------------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------------


def extract(context: Any, *, window_length: timedelta) -> dict[str, Any]:
    """Contracts in scope, and which of their customers have a Salesforce Account."""
    scope = run_scope(
        context, FLOW_ID, window_length=window_length, ids_param="netsuite_ids", read_overlap=True
    )
    settings = scope.settings
    hook = netsuite_hook()
    rows: list[dict[str, Any]] = []
    for change in change_scopes(scope):
        query = contracts_query(change, settings)
        log.info("SuiteQL (%s): %s", change.mode, query.render(0))
        rows += keyset_rows(query, page_size=settings.batch_sizes.suiteql_page, hook=hook)
    retried = retry.ids_to_retry(scope)
    seen = {int(r[f.NsContract.ID]) for r in rows}
    for part in chunked([i for i in retried if i not in seen], SUITEQL_IN_LIMIT):
        rows += keyset_rows(
            contracts_query(ChangeScope.by_ids(part), settings),
            page_size=settings.batch_sizes.suiteql_page,
            hook=hook,
        )
    log.info("Read %d contract(s) from NetSuite", len(rows))
    outcome = retry.extract_outcome(scope, retried, (r[f.NsContract.ID] for r in rows))
    customers = [str(r[f.NsContract.BILL_TO]) for r in rows if r.get(f.NsContract.BILL_TO) not in (None, "")]
    known = salesforce_ids_with(
        accounts_by_netsuite_ids_soql, customers, chunk_size=settings.batch_sizes.id_lookup
    )
    log.info("%d of %d customer(s) have a Salesforce Account", len(known), len(set(customers)))
    return {
        "dry_run": scope.dry_run,
        "contracts": rows,
        "known_account_ids": sorted(known, key=int),
        "retry": outcome,
    }


def transform(batch: dict[str, Any]) -> dict[str, Any]:
    """Map to Contract upserts; a contract that cannot be written fails alone with what to fix."""
    from crsync.mappings.contract import contracts_to_salesforce

    settings = load_settings()
    mapped = contracts_to_salesforce(
        batch["contracts"], settings, known_account_ids=batch["known_account_ids"]
    )
    log.info("Mapped %d contract(s), %d refused", len(mapped.contracts), len(mapped.failures))
    for failure in mapped.failures[:20]:
        log.warning("Refused %s [%s]: %s", failure.key, failure.code, failure.message)
    return {
        "dry_run": batch["dry_run"],
        "read": len(batch["contracts"]),
        "contracts": mapped.contracts.model_dump(mode="json"),
        "failures": [x.model_dump(mode="json") for x in mapped.failures],
        "retry": batch["retry"],
    }


def load(plan: dict[str, Any], context: Any) -> dict[str, Any]:
    """Upsert the Contracts by ``NetSuite_Id__c``; one write result per contract."""
    batch = plan["contracts"]
    if plan["dry_run"]:
        log_dry_run(f"{batch['sobject']} (upsert by {batch['external_id_field']})", batch["records"])
        return {"results": []}
    results = upsert(batch["sobject"], batch["external_id_field"], batch["records"], load_settings(), context)
    log.info("Contracts: %s", count_statuses(results))
    return {"results": results}


def link_opportunities(plan: dict[str, Any], loaded: dict[str, Any], context: Any) -> dict[str, Any]:
    """Set ``ContractId`` on the Opportunities the loaded contracts came from; build the run summary and
    remember the contracts that failed (any step) for the next run."""
    settings = load_settings()
    results = loaded["results"]
    summary = (
        RunSummary(flow=FLOW_ID, dry_run=plan["dry_run"])
        .add_read(plan["read"])
        .add_results(results)
        .add_failures(plan["failures"])
    )
    link_failed = _link(plan, results, summary, settings, context)
    failed = (
        [x["key"] for x in plan["failures"]]
        + [r["external_id"] for r in results if r["status"] == "failed"]
        + link_failed
    )
    retry.finish(
        summary,
        plan["retry"],
        failed_ids=failed,
        dry_run=plan["dry_run"],
        settings=settings,
        not_found="contract",
    )
    return summary.as_dict()


def _link(
    plan: dict[str, Any],
    results: list[dict[str, Any]],
    summary: RunSummary,
    settings: IntegrationSettings,
    context: Any,
) -> list[str]:
    """Set the Opportunities' ``ContractId``; refusals go on ``summary``. Returns the contracts whose
    Opportunity could not be linked."""
    from crsync.mappings.contract import contract_opportunity_links, contract_origin_links

    if plan["dry_run"]:
        contract_ids = [str(r[f.Contract.NETSUITE_ID]) for r in plan["contracts"]["records"]]
        summary.add_skipped("dry_run", len(contract_ids))
    else:
        contract_ids = [r.external_id for r in load_all(WriteResult, results) if r.ok]
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
    origin_failed = _record_origins(origins, current, plan["dry_run"], summary, settings, context)
    return _set_contract_ids(links, current, plan["dry_run"], summary, settings, context) + origin_failed


def _adding_order_type_ids(settings: IntegrationSettings) -> list[str]:
    """``custbody_order_type`` ids of orders that add to an existing contract (they never make one)."""
    adding = [f.OrderType.UPSELL, f.OrderType.DOWNSELL]
    return [str(settings.order_type_map[t.value]) for t in adding if t.value in settings.order_type_map]


def _set_contract_ids(
    links: list[dict[str, Any]],
    current: dict[str, str | None],
    dry_run: bool,
    summary: RunSummary,
    settings: IntegrationSettings,
    context: Any,
) -> list[str]:
    """Set ``Opportunity.ContractId`` where it differs; returns the contracts whose link was refused."""
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
    refused = [
        RecordFailure(
            key=str(record[f.Opportunity.ID]),
            code="opportunity_link_failed",
            message=f"Salesforce refused to set ContractId (contract NetSuite id "
            f"{record[f.Opportunity.CONTRACT][f.Contract.NETSUITE_ID]}) on Opportunity {record[f.Opportunity.ID]}: "
            + "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in result.get("errors") or []),
        )
        for record, result in zip(pending, outcome, strict=True)
        if not result.get("success")
    ]
    summary.add_failures(refused)
    log.info(
        "Linked %d Opportunity(ies) to their contract, %d refused", len(pending) - len(refused), len(refused)
    )
    return [
        str(record[f.Opportunity.CONTRACT][f.Contract.NETSUITE_ID])
        for record, result in zip(pending, outcome, strict=True)
        if not result.get("success")
    ]


def _record_origins(
    origins: list[dict[str, Any]],
    current: dict[str, str | None],
    dry_run: bool,
    summary: RunSummary,
    settings: IntegrationSettings,
    context: Any,
) -> list[str]:
    """Set ``Contract.Opportunity__c`` (the Opportunity whose order made the contract) where it differs;
    returns the contracts Salesforce refused."""
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
    results = upsert(c.SOBJECT, c.NETSUITE_ID, pending, settings, context)
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

"""Tasks of ``ns_renewal_estimate_to_sf_opportunity``: NetSuite renewal transactions to Salesforce renewals.

extract -> transform -> load -> report.

- ``extract`` reads the renewal transactions in scope (the type the module creates, order type Renewal,
  changed in the window, or the ids of a manual run, or everything on a full resync) with their lines,
  customer and renewed contract from NetSuite (SuiteQL reads yielded to ``@task.netsuite_extract``,
  whose operator performs them), then what the mapping needs from Salesforce: the price
  book and its entries for the lines' items, the renewals already there and their line items, and which
  customers already have an Account.
- ``transform`` is pure: :func:`crsync.mappings.renewal_estimate.renewals_to_salesforce`.
- ``load`` upserts, in order, Accounts (by ``NetSuite_Id__c``), Opportunities (by
  ``NetSuite_Renewal_Estimate_Id__c``), Quotes (``renewal.target: quote``, by ``NetSuite_Estimate_Id__c``)
  and line items (by ``NetSuite_Line_Id__c``), then deletes the line items whose NetSuite line was dropped
  or set to quantity 0. A record whose parent failed is not sent (its renewal already failed with the
  parent's reason). Every write is an upsert by external id, so reruns and backfills never duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from crsync import fields as f
from crsync.queries import (
    ChangeScope,
    accounts_by_netsuite_ids_soql,
    chunked,
    pricebook_entries_soql,
    renewal_line_items_soql,
    renewal_lines_query,
    renewal_opportunities_soql,
    renewal_quotes_soql,
    renewal_transactions_query,
    standard_pricebook_soql,
)
from crsync.records import RecordFailure, RenewalExtract, RenewalPlan, RunSummary
from crsync.runtime.flows import common, retry
from crsync.runtime.flows.common import log_dry_run, netsuite_hook, run_scope, salesforce_hook
from crsync.settings import FlowId, IntegrationSettings, load_settings
from crsync_provider.decorators import NetSuiteReadRequest, NetSuiteReads

log = logging.getLogger(__name__)

FLOW_ID = FlowId.RENEWAL_ESTIMATE_TO_OPPORTUNITY.value
_NT, _O, _Q = f.NsTransaction, f.Opportunity, f.Quote
#: What a requested id that is not found is (the query reads only renewal transactions).
_NOT_FOUND = "renewal transaction (of the settings' renewal.transaction_type, order type Renewal)"


# --------------------------------------------------------------------------------------------------
# extract
# --------------------------------------------------------------------------------------------------


def change_scope(ids: Sequence[Any], window_start: Any, window_end: Any) -> ChangeScope:
    """Named ids (manual run), everything (full resync: no window start), or the run's window."""
    if ids:
        return ChangeScope.by_ids(ids)
    if window_start is None:
        return ChangeScope.full()
    return ChangeScope.window(window_start, window_end)


def extract(context: Any, *, window_length: timedelta) -> NetSuiteReads[dict[str, Any]]:
    """Renewal transactions in scope with their lines, and the Salesforce lookups the mapping needs.

    A generator for ``@task.netsuite_extract``: it yields each SuiteQL read and receives its rows.
    """
    scope = run_scope(
        context, FLOW_ID, window_length=window_length, ids_param="netsuite_ids", read_overlap=True
    )
    settings = scope.settings
    window = scope.read_window  # the run's window extended back by the overlap
    page = settings.batch_sizes.suiteql_page
    ns = netsuite_hook()
    headers = yield from _headers(ns, change_scope(scope.ids, window.start, window.end), settings)
    retried = retry.ids_to_retry(scope)
    seen = {int(h[_NT.ID]) for h in headers}
    for part in chunked([i for i in retried if i not in seen], settings.batch_sizes.id_lookup):
        headers += yield from _headers(ns, ChangeScope.by_ids(part), settings)
    outcome = retry.extract_outcome(scope, retried, (h[_NT.ID] for h in headers))
    tran_ids = [str(h[_NT.ID]) for h in headers]
    lines: list[dict[str, Any]] = []
    for part in chunked(tran_ids, settings.batch_sizes.id_lookup):
        lines += yield NetSuiteReadRequest(renewal_lines_query(part), page_size=page, hook=ns)  # offset-paged
    log.info("Read %d renewal transaction(s) with %d line(s)", len(headers), len(lines))
    lookups = _salesforce_lookups(headers, lines, settings) if headers else {}
    return RenewalExtract(
        dry_run=scope.dry_run, headers=headers, lines=lines, salesforce=lookups, retry=outcome
    ).to_xcom()


def _headers(
    ns: Any, change: ChangeScope, settings: IntegrationSettings
) -> NetSuiteReads[list[dict[str, Any]]]:
    """The renewal transactions of one change scope, keyset-paged (read by ``@task.netsuite_extract``)."""
    query = renewal_transactions_query(change, settings)
    log.info("SuiteQL (renewal transactions, %s): %s", change.mode, query.render(0))
    return (yield NetSuiteReadRequest(query, page_size=settings.batch_sizes.suiteql_page, hook=ns))


def _query_all(sf: Any, soqls: Iterable[str]) -> list[dict[str, Any]]:
    return [r for soql in soqls for r in sf.query(soql, strip_attributes=True)]


def _salesforce_lookups(
    headers: list[dict[str, Any]], lines: list[dict[str, Any]], settings: IntegrationSettings
) -> dict[str, Any]:
    sf = salesforce_hook()
    size = settings.batch_sizes.id_lookup
    tran_ids = sorted({str(h[_NT.ID]) for h in headers}, key=int)
    entities = sorted(
        {str(h[_NT.ENTITY]) for h in headers if str(h.get(_NT.ENTITY) or "").isdigit()}, key=int
    )
    items = sorted({str(r[f.NsTransactionLine.ITEM]) for r in lines
                    if str(r.get(f.NsTransactionLine.ITEM) or "").isdigit()}, key=int)  # fmt: skip
    pricebook = settings.salesforce.pricebook
    if pricebook == "standard":
        found = _query_all(sf, [standard_pricebook_soql()])
        if not found:
            raise ValueError("Salesforce has no standard price book (Pricebook2 with IsStandard = true)")
        pricebook = found[0]["Id"]
    multi = settings.salesforce.multi_currency
    target = settings.renewal.target
    lookups = {
        "pricebook_id": pricebook,
        "pricebook_entries": _query_all(
            sf, (pricebook_entries_soql(pricebook, part, multi_currency=multi) for part in chunked(items, size))
        ),
        "existing": _query_all(sf, (renewal_opportunities_soql(part) for part in chunked(tran_ids, size))),
        "existing_lines": _query_all(sf, (renewal_line_items_soql(part, target) for part in chunked(tran_ids, size))),
        "existing_quotes": _query_all(sf, (renewal_quotes_soql(part) for part in chunked(tran_ids, size)))
        if target == "quote" else [],
        "known_account_ids": sorted(
            {str(r[f.Account.NETSUITE_ID]) for r in _query_all(
                sf, (accounts_by_netsuite_ids_soql(part) for part in chunked(entities, size)))}
        ),
    }  # fmt: skip
    log.info(
        "Salesforce: price book %s, %d price book entries, %d existing renewal(s) with %d line(s), "
        "%d of %d customer(s) with an Account",
        pricebook,
        len(lookups["pricebook_entries"]),
        len(lookups["existing"]),
        len(lookups["existing_lines"]),
        len(lookups["known_account_ids"]),
        len(entities),
    )
    return lookups


# --------------------------------------------------------------------------------------------------
# transform
# --------------------------------------------------------------------------------------------------


def transform(extracted: dict[str, Any]) -> dict[str, Any]:
    """Map the renewals (pure); every invalid renewal fails alone with what to fix."""
    from crsync.mappings.renewal_estimate import (
        existing_line_ids,
        existing_quote_ids,
        existing_renewals,
        pricebook_entry_map,
        renewals_to_salesforce,
    )

    batch = RenewalExtract.from_xcom(extracted)
    settings = load_settings()
    plan = RenewalPlan(
        dry_run=batch.dry_run,
        read=len(batch.headers),
        line_sobject=_Q.LINE_SOBJECT if settings.renewal.target == "quote" else f.OpportunityLineItem.SOBJECT,
        bulk_threshold=settings.salesforce.bulk_threshold,
        retry=batch.retry,
    )
    if not batch.headers:
        return plan.to_xcom()
    sf = batch.salesforce
    mapped = renewals_to_salesforce(
        batch.headers,
        batch.lines,
        settings,
        pricebook_id=sf["pricebook_id"],
        pricebook_entries=pricebook_entry_map(sf["pricebook_entries"], settings),
        existing=existing_renewals(sf["existing"]),
        existing_lines=existing_line_ids(sf["existing_lines"]),
        existing_quotes=existing_quote_ids(sf.get("existing_quotes", [])),
        known_account_ids=sf["known_account_ids"],
    )
    log.info(
        "Mapped: %s; %d stale line(s) to delete, %d refused, %d skipped",
        ", ".join(f"{len(u.records)} {u.sobject}" for u in mapped.upserts),
        len(mapped.stale_line_ids),
        len(mapped.failures),
        len(mapped.skipped),
    )
    for failure in mapped.failures[:20]:
        log.warning("Refused %s [%s]: %s", failure.key, failure.code, failure.message)
    plan = plan.model_copy(
        update={
            "upserts": mapped.upserts,
            "line_sobject": mapped.line_sobject,
            "stale_line_ids": list(mapped.stale_line_ids),
            # Salesforce line id -> its renewal (a line that cannot be deleted makes the renewal fail, to retry).
            "stale_line_renewals": {
                sf_id: ns_line.split("_", 1)[0]
                for ns_line, sf_id in existing_line_ids(sf["existing_lines"]).items()
                if sf_id in set(mapped.stale_line_ids)
            },
            "failures": mapped.failures,
            "skipped": dict(mapped.skipped),
        }
    )
    return plan.to_xcom()


# --------------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------------


def _renewal_of(sobject: str, external_id_field: str, record: dict[str, Any]) -> str | None:
    """The renewal transaction id a record belongs to (None for Accounts, which are shared)."""
    if sobject == f.Account.SOBJECT:
        return None
    value = str(record.get(external_id_field) or "")
    if sobject in (_O.SOBJECT, _Q.SOBJECT):
        return value
    return value.split("_", 1)[0]  # line external id: <transaction id>_<line id>


def _error_text(result: dict[str, Any]) -> str:
    error = result.get("error") or {}
    path = f" (field {error['path']})" if error.get("path") else ""
    return f"{error.get('code')}: {error.get('message')}{path}"


def load(transformed: dict[str, Any], context: Any) -> dict[str, Any]:
    """Upsert the renewals in order, delete stale line items; the run summary (counts per renewal)."""
    plan = RenewalPlan.from_xcom(transformed)
    # A dry run's refusals are what a real run would refuse: reported, not failed (common.report).
    summary = RunSummary(flow=FLOW_ID, dry_run=plan.dry_run).add_read(plan.read).add_failures(plan.failures)
    settings = load_settings()
    for reason in plan.skipped.values():
        summary.add_skipped(reason)
    upserts = plan.upserts
    if plan.dry_run:
        for batch in upserts:
            log_dry_run(f"Salesforce {batch.sobject} (upsert by {batch.external_id_field})", batch.records)
        if plan.stale_line_ids:
            log.info("Dry run: would delete %d %s: %s", len(plan.stale_line_ids), plan.line_sobject,
                     plan.stale_line_ids[:20])  # fmt: skip
        opportunities = [b for b in upserts if b.sobject == _O.SOBJECT]
        summary.add_skipped("dry_run", sum(len(b.records) for b in opportunities))
        failed = [x.key for x in plan.failures]
        retry.finish(summary, plan.retry, failed_ids=failed, dry_run=True, settings=settings,
                     not_found=_NOT_FOUND)  # fmt: skip
        return summary.as_dict()

    sf = salesforce_hook()
    threshold = plan.bulk_threshold
    failed_renewals: set[str] = set()
    failed_accounts: dict[str, str] = {}
    for batch in upserts:
        sobject, field = batch.sobject, batch.external_id_field
        records, held = [], 0
        for record in batch.records:
            renewal = _renewal_of(sobject, field, record)
            account = (
                (record.get(_O.ACCOUNT) or {}).get(f.Account.NETSUITE_ID) if sobject == _O.SOBJECT else None
            )
            if account in failed_accounts and renewal not in failed_renewals:
                summary.add_failures([RecordFailure(
                    key=str(renewal), code="account_failed",
                    message=f"Renewal {renewal}: the Account for NetSuite customer {account} could not be "
                    f"upserted ({failed_accounts[account]}); fix it and rerun",
                )])  # fmt: skip
                failed_renewals.add(str(renewal))
            if renewal in failed_renewals:
                held += 1
                continue
            records.append(record)
        if held:
            log.warning("Held back %d %s record(s) whose renewal already failed", held, sobject)
        if not records:
            continue
        linked = context if sobject in (_O.SOBJECT, _Q.SOBJECT) else None  # the renewal (last batch wins)
        results = common.salesforce_upsert(
            sobject, field, records, settings, linked, sf=sf, bulk_threshold=threshold
        )
        for record, result in zip(records, results, strict=True):
            renewal = _renewal_of(sobject, field, record)
            if result["status"] == "failed":
                if sobject == f.Account.SOBJECT:
                    failed_accounts[result["external_id"]] = _error_text(result)
                    continue  # reported on each renewal of that customer
                failed_renewals.add(str(renewal))
                summary.add_failures([RecordFailure(
                    key=str(renewal), code=str((result.get("error") or {}).get("code") or "write_failed"),
                    message=f"Renewal {renewal}: Salesforce refused {sobject} {result['external_id']}: "
                    f"{_error_text(result)}",
                )])  # fmt: skip
            elif sobject == _O.SOBJECT:
                summary.add_results([result])  # one created/updated per renewal
        log.info("%s upserts: %s", sobject, common.count_statuses(results))

    stale = list(plan.stale_line_ids)
    undeleted: list[RecordFailure] = []
    if stale:
        undeleted = common.salesforce_refusals(
            stale,
            sf.delete_collection(stale),
            code="stale_line_not_deleted",
            key=str,
            refused=lambda line_id: f"{plan.line_sobject} {line_id} (dropped in NetSuite) could not be deleted",
            done_codes={"ENTITY_IS_DELETED"},  # already gone: as wanted
        )
        gone = len(stale) - len(undeleted)
        summary.add_failures(undeleted)
        log.info("Deleted %d stale %s record(s) of %d", gone, plan.line_sobject, len(stale))
    failed = [x.key for x in plan.failures] + sorted(failed_renewals)
    failed += [plan.stale_line_renewals.get(x.key, "") for x in undeleted]
    retry.finish(summary, plan.retry, failed_ids=failed, dry_run=False, settings=settings,
                 not_found=_NOT_FOUND)  # fmt: skip
    return summary.as_dict()

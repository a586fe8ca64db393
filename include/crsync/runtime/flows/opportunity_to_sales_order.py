"""Tasks of ``sf_opportunity_to_ns_sales_order``: Salesforce Opportunities to NetSuite sales orders.

extract -> transform -> load_customers -> order_chunks -> load_orders (mapped) -> write_back -> report.
Every NetSuite write is an upsert by external id (Account id for customers, 18-character Opportunity
id for orders), or a transform of the renewal estimate carrying that external id, so retries, reruns
and backfills never create a second record.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from crsync.queries import (
    MAX_IDS_PER_QUERY,
    chunked,
    opportunities_soql,
    opportunity_modstamps_soql,
    sales_orders_by_external_ids_query,
    to_18_char_id,
)
from crsync.records import (
    LoadOutcome,
    OpportunityExtract,
    OrderChunk,
    RecordFailure,
    RunSummary,
    SalesforceUpsertBatch,
    SalesOrderPlan,
    dump_all,
    dump_and_release,
)
from crsync.runtime.flows.billed_orders import without_billed_lines
from crsync.runtime.flows.common import (
    log_dry_run,
    netsuite_hook,
    run_scope,
    salesforce_hook,
    salesforce_refusals,
)
from crsync.runtime.windows import until_run_started
from crsync.settings import FlowId, load_settings
from crsync_provider.decorators import NetSuiteWriteRequest
from crsync_provider.links import link_task_to_salesforce

log = logging.getLogger(__name__)

FLOW_ID = FlowId.OPPORTUNITY_TO_SALES_ORDER.value
CHILD_RELATIONSHIP = "OpportunityLineItems"
#: Summary reason of an Opportunity edited between extract and write-back (it stays Processing).
CHANGED_DURING_RUN = "changed_during_run"
#: Failure code of a named id that Salesforce does not have.
NOT_FOUND = "not_found"


def _rewrap_children(record: dict[str, Any]) -> dict[str, Any]:
    """Children fetched in full by the hook, in the nested shape Salesforce returns (what the mapping reads)."""
    children = record.get(CHILD_RELATIONSHIP)
    if isinstance(children, list):
        record[CHILD_RELATIONSHIP] = {"totalSize": len(children), "done": True, "records": children}
    return record


def extract(context: Any, *, window_length: timedelta) -> dict[str, Any]:
    """Opportunities to order: queued, in the window (mode ``window``), or the ids named by a manual run."""
    scope = run_scope(context, FLOW_ID, window_length=window_length, ids_param="opportunity_ids")
    mode = "ids" if scope.ids else scope.params.get("mode", "queued")
    # queued: a manual run reads everything queued until it started, whatever logical date it was given;
    # window: the window the run was given (a date picked in the form means that window).
    window = until_run_started(scope.window, context) if mode == "queued" else scope.window
    if window != scope.window:
        log.info("Manual run in queued mode: reads what was queued before %s", window.end.isoformat())
    soql = opportunities_soql(
        mode,
        window_start=window.start,
        window_end=window.end,
        ids=scope.ids or None,
        settings=scope.settings,
    )
    log.info("SOQL (%s): %s", mode, soql)
    records = [
        _rewrap_children(r)
        for r in salesforce_hook().query(soql, strip_attributes=True, flatten_children=True)
    ]
    log.info("Read %d Opportunities", len(records))
    missing = _missing_ids(scope.ids, records) if scope.ids else []
    if missing:
        log.warning(
            "%d of the %d named Opportunity id(s) are not in Salesforce: %s. Check the ids (deleted, or "
            "from another org); the others are processed and the run will fail.",
            len(missing),
            len(scope.ids),
            ", ".join(missing),
        )
    extracted = OpportunityExtract(dry_run=scope.dry_run, mode=mode, opportunities=records, missing_ids=missing)
    return extracted.to_xcom()


def _missing_ids(named: list[str], records: list[dict[str, Any]]) -> list[str]:
    """Named ids (as 18-character ids) that the query did not return."""
    found = {str(r.get("Id")) for r in records}
    return [i for i in dict.fromkeys(to_18_char_id(n) for n in named) if i not in found]


def transform(extracted: dict[str, Any]) -> dict[str, Any]:
    """Validate and map; every invalid Opportunity fails alone with what to fix."""
    from crsync.mappings.opportunity_to_sales_order import opportunities_to_sales_orders, write_back_guards

    batch = OpportunityExtract.from_xcom(extracted)
    settings = load_settings()
    mapped = opportunities_to_sales_orders(batch.opportunities, settings)
    missing = [
        RecordFailure(
            key=key,
            code=NOT_FOUND,
            message=f"Opportunity {key} is not in Salesforce (deleted, or from another org); check the id",
        )
        for key in batch.missing_ids
    ]
    log.info(
        "Mapped %d orders, %d new customers, %d refused",
        len(mapped.orders),
        len(mapped.customers),
        len(mapped.failures),
    )
    for failure in mapped.failures[:20]:
        log.warning("Refused %s [%s]: %s", failure.key, failure.code, failure.message)
    return SalesOrderPlan(
        dry_run=batch.dry_run,
        read=len(batch.opportunities),
        customers=dump_all(mapped.customers),
        orders=dump_and_release(mapped.orders),  # the largest part: never held twice over
        failures=mapped.failures + missing,
        guards=write_back_guards(batch.opportunities),
        chunk_size=settings.batch_sizes.netsuite_writes_per_task,
    ).to_xcom()


def load_customers(plan: dict[str, Any], *, concurrency: int) -> NetSuiteWriteRequest:
    """NetSuite customers for Accounts that have none yet (external id = Account id), for
    ``@task.netsuite_write`` to upsert."""
    order_plan = SalesOrderPlan.from_xcom(plan)
    customers = order_plan.customers
    hook = netsuite_hook(concurrency=concurrency)  # reads the connection only: no request yet
    if order_plan.dry_run:
        log_dry_run("NetSuite customer", customers)
        return NetSuiteWriteRequest(writes=[], record_type="customer", hook=hook)
    return NetSuiteWriteRequest(writes=customers, record_type="customer", hook=hook)


def order_chunks(transformed: dict[str, Any]) -> list[str]:
    """Split the orders for the mapped load tasks (each chunk as JSON text: see
    :meth:`~crsync.records.TaskPayload.to_xcom_text`); always one chunk at least, so write-back runs."""
    plan = SalesOrderPlan.from_xcom(transformed)
    chunks = chunked(plan.orders, plan.chunk_size) or [[]]
    log.info("%d order(s) in %d load task(s) of at most %d", len(plan.orders), len(chunks), plan.chunk_size)
    return [OrderChunk(dry_run=plan.dry_run, orders=chunk).to_xcom_text() for chunk in chunks]


def load_orders(chunk: dict[str, Any] | str, customers: dict[str, Any], *, concurrency: int) -> NetSuiteWriteRequest:
    """One chunk of sales orders for ``@task.netsuite_write`` to upsert (or transform from the renewal
    estimate) within the pool; the orders refused before sending are carried as ``failures``."""
    # The write-back's pandas-free module, not the mapping: a load task never pays pandas' import (about
    # 1.5 s of CPU per task, while the other load tasks of the run are sending).
    from crsync.mappings.sales_order_write_back import (
        explain_currency_refusals,
        explain_subsidiary_refusals,
        resolve_new_customers,
    )

    orders, created = OrderChunk.from_xcom(chunk), LoadOutcome.from_xcom(customers)
    hook = netsuite_hook(concurrency=concurrency)  # reads the connection only: no request yet
    if orders.dry_run:
        # No customer was created, so an order for a new Account shows its entity by the Account id (the
        # customer a real run creates first): not a refusal.
        log_dry_run("NetSuite sales order", orders.orders)
        return NetSuiteWriteRequest(writes=[], record_type="salesorder", hook=hook, carry={"failures": []})
    ready, failures = resolve_new_customers(orders.orders, created.results)
    if ready:
        ready, billed_refused = without_billed_lines(hook, ready, load_settings().batch_sizes.id_lookup)
        failures += billed_refused

    def explain(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # NetSuite alone knows which currencies a customer may use: its refusal gets the fix added.
        settings = load_settings()
        results = dump_all(explain_currency_refusals(results, ready, settings))
        # Likewise the customer's subsidiary (OneWorld).
        return dump_all(explain_subsidiary_refusals(results, ready, settings))

    return NetSuiteWriteRequest(
        writes=dump_all(ready),
        record_type="salesorder",
        hook=hook,
        explain=explain,
        carry={"failures": dump_all(failures)},
    )


def write_back(
    transformed: dict[str, Any], customers: dict[str, Any], order_results: list[dict[str, Any]], context: Any
) -> dict[str, Any]:
    """Record every outcome on the Opportunity (and new customer ids on the Account); build the summary.

    Only Opportunities queued or already sent are written back, and only if unchanged since extract: one
    edited during the run (its ``SystemModstamp`` moved) keeps ``Processing`` and goes in the next run. If
    its order was written, it still gets the order's NetSuite id and number (nothing else), so a deal closed
    or un-queued while its order was being created keeps the link to that order.
    """
    from crsync.mappings.sales_order_write_back import (
        account_write_back,
        changed_since_extract,
        opportunity_key,
        opportunity_write_back,
    )

    plan = SalesOrderPlan.from_xcom(transformed)
    loads = [LoadOutcome.from_xcom(chunk) for chunk in order_results]
    results = [r for chunk in loads for r in chunk.results]
    failures = plan.failures + [f for chunk in loads for f in chunk.failures]
    summary = RunSummary(flow=FLOW_ID).add_read(plan.read).add_results(results).add_failures(failures)
    if plan.dry_run:
        summary.dry_run = True
        summary.add_skipped("dry_run", len(plan.orders))
        return summary.as_dict()

    ok_keys = [r.external_id for r in results if r.ok]
    order_numbers = _order_numbers(ok_keys) if ok_keys else {}
    sf = salesforce_hook()
    # The Accounts first: the stamps are re-read after them, right before the Opportunities' write-back,
    # so the time in which an edit goes unseen is only that of the Opportunities' own calls.
    _write_back_batch(sf, account_write_back(LoadOutcome.from_xcom(customers).results), summary, context)
    guards = plan.guards
    current = _current_stamps(sf, list(guards))
    changed = changed_since_extract(guards, current)
    if changed:
        summary.add_skipped(CHANGED_DURING_RUN, len(changed))
        log.warning(
            "%d Opportunity(ies) changed since they were extracted; no sync status written back (the next run "
            "sends them again if they are still queued), only the NetSuite id and number of an order written: %s",
            len(changed),
            ", ".join(sorted(changed)),
        )
    writable = [key for key in guards if key not in changed]
    still_there = {opportunity_key(row) for row in current}
    opportunities = opportunity_write_back(
        results,
        failures,
        order_numbers=order_numbers,
        writable=writable,
        link_only=[key for key in changed if key in still_there],
    )
    _write_back_batch(sf, opportunities, summary, context, link_task=True)
    return summary.as_dict()


def _write_back_batch(
    sf: Any, batch: SalesforceUpsertBatch, summary: RunSummary, context: Any, *, link_task: bool = False
) -> None:
    """Update ``batch``'s records by Id in collections; each refusal is a ``write_back_failed`` failure."""
    if not batch.records:
        return
    outcome = sf.update_collection(batch.sobject, batch.records)
    if link_task:
        link_task_to_salesforce(context, sf.instance_url, batch.sobject, outcome)
    refused = salesforce_refusals(
        batch.records,
        outcome,
        code="write_back_failed",
        key=lambda record: str(record["Id"]),
        refused=lambda _record, sobject=batch.sobject: f"Salesforce refused the {sobject} write-back",
    )
    summary.add_failures(refused)
    log.info("Wrote back %d %s record(s), %d refused", len(batch.records), batch.sobject, len(refused))


def _current_stamps(sf: Any, ids: list[str]) -> list[dict[str, Any]]:
    """These Opportunities' and their lines' ``SystemModstamp`` now (one SOQL query per 500 ids), read
    just before the write-back. A change after this read and before the update still goes unseen:
    Salesforce collections have no conditional update."""
    rows: list[dict[str, Any]] = []
    for part in chunked(ids, MAX_IDS_PER_QUERY):
        soql = opportunity_modstamps_soql(part)  # type: ignore[arg-type]
        rows += sf.query(soql, strip_attributes=True, flatten_children=True)
    return rows


def _order_numbers(external_ids: list[str]) -> dict[str, str]:
    """Opportunity id -> NetSuite document number (tranid), one SuiteQL query per 1,000 orders."""
    hook = netsuite_hook()
    numbers: dict[str, str] = {}
    for part in chunked(sorted(set(external_ids)), 1000):
        for row in hook.suiteql(sales_orders_by_external_ids_query(part)):
            if row.get("tranid"):
                numbers[str(row["externalid"])] = str(row["tranid"])
    return numbers

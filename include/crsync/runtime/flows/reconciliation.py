"""Task bodies of the reconciliation DAG (``crsync_reconciliation``): read both systems, compare, report,
optionally re-queue.

The comparison itself is pure (:mod:`crsync.reconcile`); this module does the I/O:

- NetSuite: SuiteQL keyset paging (``NetSuiteHook.suiteql_keyset`` of :mod:`crsync.queries` keyset queries, any size,
  past the 100,000-row offset cap) for contracts, contract items and sales orders that carry an external
  id, selecting only the compared columns;
- Salesforce: SOQL followed through ``nextRecordsUrl`` (2,000 rows a page) for Contracts and
  ``Contract_Item__c`` records with a ``NetSuite_Id__c``, Opportunities in Error or stuck in Processing,
  and (by id, 500 per query) the Opportunities that sales orders name.

Rows are kept column-wise with only the compared columns, so 100,000 contract items stay small.
Reports go to ``<CRSYNC_REPORTS_PATH>/crsync_reconciliation/<run id>/`` (``drift.csv``, ``report.html``,
``summary.json``, and ``repair.csv`` when repairing) through :class:`airflow.sdk.ObjectStoragePath`, so
the base may be ``file://...`` (default ``file://$AIRFLOW_HOME/reports``) or ``s3://...``
(``CRSYNC_REPORTS_CONN_ID`` names the connection).

Importing this module is cheap (the DAG file reads :func:`reconciliation_params` at parse time);
pandas, the hooks and the settings are imported inside the task functions.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param

from crsync.ids import SOQL_IDS_PER_GET
from crsync.records import Reconciliation, RepairOutcome
from crsync.runtime.health_log import RECONCILIATION_DAG_ID
from crsync_provider.links import link_task_to_salesforce

if TYPE_CHECKING:
    import pandas as pd
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

DAG_ID = RECONCILIATION_DAG_ID  # one home: crsync.runtime.health_log (the health page reads it too)
REPORTS_PATH_ENV = "CRSYNC_REPORTS_PATH"
REPORTS_CONN_ENV = "CRSYNC_REPORTS_CONN_ID"
CSV_NAME = "drift.csv"
HTML_NAME = "report.html"
SUMMARY_NAME = "summary.json"
REPAIR_NAME = "repair.csv"
DEFAULT_STUCK_AFTER_HOURS = 2
#: Ids per ``Id IN (...)`` SOQL lookup (keeps the GET URL short).
SOQL_IDS_PER_QUERY = SOQL_IDS_PER_GET
#: Order ids per ``transaction IN (...)`` SuiteQL lookup of order lines.
NS_IDS_PER_QUERY = 1000
#: Drift rows shown per kind in the task log.
LOG_ROWS_PER_KIND = 5


def reconciliation_params() -> dict[str, Param]:
    """The trigger form of the reconciliation DAG."""
    return {
        "repair": Param(
            False,
            type="boolean",
            title="Repair",
            description="Re-queue what can be repaired: Opportunities in Error or stuck in Processing get "
            "Sync_Status__c = 'Processing' again, so the hourly flow re-sends them (sales orders are "
            "upserted by external id, never duplicated). Nothing is deleted or overwritten otherwise.",
        ),
        "stuck_after_hours": Param(
            DEFAULT_STUCK_AFTER_HOURS,
            type="integer",
            minimum=0,
            maximum=24 * 90,
            title="Stuck after (hours)",
            description="An Opportunity in Processing whose last change is older than this counts as stuck.",
        ),
        "fail_on_drift": Param(
            False,
            type="boolean",
            title="Fail on drift",
            description="Fail the run (and alert) when any drift is found. Off: drift is reported, the run "
            "stays green.",
        ),
    }


# -------------------------------------------------------------------------------------------- reading


def _columnar(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], label: str = "") -> pd.DataFrame:
    """A frame of ``columns`` built column by column (dotted names read nested parent records)."""
    import pandas as pd

    started = time.monotonic()
    data: dict[str, list[Any]] = {c: [] for c in columns}
    for row in rows:
        for column in columns:
            data[column].append(_get_path(row, column))
    out = pd.DataFrame(data, columns=list(columns), dtype=object)
    if label:
        log.info("Read %s %s in %.1fs", len(out), label, time.monotonic() - started)
    return out


def _get_path(row: Mapping[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part) if part in value else value.get(part.lower())
    return value


def _order_line_drift(ns: Any, sf: Any, pairs: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Read the lines of these (order, Opportunity) pairs from both systems and compare them."""
    import pandas as pd

    from crsync import queries
    from crsync import reconcile as rc

    if not pairs:
        return rc.empty()
    order_ids = [order for order, _, _ in pairs]
    ns_lines = [
        _columnar(ns.suiteql(queries.sales_order_lines_query(part)), rc.NS_ORDER_LINE_COLUMNS)
        for part in queries.chunked(order_ids, NS_IDS_PER_QUERY)
    ]
    sf_lines = [
        _soql(sf, queries.opportunity_lines_soql(part), rc.SF_OPPORTUNITY_LINE_COLUMNS)  # type: ignore[arg-type]
        for part in queries.chunked([opp for _, _, opp in pairs], SOQL_IDS_PER_QUERY)
    ]
    return rc.order_line_drift(pairs, pd.concat(ns_lines, ignore_index=True), pd.concat(sf_lines, ignore_index=True))


def _soql(sf: Any, soql: str, columns: Sequence[str], label: str = "") -> pd.DataFrame:
    return _columnar(sf.query(soql, strip_attributes=True), columns, label)


# -------------------------------------------------------------------------------------------- reports


def reports_base() -> ObjectStoragePath:
    """``$CRSYNC_REPORTS_PATH`` (default ``file://$AIRFLOW_HOME/reports``) as an object storage path."""
    from airflow.sdk import ObjectStoragePath

    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    base = os.environ.get(REPORTS_PATH_ENV) or f"file://{os.path.abspath(home)}/reports"
    return ObjectStoragePath(base, conn_id=os.environ.get(REPORTS_CONN_ENV) or None)


def safe_run_id(run_id: str) -> str:
    """The run id as a folder name: characters other than letters, digits, ``.``, ``_``, ``-`` become ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", run_id) or "run"


def run_folder(run_id: str) -> ObjectStoragePath:
    folder = reports_base() / DAG_ID / safe_run_id(run_id)
    if folder.protocol in ("file", "local", ""):
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(text: str) -> ObjectStoragePath:
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(text, conn_id=os.environ.get(REPORTS_CONN_ENV) or None)


def _write_csv(path: ObjectStoragePath, frame: pd.DataFrame) -> None:
    from crsync.reconcile import csv_safe

    with path.open("w", encoding="utf-8", newline="") as handle:
        csv_safe(frame).to_csv(handle, index=False)


# -------------------------------------------------------------------------------------------- tasks


def _run_id(context: Mapping[str, Any]) -> str:
    dag_run = context.get("dag_run")
    return str(getattr(dag_run, "run_id", None) or context.get("run_id") or "manual")


def reconcile(context: Mapping[str, Any], *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Read both systems, compare, log the report and save it; returns counts and report paths."""
    import pandas as pd

    from crsync import fields as f
    from crsync import queries
    from crsync import reconcile as rc
    from crsync.runtime.flows.common import netsuite_hook, salesforce_hook
    from crsync.settings import load_settings

    params = dict(context.get("params") or {})
    stuck_hours = int(params.get("stuck_after_hours", DEFAULT_STUCK_AFTER_HOURS))
    settings = load_settings()
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    stuck_after = dt.timedelta(hours=stuck_hours)
    page = settings.batch_sizes.suiteql_page
    run_id = _run_id(context)
    log.info(
        "Reconciling Salesforce and NetSuite (run %s); Processing counts as stuck after %s h",
        run_id,
        stuck_hours,
    )

    ns, sf = netsuite_hook(), salesforce_hook()
    compared: dict[str, int] = {}

    # Opportunities in Error or stuck in Processing.
    opps = _soql(
        sf, queries.opportunities_to_check_soql(now - stuck_after), rc.OPPORTUNITY_COLUMNS, "Opportunities to check"
    )
    opportunity_drift = rc.failed_or_stuck_opportunities(opps, now=now, stuck_after=stuck_after)
    compared["Opportunities in Error or Processing"] = len(opps)
    del opps

    # Opportunities that carry a NetSuite order id: read before the orders, so that an order made meanwhile
    # (the hourly flow runs at any time) is among the orders read, not reported missing.
    opps_with_order = _soql(
        sf, queries.linked_opportunities_soql(), rc.OPPORTUNITY_COLUMNS, "Opportunities with a NetSuite id"
    )

    # Sales orders created from Opportunities, and those Opportunities.
    orders = _columnar(
        ns.suiteql_keyset(queries.synced_sales_orders_query(), page_size=page),
        rc.SALES_ORDER_COLUMNS,
        "NetSuite sales orders with an external id",
    )
    opp_ids = sorted({i for i in orders[f.NsTransaction.EXTERNAL_ID].map(rc.opportunity_id) if i})
    linked = [
        _soql(sf, queries.opportunities_by_ids_soql(chunk), rc.OPPORTUNITY_COLUMNS)
        for chunk in queries.chunked(opp_ids, SOQL_IDS_PER_QUERY)
    ]
    linked_opps = rc.frame(pd.concat(linked, ignore_index=True) if linked else None, rc.OPPORTUNITY_COLUMNS)
    order_drift = rc.unlinked_sales_orders(orders, linked_opps)
    compared["NetSuite sales orders with an external id"] = len(orders)
    pairs = rc.synced_order_pairs(orders, linked_opps)
    # Opportunities that point at an order NetSuite does not have (the other direction).
    returns = _columnar(
        ns.suiteql_keyset(queries.downsell_returns_query(), page_size=page),
        rc.SALES_ORDER_COLUMNS,
        "NetSuite return authorizations with an external id",
    )
    missing_order_drift = rc.opportunities_linked_to_missing_orders(orders, opps_with_order, returns)
    compared["Salesforce Opportunities with a NetSuite id"] = len(opps_with_order)
    del orders, linked, linked_opps, opps_with_order, returns

    # Lines of the synced orders against their Opportunities' products (item, quantity, rate).
    line_drift = _order_line_drift(ns, sf, pairs)
    compared["Synced sales orders whose lines were compared"] = len(pairs)

    # Contracts.
    ns_contracts = _columnar(
        ns.suiteql_keyset(queries.reconciliation_contracts_query(), page_size=page),
        rc.NS_CONTRACT_COLUMNS,
        "NetSuite contracts",
    )
    sf_contracts = _soql(sf, queries.salesforce_contracts_soql(), rc.SF_CONTRACT_COLUMNS, "Salesforce Contracts")
    contract_drift = rc.contract_drift(
        ns_contracts, sf_contracts, status_labels=settings.netsuite.lists.contract_status
    )
    compared["NetSuite contracts"] = len(ns_contracts)
    compared["Salesforce Contracts with a NetSuite id"] = len(sf_contracts)
    del ns_contracts, sf_contracts

    # Contract items.
    ns_items = _columnar(
        ns.suiteql_keyset(queries.reconciliation_contract_items_query(), page_size=page),
        rc.NS_CONTRACT_ITEM_COLUMNS,
        "NetSuite contract items",
    )
    sf_items = _soql(
        sf, queries.salesforce_contract_items_soql(), rc.SF_CONTRACT_ITEM_COLUMNS, "Salesforce Contract_Item__c"
    )
    item_drift = rc.contract_item_drift(
        ns_items, sf_items, state_labels=settings.netsuite.lists.contract_item_state
    )
    compared["NetSuite contract items"] = len(ns_items)
    compared["Salesforce Contract_Item__c with a NetSuite id"] = len(sf_items)
    del ns_items, sf_items

    drift = rc.combine(
        [opportunity_drift, order_drift, missing_order_drift, line_drift, contract_drift, item_drift]
    )
    per_kind = rc.counts(drift)
    title = f"Reconciliation {run_id}"

    folder = run_folder(run_id)
    csv_path, html_path, summary_path = folder / CSV_NAME, folder / HTML_NAME, folder / SUMMARY_NAME
    _write_csv(csv_path, drift)
    html_path.write_text(
        rc.render_html(drift, title=title, csv_name=CSV_NAME, compared=compared, generated_at=now)
    )
    result = {
        "run_id": run_id,
        "checked_at": now.isoformat(),
        "stuck_after_hours": stuck_hours,
        "total": len(drift),
        "counts": {k: n for k, n in per_kind.items() if n},
        "compared": compared,
        "requeueable": len(rc.requeue_ids(drift)),
        "reports": {"csv": str(csv_path), "html": str(html_path), "summary": str(summary_path)},
    }
    summary_path.write_text(json.dumps({**result, "counts": per_kind}, indent=2))
    log.info("%s", rc.render_text(drift, title=title, compared=compared, shown=LOG_ROWS_PER_KIND))
    log.info("Report saved: %s (all rows), %s", csv_path, html_path)
    return Reconciliation.model_validate(result).to_xcom()


def repair(reconciled: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """With ``repair=true``, set ``Sync_Status__c = 'Processing'`` on the Error and stuck Opportunities of
    the report that are still Error or Processing now (collections, 200 a call). Nothing else is written."""
    found = Reconciliation.from_xcom(reconciled)
    params = dict(context.get("params") or {})
    if not params.get("repair", False):
        log.info("repair is off: nothing re-queued (%s Opportunity(ies) could be).", found.requeueable)
        return RepairOutcome(enabled=False).to_xcom()

    import pandas as pd

    from crsync import fields as f
    from crsync import queries
    from crsync import reconcile as rc
    from crsync.runtime.flows.common import salesforce_errors, salesforce_hook
    from crsync.settings import load_settings

    csv_path = _path(found.reports.csv)
    with csv_path.open("r", encoding="utf-8") as handle:
        drift = pd.read_csv(handle, dtype=str, keep_default_na=False, usecols=["kind", "salesforce_id"])
    wanted = rc.requeue_ids(drift)
    if not wanted:
        log.info("repair: no Opportunity in Error or stuck in Processing; nothing to re-queue.")
        return RepairOutcome(enabled=True).to_xcom()

    sf = salesforce_hook()
    requeueable = {f.SyncStatus.ERROR.value, f.SyncStatus.PROCESSING.value}
    current = {}
    for chunk in queries.chunked(wanted, SOQL_IDS_PER_QUERY):
        for row in sf.query(queries.opportunities_by_ids_soql(chunk), strip_attributes=True):
            current[str(row[f.Opportunity.ID])] = row.get(f.Opportunity.SYNC_STATUS)
    targets = [i for i in wanted if current.get(i) in requeueable]
    skipped = len(wanted) - len(targets)
    if skipped:
        log.info(
            "repair: %s Opportunity(ies) changed status since the check (or are gone); left alone.", skipped
        )
    chunk_size = load_settings().batch_sizes.salesforce_collection
    records = [
        {f.Opportunity.ID: i, f.Opportunity.SYNC_STATUS: f.SyncStatus.PROCESSING.value} for i in targets
    ]
    results = sf.update_collection(f.Opportunity.SOBJECT, records, chunk_size=chunk_size) if records else []
    link_task_to_salesforce(context, sf.instance_url, f.Opportunity.SOBJECT, results)
    rows = []
    for opp_id, result in zip(targets, results, strict=True):
        message = salesforce_errors(result)
        rows.append(
            {"salesforce_id": opp_id, "requeued": bool(result.get("success")), "error": message or None}
        )
    failed = [r for r in rows if not r["requeued"]]
    repair_path = csv_path.parent / REPAIR_NAME
    _write_csv(repair_path, pd.DataFrame(rows, columns=["salesforce_id", "requeued", "error"]))
    log.info(
        "repair: re-queued %s Opportunity(ies) (Sync_Status__c = Processing), %s failed; details in %s",
        len(rows) - len(failed),
        len(failed),
        repair_path,
    )
    for row in failed[:LOG_ROWS_PER_KIND]:
        log.warning("  could not re-queue %s: %s", row["salesforce_id"], row["error"])
    return RepairOutcome(
        enabled=True,
        requeued=len(rows) - len(failed),
        failed=len(failed),
        skipped=skipped,
        failures=failed[:20],
        report=str(repair_path),
    ).to_xcom()


def report(
    reconciled: Mapping[str, Any], repaired: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """The run's result: counts and report paths. Drift leaves the run green unless ``fail_on_drift``;
    a re-queue that Salesforce refused fails it."""
    from airflow.sdk.exceptions import AirflowFailException

    params = dict(context.get("params") or {})
    found, repair_outcome = Reconciliation.from_xcom(reconciled), RepairOutcome.from_xcom(repaired)
    result = {**found.to_xcom(), "repair": repair_outcome.to_xcom()}
    counts = ", ".join(f"{k} {n}" for k, n in found.counts.items()) or "none"
    text = (
        f"Reconciliation {found.run_id}: {found.total} drift row(s) ({counts}). "
        f"Report: {found.reports.html} (all rows: {found.reports.csv})."
    )
    if repair_outcome.enabled:
        text += f" Re-queued {repair_outcome.requeued}, failed {repair_outcome.failed}."
    log.info("%s", text)
    from crsync.runtime import health_log

    health_log.record_reconciliation(found.to_xcom())  # the sync health page's latest reconciliation
    if repair_outcome.failed:
        raise AirflowFailException(f"{text} Some Opportunities could not be re-queued: {repair_outcome.failures}")
    if params.get("fail_on_drift") and found.total:
        raise AirflowFailException(f"{text} fail_on_drift is on.")
    return result

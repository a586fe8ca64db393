"""Reconciliation: compare what Salesforce and NetSuite hold and list the drift, one row per finding.

Pure functions on pandas frames (no I/O, no Airflow): the reconciliation DAG
(:mod:`crsync.runtime.flows.reconciliation`) reads both systems into frames with the column names the
APIs use, calls the checks below and writes :func:`combine`'s result as the run's report.

Every check returns a frame with :data:`DRIFT_COLUMNS`:

- ``kind``: one of :data:`KINDS`;
- ``record``: ``Opportunity``, ``Sales Order``, ``Contract`` or ``Contract Item``;
- ``netsuite_id`` / ``salesforce_id``: the record on each side (empty when that side lacks it);
- ``name``: a readable name (Opportunity name, document number, contract or item name);
- ``field``, ``netsuite_value``, ``salesforce_value``: for ``*_different`` rows, one row per field that
  differs (the Salesforce field API name); empty otherwise;
- ``message``: what is wrong and what to do about it.

NetSuite is the source of truth for contracts and contract items (they flow NetSuite -> Salesforce);
Salesforce is the source for Opportunities and their sales orders.

This module holds the Opportunity and sales order checks and re-exports the other parts: the kinds,
columns and value normalisers (:mod:`crsync.reconcile_frames`), the contract and contract item checks
(:mod:`crsync.reconcile_contracts`) and the report (:mod:`crsync.reconcile_report`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd

from crsync import fields as f
from crsync.reconcile_contracts import (
    FieldCheck,
    contract_checks,
    contract_drift,
    contract_item_checks,
    contract_item_drift,
)
from crsync.reconcile_frames import (
    CONTRACT_DIFFERENT,
    CONTRACT_ITEM_DIFFERENT,
    CONTRACT_ITEM_MISSING_IN_NETSUITE,
    CONTRACT_ITEM_MISSING_IN_SALESFORCE,
    CONTRACT_ITEM_PARENT,
    CONTRACT_MISSING_IN_NETSUITE,
    CONTRACT_MISSING_IN_SALESFORCE,
    DRIFT_COLUMNS,
    KINDS,
    LAST_MODIFIED_DATE,
    MAX_ERROR_CHARS,
    NS_CONTRACT_COLUMNS,
    NS_CONTRACT_ITEM_COLUMNS,
    NS_ORDER_LINE_COLUMNS,
    NUMBER_TOLERANCE,
    OPPORTUNITY_COLUMNS,
    OPPORTUNITY_ERROR,
    OPPORTUNITY_LINE_ITEM,
    OPPORTUNITY_ORDER_MISSING,
    OPPORTUNITY_STUCK,
    REQUEUE_KINDS,
    SALES_ORDER_COLUMNS,
    SALES_ORDER_LINE_DIFFERENT,
    SALES_ORDER_LINK_MISMATCH,
    SALES_ORDER_UNKNOWN_OPPORTUNITY,
    SALES_ORDER_UNLINKED,
    SF_CONTRACT_COLUMNS,
    SF_CONTRACT_ITEM_COLUMNS,
    SF_OPPORTUNITY_LINE_COLUMNS,
    Rows,
    display,
    drift_row,
    drift_rows,
    empty,
    frame,
    is_missing,
    norm_date,
    norm_id,
    norm_number,
    norm_text,
    opportunity_id,
    parse_datetime,
)
from crsync.reconcile_report import (
    FORMULA_PREFIXES,
    combine,
    counts,
    csv_safe,
    render_html,
    render_text,
    requeue_ids,
)

_O, _NT, _NL, _L = f.Opportunity, f.NsTransaction, f.NsTransactionLine, f.OpportunityLineItem


# -------------------------------------------------------------------------------------------- Opportunities


def failed_or_stuck_opportunities(
    opportunities: Rows,
    *,
    now: dt.datetime,
    stuck_after: dt.timedelta,
) -> pd.DataFrame:
    """Opportunities in ``Error`` (with their message) or in ``Processing`` since before ``now - stuck_after``.

    :param opportunities: columns :data:`OPPORTUNITY_COLUMNS` (other statuses are ignored).
    :param now: the reference time (aware).
    :param stuck_after: how long ``Processing`` may last before it counts as stuck.
    """
    opps = frame(opportunities, OPPORTUNITY_COLUMNS)
    cutoff = now.astimezone(dt.UTC) - stuck_after
    hours = stuck_after.total_seconds() / 3600
    out: list[dict[str, Any]] = []
    for rec in opps.to_dict("records"):
        status = norm_text(rec[_O.SYNC_STATUS])
        common = {
            "salesforce_id": norm_text(rec[_O.ID]),
            "netsuite_id": norm_id(rec[_O.NETSUITE_ID]),
            "name": norm_text(rec[_O.NAME]),
        }
        if status == f.SyncStatus.ERROR:
            error = norm_text(rec[_O.SYNC_ERROR]) or "(no Sync_Error__c message)"
            if len(error) > MAX_ERROR_CHARS:
                error = error[: MAX_ERROR_CHARS - 3] + "..."
            out.append(
                drift_row(
                    OPPORTUNITY_ERROR,
                    "Opportunity",
                    **common,
                    field=_O.SYNC_ERROR,
                    salesforce_value=error,
                    message=f"Sync failed: {error} -- fix the cause, then click Create NetSuite Order again "
                    "(or run the reconciliation with repair=true to re-queue it).",
                )
            )
        elif status == f.SyncStatus.PROCESSING:
            modified = parse_datetime(rec[LAST_MODIFIED_DATE])
            if modified is None or modified >= cutoff:
                continue
            since = modified.strftime("%Y-%m-%d %H:%M UTC")
            out.append(
                drift_row(
                    OPPORTUNITY_STUCK,
                    "Opportunity",
                    **common,
                    field=LAST_MODIFIED_DATE,
                    salesforce_value=modified.isoformat(),
                    message=f"Processing since {since} (more than {hours:g} h): the hourly flow "
                    "sf_opportunity_to_ns_sales_order has not picked it up; check that DAG's recent runs "
                    "(repair=true re-queues it).",
                )
            )
    return drift_rows(out)


# -------------------------------------------------------------------------------------------- sales orders


def unlinked_sales_orders(
    sales_orders: Rows,
    opportunities: Rows,
) -> pd.DataFrame:
    """Sales orders created from an Opportunity (external id = Opportunity id) that Salesforce does not
    link back: the Opportunity is gone, has no ``NetSuite_Id__c``, or has a different one.

    :param sales_orders: columns :data:`SALES_ORDER_COLUMNS`; orders whose external id is not an
        Opportunity id are not the integration's and are ignored.
    :param opportunities: the Opportunities those external ids name (``Id``, ``Name``, ``NetSuite_Id__c``).
    """
    orders = frame(sales_orders, SALES_ORDER_COLUMNS)
    opps = frame(opportunities, OPPORTUNITY_COLUMNS)
    by_id = {opportunity_id(rec[_O.ID]): rec for rec in opps.to_dict("records") if opportunity_id(rec[_O.ID])}
    out: list[dict[str, Any]] = []
    for rec in orders.to_dict("records"):
        opp_id = opportunity_id(rec[_NT.EXTERNAL_ID])
        if opp_id is None:
            continue
        order_id = norm_id(rec[_NT.ID])
        tranid = norm_text(rec[_NT.TRANID]) or f"#{order_id}"
        opp = by_id.get(opp_id)
        common = {"netsuite_id": order_id, "salesforce_id": opp_id, "name": tranid}
        if opp is None:
            out.append(
                drift_row(
                    SALES_ORDER_UNKNOWN_OPPORTUNITY,
                    "Sales Order",
                    **common,
                    field=_NT.EXTERNAL_ID,
                    netsuite_value=opp_id,
                    message=f"Sales order {tranid} was created from Opportunity {opp_id}, which Salesforce "
                    "does not have (deleted, or from another org). Check the order in NetSuite.",
                )
            )
            continue
        linked = norm_id(opp[_O.NETSUITE_ID])
        name = norm_text(opp[_O.NAME])
        if linked is None:
            out.append(
                drift_row(
                    SALES_ORDER_UNLINKED,
                    "Sales Order",
                    **common,
                    field=_O.NETSUITE_ID,
                    netsuite_value=order_id,
                    message=f"Opportunity {name or opp_id} has no NetSuite_Id__c although sales order {tranid} "
                    "was created from it (the write-back did not happen). Click Create NetSuite Order on it: "
                    "the order is upserted by external id, never duplicated.",
                )
            )
        elif linked != order_id:
            out.append(
                drift_row(
                    SALES_ORDER_LINK_MISMATCH,
                    "Sales Order",
                    **common,
                    field=_O.NETSUITE_ID,
                    netsuite_value=order_id,
                    salesforce_value=linked,
                    message=f"Opportunity {name or opp_id} points at NetSuite order {linked}, but sales order "
                    f"{tranid} (id {order_id}) was created from it. Check which order is right in NetSuite.",
                )
            )
    return drift_rows(out)


def opportunities_linked_to_missing_orders(
    sales_orders: Rows,
    opportunities: Rows,
    downsell_returns: Rows = None,
) -> pd.DataFrame:
    """Opportunities whose ``NetSuite_Id__c`` names no order created from an Opportunity (a sales order, or
    a downsell's return authorization): the order was deleted, or was made by hand without an external id
    (a re-send would then create a second order, upserted by the Opportunity id).

    Read the Opportunities before the orders: an order made in between is then among the orders read.

    :param sales_orders: columns :data:`SALES_ORDER_COLUMNS`: every sales order that carries an external id.
    :param opportunities: columns :data:`OPPORTUNITY_COLUMNS`: the Opportunities with a ``NetSuite_Id__c``.
    :param downsell_returns: the same columns: every return authorization that carries an external id.
    """
    orders = frame(sales_orders, SALES_ORDER_COLUMNS)
    returns = frame(downsell_returns, SALES_ORDER_COLUMNS)
    opps = frame(opportunities, OPPORTUNITY_COLUMNS)
    known = {norm_id(i) for i in orders[_NT.ID]} | {norm_id(i) for i in returns[_NT.ID]}
    out: list[dict[str, Any]] = []
    for rec in opps.to_dict("records"):
        linked, opp_id = norm_id(rec[_O.NETSUITE_ID]), opportunity_id(rec[_O.ID])
        if linked is None or opp_id is None or linked in known:
            continue
        name = norm_text(rec[_O.NAME])
        out.append(
            drift_row(
                OPPORTUNITY_ORDER_MISSING,
                "Opportunity",
                netsuite_id=linked,
                salesforce_id=opp_id,
                name=name,
                field=_O.NETSUITE_ID,
                salesforce_value=linked,
                message=f"Opportunity {name or opp_id} points at NetSuite order {linked}, which NetSuite does "
                "not have as a sales order or return authorization created from an Opportunity (deleted, or made "
                "by hand without an external id). Check the order in NetSuite; a re-send would create a new "
                "order for it.",
            )
        )
    return drift_rows(out)


def synced_order_pairs(
    sales_orders: Rows,
    opportunities: Rows,
) -> list[tuple[str, str, str]]:
    """(order id, document number, Opportunity id) of every sales order whose Opportunity is ``Synced``
    and links back to it: the pairs whose lines should agree (a queued one is about to be re-sent)."""
    orders = frame(sales_orders, SALES_ORDER_COLUMNS)
    opps = frame(opportunities, OPPORTUNITY_COLUMNS)
    synced = {
        opportunity_id(rec[_O.ID]): norm_id(rec[_O.NETSUITE_ID])
        for rec in opps.to_dict("records")
        if norm_text(rec[_O.SYNC_STATUS]) == f.SyncStatus.SYNCED and opportunity_id(rec[_O.ID])
    }
    pairs = []
    for rec in orders.to_dict("records"):
        opp_id, order_id = opportunity_id(rec[_NT.EXTERNAL_ID]), norm_id(rec[_NT.ID])
        if opp_id and order_id and synced.get(opp_id) == order_id:
            pairs.append((order_id, norm_text(rec[_NT.TRANID]) or f"#{order_id}", opp_id))
    return pairs


def _line_totals(rows: pd.DataFrame, key: str, item: str, quantity: str, rate: str) -> dict[tuple[str, str], Any]:
    """(parent, item) -> [total quantity, sorted distinct rates]; NetSuite's zero-quantity lines (dropped
    at renewal, the module's rule) are not products."""
    totals: dict[tuple[str, str], Any] = {}
    for rec in rows.to_dict("records"):
        parent, item_id = norm_id(rec[key]) or norm_text(rec[key]), norm_id(rec[item])
        amount, price = norm_number(rec[quantity]), norm_number(rec[rate])
        if parent is None or item_id is None or not amount:
            continue
        entry = totals.setdefault((parent, item_id), [0.0, set()])
        entry[0] += abs(amount)  # SuiteQL may sign sales quantities negative
        if price is not None:
            entry[1].add(round(price, 2))
    return {k: (v[0], sorted(v[1])) for k, v in totals.items()}


def order_line_drift(
    pairs: Iterable[tuple[str, str, str]],
    netsuite_lines: Rows,
    salesforce_lines: Rows,
) -> pd.DataFrame:
    """Lines of synced sales orders that differ from their Opportunity's products, per item: quantity
    (summed over the item's lines) and rate (its distinct sales prices), or an item on one side only.

    :param pairs: from :func:`synced_order_pairs`.
    :param netsuite_lines: columns :data:`NS_ORDER_LINE_COLUMNS` (item lines of those orders).
    :param salesforce_lines: columns :data:`SF_OPPORTUNITY_LINE_COLUMNS` (line items of those Opportunities).
    """
    ns = _line_totals(frame(netsuite_lines, NS_ORDER_LINE_COLUMNS), _NL.TRANSACTION, _NL.ITEM, _NL.QUANTITY, _NL.RATE)
    sf = _line_totals(
        frame(salesforce_lines, SF_OPPORTUNITY_LINE_COLUMNS),
        _L.OPPORTUNITY_ID, OPPORTUNITY_LINE_ITEM, _L.QUANTITY, _L.UNIT_PRICE,
    )  # fmt: skip
    fix = "click Create NetSuite Order on the Opportunity to re-send it (the order is updated, not duplicated)"
    out: list[dict[str, Any]] = []
    ns_by_parent: dict[str, set[str]] = {}
    sf_by_parent: dict[str, set[str]] = {}
    for by_parent, totals in ((ns_by_parent, ns), (sf_by_parent, sf)):
        for parent, item in totals:
            by_parent.setdefault(parent, set()).add(item)
    for order_id, tranid, opp_id in pairs:
        ns_items, sf_items = ns_by_parent.get(order_id, set()), sf_by_parent.get(opp_id, set())
        for item in sorted(ns_items | sf_items, key=lambda i: (len(i), i)):
            ns_qty, ns_rates = ns.get((order_id, item), (None, []))
            sf_qty, sf_rates = sf.get((opp_id, item), (None, []))
            common = {"netsuite_id": order_id, "salesforce_id": opp_id, "name": f"{tranid} item {item}"}
            if ns_qty is None or sf_qty is None or abs(ns_qty - sf_qty) >= NUMBER_TOLERANCE:
                field, shown_ns, shown_sf = _L.QUANTITY, display(ns_qty), display(sf_qty)
                difference = (
                    f"quantity {shown_sf or 'none (not on the Opportunity)'} in Salesforce "
                    f"but {shown_ns or 'none (not on the order)'} on sales order {tranid}"
                )
            elif ns_rates != sf_rates:
                field = _L.UNIT_PRICE
                shown_ns = ", ".join(display(r) or "" for r in ns_rates)
                shown_sf = ", ".join(display(r) or "" for r in sf_rates)
                difference = f"sales price {shown_sf} in Salesforce but rate {shown_ns} on sales order {tranid}"
            else:
                continue
            out.append(drift_row(
                SALES_ORDER_LINE_DIFFERENT, "Sales Order", **common, field=field,
                netsuite_value=shown_ns, salesforce_value=shown_sf, message=f"Item {item}: {difference}; {fix}.",
            ))  # fmt: skip
    return drift_rows(out)


#: Every public name, including those of the parts this module re-exports (frames, contracts, report).
__all__ = [
    "CONTRACT_DIFFERENT",
    "CONTRACT_ITEM_DIFFERENT",
    "CONTRACT_ITEM_MISSING_IN_NETSUITE",
    "CONTRACT_ITEM_MISSING_IN_SALESFORCE",
    "CONTRACT_ITEM_PARENT",
    "CONTRACT_MISSING_IN_NETSUITE",
    "CONTRACT_MISSING_IN_SALESFORCE",
    "DRIFT_COLUMNS",
    "FORMULA_PREFIXES",
    "KINDS",
    "LAST_MODIFIED_DATE",
    "MAX_ERROR_CHARS",
    "NS_CONTRACT_COLUMNS",
    "NS_CONTRACT_ITEM_COLUMNS",
    "NS_ORDER_LINE_COLUMNS",
    "NUMBER_TOLERANCE",
    "OPPORTUNITY_COLUMNS",
    "OPPORTUNITY_ERROR",
    "OPPORTUNITY_LINE_ITEM",
    "OPPORTUNITY_STUCK",
    "REQUEUE_KINDS",
    "SALES_ORDER_COLUMNS",
    "SALES_ORDER_LINE_DIFFERENT",
    "SALES_ORDER_LINK_MISMATCH",
    "SALES_ORDER_UNKNOWN_OPPORTUNITY",
    "SALES_ORDER_UNLINKED",
    "SF_CONTRACT_COLUMNS",
    "SF_CONTRACT_ITEM_COLUMNS",
    "SF_OPPORTUNITY_LINE_COLUMNS",
    "combine",
    "contract_checks",
    "contract_drift",
    "contract_item_checks",
    "contract_item_drift",
    "counts",
    "csv_safe",
    "display",
    "drift_row",
    "drift_rows",
    "empty",
    "failed_or_stuck_opportunities",
    "FieldCheck",
    "frame",
    "is_missing",
    "norm_date",
    "norm_id",
    "norm_number",
    "norm_text",
    "opportunity_id",
    "order_line_drift",
    "parse_datetime",
    "render_html",
    "render_text",
    "requeue_ids",
    "synced_order_pairs",
    "unlinked_sales_orders",
]

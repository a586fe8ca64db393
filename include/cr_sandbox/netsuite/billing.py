"""Billing a sales order: ``POST record/v1/salesOrder/<id>/!transform/invoice``, and what billing locks.

- The transform is the record service's own (Oracle Help "Transforming Records", section_157901123882,
  whose example is exactly salesOrder -> invoice; 204 + ``Location`` of the new invoice).
- Invoicing turns an *approved* sales order into an invoice (Oracle Help "Invoicing Sales Orders",
  section_N1219162): an order still Pending Approval, or closed, is refused.
- The stand-in bills the whole order at once (every line, its full quantity): the order becomes ``G``
  Billed ("fully billed", the Contract Renewals default for contract items, section_N1325604). Partial
  billing is not modelled: an ``item`` sublist in the transform body is refused rather than ignored.
- A billed order's lines cannot be removed or changed any more (the sublist written with ``replace=item``
  or line updates): 400 ``USER_ERROR`` naming the invoice. Guess in NetSuite's form: NetSuite refuses to
  delete billed lines; its exact text is not documented. Body fields (memo, custom fields) stay editable.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from cr_sandbox.netsuite import preferences
from cr_sandbox.netsuite.errors import NetSuiteError, invalid_content
from cr_sandbox.netsuite.sublists import copy_lines

if TYPE_CHECKING:
    from cr_sandbox.netsuite.record_types import RecordType
    from cr_sandbox.netsuite.records import RecordService

INVOICE = "CustInvc"
INVOICE_OPEN = "A"
#: Order statuses that cannot be billed: Pending Approval, Cancelled, Closed.
NOT_BILLABLE = {"A": "pending approval; approve it first (orderStatus B)", "C": "cancelled", "H": "closed"}
#: Body columns an invoice takes from its order (besides entity, currency and the link).
COPIED = ("startdate", "enddate", "memo", "custbody_order_type", "custbody_end_user", "custbody_contract_name",
          "custbody_tran_term_in_months", "custbody_bill_to_tier")


def invoices_of(conn: sqlite3.Connection, order_id: int) -> list[str]:
    """Document numbers of the invoices made from an order."""
    return [r[0] for r in conn.execute(
        'SELECT tranid FROM "transaction" WHERE type=? AND createdfrom=? ORDER BY id', (INVOICE, order_id))]


def bill(
    service: RecordService, conn: sqlite3.Connection, order_id: int, invoice_type: RecordType, body: Any
) -> int:
    """Make the invoice for the whole order inside the caller's transaction; the order becomes Billed."""
    order = dict(conn.execute('SELECT * FROM "transaction" WHERE id=?', (order_id,)).fetchone())
    if order["status"] in NOT_BILLABLE:
        raise NetSuiteError(
            400, "USER_ERROR",
            f"Sales order {order['tranid']} cannot be billed: it is {NOT_BILLABLE[order['status']]}.",
        )
    if order["status"] == preferences.BILLED:
        raise NetSuiteError(
            400, "USER_ERROR",
            f"Sales order {order['tranid']} is fully billed ({', '.join(invoices_of(conn, order_id))}); "
            "there is nothing left to bill.",
        )
    values, given_sublists = service._body_values(conn, invoice_type, body or {}, creating=False)
    if given_sublists:
        raise invalid_content(
            "The sandbox bills the whole sales order: leave the item sublist out of the transform body "
            "(partial billing is not modelled).",
            "item",
        )
    head = {column: order[column] for column in COPIED if order.get(column) is not None}
    head.update({"entity": order["entity"], "currency": order["currency"], "status": INVOICE_OPEN})
    head.update(values)
    head["createdfrom"] = order_id
    if head.get("externalid"):
        service._check_external_id_free(conn, invoice_type, head["externalid"], None)
    invoice_id = service._insert(conn, invoice_type, head)
    # The invoice's lines are the order's, keeping their line keys, as a transform's starting lines are.
    copy_lines(conn, order_id, invoice_id)
    service.refresh_total(conn, invoice_id)
    conn.execute(
        'UPDATE "transaction" SET status=?, lastmodifieddate=? WHERE id=?',
        (preferences.BILLED, service.store.now_text(), order_id),
    )
    return invoice_id


def refuse_billed_line_changes(conn: sqlite3.Connection, order_id: int, sublists: dict[str, Any]) -> None:
    """A write that touches the item lines of a billed order is refused (nothing is saved)."""
    if "item" not in sublists:
        return
    invoices = invoices_of(conn, order_id)
    if not invoices:
        return
    tranid = conn.execute('SELECT tranid FROM "transaction" WHERE id=?', (order_id,)).fetchone()[0]
    raise NetSuiteError(
        400, "USER_ERROR",
        f"The lines of sales order {tranid} have been billed ({', '.join(invoices)}): billed lines cannot be "
        "removed or changed. Change the order in NetSuite (credit the invoice first), or leave its lines out "
        "of the request.",
        "item",
    )

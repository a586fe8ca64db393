"""Sales order approval, custom forms and the Contract Renewals form's required fields.

- A new order's ``orderStatus`` is the account's "Default Sales Order Status" (``A`` Pending Approval at
  Oracle's default) unless the request sets it; ``"B"`` on create pre-approves, a PATCH with ``"B"``
  approves, a PATCH with ``"A"`` resets the approval of an unfulfilled, unbilled order
  (section_159795516182, section_N1218788, section_N1388149).
- An order already billed cannot go back to Pending Approval ("When a sales order is partially
  fulfilled, the status cannot be changed back to pending approval", section_N1218788; billing is past
  fulfillment for this purpose, a guess).
- ``customForm`` is a field on GET and POST. The module's user event scripts run only on the "Sales
  Order - Contract Renewals" form or a copy of it (section_N1325805, bridgehead_N1321425).
- On that form, web-service orders need ``entity``, ``custbody_end_user``, ``custbody_order_type`` and
  ``startdate``; ``custbody_tran_term_in_months`` defaults to 12 and ``enddate`` is computed from the
  start and the term when absent (section_4539453728).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import TYPE_CHECKING, Any

from cr_sandbox.netsuite import preferences
from cr_sandbox.netsuite.errors import NetSuiteError, invalid_content, invalid_field_value

if TYPE_CHECKING:
    from cr_sandbox.netsuite.db import Store

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS customform (id INTEGER PRIMARY KEY, name TEXT, contract_renewals TEXT);
INSERT OR IGNORE INTO customform VALUES
    ({preferences.STANDARD_SALES_ORDER_FORM}, 'Standard Sales Order', 'F'),
    ({preferences.CONTRACT_RENEWALS_FORM}, 'Sales Order - Contract Renewals', 'T'),
    ({preferences.CONTRACT_RENEWALS_FORM_COPY}, 'Sales Order - Contract Renewals (copy)', 'T');
"""
#: Statuses a user can set through ``orderStatus`` (the rest follow from fulfilment, billing, closing).
SETTABLE_STATUSES = (preferences.PENDING_APPROVAL, preferences.PENDING_FULFILLMENT)
#: Statuses past approval: Pending Billing, Billed, Closed.
PAST_FULFILLMENT = ("F", "G", "H")
#: Web-service fields the Contract Renewals form needs (section_4539453728): column -> REST name.
REQUIRED_ON_CR_FORM = {
    "entity": "entity",
    "custbody_end_user": "custbody_end_user",
    "custbody_order_type": "custbody_order_type",
    "startdate": "startDate",
}
DEFAULT_TERM_MONTHS = 12.0


def add_columns(conn: sqlite3.Connection) -> None:
    """The transaction's ``customform`` column and the form list (kept apart from db.SCHEMA)."""
    conn.executescript(SCHEMA)
    columns = {r[1] for r in conn.execute('PRAGMA table_info("transaction")')}
    if "customform" not in columns:
        conn.execute('ALTER TABLE "transaction" ADD COLUMN customform INTEGER')


def convert_order_status(value: Any, name: str, path: str) -> str:
    """``orderStatus`` as sent: ``"B"`` (the help page's form) or ``{"id": "B"}``."""
    raw = value.get("id") if isinstance(value, dict) else value
    if not isinstance(raw, str) or raw not in SETTABLE_STATUSES:
        raise invalid_field_value(name, raw, path)
    return raw


def defaults_on_create(store: Store, discriminator: str | None, values: dict[str, Any]) -> None:
    """A new sales order gets the account's default status and preferred form unless the request sets them."""
    if discriminator != "SalesOrd":
        return
    prefs = preferences.read(store)
    if values.get("status") is None:
        values["status"] = prefs["default_sales_order_status"]
    if values.get("customform") is None:
        values["customform"] = prefs["preferred_sales_order_form"]


def check_update(conn: sqlite3.Connection, order_id: int, values: dict[str, Any]) -> None:
    """Refuse what NetSuite refuses on an existing order's approval status; drop a no-op approval."""
    if "status" not in values:
        return
    saved = conn.execute('SELECT status, tranid FROM "transaction" WHERE id=?', (order_id,)).fetchone()
    wanted = values["status"]
    if saved["status"] in PAST_FULFILLMENT:
        if wanted == preferences.PENDING_APPROVAL:
            raise NetSuiteError(
                400, "USER_ERROR",
                f"Sales order {saved['tranid']} has been billed: its status cannot be changed back to Pending "
                "Approval.",
                "orderStatus",
            )
        del values["status"]  # approving an order that is already past approval changes nothing


def on_contract_renewals_form(conn: sqlite3.Connection, form_id: int | None) -> bool:
    """Whether the module's user event scripts run for an order saved on this form."""
    if form_id is None:
        return False
    row = conn.execute("SELECT contract_renewals FROM customform WHERE id=?", (form_id,)).fetchone()
    return bool(row) and row[0] == "T"


def complete_cr_fields(conn: sqlite3.Connection, order: dict[str, Any]) -> None:
    """The form's mandatory fields (400 naming the first missing one) and its defaults (term, end date).

    Updates ``order`` in place and in the table, inside the save's transaction.
    """
    for column, name in REQUIRED_ON_CR_FORM.items():
        if order.get(column) is None:
            raise invalid_content(
                f"Please enter value(s) for: {name}. The field {name} is mandatory on the Sales Order - "
                "Contract Renewals form.",
                name,
            )
    from cr_sandbox.netsuite.module import add_months  # module imports this module at load time

    term = order.get("custbody_tran_term_in_months") or DEFAULT_TERM_MONTHS
    end = order.get("enddate")
    if end is None:
        start = dt.date.fromisoformat(str(order["startdate"])[:10])
        if float(term).is_integer():
            end = (add_months(start, int(term)) - dt.timedelta(days=1)).isoformat()
        else:
            end = (start + dt.timedelta(days=round(float(term) * 30.4375) - 1)).isoformat()
    if order.get("custbody_tran_term_in_months") != term or order.get("enddate") != end:
        conn.execute(
            'UPDATE "transaction" SET custbody_tran_term_in_months=?, enddate=? WHERE id=?', (term, end, order["id"])
        )
        order["custbody_tran_term_in_months"], order["enddate"] = term, end


def module_created_order(conn: sqlite3.Connection, store: Store, tran_id: int) -> None:
    """A renewal sales order the module generates itself: on its form, in the account's default status."""
    conn.execute(
        'UPDATE "transaction" SET customform=?, status=? WHERE id=?',
        (preferences.CONTRACT_RENEWALS_FORM, preferences.read(store)["default_sales_order_status"], tran_id),
    )

"""Contract Renewals (SWV CR) module behaviour: contracts from sales orders, upsells, nightly renewals.

Status and state ids come from :mod:`cr_sandbox.catalog` (the sandbox's choice; domain.md marks the
vendor's ids unconfirmed).
"""

from __future__ import annotations

import calendar
import datetime as dt
import sqlite3
from typing import TYPE_CHECKING, Any

from cr_sandbox.catalog import RENEWABLE_CATEGORIES
from cr_sandbox.netsuite import approval, contract_scripts, renewals
from cr_sandbox.netsuite.errors import NetSuiteError

if TYPE_CHECKING:
    from cr_sandbox.netsuite.db import Store

PENDING, ACTIVE, RENEWAL_GENERATED, RENEWAL_PROCESSED, RENEWAL_REJECTED, CANCELED, CLOSED = 1, 2, 3, 4, 5, 6, 7
FUTURE, ITEM_ACTIVE, EXPIRED = 1, 2, 3
ORDER_NEW, ORDER_RENEWAL, ORDER_UPSELL, ORDER_RENEWAL_MANUAL = 1, 2, 3, 6
TRANSACTION_TYPE_FOR_PREFERENCE = {1: "Opprtnty", 2: "Estimate", 3: "SalesOrd"}
PREFIX = {"SalesOrd": "SO", "Estimate": "EST", "Opprtnty": "OPP"}
DEFAULT_STATUS = {"SalesOrd": "B", "Estimate": "A", "Opprtnty": "A"}
TRANSACTION_TRANSFORM_SOURCES = ("Estimate", "Opprtnty")


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def term_months(start: dt.date, end: dt.date) -> float:
    """Whole months when ``end`` is the day before a month anniversary of ``start``; else days/30.4."""
    for months in range(1, 121):
        if add_months(start, months) - dt.timedelta(days=1) == end:
            return float(months)
    return round(((end - start).days + 1) / 30.4375, 2)


def next_term(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The renewal term: starts the day after ``end`` and lasts as long as the old one."""
    new_start = end + dt.timedelta(days=1)
    months = term_months(start, end)
    if months.is_integer():
        return new_start, add_months(new_start, int(months)) - dt.timedelta(days=1)
    return new_start, new_start + (end - start)


def item_state(start: str | None, end: str | None, today: dt.date) -> int:
    iso = today.isoformat()
    if start and start > iso:
        return FUTURE
    if end and end < iso:
        return EXPIRED
    return ITEM_ACTIVE


def _d(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)[:10]) if value else None


def _renew_with(conn: sqlite3.Connection, item_id: int, category: int | None) -> int:
    # New maintenance/support renews as the matching renewal item when the account has one.
    counterpart = {3: 4, 5: 6}.get(category or 0)
    if counterpart:
        row = conn.execute(
            "SELECT id FROM item WHERE custitem_item_category=? AND isinactive='F' ORDER BY id LIMIT 1", (counterpart,)
        ).fetchone()
        if row:
            return int(row[0])
    return item_id


def on_sales_order_saved(conn: sqlite3.Connection, store: Store, tran_id: int) -> None:
    """The module's user event script on a sales order save, inside the save's database transaction.

    It runs only for orders on the Contract Renewals form (or a copy): it checks the form's required
    fields and an upsell's dates, and queues the order for the background scripts that make the contract
    (R07) and its items (R03), :mod:`cr_sandbox.netsuite.contract_scripts`. A 400 raised here rolls the
    whole save back, as a NetSuite user-event script error would.
    """
    order = dict(conn.execute('SELECT * FROM "transaction" WHERE id=?', (tran_id,)).fetchone())
    if not approval.on_contract_renewals_form(conn, order["customform"]):
        return
    approval.complete_cr_fields(conn, order)
    order_type = order["custbody_order_type"]
    if conn.execute('SELECT 1 FROM module_processed WHERE "transaction"=?', (tran_id,)).fetchone():
        # Updating an order the module already handled never creates a second contract.
        if order_type == ORDER_UPSELL and order["custbody_contract_name"]:
            _check_upsell_dates(conn, order)
        return
    if is_upsell(order):
        _check_upsell_dates(conn, order)
    if order_type in (ORDER_NEW, ORDER_RENEWAL, ORDER_RENEWAL_MANUAL, ORDER_UPSELL):
        contract_scripts.queue_order(conn, tran_id)


def is_upsell(order: dict[str, Any]) -> bool:
    """Upsell (order type 3, or type 1 with the contract it adds to set by the client)."""
    return order["custbody_order_type"] == ORDER_UPSELL or bool(
        order["custbody_contract_name"] and order["custbody_order_type"] == ORDER_NEW
    )


def _order_lines(conn: sqlite3.Connection, tran_id: int) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute(
            "SELECT * FROM transactionline WHERE \"transaction\"=? AND mainline='F' ORDER BY id", (tran_id,)
        )
    ]


def _order_term(order: dict[str, Any], lines: list[dict[str, Any]], today: dt.date) -> tuple[dt.date, dt.date]:
    start = _d(order["custbody_swe_contract_start_date"]) or _d(order["startdate"])
    end = _d(order["custbody_swe_contract_end_date"]) or _d(order["enddate"])
    line_starts = [_d(x["custcol_swe_contract_start_date"]) for x in lines if x["custcol_swe_contract_start_date"]]
    line_ends = [_d(x["custcol_swe_contract_end_date"]) for x in lines if x["custcol_swe_contract_end_date"]]
    start = start or (min(line_starts) if line_starts else None) or _d(order["trandate"]) or today
    if end is None:
        months = order["custbody_tran_term_in_months"]
        if line_ends:
            end = max(line_ends)
        else:
            end = add_months(start, int(months or 12)) - dt.timedelta(days=1)
    return start, end


def new_contract(conn: sqlite3.Connection, store: Store, order: dict[str, Any]) -> int:
    """R07: the Pending contract for a new or renewal order (its items come with R03, after billing)."""
    today = store.today()
    now = store.now_text()
    lines = _order_lines(conn, order["id"])
    start, end = _order_term(order, lines, today)
    if end < start:
        raise NetSuiteError(
            400, "USER_ERROR",
            f"Contract end date {end} is before its start date {start}.", "custbody_swe_contract_end_date",
        )
    days_before = store.preferences()["days_before_renewal"]
    original = order["custbody_swe_from_contract"] if order["custbody_order_type"] != ORDER_NEW else None
    cursor = conn.execute(
        "INSERT INTO customrecord_contracts (created, lastmodified, custrecord_contracts_start_date, "
        "custrecord_contracts_end_date, custrecord_contracts_bill_to_customer, custrecord_contracts_end_user, "
        "custrecord_swe_contract_type, custrecord_contract_status, custrecord_swe_target_renewal_date, "
        "custrecord_swe_original_contract, custrecord_swe_contract_currency) VALUES (?,?,?,?,?,?,1,?,?,?,?)",
        (now, now, start.isoformat(), end.isoformat(), order["entity"], order["custbody_end_user"] or order["entity"],
         PENDING, (end - dt.timedelta(days=days_before)).isoformat(), original, order["currency"]),
    )
    contract_id = int(cursor.lastrowid)
    conn.execute(
        "UPDATE customrecord_contracts SET name=? WHERE id=?",
        (f"{contract_id}_{start.isoformat()}_{end.isoformat()}", contract_id),
    )
    conn.execute(
        'UPDATE "transaction" SET custbody_contract_name=?, custbody_swe_contract_start_date=COALESCE('
        "custbody_swe_contract_start_date, ?), custbody_swe_contract_end_date=COALESCE(custbody_swe_contract_end_date, ?)"
        " WHERE id=?",
        (contract_id, start.isoformat(), end.isoformat(), order["id"]),
    )
    conn.execute("INSERT INTO module_processed VALUES (?,?,?)", (order["id"], contract_id, "contract"))
    return contract_id


def add_order_items(conn: sqlite3.Connection, store: Store, contract_id: int, order: dict[str, Any]) -> int:
    """R03: the contract items of one order's lines; Pending -> Active; a renewal's originals processed."""
    contract = dict(conn.execute("SELECT * FROM customrecord_contracts WHERE id=?", (contract_id,)).fetchone())
    start, end = _d(contract["custrecord_contracts_start_date"]), _d(contract["custrecord_contracts_end_date"])
    upsell = _adds_to_existing_contract(conn, order)
    added = _add_items(conn, store, contract_id, order, _order_lines(conn, order["id"]), start, end, coterm=upsell)
    _activate_if_items(conn, store, contract_id)
    if not upsell and contract["custrecord_swe_original_contract"]:
        _renew_originals(conn, store, contract_id, order)
    return added


def _adds_to_existing_contract(conn: sqlite3.Connection, order: dict[str, Any]) -> bool:
    """Whether R03 co-terms this order's items (an upsell) rather than giving them the contract's term.

    Once R07 has made a new order's contract it writes that contract onto the order, so the order then
    looks like "type 1 with a contract set" (:func:`is_upsell`). What R07 recorded for the order (R03 only
    sees orders R07 has handled) decides: items of the order that created the contract start with the
    contract, whatever day the order was entered.
    """
    row = conn.execute('SELECT action FROM module_processed WHERE "transaction"=?', (order["id"],)).fetchone()
    return row[0] == "upsell"


def _renew_originals(conn: sqlite3.Connection, store: Store, contract_id: int, order: dict[str, Any]) -> None:
    """A renewal contract that became Active makes its original(s) Renewal Processed."""
    today, now = store.today(), store.now_text()
    original = conn.execute(
        "SELECT custrecord_swe_original_contract FROM customrecord_contracts WHERE id=?", (contract_id,)
    ).fetchone()[0]
    if original:
        # The originals this order renews: the one named on the order plus any that share its renewal
        # transaction (one renewal per end user + bill-to may cover several contracts).
        originals = {original} | {
            r[0] for r in conn.execute(
                "SELECT id FROM customrecord_contracts WHERE custrecord_contract_renewal_tran=?", (order["id"],)
            )
        }
        if order["createdfrom"]:
            originals |= {
                r[0] for r in conn.execute(
                    "SELECT id FROM customrecord_contracts WHERE custrecord_contract_renewal_tran=?", (order["createdfrom"],)
                )
            }
        status = conn.execute(
            "SELECT custrecord_contract_status FROM customrecord_contracts WHERE id=?", (contract_id,)
        ).fetchone()[0]
        if status == ACTIVE:
            for original_id in originals:
                conn.execute(
                    "UPDATE customrecord_contracts SET custrecord_contract_status=?, custrecord_contract_date_renewed=?, "
                    "custrecord_contract_renewal_tran=COALESCE(custrecord_contract_renewal_tran, ?), lastmodified=? "
                    "WHERE id=?",
                    (RENEWAL_PROCESSED, today.isoformat(), order["id"], now, original_id),
                )


def _add_items(
    conn: sqlite3.Connection, store: Store, contract_id: int, order: dict[str, Any], lines: list[dict[str, Any]],
    start: dt.date, end: dt.date, *, coterm: bool,
) -> int:
    today = store.today()
    now = store.now_text()
    added = 0
    for line in lines:
        if line["custcol_item_category"] not in RENEWABLE_CATEGORIES or not line["quantity"]:
            continue
        item_start = _d(line["custcol_swe_contract_start_date"]) or (
            max(start, _d(order["trandate"]) or start) if coterm else start
        )
        # An item keeps its own end date: it may expire before the contract does (section_N1326010).
        item_end = _d(line["custcol_swe_contract_end_date"]) or end
        cursor = conn.execute(
            "INSERT INTO customrecord_contract_item (created, lastmodified, custrecord_ci_contract_id, custrecord_ci_item, "
            "custrecord_ci_quantity, custrecord_ci_startdate, custrecord_ci_enddate, custrecord_ci_term, "
            "custrecord_ci_renew_with, custrecord_ci_bill_to_customer, custrecord_ci_original_transaction, "
            "custrecord_ci_original_so_lineno, custrecord_ci_original_list_rate, custrecord_ci_status, custrecord_ci_state) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (now, now, contract_id, line["item"], line["quantity"], item_start.isoformat(), item_end.isoformat(),
             line["custcol_swe_contract_item_term_months"] or term_months(item_start, item_end),
             _renew_with(conn, line["item"], line["custcol_item_category"]), order["entity"], order["id"], line["id"],
             line["custcol_list_rate"] if line["custcol_list_rate"] is not None else line["rate"], ACTIVE,
             item_state(item_start.isoformat(), item_end.isoformat(), today)),
        )
        item_id = int(cursor.lastrowid)
        conn.execute("UPDATE customrecord_contract_item SET name=? WHERE id=?", (f"{item_id:08d}", item_id))
        added += 1
    _refresh_value(conn, contract_id, now)
    return added


def _refresh_value(conn: sqlite3.Connection, contract_id: int, now: str) -> None:
    row = conn.execute(
        "SELECT COALESCE(SUM(ci.custrecord_ci_quantity * ci.custrecord_ci_original_list_rate), 0) "
        "FROM customrecord_contract_item ci WHERE ci.custrecord_ci_contract_id=?", (contract_id,)
    ).fetchone()
    contract = conn.execute(
        "SELECT custrecord_contracts_start_date s, custrecord_contracts_end_date e FROM customrecord_contracts WHERE id=?",
        (contract_id,),
    ).fetchone()
    months = term_months(_d(contract["s"]), _d(contract["e"])) if contract["s"] and contract["e"] else 12.0
    value = round(row[0], 2)
    conn.execute(
        "UPDATE customrecord_contracts SET custrecord_swe_contract_value=?, custrecord_swe_annual_contract_val_net=?, "
        "lastmodified=? WHERE id=?",
        (value, round(value * 12.0 / months, 2) if months else value, now, contract_id),
    )


def _activate_if_items(conn: sqlite3.Connection, store: Store, contract_id: int) -> None:
    """Pending becomes Active when the contract has items."""
    has_items = conn.execute(
        "SELECT 1 FROM customrecord_contract_item WHERE custrecord_ci_contract_id=? LIMIT 1", (contract_id,)
    ).fetchone()
    if has_items:
        conn.execute(
            "UPDATE customrecord_contracts SET custrecord_contract_status=?, lastmodified=? "
            "WHERE id=? AND custrecord_contract_status=?",
            (ACTIVE, store.now_text(), contract_id, PENDING),
        )


def _contract_for_upsell(conn: sqlite3.Connection, order: dict[str, Any]) -> dict[str, Any]:
    if not order["custbody_contract_name"]:
        raise NetSuiteError(
            400, "USER_ERROR",
            "An upsell order (Contract - Upsell) must reference the contract it adds to in custbody_contract_name.",
            "custbody_contract_name",
        )
    row = conn.execute("SELECT * FROM customrecord_contracts WHERE id=?", (order["custbody_contract_name"],)).fetchone()
    return dict(row)


def _check_upsell_dates(conn: sqlite3.Connection, order: dict[str, Any]) -> None:
    contract = _contract_for_upsell(conn, order)
    start, end = contract["custrecord_contracts_start_date"], contract["custrecord_contracts_end_date"]
    for index, line in enumerate(_order_lines(conn, order["id"])):
        for column in ("custcol_swe_contract_start_date", "custcol_swe_contract_end_date"):
            value = line[column]
            if value and not (start <= value <= end):
                raise NetSuiteError(
                    400, "USER_ERROR",
                    f"The {column} {value} on line {line['id']} is outside the term of contract {contract['name']} "
                    f"({start} to {end}). Upsell items are co-termed to the contract; items outside its term belong "
                    "on a new contract (order type Contract - New).",
                    f"item.items[{index}].{column}",
                )
    if contract["custrecord_contract_status"] in (CLOSED, CANCELED, RENEWAL_PROCESSED):
        raise NetSuiteError(
            400, "USER_ERROR",
            f"Contract {contract['name']} is not open for upsells (status id {contract['custrecord_contract_status']}).",
            "custbody_contract_name",
        )


# -- scheduled scripts -----------------------------------------------------------------------------
def run_scheduled_scripts(store: Store) -> dict[str, Any]:
    """The nightly run: item states by date, renewal generation (R05), then closing expired contracts."""
    today = store.today()
    iso = today.isoformat()
    summary: dict[str, Any] = {"today": iso}
    with store.transaction() as conn:
        now = store.now_text()
        changed = conn.execute(
            "UPDATE customrecord_contract_item SET custrecord_ci_state = CASE "
            "WHEN custrecord_ci_startdate > :d THEN 1 WHEN custrecord_ci_enddate < :d THEN 3 ELSE 2 END, lastmodified=:n "
            "WHERE custrecord_ci_state IS NOT (CASE WHEN custrecord_ci_startdate > :d THEN 1 "
            "WHEN custrecord_ci_enddate < :d THEN 3 ELSE 2 END)",
            {"d": iso, "n": now},
        ).rowcount
        summary["contract_items_state_changed"] = changed
        pending = [r[0] for r in conn.execute(
            "SELECT id FROM customrecord_contracts WHERE custrecord_contract_status=?", (PENDING,))]
        for contract_id in pending:
            _activate_if_items(conn, store, contract_id)
        # Approved downsell RMAs are offset on their contract by R03, the contract item script
        # (cr_sandbox.netsuite.contract_scripts), which runs before this one when both are asked for.
        summary["renewal_transactions"] = _generate_renewals(conn, store, today)
        summary["contracts_closed"] = conn.execute(
            "UPDATE customrecord_contracts SET custrecord_contract_status=?, lastmodified=? "
            "WHERE custrecord_contract_status=? AND custrecord_contracts_end_date < ?",
            (CLOSED, now, ACTIVE, iso),
        ).rowcount
    return summary


def _generate_renewals(conn: sqlite3.Connection, store: Store, today: dt.date) -> list[dict[str, Any]]:
    prefs = store.preferences()
    tran_type = TRANSACTION_TYPE_FOR_PREFERENCE[prefs["transaction_type_to_create"]]
    due = conn.execute(
        "SELECT * FROM customrecord_contracts WHERE custrecord_contract_status=? "
        "AND custrecord_contract_renewal_tran IS NULL AND custrecord_swe_contract_type IN (1, 2) "
        "AND COALESCE(custrecord_swe_target_renewal_date, date(custrecord_contracts_end_date, ?)) <= ? "
        "ORDER BY id",
        (ACTIVE, f"-{prefs['days_before_renewal']} days", today.isoformat()),
    ).fetchall()
    groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for row in due:
        key = (row["custrecord_contracts_end_user"], row["custrecord_contracts_bill_to_customer"])
        groups.setdefault(key, []).append(dict(row))
    created = []
    now = store.now_text()
    for (end_user, bill_to), contracts in groups.items():
        first = contracts[0]
        old_start, old_end = _d(first["custrecord_contracts_start_date"]), _d(first["custrecord_contracts_end_date"])
        new_start, new_end = next_term(old_start, old_end)
        currency = first["custrecord_swe_contract_currency"] or 1
        cursor = conn.execute(
            'INSERT INTO "transaction" (type, entity, trandate, startdate, enddate, status, currency, createddate, '
            "lastmodifieddate, custbody_order_type, custbody_swe_contract_start_date, custbody_swe_contract_end_date, "
            "custbody_tran_term_in_months, custbody_swe_from_contract, custbody_end_user, custbody_bill_to_tier) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)",
            (tran_type, bill_to, today.isoformat(), new_start.isoformat(), new_end.isoformat(), DEFAULT_STATUS[tran_type],
             currency, now, now, ORDER_RENEWAL, new_start.isoformat(), new_end.isoformat(),
             term_months(new_start, new_end), first["id"], end_user),
        )
        tran_id = int(cursor.lastrowid)
        conn.execute('UPDATE "transaction" SET tranid=? WHERE id=?', (f"{PREFIX[tran_type]}{tran_id}", tran_id))
        # Which items renew, combined by item and rate, with the renewal's term (cr_sandbox.netsuite.renewals).
        rows = renewals.line_rows(
            tran_id, renewals.renewal_lines(conn, contracts), new_start, new_end, term_months(new_start, new_end)
        )
        line_no = len(rows)
        for contract in contracts:
            conn.execute(
                "UPDATE customrecord_contracts SET custrecord_contract_status=?, custrecord_contract_renewal_tran=?, "
                "lastmodified=? WHERE id=?",
                (RENEWAL_GENERATED, tran_id, now, contract["id"]),
            )
        conn.executemany(
            'INSERT INTO transactionline ("transaction", id, linesequencenumber, mainline, item, quantity, rate, amount, '
            "custcol_swe_contract_start_date, custcol_swe_contract_end_date, custcol_swe_contract_item_term_months, "
            "custcol_item_category, custcol_list_rate) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        total = round(sum(r[7] for r in rows), 2)
        conn.execute('UPDATE "transaction" SET foreigntotal=? WHERE id=?', (total, tran_id))
        conn.execute(
            "INSERT INTO transactionline (\"transaction\", id, linesequencenumber, mainline, amount) VALUES (?,0,0,'T',?)",
            (tran_id, total),
        )
        created.append({"id": tran_id, "type": tran_type, "contracts": [c["id"] for c in contracts], "lines": line_no})
        if tran_type == "SalesOrd":
            approval.module_created_order(conn, store, tran_id)
            on_sales_order_saved(conn, store, tran_id)
    return created

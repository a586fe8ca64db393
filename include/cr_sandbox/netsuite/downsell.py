"""Contract downsell: a return authorization (RMA) tied to a contract (order type 13 Contract-Downsell).

What Oracle documents, and what the stand-in does:

- A customer reducing service during the term gets a return authorization tied to the contract; its
  items are offset from the contract and are not renewed (bridgehead_N1319749 "Upsell and Returns";
  section_N1326489 "Contracts and Returns"). An RMA made from the order has Order Type Contract-Downsell
  and the contract in its Contract field (``custbody_contract_name``), its header dates cover the part
  of the term returned (article_1230053124), and web services send order type 13 (section_4539453728).
- "For a return to be valid, the items and rates on the return authorization must match the items and
  rates on the contract" (article_1230052913): each line's item and list rate must match a contract item;
  the stand-in also refuses returning more than the contract holds of that item and rate (guessed: the
  RMA made from the contract starts at "the combined total quantity of contract items that can be
  returned", section_N1326489).
- "When the return is approved, the transaction lines are available for the creation of contract items.
  The downsell items appear as offsetting items with a negative quantity on the contract"
  (article_1230053124). The stand-in makes them in the module's scheduled run (the contract item script
  R03) for RMAs that are approved (status B Pending Receipt), once per RMA; an RMA starts A Pending
  Approval unless the request sets ``orderStatus`` B (guessed to follow sales order approval,
  section_159795516182).
- Return authorization statuses (SuiteAnswers 23874): A Pending Approval, B Pending Receipt, C Cancelled,
  D Partially Received, E Pending Refund/Partially Received, F Pending Refund, G Refunded, H Closed. Over
  REST the stand-in accepts ``orderStatus`` A or B (guessed, as for sales orders); the credit (receipt,
  credit memo, refund) is NetSuite's accounting and is not modelled.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cr_sandbox.netsuite.errors import NetSuiteError

if TYPE_CHECKING:
    from cr_sandbox.netsuite.db import Store

ORDER_DOWNSELL = 13
RETURN_TYPE = "RtnAuth"
PENDING_APPROVAL, PENDING_RECEIPT = "A", "B"
#: Contract statuses a downsell may not touch (Renewal Processed, Canceled, Closed: catalog ids).
_CLOSED_CONTRACT_STATUSES = (4, 6, 7)
#: ``custrecord_ci_status`` of a new contract item (Active, as the module's other contract items).
_ITEM_STATUS_ACTIVE = 2


def _refuse(message: str, path: str) -> NetSuiteError:
    return NetSuiteError(400, "USER_ERROR", message, path)


def on_return_saved(conn: sqlite3.Connection, tran_id: int) -> None:
    """Validate a saved return authorization the way the module's user event script does (400 rolls back)."""
    rma = dict(conn.execute('SELECT * FROM "transaction" WHERE id=?', (tran_id,)).fetchone())
    if rma["status"] not in (PENDING_APPROVAL, PENDING_RECEIPT):
        raise _refuse(
            f"Invalid orderStatus '{rma['status']}': a return authorization is created Pending Approval (A) "
            "or approved, Pending Receipt (B).", "orderStatus",
        )
    if rma["custbody_order_type"] != ORDER_DOWNSELL:
        return
    if conn.execute('SELECT 1 FROM module_processed WHERE "transaction"=?', (tran_id,)).fetchone():
        return  # its offsetting items exist: later edits do not change the contract
    if not rma["custbody_contract_name"]:
        raise _refuse(
            "A downsell return authorization (Contract - Downsell) must name the contract it reduces in "
            "custbody_contract_name.", "custbody_contract_name",
        )
    contract = dict(conn.execute(
        "SELECT * FROM customrecord_contracts WHERE id=?", (rma["custbody_contract_name"],)).fetchone())
    if contract["custrecord_contract_status"] in _CLOSED_CONTRACT_STATUSES:
        raise _refuse(
            f"Contract {contract['name']} is not open for a downsell (status id "
            f"{contract['custrecord_contract_status']}).", "custbody_contract_name",
        )
    start, end = contract["custrecord_contracts_start_date"], contract["custrecord_contracts_end_date"]
    held = _returnable(conn, contract["id"])
    for index, line in enumerate(_lines(conn, tran_id)):
        path = f"item.items[{index}]"
        for column in ("custcol_swe_contract_start_date", "custcol_swe_contract_end_date"):
            value = line[column]
            if value and not (start <= value <= end):
                raise _refuse(
                    f"The {column} {value} on line {line['id']} is outside the term of contract "
                    f"{contract['name']} ({start} to {end}); a downsell returns part of the contract's term.",
                    f"{path}.{column}",
                )
        key = (line["item"], _rate(line))
        if key not in held:
            raise _refuse(
                f"Item {line['item']} at list rate {_rate(line)} on line {line['id']} does not match an item "
                f"and rate on contract {contract['name']}: the items and rates on the return authorization "
                "must match the items and rates on the contract.", f"{path}.item",
            )
        held[key] -= float(line["quantity"] or 0)
        if held[key] < -1e-9:
            raise _refuse(
                f"Line {line['id']} returns more of item {line['item']} than contract {contract['name']} holds "
                f"at that rate.", f"{path}.quantity",
            )


def process_approved_returns(
    conn: sqlite3.Connection,
    store: Store,
    refresh_value: Callable[[sqlite3.Connection, int, str], None],
    term_months: Callable[[dt.date, dt.date], float],
    item_state: Callable[[str | None, str | None, dt.date], int],
) -> list[dict[str, Any]]:
    """R03 for downsells: offsetting contract items (negative quantity) for approved downsell RMAs.

    The module passes its contract value, term and item state rules (it imports this module).
    """

    rows = conn.execute(
        'SELECT t.* FROM "transaction" t WHERE t.type=? AND t.custbody_order_type=? AND t.status=? '
        'AND t.custbody_contract_name IS NOT NULL AND NOT EXISTS '
        '(SELECT 1 FROM module_processed m WHERE m."transaction" = t.id) ORDER BY t.id',
        (RETURN_TYPE, ORDER_DOWNSELL, PENDING_RECEIPT),
    ).fetchall()
    done = []
    now = store.now_text()
    for rma in rows:
        contract = conn.execute(
            "SELECT * FROM customrecord_contracts WHERE id=?", (rma["custbody_contract_name"],)).fetchone()
        offsets = 0
        for line in _lines(conn, rma["id"]):
            if not line["quantity"]:
                continue
            item_start = line["custcol_swe_contract_start_date"] or rma["startdate"] or store.today().isoformat()
            item_end = line["custcol_swe_contract_end_date"] or rma["enddate"] or contract["custrecord_contracts_end_date"]
            cursor = conn.execute(
                "INSERT INTO customrecord_contract_item (created, lastmodified, custrecord_ci_contract_id, "
                "custrecord_ci_item, custrecord_ci_quantity, custrecord_ci_startdate, custrecord_ci_enddate, "
                "custrecord_ci_term, custrecord_ci_renew_with, custrecord_ci_bill_to_customer, "
                "custrecord_ci_original_transaction, custrecord_ci_original_so_lineno, "
                "custrecord_ci_original_list_rate, custrecord_ci_status, custrecord_ci_state) "
                "SELECT ?,?,?,?,?,?,?,?, (SELECT ci.custrecord_ci_renew_with FROM customrecord_contract_item ci "
                "WHERE ci.custrecord_ci_contract_id=? AND ci.custrecord_ci_item=? ORDER BY ci.id LIMIT 1), "
                "?,?,?,?,?, ?",
                (now, now, contract["id"], line["item"], -float(line["quantity"]), item_start[:10], item_end[:10],
                 term_months(dt.date.fromisoformat(item_start[:10]), dt.date.fromisoformat(item_end[:10])), contract["id"], line["item"], rma["entity"], rma["id"], line["id"],
                 _rate(line), _ITEM_STATUS_ACTIVE, item_state(item_start[:10], item_end[:10], store.today())),
            )
            conn.execute("UPDATE customrecord_contract_item SET name=? WHERE id=?",
                         (f"{cursor.lastrowid:08d}", cursor.lastrowid))
            offsets += 1
        conn.execute("INSERT INTO module_processed VALUES (?,?,?)", (rma["id"], contract["id"], "downsell"))
        refresh_value(conn, contract["id"], now)
        done.append({"id": rma["id"], "contract": contract["id"], "offsetting_items": offsets})
    return done


def _lines(conn: sqlite3.Connection, tran_id: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM transactionline WHERE \"transaction\"=? AND mainline='F' ORDER BY id", (tran_id,)
    ).fetchall()


def _rate(line: Any) -> float:
    """The list rate a line is matched on (the contract items keep the list rate of their order line)."""
    value = line["custcol_list_rate"] if line["custcol_list_rate"] is not None else line["rate"]
    return round(float(value or 0), 6)


def _returnable(conn: sqlite3.Connection, contract_id: int) -> dict[tuple[int, float], float]:
    """(item, list rate) -> quantity the contract holds (its items net of earlier offsets)."""
    held: dict[tuple[int, float], float] = {}
    for row in conn.execute(
        "SELECT custrecord_ci_item item, custrecord_ci_original_list_rate rate, SUM(custrecord_ci_quantity) qty "
        "FROM customrecord_contract_item WHERE custrecord_ci_contract_id=? GROUP BY 1, 2", (contract_id,)
    ):
        held[(row["item"], round(float(row["rate"] or 0), 6))] = float(row["qty"] or 0)
    return held

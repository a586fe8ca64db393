"""The module's background scripts for new orders: R07 makes contracts, R03 makes contract items.

- A sales order saved on the Contract Renewals form is queued by the module's user event script (in the
  request, :func:`queue_order`); the contract is made later, in the background, by the R07 map/reduce
  script ("R07-MR: Create New Contracts") for orders whose status matches the preference "Sales Order
  Status to Create Contract": on save (Pending Approval, the default) or on approval (Pending
  Fulfillment) (Contract Workflow, section_4653866922; bridgehead_3722173055). The preference applies to
  new orders only: a renewal sales order gets its contract whatever its status (bridgehead_3722173055).
  An upsell order adds to the contract it names, so R07 has nothing to make for it.
- Contract items are made by the R03 scheduled script ("R03-SS: Create Contract Items hrly"), hourly, for
  orders whose status matches "Transaction Status to Process" (fully billed by default,
  section_N1325604, procedure_N1321905). The contract stays Pending until then and becomes Active with
  its items; a renewal contract becoming Active makes its original(s) Renewal Processed
  (section_4653866922). R03 also makes the offsetting (negative) items of approved downsell return
  authorizations: "When the return is approved, the transaction lines are available for the creation of
  contract items" (article_1230053124; :mod:`cr_sandbox.netsuite.downsell`).

The stand-in runs these scripts when ``POST /__sandbox/run-scripts`` asks (``{"scripts": ["R07"]}``,
``["R03"]``, or all by default), never inside a record request: a flow can never rely on the contract
being there when its create request returns, as with a real account, where the scripts run in
NetSuite's queues minutes later.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from cr_sandbox.netsuite import downsell, module, preferences

if TYPE_CHECKING:
    from cr_sandbox.netsuite.db import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS cr_order_queue (
    "transaction" INTEGER PRIMARY KEY, contract INTEGER, contract_made INTEGER DEFAULT 0,
    items_made INTEGER DEFAULT 0);
"""
#: Order statuses in lifecycle order (A Pending Approval, B Pending Fulfillment, F Pending Billing, G Billed).
_PROGRESS = {"A": 0, "B": 1, "D": 1, "E": 2, "F": 2, "G": 3}
_CLOSED = ("C", "H")


def _reached(status: str | None, wanted: str) -> bool:
    return status not in _CLOSED and _PROGRESS.get(status or "", -1) >= _PROGRESS[wanted]


def queue_order(conn: sqlite3.Connection, order_id: int) -> None:
    """The user event script's part: remember the order for R07 and R03 (once)."""
    conn.execute('INSERT OR IGNORE INTO cr_order_queue ("transaction") VALUES (?)', (order_id,))


def forget_order(conn: sqlite3.Connection, order_id: int) -> None:
    conn.execute('DELETE FROM cr_order_queue WHERE "transaction"=?', (order_id,))


def _queued(conn: sqlite3.Connection, done_column: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(
        f'SELECT t.*, q.contract AS queued_contract FROM cr_order_queue q JOIN "transaction" t ON t.id = q."transaction" '
        f"WHERE q.{done_column} = 0 ORDER BY q.\"transaction\""
    )]


def create_contracts(conn: sqlite3.Connection, store: Store) -> list[int]:
    """R07: a Pending contract (no items) for each queued new or renewal order whose status qualifies."""
    wanted = preferences.read(store)["sales_order_status_to_create_contract"]
    made = []
    for order in _queued(conn, "contract_made"):
        renewal = order["custbody_order_type"] in (module.ORDER_RENEWAL, module.ORDER_RENEWAL_MANUAL)
        if not renewal and not _reached(order["status"], wanted):
            continue
        if module.is_upsell(order):
            contract_id = int(order["custbody_contract_name"])
            conn.execute("INSERT OR IGNORE INTO module_processed VALUES (?,?,?)", (order["id"], contract_id, "upsell"))
        else:
            contract_id = module.new_contract(conn, store, order)
            made.append(contract_id)
        conn.execute(
            'UPDATE cr_order_queue SET contract=?, contract_made=1 WHERE "transaction"=?', (contract_id, order["id"])
        )
    return made


def create_contract_items(conn: sqlite3.Connection, store: Store) -> dict[str, int]:
    """R03: contract items for queued orders with a contract whose status matches the preference."""
    wanted = preferences.read(store)["transaction_status_to_process"]
    done = {"orders": 0, "contract_items": 0}
    for order in _queued(conn, "items_made"):
        if order["queued_contract"] is None or not _reached(order["status"], wanted):
            continue
        done["contract_items"] += module.add_order_items(conn, store, int(order["queued_contract"]), order)
        done["orders"] += 1
        conn.execute('UPDATE cr_order_queue SET items_made=1 WHERE "transaction"=?', (order["id"],))
    return done


def run(store: Store, scripts: list[str] | None = None) -> dict[str, Any]:
    """Run R07, R03 and the nightly scripts (or the ones named), in that order; what each did."""
    names = [s.upper() for s in scripts] if scripts else ["R07", "R03", "NIGHTLY"]
    unknown = sorted(set(names) - {"R07", "R03", "NIGHTLY"})
    if unknown:
        raise ValueError(f"unknown scripts {unknown}; known: R07 (contracts), R03 (contract items), nightly")
    summary: dict[str, Any] = {}
    if "R07" in names:
        with store.transaction() as conn:
            summary["contracts_created"] = create_contracts(conn, store)
    if "R03" in names:
        with store.transaction() as conn:
            summary["contract_items_created"] = create_contract_items(conn, store)
            # An approved downsell's lines "are available for the creation of contract items" (the
            # offsetting items): the same script makes them (article_1230053124).
            summary["downsell_returns"] = downsell.process_approved_returns(
                conn, store, module._refresh_value, module.term_months, module.item_state
            )
    if "NIGHTLY" in names:
        summary.update(module.run_scheduled_scripts(store))
    return summary

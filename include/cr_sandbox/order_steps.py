"""The steps a sales order goes through in NetSuite after the hourly flow created it, through the vendor API.

In a real account these are done by NetSuite users (approving, billing) and by the Contract Renewals
module's scripts (R07 makes the contract, R03 the contract items, hourly). The demo and the tests do
them against the sandbox the way a user would: ``PATCH salesOrder/<id> {"orderStatus": "B"}``
(Oracle Help section_159795516182) and ``POST salesOrder/<id>/!transform/invoice`` (section_157901123882);
the scripts are run through the sandbox's ``run-scripts`` control.
"""

from __future__ import annotations

from typing import Any

from cr_sandbox import clients
from cr_sandbox.config import SandboxConfig
from cr_sandbox.process import RunningSandbox

#: Sales order statuses that can still be billed: Pending Fulfillment, Partially Fulfilled,
#: Pending Billing/Partially Fulfilled, Pending Billing.
BILLABLE = ("B", "D", "E", "F")


def _orders(config: SandboxConfig, statuses: tuple[str, ...], order_ids: list[str] | None) -> list[str]:
    quoted = ", ".join(f"'{s}'" for s in statuses)
    where = f"type = 'SalesOrd' AND status IN ({quoted})"
    if order_ids is not None:
        if not order_ids:
            return []
        where += f" AND id IN ({', '.join(str(int(i)) for i in order_ids)})"
    return [str(r["id"]) for r in clients.suiteql(config, f"SELECT id FROM transaction WHERE {where} ORDER BY id")]


def approve_orders(config: SandboxConfig, order_ids: list[str] | None = None) -> list[str]:
    """Approve every sales order Pending Approval (or those of ``order_ids``); their ids."""
    pending = _orders(config, ("A",), order_ids)
    for order_id in pending:
        clients.netsuite_record(config, "PATCH", f"salesOrder/{order_id}", json={"orderStatus": "B"})
    return pending


def bill_orders(config: SandboxConfig, order_ids: list[str] | None = None) -> list[str]:
    """Invoice every approved, unbilled sales order (or those of ``order_ids``); the invoice ids."""
    invoices = []
    for order_id in _orders(config, BILLABLE, order_ids):
        resp = clients.netsuite_record(config, "POST", f"salesOrder/{order_id}/!transform/invoice", json={})
        invoices.append(resp.headers["Location"].rsplit("/", 1)[-1])
    return invoices


def run_module_scripts(sandbox: RunningSandbox, scripts: tuple[str, ...] = ("R07", "R03")) -> dict[str, Any]:
    """The module's contract (R07) and hourly contract item (R03) scripts now; what they did."""
    return sandbox.control("netsuite", "run-scripts", {"scripts": list(scripts)})


def complete_orders(
    sandbox: RunningSandbox, order_ids: list[str] | None = None, *, approve: bool = True
) -> dict[str, Any]:
    """Approve (unless ``approve`` is false), bill, then run R07 and R03: what each step did."""
    approved = approve_orders(sandbox.config, order_ids) if approve else []
    invoices = bill_orders(sandbox.config, order_ids)
    return {"approved": approved, "invoices": invoices, "scripts": run_module_scripts(sandbox)}

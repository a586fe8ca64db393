"""Re-sending an order NetSuite has already billed: its header only, never its lines.

Once a sales order is billed, NetSuite refuses any write that removes or changes its lines (the re-send
replaces the item sublist, ``replace=item``). A re-sent Opportunity (renamed, a field changed, clicked
again) would then fail although nothing is wrong. So before the load, the orders that have an invoice
are looked up (one SuiteQL query per ``batch_sizes.id_lookup`` ids) and re-sent without their item
sublist; the log names them, and a line change made in Salesforce after billing has to be made in
NetSuite (credit the invoice, or a new order), which the log says.
"""

from __future__ import annotations

import logging
from typing import Any

from crsync import fields as f
from crsync.queries import billed_sales_orders_query, chunked
from crsync.records import NetSuiteWrite

log = logging.getLogger(__name__)


def without_billed_lines(hook: Any, orders: list[NetSuiteWrite], id_lookup: int) -> list[NetSuiteWrite]:
    """``orders`` with the item sublist left out of those NetSuite has billed (looked up by external id)."""
    candidates = sorted({o.external_id for o in orders if o.record_type == f.NsRecordType.SALES_ORDER})
    billed: set[str] = set()
    for part in chunked(candidates, max(1, id_lookup)):
        billed |= {str(row[f.NsTransaction.EXTERNAL_ID]) for row in hook.suiteql(billed_sales_orders_query(part))}
    if not billed:
        return orders
    log.warning(
        "%d sales order(s) are billed in NetSuite; re-sent without their lines (NetSuite refuses changes to "
        "billed lines: change those in NetSuite): %s", len(billed), ", ".join(sorted(billed)),
    )
    return [
        o.model_copy(update={"body": {k: v for k, v in o.body.items() if k != f.NsBody.ITEM_SUBLIST}})
        if o.external_id in billed else o
        for o in orders
    ]

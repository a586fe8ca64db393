"""Re-sending an order NetSuite has already billed: its header only, never its lines.

Once a sales order is billed, NetSuite refuses any write that removes or changes its lines (the re-send
replaces the item sublist, ``replace=item``). A re-sent Opportunity (renamed, a field changed, clicked
again) would then fail although nothing is wrong. So before the load, the orders that have an invoice
are looked up (one SuiteQL query per ``batch_sizes.id_lookup`` ids) and re-sent without their item
sublist when their lines are unchanged (the log names them). An Opportunity whose lines differ from its
billed order's is refused alone with what to do instead (credit the invoice in NetSuite, or a downsell
or upsell Opportunity), so a line edit made after billing is never reported Synced while NetSuite kept
the old lines.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from crsync import fields as f
from crsync.queries import billed_sales_orders_query, chunked, sales_order_lines_query
from crsync.records import NetSuiteWrite, RecordFailure

log = logging.getLogger(__name__)


#: Failure code of an Opportunity whose lines changed after its order was billed.
BILLED_LINES_CHANGED = "billed_lines_changed"

_L = f.NsLine
_NL = f.NsTransactionLine


#: A line's contract term fields, compared where the sent line carries them.
_TERM_FIELDS = (_L.CONTRACT_START_DATE, _L.CONTRACT_END_DATE, _L.TERM_MONTHS)
_Line = tuple[tuple[str, float, float], tuple[Any, ...]]


def _line(line: Mapping[str, Any]) -> _Line:
    """A line as NetSuite bills it: (item, quantity, rate), then its term fields (dates ``YYYY-MM-DD``, the
    term in months as a number; None where the line has none). SuiteQL shows sales quantities negative."""
    item = line.get(_L.ITEM)
    item_id = item.get("id") if isinstance(item, dict) else item
    billed = (str(item_id), round(abs(float(line.get(_L.QUANTITY) or 0)), 6), round(float(line.get(_L.RATE) or 0), 6))
    terms: list[Any] = []
    for name in _TERM_FIELDS:
        value = line.get(name)
        if value in (None, ""):
            terms.append(None)
        elif name == _L.TERM_MONTHS:
            terms.append(round(float(value), 6))
        else:
            terms.append(str(value)[:10])
    return billed, tuple(terms)


def _same_lines(sent: Sequence[_Line], held: Sequence[_Line]) -> bool:
    """Whether every sent line matches a billed line of its own, one to one: the same item, quantity and
    rate, and the same term fields where the sent line has them (a sent line without dates leaves
    NetSuite's as they are, so any dates match it)."""
    if sorted(s[0] for s in sent) != sorted(h[0] for h in held):
        return False
    left = list(held)
    # The most specific lines first, so a line without dates does not take the billed line a dated one needs.
    for billed, terms in sorted(sent, key=lambda s: sum(t is None for t in s[1])):
        match = next(
            (i for i, (b, t) in enumerate(left)
             if b == billed and all(want is None or want == have for want, have in zip(terms, t, strict=True))),
            None,
        )  # fmt: skip
        if match is None:
            return False
        left.pop(match)
    return True


def without_billed_lines(
    hook: Any, orders: list[NetSuiteWrite], id_lookup: int
) -> tuple[list[NetSuiteWrite], list[RecordFailure]]:
    """``orders`` with the item sublist left out of those NetSuite has billed (looked up by external id),
    and a failure for each billed order whose Opportunity's lines differ from the billed ones.
    """
    candidates = sorted({o.external_id for o in orders if o.record_type == f.NsRecordType.SALES_ORDER})
    billed: dict[str, str] = {}
    for part in chunked(candidates, max(1, id_lookup)):
        for row in hook.suiteql(billed_sales_orders_query(part)):
            billed[str(row[f.NsTransaction.EXTERNAL_ID])] = str(row[f.NsTransaction.ID])
    if not billed:
        return orders, []
    netsuite_lines: dict[str, list[dict[str, Any]]] = {}
    for part in chunked(sorted(billed.values()), max(1, id_lookup)):
        for row in hook.suiteql(sales_order_lines_query(part, with_terms=True)):
            netsuite_lines.setdefault(str(row[_NL.TRANSACTION]), []).append(row)
    ready: list[NetSuiteWrite] = []
    failures: list[RecordFailure] = []
    for order in orders:
        internal_id = billed.get(order.external_id)
        if internal_id is None or order.record_type != f.NsRecordType.SALES_ORDER:
            ready.append(order)
            continue
        lines = (order.body.get(f.NsBody.ITEM_SUBLIST) or {}).get(f.NsBody.SUBLIST_ITEMS) or []
        held = [_line(row) for row in netsuite_lines.get(internal_id, [])]
        if lines and not _same_lines([_line(line) for line in lines], held):
            failures.append(RecordFailure(
                key=order.key,
                code=BILLED_LINES_CHANGED,
                message=f"NetSuite sales order {internal_id} is billed, and NetSuite refuses changes to billed "
                "lines, but the Opportunity's products (item, quantity, price or contract dates and term) differ "
                "from the billed lines; nothing was sent. Credit "
                "the invoice in NetSuite, or sell the change as a Contract Upsell or Contract Downsell "
                "Opportunity, or put the products back as billed",
            ))  # fmt: skip
            continue
        ready.append(order.model_copy(update={"body": {k: v for k, v in order.body.items() if k != f.NsBody.ITEM_SUBLIST}}))
    log.warning(
        "%d sales order(s) are billed in NetSuite; re-sent without their lines (NetSuite refuses changes to "
        "billed lines): %s; refused because their lines changed after billing: %s", len(billed),
        ", ".join(sorted(billed)), ", ".join(refused.key for refused in failures) or "none",
    )
    return ready, failures

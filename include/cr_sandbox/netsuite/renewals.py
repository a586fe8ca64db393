"""Which contract items a renewal transaction carries, and as which lines (the renewal script R05).

What Oracle documents, and what the stand-in does:

- Only items that extend to the contract's end date are renewed (section_N1326010, section_N1325805):
  an item that ends earlier (a term that was not co-termed, an item offset by a downsell RMA) is left off.
- Identical contract items with matching rates are combined into one renewal line whose quantity is the
  items' total (section_N1326010). The stand-in's identity is the item the line renews as
  (``custrecord_ci_renew_with``, else the item) and the rate (``custrecord_ci_original_list_rate``).
  A downsell's offsetting items (negative quantity, same item and rate; section_N1326489 and
  bridgehead_N1319749: "these items are then offset from the contract and aren't renewed") reduce that
  total; a line whose total is zero or less is not renewed.
- Renewal lines carry the renewal transaction's term by default (section_4719408484: "contract items on
  the renewal transaction are set up with the same term, start date, and end date as the body").

Guessed (Oracle is silent): items of several contracts renewed on one transaction (one renewal per end
user and bill-to) combine the same way; lines are ordered by the first contract item of each line.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class RenewalLine:
    """One line of a renewal transaction: an item, its combined quantity and its rate."""

    item: int
    rate: float
    quantity: float
    category: int | None
    first_contract_item: int


def renewal_lines(conn: sqlite3.Connection, contracts: Iterable[Mapping[str, Any]]) -> list[RenewalLine]:
    """The lines a renewal of ``contracts`` (contract rows) carries, in order."""
    lines: dict[tuple[int, float], RenewalLine] = {}
    for contract in contracts:
        contract_end = str(contract["custrecord_contracts_end_date"] or "")
        items = conn.execute(
            "SELECT ci.id, ci.custrecord_ci_quantity qty, ci.custrecord_ci_enddate e, "
            "COALESCE(ci.custrecord_ci_renew_with, ci.custrecord_ci_item) renew_item, "
            "COALESCE(ci.custrecord_ci_original_list_rate, 0) rate, i.custitem_item_category cat "
            "FROM customrecord_contract_item ci LEFT JOIN item i "
            "ON i.id = COALESCE(ci.custrecord_ci_renew_with, ci.custrecord_ci_item) "
            "WHERE ci.custrecord_ci_contract_id=? ORDER BY ci.id",
            (contract["id"],),
        ).fetchall()
        for item in items:
            if not item["qty"] or (item["e"] and contract_end and str(item["e"])[:10] < contract_end[:10]):
                continue  # ends before the contract does: not renewed
            key = (int(item["renew_item"]), round(float(item["rate"]), 6))
            line = lines.get(key)
            if line is None:
                lines[key] = RenewalLine(key[0], float(item["rate"]), float(item["qty"]), item["cat"], int(item["id"]))
            else:
                line.quantity += float(item["qty"])
    return sorted((x for x in lines.values() if x.quantity > 0), key=lambda x: x.first_contract_item)


def line_rows(
    tran_id: int, lines: list[RenewalLine], start: dt.date, end: dt.date, months: float
) -> list[tuple[Any, ...]]:
    """``transactionline`` rows for the renewal lines, numbered from 1, with the renewal's term."""
    return [
        (tran_id, n, n, "F", line.item, line.quantity, line.rate, round(line.quantity * line.rate, 2),
         start.isoformat(), end.isoformat(), months, line.category, line.rate)
        for n, line in enumerate(lines, start=1)
    ]

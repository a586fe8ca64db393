"""How the record service applies a transaction's ``item`` sublist (Oracle's keyed-sublist rules).

The item sublist is keyed by ``line`` (the line number NetSuite assigns; the stand-in's
``transactionline.id``). Oracle documents three cases:

- create (section_1545142420) and update, i.e. PATCH or an upsert (PUT ``eid:``) without ``replace``
  (section_1545295601, section_156335203191): a request line whose key matches an existing line updates
  that line; the other request lines are added; the lines the request does not name stay;
- ``?replace=item`` (section_1545297048): a request line whose key matches updates that line (it keeps
  its key), the other existing lines are removed, and the remaining request lines are added.

Guessed (Oracle is silent): a ``line`` that names no existing line is refused at that line (``line`` is
assigned by NetSuite, so such a request was built from a stale read), with or without ``replace``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from cr_sandbox.netsuite.errors import invalid_content, invalid_field_value

#: Columns of a stored line that are bookkeeping, not line fields.
_BOOKKEEPING = ("uniquekey", "transaction", "mainline", "linesequencenumber")


def existing_lines(conn: sqlite3.Connection, tran_id: int) -> dict[int, dict[str, Any]]:
    """The transaction's item lines by key (``line``), in line order."""
    return {
        r["id"]: {k: v for k, v in dict(r).items() if k not in _BOOKKEEPING}
        for r in conn.execute(
            "SELECT * FROM transactionline WHERE \"transaction\"=? AND mainline='F' ORDER BY id", (tran_id,)
        )
    }


def apply_item_lines(
    conn: sqlite3.Connection,
    tran_id: int,
    lines: list[dict[str, Any]],
    *,
    replace: bool,
    fill_line: Callable[[sqlite3.Connection, dict[str, Any]], None],
) -> None:
    """Apply request lines to the transaction's item sublist (see the module docstring).

    :param lines: converted request lines (columns -> values, ``id`` = the ``line`` key when given,
        ``_path`` = where the line is in the request, for errors).
    :param replace: ``?replace=item`` was given.
    :param fill_line: computes what NetSuite computes on a line (rate, amount, category) in place.
    """
    existing = existing_lines(conn, tran_id)
    next_line = (conn.execute(
        'SELECT MAX(id) FROM transactionline WHERE "transaction"=?', (tran_id,)).fetchone()[0] or 0) + 1
    matched: set[int] = set()
    result: dict[int, dict[str, Any]] = {} if replace else dict(existing)
    for line in lines:
        path = line.pop("_path")
        line_id = line.pop("id", None)
        if line_id is not None:
            if line_id not in existing:
                raise invalid_field_value("line", line_id, f"{path}.line")
            merged = {**(result.get(line_id) or existing[line_id]), **line}
            if "amount" not in line and ("quantity" in line or "rate" in line):
                merged["amount"] = None  # recomputed from quantity x rate
            merged["id"] = line_id
            matched.add(line_id)
        else:
            if line.get("item") is None:
                raise invalid_content("Please enter value(s) for: item. The field item is mandatory.", f"{path}.item")
            merged = dict(line)
            merged["id"] = next_line
            next_line += 1
        fill_line(conn, merged)
        result[merged["id"]] = merged
    conn.execute("DELETE FROM transactionline WHERE \"transaction\"=? AND mainline='F'", (tran_id,))
    for line_id in sorted(result):
        row = dict(result[line_id])
        row.update({"transaction": tran_id, "mainline": "F", "linesequencenumber": line_id})
        cols = list(row)
        conn.execute(
            f'INSERT INTO transactionline ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
            f"VALUES ({', '.join('?' for _ in cols)})",
            [row[c] for c in cols],
        )


def copy_lines(conn: sqlite3.Connection, source_id: int, target_id: int) -> None:
    """A transform's starting lines: the source's lines with their keys (``createdFrom`` keeps the link)."""
    for line_id, line in existing_lines(conn, source_id).items():
        row = {**line, "transaction": target_id, "mainline": "F", "linesequencenumber": line_id}
        cols = list(row)
        conn.execute(
            f'INSERT INTO transactionline ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
            f"VALUES ({', '.join('?' for _ in cols)})",
            [row[c] for c in cols],
        )

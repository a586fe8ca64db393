"""Which currencies a customer may use, and the rule that a transaction's currency is one of them.

NetSuite (Multiple Currencies feature; Oracle NetSuite Help "Assigning Currencies to Entities",
section_N1397405, and "Currency on Customer Transactions", bridgehead_N1398658):

- a customer has a primary currency (in OneWorld inherited from its subsidiary's base currency) and may
  have more on its Currencies sublist (REST ``currencyList``; the primary is always on it);
- a transaction's currency defaults to the customer's primary currency and may be set to another
  currency *from the customer's record*; anything else is refused;
- the currency cannot be changed after the transaction has been saved; a transaction made from another
  (estimate -> sales order) keeps the original's currency.

The stand-in has no subsidiaries yet (OneWorld is modelled by issue 17): a customer's primary currency is
what the request (or seed) gives, USD by default.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from cr_sandbox.netsuite.errors import NetSuiteError, invalid_content

SCHEMA = """
CREATE TABLE IF NOT EXISTS customercurrency (
    customer INTEGER NOT NULL, currency INTEGER NOT NULL, PRIMARY KEY (customer, currency));
"""

#: REST name of the customer's Currencies sublist.
SUBLIST = "currencyList"


def allowed(conn: sqlite3.Connection, customer: int) -> set[int]:
    """The customer's primary currency and the currencies on its Currencies sublist."""
    row = conn.execute("SELECT currency FROM customer WHERE id=?", (customer,)).fetchone()
    ids = {r[0] for r in conn.execute("SELECT currency FROM customercurrency WHERE customer=?", (customer,))}
    if row is not None and row[0] is not None:
        ids.add(int(row[0]))
    return ids


def read(conn: sqlite3.Connection, customer: int) -> list[int]:
    """The currencies shown on the customer's ``currencyList`` (primary first)."""
    row = conn.execute("SELECT currency FROM customer WHERE id=?", (customer,)).fetchone()
    primary = row[0] if row else None
    others = sorted(allowed(conn, customer) - {primary})
    return ([primary] if primary is not None else []) + others


def write(conn: sqlite3.Connection, customer: int, lines: list[dict[str, Any]], *, replace: bool) -> None:
    """Add the lines' currencies to the customer (``replace`` drops the others first; the primary stays)."""
    if replace:
        conn.execute("DELETE FROM customercurrency WHERE customer=?", (customer,))
    for line in lines:
        path = line.pop("_path", SUBLIST)
        if line.get("currency") is None:
            raise invalid_content("Please enter value(s) for: currency. The field currency is mandatory.",
                                  f"{path}.currency")
        conn.execute("INSERT OR IGNORE INTO customercurrency VALUES (?, ?)", (customer, line["currency"]))


def check_transaction(conn: sqlite3.Connection, entity: int, currency: int) -> None:
    """Refuse a transaction currency the customer may not use.

    Guessed error: NetSuite documents the rule (bridgehead_N1398658) but not the REST error; the code and
    text follow the form of NetSuite's refusals of a reference the record may not use ("Invalid <field>
    reference key <id> for <record> <id>"), at the ``currency`` field.
    """
    if currency not in allowed(conn, entity):
        raise NetSuiteError(
            400,
            "INVALID_KEY_OR_REF",
            f"Invalid currency reference key {currency} for entity {entity}.",
            "currency",
        )


def check_unchanged(saved: int | None, requested: int | None) -> None:
    """Refuse a change of currency on a saved transaction (bridgehead_N1398658; error text guessed)."""
    if requested is not None and saved is not None and int(requested) != int(saved):
        raise NetSuiteError(
            400,
            "USER_ERROR",
            "You cannot change the currency of a transaction after it has been saved (or of one made from "
            "another transaction). Make a copy of the transaction and change the currency on the copy.",
            "currency",
        )

"""Item prices per currency and price level (Multiple Currencies + Multiple Prices; issue 17).

NetSuite keeps an item's prices in a pricing matrix: one price per currency and price level (and quantity
break, not modelled). Help Center "Working with the Pricing Sublist on Item Records" (section_159531460854)
and "Pricing Matrix List" (section_N3707950); SuiteQL reads it as the ``pricing`` table (``item``,
``pricelevel``, ``currency``, ``unitprice``).

What the stand-in does with it: a transaction line sent without ``rate`` (and without ``amount``) at a price
level other than Custom (-1) gets the item's price at that level **in the transaction's currency**; with no
price in that currency the rate is 0 (guess: NetSuite leaves the rate empty when the matrix has no price for
the currency). Every item has its Base Price in USD (the root's base currency, from ``basePrice``); the
catalog items also have EUR, GBP and CAD prices (the stand-in's own figures). The item ``price`` sublist of
the REST record service is not modelled: the flows always send a rate with the Custom price level.
"""

from __future__ import annotations

import sqlite3
from typing import Any

BASE_PRICE_LEVEL = 1
CUSTOM_PRICE_LEVEL = -1
USD = 1
#: Catalog prices in the other currencies: the USD price times these factors (the stand-in's figures).
CATALOG_FACTORS = {4: 0.92, 2: 0.79, 3: 1.36}

SCHEMA = """
CREATE TABLE IF NOT EXISTS pricing (
    item INTEGER NOT NULL, pricelevel INTEGER NOT NULL, currency INTEGER NOT NULL, unitprice REAL,
    PRIMARY KEY (item, pricelevel, currency));
CREATE TRIGGER IF NOT EXISTS item_base_price AFTER INSERT ON item WHEN NEW.baseprice IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO pricing VALUES (NEW.id, 1, 1, NEW.baseprice);
END;
CREATE TRIGGER IF NOT EXISTS item_base_price_change AFTER UPDATE OF baseprice ON item
WHEN NEW.baseprice IS NOT NULL
BEGIN
    INSERT OR REPLACE INTO pricing VALUES (NEW.id, 1, 1, NEW.baseprice);
END;
"""


def create_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def add_catalog_prices(conn: sqlite3.Connection, item_ids: list[int]) -> None:
    """EUR, GBP and CAD Base Prices of the catalog items (idempotent)."""
    rows = conn.execute(
        f"SELECT id, baseprice FROM item WHERE baseprice IS NOT NULL AND id IN ({','.join('?' * len(item_ids))})",
        item_ids,
    ).fetchall()
    conn.executemany(
        "INSERT OR IGNORE INTO pricing VALUES (?, ?, ?, ?)",
        [(r[0], BASE_PRICE_LEVEL, currency, round(r[1] * factor, 2))
         for r in rows for currency, factor in CATALOG_FACTORS.items()],
    )


def unit_price(conn: sqlite3.Connection, tran_id: int, line: dict[str, Any]) -> float | None:
    """The line's price from the matrix (transaction currency, line price level); None for Custom."""
    level = line.get("price")
    level = BASE_PRICE_LEVEL if level is None else int(level)
    if level == CUSTOM_PRICE_LEVEL:
        return None
    row = conn.execute('SELECT currency FROM "transaction" WHERE id=?', (tran_id,)).fetchone()
    currency = row[0] if row and row[0] is not None else USD
    price = conn.execute(
        "SELECT unitprice FROM pricing WHERE item=? AND pricelevel=? AND currency=?", (line["item"], level, currency)
    ).fetchone()
    return float(price[0]) if price and price[0] is not None else 0.0

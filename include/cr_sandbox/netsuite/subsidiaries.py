"""NetSuite OneWorld: subsidiaries, and ``subsidiary`` on customers and transactions.

Modelled as the stand-in preference ``oneworld`` (1 = a OneWorld account, the default; 0 = not). OneWorld is
an account edition, not a feature a user enables; the switch lets tests and users run the stand-in as either.

What Oracle documents (docs/netsuite-sandbox.md, "Real-account readiness (issue 17)"):

- a OneWorld account is a tree of subsidiaries under a root parent; each subsidiary has a base currency
  (Help Center section_N3754626 "Subsidiary"; "Currency Rate", article_0715025503: "a different base
  currency per subsidiary");
- a customer has a primary subsidiary, which is required: "You cannot enter transactions for this entity
  ... unless a subsidiary is assigned. If you select this entity on a transaction, the transaction is
  associated with this subsidiary ... Once a transaction has posted for the entity ... you are not able to
  change the subsidiary" (SOAP Schema Browser, CustomerSubsidiaryRelationship.subsidiary);
- a OneWorld customer's primary currency defaults to its subsidiary's base currency ("Assigning Currencies
  to Entities", section_N1397405); the transaction-currency rule itself lives in
  :mod:`cr_sandbox.netsuite.currencies`.

Guesses (the docs give no REST error texts): a missing subsidiary is refused with the stand-in's standard
"Please enter value(s) for" message; a transaction subsidiary other than the customer's, and a change of a
saved transaction's subsidiary, are refused as ``INVALID_KEY_OR_REF`` / ``USER_ERROR`` at ``subsidiary``.
The Multi-Subsidiary Customer feature (a customer shared with secondary subsidiaries) is not modelled.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from cr_sandbox.netsuite.errors import NetSuiteError, invalid_content

if TYPE_CHECKING:
    from cr_sandbox.netsuite.db import Store

#: The stand-in preference that makes the account OneWorld (default on).
PREFERENCE = "oneworld"
FIELD = "subsidiary"

#: (id, name, parent, base currency id): the root holds USD; a European and a British subsidiary.
SUBSIDIARIES = (
    (1, "Parent Company (US)", None, 1),
    (2, "Europe B.V.", 1, 4),
    (3, "United Kingdom Ltd", 1, 2),
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS subsidiary (
    id INTEGER PRIMARY KEY, name TEXT, parent INTEGER, currency INTEGER, isinactive TEXT DEFAULT 'F');
"""

# Rows written straight to the tables (seed data, the module's renewal transactions) get what NetSuite
# would give them: a transaction the subsidiary of its customer; a seeded customer the subsidiary whose
# base currency is its currency (else the root). The REST path validates before it inserts (see below).
_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS transaction_subsidiary_from_customer AFTER INSERT ON "transaction"
WHEN NEW.subsidiary IS NULL AND COALESCE((SELECT value FROM meta WHERE key='pref.oneworld'), '1') = '1'
BEGIN
    UPDATE "transaction" SET subsidiary = (SELECT subsidiary FROM customer WHERE id = NEW.entity)
    WHERE id = NEW.id;
END;
CREATE TRIGGER IF NOT EXISTS customer_subsidiary_from_currency AFTER INSERT ON customer
WHEN NEW.subsidiary IS NULL AND COALESCE((SELECT value FROM meta WHERE key='pref.oneworld'), '1') = '1'
BEGIN
    UPDATE customer SET subsidiary = COALESCE(
        (SELECT MIN(id) FROM subsidiary WHERE currency = NEW.currency), 1) WHERE id = NEW.id;
END;
"""


def create_schema(conn: sqlite3.Connection) -> None:
    """The subsidiary table and its rows, ``subsidiary`` columns on customers and transactions, triggers."""
    conn.executescript(SCHEMA)
    conn.executemany("INSERT OR IGNORE INTO subsidiary (id, name, parent, currency) VALUES (?,?,?,?)", SUBSIDIARIES)
    for table in ("customer", "transaction"):
        columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
        if FIELD not in columns:
            conn.execute(f'ALTER TABLE "{table}" ADD COLUMN {FIELD} INTEGER')
    conn.executescript(_TRIGGERS)


def enabled(store: Store) -> bool:
    """Whether the account is OneWorld (preference ``oneworld``)."""
    return bool(store.preferences().get(PREFERENCE, 1))


def base_currency(conn: sqlite3.Connection, subsidiary: int) -> int | None:
    row = conn.execute("SELECT currency FROM subsidiary WHERE id=?", (subsidiary,)).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _customer_subsidiary(conn: sqlite3.Connection, customer: int) -> int | None:
    row = conn.execute("SELECT subsidiary FROM customer WHERE id=?", (customer,)).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _refuse_outside_oneworld(store: Store, table: str, values: dict[str, Any]) -> None:
    if FIELD in values and not enabled(store):
        record = "customer" if table == "customer" else "transaction"
        raise invalid_content(
            f"Invalid field '{FIELD}' in the request body: the field does not exist on record type {record}, or it "
            "is not exposed to REST web services.",
            FIELD,
        )


def before_insert(conn: sqlite3.Connection, store: Store, table: str, values: dict[str, Any]) -> None:
    """Check and fill ``subsidiary`` (and a OneWorld customer's default currency) before a REST create."""
    if table not in ("customer", "transaction"):
        return
    _refuse_outside_oneworld(store, table, values)
    if not enabled(store):
        return
    if table == "customer":
        subsidiary = values.get(FIELD)
        if subsidiary is None:
            raise invalid_content(
                f"Please enter value(s) for: {FIELD}. The field {FIELD} is mandatory.", FIELD
            )
        if values.get("currency") is None:
            values["currency"] = base_currency(conn, int(subsidiary))
        return
    entity = values.get("entity")
    if entity is None:
        return  # the record service refuses a transaction without entity itself
    owner = _customer_subsidiary(conn, int(entity))
    given = values.get(FIELD)
    if given is None:
        if owner is None:
            raise NetSuiteError(
                400, "USER_ERROR",
                f"Customer {entity} has no subsidiary; you cannot enter transactions for an entity unless a "
                "subsidiary is assigned to it.", "entity",
            )
        values[FIELD] = owner
    elif owner is not None and int(given) != owner:
        raise NetSuiteError(
            400, "INVALID_KEY_OR_REF", f"Invalid {FIELD} reference key {given} for entity {entity}.", FIELD
        )


def before_update(
    conn: sqlite3.Connection, store: Store, table: str, record_id: int, values: dict[str, Any]
) -> None:
    """Refuse a subsidiary change NetSuite does not allow on a saved record."""
    if table not in ("customer", "transaction"):
        return
    _refuse_outside_oneworld(store, table, values)
    if FIELD not in values or not enabled(store):
        return
    row = conn.execute(f'SELECT {FIELD} FROM "{table}" WHERE id=?', (record_id,)).fetchone()
    saved = row[0] if row else None
    requested = values[FIELD]
    if requested is None:
        raise invalid_content(f"Please enter value(s) for: {FIELD}. The field {FIELD} is mandatory.", FIELD)
    if saved is None or int(requested) == int(saved):
        return
    if table == "customer":
        used = conn.execute('SELECT 1 FROM "transaction" WHERE entity=? LIMIT 1', (record_id,)).fetchone()
        if used:
            raise NetSuiteError(
                400, "USER_ERROR",
                f"Customer {record_id} has transactions, so its subsidiary cannot be changed.", FIELD,
            )
        return
    raise NetSuiteError(
        400, "USER_ERROR",
        "You cannot change the subsidiary of a saved transaction. Make a copy of the transaction for the other "
        "subsidiary's customer instead.", FIELD,
    )

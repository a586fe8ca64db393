"""The stand-in's SQLite state: NetSuite-named tables, sandbox clock and preferences.

Dates are stored as ISO text (``YYYY-MM-DD``), date-times as ``YYYY-MM-DD HH:MM:SS`` so that SQL
comparisons work; the SuiteQL layer formats them the way NetSuite returns them.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cr_sandbox.catalog import CONTRACT_ITEM_STATE, CONTRACT_STATUS, ORDER_TYPE
from cr_sandbox.netsuite import itemprices, subsidiaries
from cr_sandbox.netsuite.currencies import SCHEMA as CURRENCIES_SCHEMA
from cr_sandbox.netsuite.lifecycle_schema import lifecycle_schema

TRANSACTION_BODY_CUSTOM = (
    "custbody_order_type",
    "custbody_contract_name",
    "custbody_swe_contract_start_date",
    "custbody_swe_contract_end_date",
    "custbody_tran_term_in_months",
    "custbody_swe_from_contract",
    "custbody_end_user",
    "custbody_bill_to_tier",
    "custbody_ship_to_tier",
    "custbody_reseller",
    "custbody_distributor",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS currency (id INTEGER PRIMARY KEY, name TEXT, symbol TEXT);
CREATE TABLE IF NOT EXISTS listvalue (list TEXT, id INTEGER, name TEXT, PRIMARY KEY (list, id));
CREATE TABLE IF NOT EXISTS customer (
    id INTEGER PRIMARY KEY, entityid TEXT, companyname TEXT, externalid TEXT UNIQUE, email TEXT,
    currency INTEGER, isinactive TEXT DEFAULT 'F', custentity_channel_tier INTEGER,
    datecreated TEXT, lastmodifieddate TEXT);
CREATE TABLE IF NOT EXISTS item (
    id INTEGER PRIMARY KEY, itemid TEXT, displayname TEXT, itemtype TEXT, description TEXT,
    custitem_item_category INTEGER, baseprice REAL, externalid TEXT UNIQUE, isinactive TEXT DEFAULT 'F',
    createddate TEXT, lastmodifieddate TEXT);
CREATE TABLE IF NOT EXISTS "transaction" (
    id INTEGER PRIMARY KEY, tranid TEXT, type TEXT, entity INTEGER, externalid TEXT, trandate TEXT,
    startdate TEXT, enddate TEXT, status TEXT, currency INTEGER, foreigntotal REAL, memo TEXT,
    createdfrom INTEGER, createddate TEXT, lastmodifieddate TEXT,
    custbody_order_type INTEGER, custbody_contract_name INTEGER, custbody_swe_contract_start_date TEXT,
    custbody_swe_contract_end_date TEXT, custbody_tran_term_in_months REAL,
    custbody_swe_from_contract INTEGER, custbody_end_user INTEGER, custbody_bill_to_tier INTEGER,
    custbody_ship_to_tier INTEGER, custbody_reseller INTEGER, custbody_distributor INTEGER,
    UNIQUE (type, externalid));
CREATE INDEX IF NOT EXISTS transaction_lastmod ON "transaction" (lastmodifieddate);
CREATE TABLE IF NOT EXISTS transactionline (
    uniquekey INTEGER PRIMARY KEY, "transaction" INTEGER NOT NULL, id INTEGER NOT NULL,
    linesequencenumber INTEGER, mainline TEXT, item INTEGER, quantity REAL, rate REAL, amount REAL,
    memo TEXT, custcol_swe_contract_start_date TEXT, custcol_swe_contract_end_date TEXT,
    custcol_swe_contract_item_term_months REAL, custcol_item_category INTEGER, custcol_list_rate REAL,
    price INTEGER,
    UNIQUE ("transaction", id));
CREATE TABLE IF NOT EXISTS customrecord_contracts (
    id INTEGER PRIMARY KEY, name TEXT, externalid TEXT UNIQUE, isinactive TEXT DEFAULT 'F',
    created TEXT, lastmodified TEXT,
    custrecord_contracts_start_date TEXT, custrecord_contracts_end_date TEXT,
    custrecord_contracts_bill_to_customer INTEGER, custrecord_contracts_end_user INTEGER,
    custrecord_swe_contract_type INTEGER, custrecord_contract_status INTEGER,
    custrecord_swe_contract_value REAL, custrecord_swe_annual_contract_val_net REAL,
    custrecord_swe_target_renewal_date TEXT, custrecord_contract_renewal_tran INTEGER,
    custrecord_swe_original_contract INTEGER, custrecord_contract_date_renewed TEXT,
    custrecord_swe_contract_currency INTEGER);
CREATE INDEX IF NOT EXISTS contracts_lastmod ON customrecord_contracts (lastmodified);
CREATE TABLE IF NOT EXISTS customrecord_contract_item (
    id INTEGER PRIMARY KEY, name TEXT, externalid TEXT UNIQUE, isinactive TEXT DEFAULT 'F',
    created TEXT, lastmodified TEXT,
    custrecord_ci_contract_id INTEGER, custrecord_ci_item INTEGER, custrecord_ci_quantity REAL,
    custrecord_ci_startdate TEXT, custrecord_ci_enddate TEXT, custrecord_ci_term REAL,
    custrecord_ci_renew_with INTEGER, custrecord_ci_bill_to_customer INTEGER,
    custrecord_ci_original_transaction INTEGER, custrecord_ci_original_so_lineno INTEGER,
    custrecord_ci_original_list_rate REAL, custrecord_ci_status INTEGER, custrecord_ci_state INTEGER);
CREATE INDEX IF NOT EXISTS contract_item_parent ON customrecord_contract_item (custrecord_ci_contract_id);
CREATE INDEX IF NOT EXISTS contract_item_lastmod ON customrecord_contract_item (lastmodified);
CREATE TABLE IF NOT EXISTS module_processed (
    "transaction" INTEGER PRIMARY KEY, contract INTEGER, action TEXT);
CREATE TABLE IF NOT EXISTS oauth_token (token TEXT PRIMARY KEY, expires REAL);
CREATE TABLE IF NOT EXISTS dual (dummy TEXT);
INSERT INTO dual SELECT 'X' WHERE NOT EXISTS (SELECT 1 FROM dual);
"""

# Tables SuiteQL may read (the rest are the stand-in's own bookkeeping).
SUITEQL_TABLES = frozenset(
    {"transaction", "transactionline", "customer", "item", "customrecord_contracts",
     "customrecord_contract_item", "currency", "subsidiary", "pricing"}
)

DATE_COLUMNS = frozenset(
    {"trandate", "startdate", "enddate", "custbody_swe_contract_start_date", "custbody_swe_contract_end_date",
     "custcol_swe_contract_start_date", "custcol_swe_contract_end_date", "custrecord_contracts_start_date",
     "custrecord_contracts_end_date", "custrecord_swe_target_renewal_date", "custrecord_contract_date_renewed",
     "custrecord_ci_startdate", "custrecord_ci_enddate"}
)
DATETIME_COLUMNS = frozenset({"createddate", "lastmodifieddate", "datecreated", "created", "lastmodified"})

CURRENCIES = ((1, "USD", "$"), (2, "GBP", "£"), (3, "CAD", "C$"), (4, "EUR", "€"))
LISTS: dict[str, dict[int, str]] = {
    "customlist_order_type": ORDER_TYPE,
    "customlist_contract_status": CONTRACT_STATUS,
    "customlist_ci_state": CONTRACT_ITEM_STATE,
    "customlist_item_category": {
        1: "License-Perpetual", 2: "License-Term", 3: "Maint-New", 4: "Maint-Renewal", 5: "Support-New",
        6: "Support-Renewal", 7: "Services", 8: "Training", 9: "Other", 10: "Parent", 11: "Hardware",
        12: "Services-Perpetual",
    },
    "customlist_contract_type": {1: "Transaction Renewal", 2: "Auto Renewal", 3: "Evergreen", 4: "Non-Renewing"},
    "customlist_channel_tier": {1: "End User", 2: "Reseller", 3: "Distributor"},
    "customlist_tran_type_to_create": {1: "Opportunity", 2: "Estimate", 3: "Sales Order"},
    # Line price level: -1 is NetSuite's "Custom" level, which keeps the rate the request sends.
    "pricelevel": {-1: "Custom", 1: "Base Price"},
}

DEFAULT_PREFERENCES: dict[str, Any] = {
    "days_before_renewal": 90,
    "transaction_type_to_create": 2,
    "m2m_token_ttl_seconds": 3600,
    # 1: a OneWorld account (subsidiaries; cr_sandbox.netsuite.subsidiaries), Oracle's usual edition; 0: not.
    subsidiaries.PREFERENCE: 1,
}


class Store:
    """One SQLite connection shared by all requests, serialised by a lock.

    :param path: the SQLite file (``<state_dir>/netsuite.sqlite3``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fresh = not path.exists()
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.lock = threading.RLock()
        # Transactions SuiteQL does not return yet (governance ``suiteql_lag_ms``): id -> monotonic deadline.
        self.suiteql_hidden: dict[int, float] = {}
        self.create_schema()

    def create_schema(self) -> None:
        self.conn.executescript(SCHEMA)
        self.conn.executescript(CURRENCIES_SCHEMA)
        lifecycle_schema(self.conn)
        subsidiaries.create_schema(self.conn)
        itemprices.create_schema(self.conn)
        self.conn.executemany("INSERT OR IGNORE INTO currency VALUES (?,?,?)", CURRENCIES)
        self.conn.executemany(
            "INSERT OR IGNORE INTO listvalue VALUES (?,?,?)",
            [(name, k, v) for name, values in LISTS.items() for k, v in values.items()],
        )

    def wipe(self) -> None:
        """Drop every table and recreate the empty schema (``/__sandbox/reset``)."""
        with self.lock:
            tables = [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                self.conn.execute(f'DROP TABLE IF EXISTS "{table}"')
            self.suiteql_hidden.clear()
            self.create_schema()

    def hide_from_suiteql(self, transaction_id: int, seconds: float) -> None:
        """Keep a new transaction out of SuiteQL results for ``seconds`` (a lagging query index)."""
        with self.lock:
            self.suiteql_hidden[int(transaction_id)] = time.monotonic() + seconds

    def suiteql_hidden_ids(self) -> frozenset[int]:
        """Transactions SuiteQL does not return yet (expired entries are forgotten)."""
        with self.lock:
            now = time.monotonic()
            for key in [k for k, until in self.suiteql_hidden.items() if until <= now]:
                del self.suiteql_hidden[key]
            return frozenset(self.suiteql_hidden)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Serialised write transaction; rolled back when the block raises."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # -- meta: clock and preferences ------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: Any) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (key, str(value)))

    @property
    def clock_offset_days(self) -> int:
        return int(self.get_meta("clock_offset_days", "0") or 0)

    def today(self) -> dt.date:
        """Sandbox "today": the real date moved by the clock offset."""
        return dt.date.today() + dt.timedelta(days=self.clock_offset_days)

    def now(self) -> dt.datetime:
        """Sandbox "now" (used for createddate/lastmodifieddate): real time moved by the clock offset."""
        return dt.datetime.now().replace(microsecond=0) + dt.timedelta(days=self.clock_offset_days)

    def now_text(self) -> str:
        return self.now().strftime("%Y-%m-%d %H:%M:%S")

    def set_today(self, today: dt.date) -> None:
        self.set_meta("clock_offset_days", (today - dt.date.today()).days)

    def preferences(self) -> dict[str, Any]:
        return {k: int(self.get_meta(f"pref.{k}", str(v)) or v) for k, v in DEFAULT_PREFERENCES.items()}

    def set_preferences(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key not in DEFAULT_PREFERENCES:
                raise ValueError(f"unknown preference {key!r}; known: {sorted(DEFAULT_PREFERENCES)}")
            if key == "transaction_type_to_create" and int(value) not in (1, 2, 3):
                raise ValueError("transaction_type_to_create must be 1 (opportunity), 2 (estimate) or 3 (sales order)")
            if key == subsidiaries.PREFERENCE and int(value) not in (0, 1):
                raise ValueError("oneworld must be 1 (a OneWorld account) or 0 (not OneWorld)")
            self.set_meta(f"pref.{key}", int(value))

    def next_id(self, table: str, floor: int = 1) -> int:
        row = self.conn.execute(f'SELECT MAX(id) FROM "{table}"').fetchone()
        return max((row[0] or 0) + 1, floor)

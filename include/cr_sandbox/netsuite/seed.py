"""Deterministic seed data: the shared catalog plus generated customers, items, contracts and estimates.

Everything is written with ``executemany`` so that 100,000+ rows take seconds.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from cr_sandbox.catalog import CUSTOMERS, ITEMS, RENEWABLE_CATEGORIES
from cr_sandbox.netsuite import itemprices
from cr_sandbox.netsuite.db import Store
from cr_sandbox.netsuite.module import ACTIVE, CLOSED, add_months, item_state, term_months

DEFAULT_SIZES = {"customers": 0, "items": 0, "contracts": 6, "items_per_contract": 3, "estimates": 2}
SIZE_KEYS = ("customers", "items", "contracts", "items_per_contract", "estimates", "seed")
ITEM_TYPES = {"noninventoryitem": "NonInvtPart", "inventoryitem": "InvtPart"}


def seed(store: Store, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Add the catalog (idempotent) and generated rows sized by ``params``.

    :param params: ``customers``, ``items`` (extra beyond the catalog), ``contracts``,
        ``items_per_contract``, ``estimates`` and ``seed``; an empty body means the default data set.
    :returns: counts of what was added.
    """
    params = dict(params or {})
    unknown = set(params) - set(SIZE_KEYS)
    if unknown:
        raise ValueError(f"unknown seed parameter(s) {sorted(unknown)}; known: {list(SIZE_KEYS)}")
    sizes = dict(DEFAULT_SIZES) if not params or set(params) == {"seed"} else {k: 0 for k in DEFAULT_SIZES}
    sizes.update({k: int(v) for k, v in params.items() if k != "seed"})
    rng = random.Random(int(params.get("seed", 0)))
    today = store.today()
    now = store.now_text()
    added: dict[str, int] = {}
    with store.transaction() as conn:
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO customer (id, entityid, companyname, externalid, currency, custentity_channel_tier, "
            "datecreated, lastmodifieddate) VALUES (?,?,?,?,?,?,?,?)",
            [(c.ns_id, f"CUST{c.ns_id}", c.name, None, 1, 1, now, now) for c in CUSTOMERS],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO item (id, itemid, displayname, itemtype, custitem_item_category, baseprice, "
            "createddate, lastmodifieddate) VALUES (?,?,?,?,?,?,?,?)",
            [(i.ns_id, i.itemid, i.display_name, ITEM_TYPES.get(i.ns_type.lower(), "NonInvtPart"), i.category, i.rate,
              now, now) for i in ITEMS],
        )
        itemprices.add_catalog_prices(conn, [i.ns_id for i in ITEMS])  # EUR, GBP, CAD Base Prices
        added["catalog_rows"] = conn.total_changes - before

        first_customer = store.next_id("customer", 2001)
        conn.executemany(
            "INSERT INTO customer (id, entityid, companyname, currency, custentity_channel_tier, datecreated, "
            "lastmodifieddate) VALUES (?,?,?,?,?,?,?)",
            [(first_customer + n, f"CUST{first_customer + n}", f"Generated Customer {first_customer + n}",
              1 + (n % 4 == 3), 1, now, now) for n in range(sizes["customers"])],
        )
        added["customers"] = sizes["customers"]
        # Generated GBP customers also buy in USD (their generated orders are in USD): NetSuite refuses a
        # transaction in a currency that is not on the customer's record (cr_sandbox.netsuite.currencies).
        conn.execute(
            "INSERT OR IGNORE INTO customercurrency (customer, currency) "
            "SELECT id, 1 FROM customer WHERE currency IS NOT NULL AND currency != 1"
        )
        first_item = store.next_id("item", 601)
        conn.executemany(
            "INSERT INTO item (id, itemid, displayname, itemtype, custitem_item_category, baseprice, createddate, "
            "lastmodifieddate) VALUES (?,?,?,?,?,?,?,?)",
            [(first_item + n, f"GEN-{first_item + n}", f"Generated Item {first_item + n}", "NonInvtPart",
              rng.choice((2, 3, 5, 7)), float(rng.randrange(100, 5000, 50)), now, now) for n in range(sizes["items"])],
        )
        added["items"] = sizes["items"]

        customers = [r[0] for r in conn.execute("SELECT id FROM customer ORDER BY id")]
        items = [dict(r) for r in conn.execute("SELECT id, custitem_item_category cat, baseprice FROM item ORDER BY id")]
        renewable = [i for i in items if i["cat"] in RENEWABLE_CATEGORIES] or items
        days_before = store.preferences()["days_before_renewal"]

        tran_id = store.next_id("transaction", 3001)
        contract_id = store.next_id("customrecord_contracts", 101)
        ci_id = store.next_id("customrecord_contract_item", 1)
        trans, lines, contracts, contract_items, processed = [], [], [], [], []
        for n in range(sizes["contracts"]):
            customer = customers[n % len(customers)] if n < len(CUSTOMERS) else rng.choice(customers)
            # Spread terms so some renew soon, some are mid-term and a few have expired.
            start = today - dt.timedelta(days=rng.randrange(30, 420)) if n else today - dt.timedelta(days=300)
            months = rng.choice((12, 12, 12, 24, 36)) if n else 12
            end = add_months(start, months) - dt.timedelta(days=1)
            status = CLOSED if end < today - dt.timedelta(days=60) else ACTIVE
            picks = [renewable[(n + k) % len(renewable)] for k in range(sizes["items_per_contract"])]
            total = 0.0
            tran_lines = []
            for k, item in enumerate(picks, start=1):
                qty = float(rng.randrange(1, 20))
                amount = round(qty * (item["baseprice"] or 0.0), 2)
                total += amount
                tran_lines.append((tran_id, k, k, "F", item["id"], qty, item["baseprice"], amount, start.isoformat(),
                                   end.isoformat(), float(months), item["cat"], item["baseprice"]))
                contract_items.append((
                    ci_id, f"{ci_id:08d}", now, now, contract_id, item["id"], qty, start.isoformat(), end.isoformat(),
                    float(months), item["id"], customer, tran_id, k, item["baseprice"], status,
                    item_state(start.isoformat(), end.isoformat(), today),
                ))
                ci_id += 1
            lines.extend(tran_lines)
            lines.append((tran_id, 0, 0, "T", None, None, None, round(total, 2), None, None, None, None, None))
            trans.append((tran_id, f"SO{tran_id}", "SalesOrd", customer, start.isoformat(), start.isoformat(),
                          end.isoformat(), "B", 1, round(total, 2), now, now, 1, contract_id, start.isoformat(),
                          end.isoformat(), float(months), customer, 1))
            contracts.append((
                contract_id, f"{contract_id}_{start.isoformat()}_{end.isoformat()}", now, now, start.isoformat(),
                end.isoformat(), customer, customer, 1, status, round(total, 2),
                round(total * 12 / term_months(start, end), 2), (end - dt.timedelta(days=days_before)).isoformat(), 1,
            ))
            processed.append((tran_id, contract_id, "contract"))
            tran_id += 1
            contract_id += 1
        for _ in range(sizes["estimates"]):
            customer = rng.choice(customers)
            item = rng.choice(items)
            qty = float(rng.randrange(1, 10))
            amount = round(qty * (item["baseprice"] or 0.0), 2)
            start = today + dt.timedelta(days=rng.randrange(0, 60))
            end = add_months(start, 12) - dt.timedelta(days=1)
            trans.append((tran_id, f"EST{tran_id}", "Estimate", customer, today.isoformat(), start.isoformat(),
                          end.isoformat(), "A", 1, amount, now, now, None, None, None, None, 12.0, customer, 1))
            lines.append((tran_id, 1, 1, "F", item["id"], qty, item["baseprice"], amount, start.isoformat(),
                          end.isoformat(), 12.0, item["cat"], item["baseprice"]))
            lines.append((tran_id, 0, 0, "T", None, None, None, amount, None, None, None, None, None))
            tran_id += 1
        conn.executemany(
            'INSERT INTO "transaction" (id, tranid, type, entity, trandate, startdate, enddate, status, currency, '
            "foreigntotal, createddate, lastmodifieddate, custbody_order_type, custbody_contract_name, "
            "custbody_swe_contract_start_date, custbody_swe_contract_end_date, custbody_tran_term_in_months, "
            "custbody_end_user, custbody_bill_to_tier) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            trans,
        )
        conn.executemany(
            'INSERT INTO transactionline ("transaction", id, linesequencenumber, mainline, item, quantity, rate, amount, '
            "custcol_swe_contract_start_date, custcol_swe_contract_end_date, custcol_swe_contract_item_term_months, "
            "custcol_item_category, custcol_list_rate) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            lines,
        )
        conn.executemany(
            "INSERT INTO customrecord_contracts (id, name, created, lastmodified, custrecord_contracts_start_date, "
            "custrecord_contracts_end_date, custrecord_contracts_bill_to_customer, custrecord_contracts_end_user, "
            "custrecord_swe_contract_type, custrecord_contract_status, custrecord_swe_contract_value, "
            "custrecord_swe_annual_contract_val_net, custrecord_swe_target_renewal_date, custrecord_swe_contract_currency)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            contracts,
        )
        conn.executemany(
            "INSERT INTO customrecord_contract_item (id, name, created, lastmodified, custrecord_ci_contract_id, "
            "custrecord_ci_item, custrecord_ci_quantity, custrecord_ci_startdate, custrecord_ci_enddate, custrecord_ci_term, "
            "custrecord_ci_renew_with, custrecord_ci_bill_to_customer, custrecord_ci_original_transaction, "
            "custrecord_ci_original_so_lineno, custrecord_ci_original_list_rate, custrecord_ci_status, custrecord_ci_state)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            contract_items,
        )
        conn.executemany("INSERT INTO module_processed VALUES (?,?,?)", processed)
    added.update({
        "contracts": len(contracts), "contract_items": len(contract_items), "transactions": len(trans),
        "transaction_lines": len(lines),
    })
    return added

"""Org basics and seed data of the Salesforce stand-in.

``ensure_org_basics`` creates what every real org has (the running user, the standard price book).
``seed`` adds the shared catalog (:mod:`cr_sandbox.catalog`): Accounts and Products carrying the
NetSuite ids the NetSuite stand-in uses, USD standard price book entries, and Opportunities with line
items, either a small default set or sized by the caller::

    {"opportunities": 4500, "lines_per_opportunity": 2, "order_type": "Contract New",
     "sync_status": "Processing", "stage": "Closed Won", "contract_netsuite_id": "7",
     "account_netsuite_id": "1001", "currency": "EUR"}

``currency`` (multi-currency org only) sets the Opportunities' ``CurrencyIsoCode`` and adds standard price
book entries in that currency where missing. Without ``account_netsuite_id`` accounts cycle through the catalog; line products cycle through the
catalog items starting at the first, so the default "Contract New" opportunity has items 501-503.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cr_sandbox import catalog
from cr_sandbox.salesforce.schema import Schema
from cr_sandbox.salesforce.store import Store, add_months
from cr_sandbox.salesforce.writes import SANDBOX_USER_USERNAME, SaveResult, WriteOp, Writer

STANDARD_PRICEBOOK_NAME = "Standard Price Book"
WRITE_CHUNK = 1000


def category_label(schema: Schema, category: int) -> str:
    """The ``Product2.Item_Category__c`` value for NetSuite category id ``category`` (1-based, DX order)."""
    values = schema.objects["Product2"].fields["Item_Category__c"].picklist_values
    return values[category - 1]


def ensure_org_basics(store: Store, writer: Writer) -> None:
    """Create the sandbox user and the active standard price book when missing."""
    if not writer.sandbox_user_id():
        _check(writer.execute([WriteOp("create", "User", {
            "LastName": "Integration", "FirstName": "Sandbox", "Username": SANDBOX_USER_USERNAME,
            "Email": SANDBOX_USER_USERNAME, "Alias": "sbxint"})]))
        user = store.get("User", writer.sandbox_user_id())
        assert user is not None
        store.save_many([("User", {**user, "Name": "Sandbox Integration", "OwnerId": None,
                                   "CreatedById": user["Id"], "LastModifiedById": user["Id"]})])
    if writer.standard_pricebook_id() is None:
        result = _check(writer.execute([WriteOp("create", "Pricebook2", {"Name": STANDARD_PRICEBOOK_NAME,
                                                                          "IsActive": True})]))[0]
        book = store.get("Pricebook2", result.id or "")
        assert book is not None
        # IsStandard is read-only through the API; the platform sets it on the org's standard book.
        store.save_many([("Pricebook2", {**book, "IsStandard": True})])


def _check(results: list[SaveResult]) -> list[SaveResult]:
    failures = [r for r in results if not r.success]
    if failures:
        raise ValueError(f"seed write failed: {[e.as_result() for r in failures[:3] for e in r.errors]}")
    return results


def _execute_chunked(writer: Writer, ops: list[WriteOp]) -> list[SaveResult]:
    results: list[SaveResult] = []
    for start in range(0, len(ops), WRITE_CHUNK):
        results.extend(_check(writer.execute(ops[start : start + WRITE_CHUNK])))
    return results


def seed_catalog(store: Store, writer: Writer, schema: Schema) -> dict[str, int]:
    """Upsert catalog Accounts and Products and their standard price book entries."""
    ensure_org_basics(store, writer)
    accounts = [
        WriteOp("upsert", "Account", {"NetSuite_Id__c": str(c.ns_id), "Name": c.name, "Channel_Tier__c": c.channel_tier,
                                      "Type": "Customer - Direct", "BillingCountry": "US"},
                external_id_field="NetSuite_Id__c")
        for c in catalog.CUSTOMERS
    ]
    products = [
        WriteOp("upsert", "Product2", {"NetSuite_Id__c": str(i.ns_id), "Name": i.display_name, "ProductCode": i.itemid,
                                       "Item_Category__c": category_label(schema, i.category), "IsActive": True,
                                       "Family": "Software"},
                external_id_field="NetSuite_Id__c")
        for i in catalog.ITEMS
    ]
    _execute_chunked(writer, accounts)
    product_results = _execute_chunked(writer, products)
    book_id = writer.standard_pricebook_id()
    entries = []
    for item, result in zip(catalog.ITEMS, product_results, strict=True):
        existing = [store.get("PricebookEntry", i) for i in store.child_ids("PricebookEntry", "Product2Id",
                                                                             result.id or "")]
        if any(e and e.get("Pricebook2Id") == book_id and (e.get("CurrencyIsoCode") or "USD") == "USD"
               for e in existing):
            continue
        entries.append(WriteOp("create", "PricebookEntry", {"Pricebook2Id": book_id, "Product2Id": result.id,
                                                            "UnitPrice": item.rate, "IsActive": True}))
    _execute_chunked(writer, entries)
    return {"accounts": len(accounts), "products": len(products), "pricebook_entries": len(entries)}


def seed_opportunities(store: Store, writer: Writer, *, count: int, lines_per_opportunity: int, order_type: str,
                       sync_status: str, stage: str = "Closed Won", contract_netsuite_id: str | None = None,
                       account_netsuite_id: str | None = None, currency: str | None = None) -> list[str]:
    """``count`` Opportunities of ``order_type`` with line items; returns their ids.

    Accounts and products cycle through the catalog deterministically, so a given call always builds the
    same shapes; names carry a running number so repeated calls add new records.
    """
    today = store.today()
    end = add_months(today, 12) - timedelta(days=1)
    book_id = writer.standard_pricebook_id()
    if currency:
        _ensure_entries_in(store, writer, book_id, currency)
    entry_by_product = {}
    for entry in store.live("PricebookEntry"):
        # A single-currency org's entries carry no currency; they are the corporate currency's (USD).
        if entry.get("Pricebook2Id") == book_id and (entry.get("CurrencyIsoCode") or "USD") == (currency or "USD"):
            product = store.get("Product2", entry["Product2Id"])
            if product and product.get("NetSuite_Id__c"):
                entry_by_product[product["NetSuite_Id__c"]] = entry
    base = store.count("Opportunity")
    customers = {str(c.ns_id): c for c in catalog.CUSTOMERS}
    opp_ops = []
    for n in range(count):
        customer = (customers[str(account_netsuite_id)] if account_netsuite_id
                    else catalog.CUSTOMERS[(base + n) % len(catalog.CUSTOMERS)])
        payload: dict[str, Any] = {
            "Name": f"{customer.name} - {order_type} #{base + n + 1:06d}",
            "Account": {"NetSuite_Id__c": str(customer.ns_id)},
            "StageName": stage,
            "CloseDate": today.isoformat(),
            "Order_Type__c": order_type,
            "Sync_Status__c": sync_status,
            "Pricebook2Id": book_id,
        }
        if currency:
            payload["CurrencyIsoCode"] = currency
        if contract_netsuite_id:
            payload["Contract"] = {"NetSuite_Id__c": str(contract_netsuite_id)}
        opp_ops.append(WriteOp("create", "Opportunity", payload))
    opp_ids = [r.id or "" for r in _execute_chunked(writer, opp_ops)]
    line_ops = []
    for n, opp_id in enumerate(opp_ids):
        for k in range(lines_per_opportunity):
            item = catalog.ITEMS[(n + k) % len(catalog.ITEMS)]
            entry = entry_by_product[str(item.ns_id)]
            line_ops.append(WriteOp("create", "OpportunityLineItem", {
                "OpportunityId": opp_id, "PricebookEntryId": entry["Id"], "Quantity": 1 + (n + k) % 5,
                "UnitPrice": item.rate, "ServiceDate": today.isoformat(), "Start_Date__c": today.isoformat(),
                "End_Date__c": end.isoformat(), "Term_Months__c": 12, "SortOrder": k + 1}))
    _execute_chunked(writer, line_ops)
    return opp_ids


def _ensure_entries_in(store: Store, writer: Writer, book_id: str | None, currency: str) -> None:
    """Standard price book entries in ``currency`` for the catalog products that have none."""
    products = {p["NetSuite_Id__c"]: p["Id"] for p in store.live("Product2") if p.get("NetSuite_Id__c")}
    have = {e.get("Product2Id") for e in store.live("PricebookEntry")
            if e.get("Pricebook2Id") == book_id and e.get("CurrencyIsoCode") == currency}
    _execute_chunked(writer, [
        WriteOp("create", "PricebookEntry", {"Pricebook2Id": book_id, "Product2Id": products[str(i.ns_id)],
                                             "UnitPrice": i.rate, "IsActive": True, "CurrencyIsoCode": currency})
        for i in catalog.ITEMS if str(i.ns_id) in products and products[str(i.ns_id)] not in have
    ])


def seed(store: Store, writer: Writer, schema: Schema, params: dict[str, Any]) -> dict[str, Any]:
    """The ``/__sandbox/seed`` control: catalog, then the default set or the sized generator."""
    summary: dict[str, Any] = seed_catalog(store, writer, schema)
    if "opportunities" in params:
        ids = seed_opportunities(
            store, writer,
            count=int(params["opportunities"]),
            lines_per_opportunity=int(params.get("lines_per_opportunity", 2)),
            order_type=str(params.get("order_type", "Contract New")),
            sync_status=str(params.get("sync_status", "Processing")),
            stage=str(params.get("stage", "Closed Won")),
            contract_netsuite_id=params.get("contract_netsuite_id"),
            account_netsuite_id=params.get("account_netsuite_id"),
            currency=params.get("currency"),
        )
        summary["opportunity_ids"] = ids
    elif not params.get("catalog_only"):
        ids = seed_opportunities(store, writer, count=1, lines_per_opportunity=3, order_type="Contract New",
                                 sync_status="Processing", account_netsuite_id="1001")
        ids += seed_opportunities(store, writer, count=1, lines_per_opportunity=1, order_type="Contract Upsell",
                                  sync_status="Not Synced", stage="Negotiation/Review", account_netsuite_id="1002")
        ids += seed_opportunities(store, writer, count=1, lines_per_opportunity=2, order_type="Contract Renewal",
                                  sync_status="Not Synced", stage="Proposal/Price Quote", account_netsuite_id="1003")
        summary["opportunity_ids"] = ids
    summary["opportunities"] = len(summary.get("opportunity_ids", []))
    return summary



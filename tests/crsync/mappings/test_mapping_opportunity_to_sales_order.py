"""crsync.mappings.opportunity_to_sales_order: order types, validation rules, write-back."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from crsync.mappings.opportunity_to_sales_order import (
    account_write_back,
    explain_currency_refusals,
    opportunities_to_sales_orders,
    opportunity_write_back,
    resolve_new_customers,
)
from crsync.queries import to_18_char_id
from crsync.records import NetSuiteWrite, RecordFailure, WriteResult
from crsync.settings import IntegrationSettings, RenewalTransactionType

ACCOUNT = "0015g00000AcC01"
CONTRACT = {"NetSuite_Id__c": "77", "NetSuite_Name__c": "77_2025-01-01_2025-12-31",
            "StartDate": "2025-01-01", "End_Date__c": "2025-12-31"}  # fmt: skip


def line(**overrides: Any) -> dict[str, Any]:
    record = {
        "attributes": {"type": "OpportunityLineItem"}, "Id": "00k5g00000AbC01", "Quantity": 3.0,
        "UnitPrice": 1200.0, "ListPrice": 1200.0, "Start_Date__c": "2025-02-01", "End_Date__c": "2026-01-31",
        "Term_Months__c": None, "NetSuite_Line_Id__c": None, "Product2Id": "01t5g00000AbC01",
        "Product2": {"Name": "Pro Edition Term License", "NetSuite_Id__c": "501", "Item_Category__c": "License-Term"},
    }  # fmt: skip
    record.update(overrides)
    return record


def opportunity(
    number: int, order_type: str = "Contract New", lines: list | None = None, **overrides: Any
) -> dict:
    record = {
        "attributes": {"type": "Opportunity"}, "Id": f"0065g00000AbC{number:02d}", "Name": f"Deal {number}",
        "Order_Type__c": order_type, "CloseDate": "2025-01-20", "Sync_Status__c": "Processing",
        "NetSuite_Id__c": None, "NetSuite_Renewal_Estimate_Id__c": None, "AccountId": ACCOUNT,
        "Account": {"Id": ACCOUNT, "Name": "Acme Analytics Inc.", "NetSuite_Id__c": "1001",
                    "Channel_Tier__c": "End User"},
        "ContractId": None, "Contract": None,
        "OpportunityLineItems": {"totalSize": 1, "done": True, "records": [line()] if lines is None else lines},
    }  # fmt: skip
    record.update(overrides)
    return record


def upsell(number: int, lines: list | None = None, **overrides: Any) -> dict:
    dated = lines if lines is not None else [line(Start_Date__c="2025-06-01", End_Date__c="2025-12-31")]
    return opportunity(number, "Contract Upsell", dated, ContractId="8005g00000AbC01", Contract=dict(CONTRACT),
                       **overrides)  # fmt: skip


def renewal(number: int, **overrides: Any) -> dict:
    return opportunity(number, "Contract Renewal", [line(Start_Date__c="2026-01-01", End_Date__c="2026-12-31")],
                       ContractId="8005g00000AbC01", Contract=dict(CONTRACT), **overrides)  # fmt: skip


def key(number: int) -> str:
    return to_18_char_id(f"0065g00000AbC{number:02d}")


def only_failure(batch: Any, number: int) -> RecordFailure:
    assert [f.key for f in batch.failures] == [key(number)], batch.failures
    return batch.failures[0]


# -- order types ------------------------------------------------------------------------------------


def test_new_contract_order(settings: IntegrationSettings) -> None:
    batch = opportunities_to_sales_orders([opportunity(1)], settings)
    assert batch.failures == [] and batch.customers == []
    (order,) = batch.orders
    assert order.record_type == "salesOrder" and order.external_id == key(1) == order.key
    assert order.transform_from is None
    body = order.body
    assert body["externalId"] == key(1)
    assert body["entity"] == {"id": "1001"}
    assert body["custbody_order_type"] == {"id": "1"}
    assert (body["startdate"], body["enddate"], body["custbody_tran_term_in_months"]) == (
        "2025-02-01",
        "2026-01-31",
        12,
    )
    assert (body["custbody_swe_contract_start_date"], body["custbody_swe_contract_end_date"]) == (
        "2025-02-01", "2026-01-31",
    )  # fmt: skip
    assert body["custbody_bill_to_tier"] == {"id": "1"}
    assert "custbody_contract_name" not in body and "custbody_swe_from_contract" not in body
    assert body["item"] == {
        "items": [
            {"item": {"id": "501"}, "quantity": 3, "rate": 1200, "price": {"id": "-1"},
             "custcol_swe_contract_start_date": "2025-02-01", "custcol_swe_contract_end_date": "2026-01-31",
             "custcol_swe_contract_item_term_months": 12}
        ]
    }  # fmt: skip


def test_upsell_order_is_tied_to_the_contract(settings: IntegrationSettings) -> None:
    (order,) = opportunities_to_sales_orders([upsell(2)], settings).orders
    assert order.body["custbody_order_type"] == {"id": "3"}
    assert order.body["custbody_contract_name"] == {"id": "77"}
    assert order.body["custbody_swe_contract_start_date"] == "2025-01-01"
    assert order.body["custbody_swe_contract_end_date"] == "2025-12-31"
    assert order.body["startdate"] == "2025-06-01"
    assert order.body["custbody_tran_term_in_months"] == 7


def test_upsell_line_without_dates_is_co_termed(settings: IntegrationSettings) -> None:
    undated = upsell(3, lines=[line(Start_Date__c=None, End_Date__c=None)])
    (order,) = opportunities_to_sales_orders([undated], settings).orders
    (item,) = order.body["item"]["items"]
    assert item["custcol_swe_contract_start_date"] == "2025-01-20"  # the close date, inside the term
    assert item["custcol_swe_contract_end_date"] == "2025-12-31"


def test_downsell_is_a_return_authorization_on_the_contract(settings: IntegrationSettings) -> None:
    """Oracle: a downsell is a return authorization tied to the contract, order type 13 (Contract-Downsell),
    its dates the part of the term returned (article_1230053124, section_4539453728)."""
    downsell = opportunity(5, "Contract Downsell", [line(Quantity=2.0, Start_Date__c=None, End_Date__c=None)],
                           ContractId="8005g00000AbC01", Contract=dict(CONTRACT))  # fmt: skip
    (order,) = opportunities_to_sales_orders([downsell], settings).orders
    assert (order.record_type, order.external_id, order.transform_from) == ("returnAuthorization", key(5), None)
    assert order.body["custbody_order_type"] == {"id": "13"}
    assert order.body["custbody_contract_name"] == {"id": "77"}
    (item,) = order.body["item"]["items"]
    assert (item["quantity"], item["custcol_swe_contract_start_date"], item["custcol_swe_contract_end_date"]) == (
        2, "2025-01-20", "2025-12-31")  # co-termed: from the close date to the contract end
    no_contract = opportunity(6, "Contract Downsell", ContractId=None, Contract=None)
    failure = only_failure(opportunities_to_sales_orders([no_contract], settings), 6)
    assert failure.code == "missing_contract"
    assert failure.message == "Downsell has no Contract; set the Opportunity's Contract to the contract it reduces"


def test_renewal_order_references_the_renewed_contract(settings: IntegrationSettings) -> None:
    (order,) = opportunities_to_sales_orders([renewal(4)], settings).orders
    assert order.body["custbody_order_type"] == {"id": "2"}
    assert order.body["custbody_swe_from_contract"] == {"id": "77"}
    assert "custbody_contract_name" not in order.body
    assert order.transform_from is None


def test_renewal_from_a_netsuite_estimate_is_transformed(settings: IntegrationSettings) -> None:
    (order,) = opportunities_to_sales_orders(
        [renewal(5, NetSuite_Renewal_Estimate_Id__c="4321")], settings
    ).orders
    assert order.transform_from is not None
    assert order.transform_from.model_dump() == {"record_type": "estimate", "id": "4321"}
    assert order.external_id == key(5)


def test_a_renewal_made_as_a_sales_order_is_not_sent_again(settings: IntegrationSettings) -> None:
    """Transaction Type to Create = Sales Order: the renewal is already the order; no transform, no duplicate."""
    as_orders = settings.model_copy(
        update={"renewal": settings.renewal.model_copy(
            update={"transaction_type": RenewalTransactionType.SALES_ORDER})}
    )
    batch = opportunities_to_sales_orders([renewal(7, NetSuite_Renewal_Estimate_Id__c="4242")], as_orders)
    assert batch.orders == []
    failure = only_failure(batch, 7)
    assert failure.code == "renewal_already_ordered" and "sales order 4242" in failure.message


def test_a_renewal_not_queued_is_an_update_only_write_without_transform(settings: IntegrationSettings) -> None:
    """Sent before, not queued now (a window re-send): it may update its order, never create one or transform
    the estimate; queued, the same renewal transforms its estimate (issue 13, finding 1)."""
    sent = renewal(5, NetSuite_Renewal_Estimate_Id__c="4321", Sync_Status__c="Synced", NetSuite_Id__c="900")
    queued = renewal(6, NetSuite_Renewal_Estimate_Id__c="4322")
    resend, new = opportunities_to_sales_orders([sent, queued], settings).orders
    assert (resend.update_only, resend.transform_from) == (True, None)
    assert new.update_only is False and new.transform_from is not None


@pytest.mark.parametrize(
    ("overrides", "code", "text"),
    [
        ({"IsClosed": True, "IsWon": False}, "closed_lost", "Closed Lost"),
        ({"Sync_Status__c": "Not Synced"}, "not_queued", "click Create NetSuite Order"),
        ({"Sync_Status__c": None, "StageName": "Prospecting"}, "not_queued", "Sync Status is '?'"),
    ],
)
def test_what_nobody_queued_or_a_lost_deal_is_never_ordered(
    settings: IntegrationSettings, overrides: dict, code: str, text: str
) -> None:
    batch = opportunities_to_sales_orders([opportunity(1, **overrides), opportunity(2)], settings)
    assert [o.key for o in batch.orders] == [key(2)]
    failure = only_failure(batch, 1)
    assert failure.code == code and text in failure.message


def test_a_resend_not_queued_never_creates_a_customer(settings: IntegrationSettings) -> None:
    """Review of issue 13: a window re-send of an Opportunity sent before whose Account lost its
    NetSuite_Id__c (an Account merge) created a new NetSuite customer and moved the existing order to it."""
    orphan = {"Id": ACCOUNT, "Name": "Acme Analytics Inc.", "NetSuite_Id__c": None, "Channel_Tier__c": None}
    sent = opportunity(3, Account=dict(orphan), Sync_Status__c="Synced", NetSuite_Id__c="900")
    queued = opportunity(4, Account=dict(orphan))
    batch = opportunities_to_sales_orders([sent, queued], settings)
    assert [o.key for o in batch.orders] == [key(4)]  # the queued one may create the customer
    assert [c.key for c in batch.customers] == [to_18_char_id(ACCOUNT)]
    failure = only_failure(batch, 3)
    assert failure.code == "missing_customer" and "never creates a NetSuite customer" in failure.message
    assert opportunities_to_sales_orders([sent], settings).customers == []


def test_write_back_guards_cover_queued_and_sent_ones_and_see_line_changes() -> None:
    from crsync.mappings.opportunity_to_sales_order import changed_since_extract, write_back_guards

    stamped = [line(SystemModstamp="2025-03-01T00:00:00.000+0000")]
    queued = opportunity(1, stamped, SystemModstamp="2025-03-01T00:00:00.000+0000")
    sent = opportunity(2, stamped, Sync_Status__c="Synced", NetSuite_Id__c="9", SystemModstamp="x")
    never = opportunity(3, Sync_Status__c="Not Synced")
    guards = write_back_guards([queued, sent, never])
    assert set(guards) == {key(1), key(2)}
    edited_line = copy.deepcopy(queued)
    edited_line["OpportunityLineItems"]["records"][0]["SystemModstamp"] = "2025-03-01T00:00:05.000+0000"
    assert changed_since_extract(guards, [edited_line, sent]) == {key(1)}
    assert changed_since_extract(guards, [queued]) == {key(2)}  # gone (deleted) counts as changed
    assert changed_since_extract(guards, [queued, sent]) == set()


def test_end_date_from_term_months(settings: IntegrationSettings) -> None:
    termed = opportunity(6, lines=[line(End_Date__c=None, Term_Months__c=12)])
    (order,) = opportunities_to_sales_orders([termed], settings).orders
    assert order.body["enddate"] == "2026-01-31"


def test_non_renewing_line_needs_no_dates(settings: IntegrationSettings) -> None:
    services = line(Start_Date__c=None, End_Date__c=None,
                    Product2={"Name": "Onboarding", "NetSuite_Id__c": "507", "Item_Category__c": "Services"})  # fmt: skip
    (order,) = opportunities_to_sales_orders([opportunity(7, lines=[line(), services])], settings).orders
    first, second = order.body["item"]["items"]
    assert "custcol_swe_contract_start_date" in first and "custcol_swe_contract_start_date" not in second


# -- customers ---------------------------------------------------------------------------------------


def test_account_without_customer_gets_one_and_orders_resolve_it(settings: IntegrationSettings) -> None:
    no_customer = {
        "Id": ACCOUNT,
        "Name": "Acme Analytics Inc.",
        "NetSuite_Id__c": None,
        "Channel_Tier__c": None,
    }
    batch = opportunities_to_sales_orders(
        [opportunity(8, Account=dict(no_customer)), opportunity(9, Account=dict(no_customer))], settings
    )
    (customer,) = batch.customers
    account = to_18_char_id(ACCOUNT)
    assert customer.record_type == "customer" and customer.external_id == account == customer.key
    # OneWorld (default settings): the default subsidiary; the currency the Opportunities are in.
    assert customer.body == {"externalId": account, "companyName": "Acme Analytics Inc.", "subsidiary": {"id": "1"},
                             "currency": {"id": "1"}, "currencyList": {"items": [{"currency": {"id": "1"}}]}}
    assert all(o.body["entity"] == {"externalId": account} for o in batch.orders)

    created = [{"key": account, "external_id": account, "status": "created", "id": "2001", "error": None}]
    ready, failures = resolve_new_customers([o.model_dump() for o in batch.orders], created)
    assert failures == [] and [o.body["entity"] for o in ready] == [{"id": "2001"}, {"id": "2001"}]
    assert [o.body["custbody_end_user"] for o in ready] == [{"id": "2001"}, {"id": "2001"}]  # the bill-to
    assert account_write_back(created).records == [{"Id": account, "NetSuite_Id__c": "2001"}]

    refused = [{"key": account, "external_id": account, "status": "failed", "id": None,
                "error": {"code": "INVALID_CONTENT", "message": "Subsidiary is required", "path": "subsidiary"}}]  # fmt: skip
    ready, failures = resolve_new_customers(batch.orders, refused)
    assert ready == [] and [f.key for f in failures] == [key(8), key(9)]
    assert "could not be created: Subsidiary is required" in failures[0].message


def test_large_batches_map_in_chunks_with_the_same_result(settings: IntegrationSettings, monkeypatch) -> None:
    """Chunking (for flat memory) keeps the order of records and creates each new customer once."""
    from crsync.mappings import opportunity_to_sales_order as mapping

    no_customer = {"Id": ACCOUNT, "Name": "Acme Analytics Inc.", "NetSuite_Id__c": None, "Channel_Tier__c": None}
    records = [opportunity(n, Account=dict(no_customer)) for n in range(1, 6)]
    records.insert(2, opportunity(20, lines=[line(Quantity=0)]))
    whole = opportunities_to_sales_orders(records, settings)
    monkeypatch.setattr(mapping, "MAPPING_CHUNK", 2)
    chunked = opportunities_to_sales_orders(records, settings)
    assert chunked == whole
    assert [o.key for o in chunked.orders] == [key(n) for n in range(1, 6)]
    assert len(chunked.customers) == 1 and [f.key for f in chunked.failures] == [key(20)]


# -- validation: one bad record among good ones fails alone ------------------------------------------

GOOD = [1, 2]


def good_opportunities() -> list[dict]:
    return [opportunity(1), upsell(2)]


@pytest.mark.parametrize(
    ("bad", "code", "text"),
    [
        (opportunity(20, Account=None, AccountId=None), "missing_customer", "Opportunity has no Account"),
        (opportunity(21, Account={"Id": ACCOUNT, "Name": None, "NetSuite_Id__c": None}), "missing_customer",
         "no NetSuite customer and no name"),
        (opportunity(22, lines=[line(Product2={"Name": "Gold Support", "NetSuite_Id__c": None,
                                               "Item_Category__c": "Support-New"})]),
         "missing_item", "Product 'Gold Support' (01t5g00000AbC01) has no NetSuite item id; sync the product first"),
        (opportunity(23, "Contract Upsell", ContractId=None, Contract=None), "missing_contract",
         "Upsell has no Contract"),
        (opportunity(24, "Contract Renewal", ContractId=None, Contract=None), "missing_contract",
         "Renewal has no Contract"),
        (opportunity(25, "Contract Upsell", ContractId="8005g00000AbC01",
                     Contract={"NetSuite_Id__c": None, "NetSuite_Name__c": None}),
         "missing_contract", "has no NetSuite id; wait for the nightly contract sync"),
        (opportunity(26, lines=[line(Start_Date__c="2025-02-01", End_Date__c="2025-01-01")]), "end_before_start",
         "End date 2025-01-01 is before start date 2025-02-01"),
        (upsell(27, lines=[line(Start_Date__c="2025-06-01", End_Date__c="2026-05-31")]), "upsell_outside_contract",
         "runs 2025-06-01 to 2026-05-31, outside the contract term 2025-01-01 to 2025-12-31"),
        (opportunity(28, lines=[line(Quantity=0)]), "bad_quantity", "quantity 0 must be greater than 0"),
        (opportunity(29, lines=[line(Quantity=-2)]), "bad_quantity", "quantity -2"),
        (opportunity(30, lines=[]), "no_line_items", "Opportunity has no products"),
        (opportunity(31, lines=None, OpportunityLineItems=None), "no_line_items", "has no products"),
        (opportunity(32, "Contract Reduction"), "unknown_order_type", "Order Type 'Contract Reduction'"),
        (opportunity(33, None), "unknown_order_type", "Order Type '?'"),
        (opportunity(34, Account={"Id": ACCOUNT, "Name": "X" * 90, "NetSuite_Id__c": None}), "oversize_text",
         "is 90 characters; NetSuite customer names allow 83"),
        (opportunity(35, lines=[line(UnitPrice=None)]), "missing_price", "has no sales price"),
        (opportunity(36, lines=[line(Start_Date__c=None)]), "missing_dates", "has no start or end date"),
        (opportunity(37, Account={"Id": ACCOUNT, "Name": "A", "NetSuite_Id__c": "1001", "Channel_Tier__c": "VAR"}),
         "unknown_channel_tier", "Channel Tier 'VAR'"),
    ],
)  # fmt: skip
def test_one_bad_record_fails_alone(settings: IntegrationSettings, bad: dict, code: str, text: str) -> None:
    number = int(bad["Id"][-2:])
    batch = opportunities_to_sales_orders([*good_opportunities(), copy.deepcopy(bad)], settings)
    failure = only_failure(batch, number)
    assert failure.code == code
    assert text in failure.message
    assert [o.key for o in batch.orders] == [key(n) for n in GOOD]


def test_all_problems_of_a_record_are_reported_together(settings: IntegrationSettings) -> None:
    bad = opportunity(40, lines=[line(Quantity=0), line(Product2={"Name": "Gold", "NetSuite_Id__c": None})])
    failure = only_failure(opportunities_to_sales_orders([bad], settings), 40)
    assert "quantity 0" in failure.message and "has no NetSuite item id" in failure.message


def test_incomplete_child_page_is_not_ordered(settings: IntegrationSettings) -> None:
    bad = opportunity(41)
    bad["OpportunityLineItems"]["done"] = False
    assert only_failure(opportunities_to_sales_orders([bad], settings), 41).code == "incomplete_lines"


def test_extra_field_mapping_is_applied(settings: IntegrationSettings) -> None:
    custom = settings.model_copy(
        update={"field_mappings": settings.field_mappings.model_copy(
            update={"sf_opportunity_to_ns_sales_order": {"Name": "memo", "Account.Name": "custbody_customer_name"}})}
    )  # fmt: skip
    (order,) = opportunities_to_sales_orders([opportunity(1)], custom).orders
    assert order.body["memo"] == "Deal 1" and order.body["custbody_customer_name"] == "Acme Analytics Inc."


# -- write-back --------------------------------------------------------------------------------------


def test_write_back_records_success_and_errors() -> None:
    at = dt.datetime(2025, 3, 1, 1, 2, 3, tzinfo=dt.UTC)
    results = [
        WriteResult(key=key(1), external_id=key(1), status="created", id="9001"),
        WriteResult(key=key(2), external_id=key(2), status="failed",
                    error={"code": "INVALID_CONTENT", "message": "Item 501 is inactive", "path": "item.items[0]"}),
    ]  # fmt: skip
    failures = [RecordFailure(key=key(3), code="bad_quantity", message="x" * 40_000),
                RecordFailure(key=to_18_char_id(ACCOUNT), code="missing_customer", message="not an opportunity")]  # fmt: skip
    batch = opportunity_write_back(results, failures, order_numbers={key(1): "SO1001"}, synced_at=at)
    assert batch.sobject == "Opportunity" and batch.external_id_field == "Id"
    synced, refused, invalid = batch.records
    assert synced == {"Id": key(1), "NetSuite_Id__c": "9001", "NetSuite_Order_Number__c": "SO1001",
                      "Sync_Status__c": "Synced", "Sync_Error__c": None, "Last_Synced__c": "2025-03-01T01:02:03Z"}  # fmt: skip
    assert refused["Sync_Status__c"] == "Error"
    assert refused["Sync_Error__c"] == "Item 501 is inactive (at item.items[0])"
    assert invalid["Sync_Status__c"] == "Error" and len(invalid["Sync_Error__c"]) == 32_768
    assert invalid["Sync_Error__c"].endswith("...")


def test_write_back_of_an_opportunity_changed_during_the_run_is_its_order_link_only() -> None:
    results = [
        WriteResult(key=key(1), external_id=key(1), status="created", id="9001"),
        WriteResult(key=key(2), external_id=key(2), status="updated", id="9002"),
        WriteResult(key=key(3), external_id=key(3), status="failed", error={"code": "X", "message": "refused"}),
        WriteResult(key=key(4), external_id=key(4), status="created", id="9004"),
    ]
    batch = opportunity_write_back(results, order_numbers={key(2): "SO1002"}, writable=[key(1)],
                                   link_only=[key(2), key(3)])  # fmt: skip
    by_id = {r["Id"]: r for r in batch.records}
    assert by_id[key(1)]["Sync_Status__c"] == "Synced"
    assert by_id[key(2)] == {"Id": key(2), "NetSuite_Id__c": "9002", "NetSuite_Order_Number__c": "SO1002"}
    assert key(3) not in by_id  # nothing was written in NetSuite: nothing to link, no status
    assert key(4) not in by_id  # neither writable nor linkable (e.g. deleted during the run)


# -- scale ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_100k_lines_all_transform_into_orders(settings: IntegrationSettings) -> None:
    lines = [line(Quantity=float(k + 1)) for k in range(3)]
    opportunities = []
    for i in range(33_334):
        record = {**opportunity(1, lines=lines), "Id": to_18_char_id(f"006{i:012d}")}
        opportunities.append(record)
    batch = opportunities_to_sales_orders(opportunities, settings)
    assert len(batch.orders) == 33_334 and sum(len(o.body["item"]["items"]) for o in batch.orders) == 100_002
    assert isinstance(batch.orders[0], NetSuiteWrite)


# -- currency (issue 13, finding 5) ----------------------------------------------------------------


def multi_currency(settings: IntegrationSettings) -> IntegrationSettings:
    return settings.model_copy(
        update={"salesforce": settings.salesforce.model_copy(update={"multi_currency": True})}
    )


def test_order_carries_the_opportunity_currency_mapped_to_its_netsuite_id(settings: IntegrationSettings) -> None:
    batch = opportunities_to_sales_orders(
        [opportunity(1, CurrencyIsoCode="EUR"), opportunity(2, CurrencyIsoCode="USD"), opportunity(3)],
        multi_currency(settings),
    )
    assert batch.failures == []
    # EUR is id 4 and USD id 1 in netsuite.lists.currency; a record without a currency gets the default.
    assert [o.body["currency"] for o in batch.orders] == [{"id": "4"}, {"id": "1"}, {"id": "1"}]


def test_single_currency_org_orders_in_the_default_currency(settings: IntegrationSettings) -> None:
    (order,) = opportunities_to_sales_orders([opportunity(1)], settings).orders
    assert order.body["currency"] == {"id": "1"}


def test_renewal_transform_carries_the_currency(settings: IntegrationSettings) -> None:
    (order,) = opportunities_to_sales_orders(
        [renewal(8, NetSuite_Renewal_Estimate_Id__c="915", CurrencyIsoCode="GBP")], multi_currency(settings)
    ).orders
    assert order.transform_from is not None and order.body["currency"] == {"id": "2"}


def test_currency_not_in_the_settings_is_refused_with_what_to_fix(settings: IntegrationSettings) -> None:
    batch = opportunities_to_sales_orders(
        [opportunity(1, CurrencyIsoCode="EUR"), opportunity(50, CurrencyIsoCode="JPY")], multi_currency(settings)
    )
    failure = only_failure(batch, 50)
    assert failure.code == "unknown_currency"
    assert "JPY" in failure.message and "netsuite.lists.currency" in failure.message
    assert "change the Opportunity's currency" in failure.message
    assert [o.key for o in batch.orders] == [key(1)]


def test_netsuite_currency_refusal_says_what_to_fix(settings: IntegrationSettings) -> None:
    orders = opportunities_to_sales_orders(
        [opportunity(1, CurrencyIsoCode="EUR"), opportunity(2, CurrencyIsoCode="EUR")], multi_currency(settings)
    ).orders
    results = [
        WriteResult(key=key(1), external_id=key(1), status="failed", id=None,
                    error={"code": "INVALID_KEY_OR_REF", "message": "Invalid currency reference key 4 for entity 1001.",
                           "path": "currency"}),
        WriteResult(key=key(2), external_id=key(2), status="failed", id=None,
                    error={"code": "INVALID_CONTENT", "message": "Something else.", "path": "item.items[0].item"}),
    ]  # fmt: skip
    explained = explain_currency_refusals(results, orders, settings)
    message = RecordFailure.from_result(explained[0]).message
    assert "EUR" in message and "customer 1001" in message
    assert "add EUR to the customer's currencies in NetSuite" in message
    assert "change the Opportunity's currency" in message
    assert "Invalid currency reference key 4 for entity 1001." in message  # NetSuite's own words are kept
    assert explained[1] == results[1]
    changed = WriteResult(
        key=key(1), external_id=key(1), status="failed", id=None,
        error={"code": "USER_ERROR", "path": "currency",
               "message": "You cannot change the currency of a transaction after it has been saved."},
    )  # fmt: skip
    (explained_change,) = explain_currency_refusals([changed], orders, settings)
    assert explained_change.error is not None and explained_change.error.code == "currency_changed"
    assert "set the Opportunity's currency back to the order's" in explained_change.error.message


# -- quantities (issue 13, finding 11) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "text"),
    [
        (1e20, "quantity 100000000000000000000 is more than NetSuite accepts (at most 1,000,000,000)"),
        (float("inf"), "quantity inf is not a number"),
        (float("-inf"), "quantity -inf is not a number"),
        (float("nan"), "has no quantity; enter the quantity sold"),
        (None, "has no quantity; enter the quantity sold"),
    ],
)
def test_quantity_beyond_netsuite_limits_is_refused(settings: IntegrationSettings, quantity: float, text: str) -> None:
    bad = opportunity(60, lines=[line(), line(Quantity=quantity)])
    failure = only_failure(opportunities_to_sales_orders([opportunity(1), bad], settings), 60)
    assert failure.code == "bad_quantity"
    assert "Line 2 (Product 'Pro Edition Term License')" in failure.message and text in failure.message


def test_fractional_quantity_of_a_whole_unit_item_is_refused(settings: IntegrationSettings) -> None:
    bad = opportunity(61, lines=[line(Quantity=2.5)])
    failure = only_failure(opportunities_to_sales_orders([opportunity(1), bad], settings), 61)
    assert failure.code == "bad_quantity"
    assert failure.message == (
        "Line 1 (Product 'Pro Edition Term License'): quantity 2.5 is not a whole number; License-Term items "
        "are sold in whole units (netsuite.whole_unit_item_categories). Round the quantity"
    )


def test_fractional_quantity_of_a_divisible_item_is_sent(settings: IntegrationSettings) -> None:
    services = {"Name": "Onboarding Services", "NetSuite_Id__c": "507", "Item_Category__c": "Services"}
    batch = opportunities_to_sales_orders([opportunity(62, lines=[line(Quantity=2.5, Product2=services)])], settings)
    assert batch.failures == []
    assert batch.orders[0].body["item"]["items"][0]["quantity"] == 2.5

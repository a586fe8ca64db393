"""Salesforce save rules the flows meet (issue 17): a price book change on an Opportunity with products and a
zero line quantity are refused; in a multi-currency org every object carries CurrencyIsoCode, one price book
entry per currency (cr_sandbox.salesforce.opportunity_rules; sources in docs/netsuite-sandbox.md)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


@pytest.fixture
def sf_org(sandbox, sf_api):
    sandbox.control("salesforce", "reset")
    sandbox.control("salesforce", "seed", {"catalog_only": True})
    return sf_api


def _refusal(info: pytest.ExceptionInfo) -> dict:
    return info.value.content[0]


def test_price_book_of_an_opportunity_with_products_cannot_change(sandbox, sf_org):
    (opp,) = sandbox.control("salesforce", "seed", {"opportunities": 1, "lines_per_opportunity": 1})["opportunity_ids"]
    other = sf_org.Pricebook2.create({"Name": "Partner Price Book", "IsActive": True})["id"]
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf_org.Opportunity.update(opp, {"Pricebook2Id": other})
    refusal = _refusal(info)
    assert refusal["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert "cannot change pricebook on opportunity with line items" in refusal["message"]
    assert refusal["fields"] == ["Pricebook2Id"]
    book = sf_org.Opportunity.get(opp)["Pricebook2Id"]
    assert book != other
    assert sf_org.Opportunity.update(opp, {"Pricebook2Id": book}) == 204  # the same book is no change

    empty = sf_org.Opportunity.create({"Name": "No products", "StageName": "Prospecting", "CloseDate": "2026-12-01",
                                       "Pricebook2Id": book})["id"]
    assert sf_org.Opportunity.update(empty, {"Pricebook2Id": other}) == 204  # no products: allowed


def test_line_quantity_zero_is_refused(sandbox, sf_org):
    (opp,) = sandbox.control("salesforce", "seed", {"opportunities": 1, "lines_per_opportunity": 1})["opportunity_ids"]
    line = sf_org.query(f"SELECT Id, PricebookEntryId FROM OpportunityLineItem WHERE OpportunityId = '{opp}'")[
        "records"][0]
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf_org.OpportunityLineItem.update(line["Id"], {"Quantity": 0})
    refusal = _refusal(info)
    assert (refusal["errorCode"], refusal["fields"]) == ("FIELD_INTEGRITY_EXCEPTION", ["Quantity"])
    assert "quantity must be non-zero" in refusal["message"]
    with pytest.raises(SalesforceMalformedRequest, match="quantity must be non-zero"):
        sf_org.OpportunityLineItem.create({"OpportunityId": opp, "PricebookEntryId": line["PricebookEntryId"],
                                           "Quantity": 0, "UnitPrice": 5})
    assert sf_org.OpportunityLineItem.update(line["Id"], {"Quantity": 2}) == 204


def test_every_object_carries_a_currency_and_entries_are_per_currency(sandbox, sf_org):
    for sobject in ("Account", "Contract", "Contract_Item__c", "Opportunity", "OpportunityLineItem", "PricebookEntry"):
        fields = {f["name"]: f for f in getattr(sf_org, sobject).describe()["fields"]}
        assert "CurrencyIsoCode" in fields, sobject
    account = sf_org.Account.create({"Name": "Euro Kunde GmbH", "CurrencyIsoCode": "EUR"})["id"]
    contract = sf_org.Contract.create({"AccountId": account, "CurrencyIsoCode": "EUR", "StartDate": "2026-01-01",
                                       "ContractTerm": 12})["id"]
    assert sf_org.Contract.get(contract)["CurrencyIsoCode"] == "EUR"
    sandbox.control("salesforce", "seed", {"opportunities": 1, "lines_per_opportunity": 1, "currency": "EUR"})
    entries = sf_org.query("SELECT Product2Id, CurrencyIsoCode FROM PricebookEntry WHERE Pricebook2.IsStandard = true")
    by_product: dict[str, set[str]] = {}
    for entry in entries["records"]:
        assert entry["CurrencyIsoCode"] not in by_product.get(entry["Product2Id"], set())  # one per currency
        by_product.setdefault(entry["Product2Id"], set()).add(entry["CurrencyIsoCode"])
    assert any({"USD", "EUR"} <= currencies for currencies in by_product.values())

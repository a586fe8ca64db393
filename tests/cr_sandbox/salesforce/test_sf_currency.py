"""The stand-in org has multiple currencies enabled: CurrencyIsoCode on Opportunity, its lines, price book
entries and quotes, with Salesforce's rules (a line's price book entry is in the Opportunity's currency)."""

from __future__ import annotations

import pytest


@pytest.fixture
def sf_org(sandbox, sf_api):
    sandbox.control("salesforce", "reset")
    sandbox.control("salesforce", "seed", {"catalog_only": True})
    return sf_api


def test_opportunity_carries_its_currency_and_lines_follow_it(sandbox, sf_org):
    (eur,) = sandbox.control("salesforce", "seed", {"opportunities": 1, "lines_per_opportunity": 2,
                                                    "currency": "EUR"})["opportunity_ids"]
    (usd,) = sandbox.control("salesforce", "seed", {"opportunities": 1, "lines_per_opportunity": 1})["opportunity_ids"]
    rows = sf_org.query(
        f"SELECT Id, CurrencyIsoCode, (SELECT CurrencyIsoCode, PricebookEntry.CurrencyIsoCode FROM OpportunityLineItems) "
        f"FROM Opportunity WHERE Id IN ('{eur}', '{usd}') ORDER BY CurrencyIsoCode"
    )["records"]
    assert [r["CurrencyIsoCode"] for r in rows] == ["EUR", "USD"]
    eur_lines = rows[0]["OpportunityLineItems"]["records"]
    assert {line["CurrencyIsoCode"] for line in eur_lines} == {"EUR"}
    assert {line["PricebookEntry"]["CurrencyIsoCode"] for line in eur_lines} == {"EUR"}


def test_currency_rules(sandbox, sf_org):
    from simple_salesforce.exceptions import SalesforceMalformedRequest

    (opp,) = sandbox.control("salesforce", "seed", {"opportunities": 1, "lines_per_opportunity": 1})["opportunity_ids"]
    with pytest.raises(SalesforceMalformedRequest, match="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST|bad value"):
        sf_org.Opportunity.update(opp, {"CurrencyIsoCode": "XXX"})
    with pytest.raises(SalesforceMalformedRequest, match="currency of an opportunity with products"):
        sf_org.Opportunity.update(opp, {"CurrencyIsoCode": "EUR"})
    usd_entry = sf_org.query("SELECT Id FROM PricebookEntry WHERE CurrencyIsoCode = 'USD' LIMIT 1")["records"][0]
    empty = sf_org.Opportunity.create({"Name": "Empty EUR", "StageName": "Prospecting", "CloseDate": "2026-12-01",
                                       "CurrencyIsoCode": "EUR"})["id"]
    with pytest.raises(SalesforceMalformedRequest, match="currency code does not match"):
        sf_org.OpportunityLineItem.create({"OpportunityId": empty, "PricebookEntryId": usd_entry["Id"],
                                           "Quantity": 1, "UnitPrice": 5})

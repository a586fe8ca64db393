"""SOQL through simple-salesforce: paging, parent fields, child subqueries, filters and errors."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from cr_sandbox.process import RunningSandbox

QUERY_PATH = "/services/data/vXX.X/query"
MORE_PATH = "/services/data/vXX.X/query/{locator}"
BIG = "Order_Type__c = 'Contract Renewal' AND StageName = 'Closed Won'"


@pytest.fixture(scope="module")
def seeded(sf_sandbox: RunningSandbox) -> dict:
    """4,500 renewal opportunities with one line each, plus the default small set."""
    big = sf_sandbox.control("salesforce", "seed", {"opportunities": 4500, "lines_per_opportunity": 1,
                                                    "order_type": "Contract Renewal", "sync_status": "Not Synced"})
    small = sf_sandbox.control("salesforce", "seed", {})
    return {"big": big["opportunity_ids"], "small": small["opportunity_ids"]}


def test_query_all_pages_4500_rows_by_next_records_url(sf: Salesforce, seeded: dict, request_counts):
    first_before, more_before = request_counts("GET", QUERY_PATH), request_counts("GET", MORE_PATH)
    result = sf.query_all(
        "SELECT Id, Name, Account.NetSuite_Id__c FROM Opportunity "
        "WHERE Order_Type__c = 'Contract Renewal' AND Sync_Status__c = 'Not Synced' AND StageName = 'Closed Won'"
    )
    assert result["totalSize"] == 4500 and len(result["records"]) == 4500 and result["done"]
    assert {r["Id"] for r in result["records"]} == set(seeded["big"])
    assert all(r["Account"]["NetSuite_Id__c"] for r in result["records"])
    # 2,000 + 2,000 + 500: one query call and two nextRecordsUrl calls.
    assert request_counts("GET", QUERY_PATH) - first_before == 1
    assert request_counts("GET", MORE_PATH) - more_before == 2


def test_first_page_shape_and_batch_size_header(sf: Salesforce, seeded: dict):
    page = sf.query(f"SELECT Id FROM Opportunity WHERE {BIG}")
    assert page["totalSize"] == 4500 and page["done"] is False and len(page["records"]) == 2000
    assert page["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert page["nextRecordsUrl"].endswith("-2000")
    small = sf.query(f"SELECT Id FROM Opportunity WHERE {BIG}",
                     headers={"Sforce-Query-Options": "batchSize=500"})
    assert len(small["records"]) == 500 and small["nextRecordsUrl"].endswith("-500")
    more = sf.query_more(small["nextRecordsUrl"], identifier_is_url=True)
    assert len(more["records"]) == 500 and more["nextRecordsUrl"].endswith("-1000")
    clamped = sf.query("SELECT Id FROM Opportunity", headers={"Sforce-Query-Options": "batchSize=50"})
    assert len(clamped["records"]) == 200


def test_child_subqueries_nest_records_or_null(sf: Salesforce, seeded: dict):
    [queued] = sf.query_all(
        "SELECT Id, Name, Order_Type__c, Account.NetSuite_Id__c, Account.Channel_Tier__c, "
        "(SELECT Id, Quantity, UnitPrice, TotalPrice, Start_Date__c, PricebookEntry.Product2.NetSuite_Id__c, "
        "Product2.Item_Category__c FROM OpportunityLineItems ORDER BY SortOrder) "
        "FROM Opportunity WHERE Sync_Status__c = 'Processing'"
    )["records"]
    assert queued["Order_Type__c"] == "Contract New"
    assert queued["Account"] == {"attributes": queued["Account"]["attributes"], "NetSuite_Id__c": "1001",
                                 "Channel_Tier__c": "End User"}
    lines = queued["OpportunityLineItems"]
    assert lines["totalSize"] == 3 and lines["done"] is True
    assert [line["PricebookEntry"]["Product2"]["NetSuite_Id__c"] for line in lines["records"]] == ["501", "502", "503"]
    assert lines["records"][0]["TotalPrice"] == lines["records"][0]["Quantity"] * lines["records"][0]["UnitPrice"]
    assert lines["records"][0]["Product2"]["Item_Category__c"] == "License-Term"
    account = sf.query("SELECT Id, (SELECT Id FROM Contracts), (SELECT Id FROM Opportunities LIMIT 2) FROM Account "
                       "WHERE NetSuite_Id__c = '1001'")["records"][0]
    assert account["Contracts"] is None
    assert account["Opportunities"]["totalSize"] == 2


def test_where_operators_dates_order_and_limit(sf: Salesforce, seeded: dict):
    def ids_of(soql: str) -> list[str]:
        return [r["Id"] for r in sf.query_all(soql)["records"]]

    small = seeded["small"]
    assert set(ids_of("SELECT Id FROM Opportunity WHERE Order_Type__c IN ('Contract New', 'Contract Upsell')")) \
        == set(small[:2])
    assert ids_of("SELECT Id FROM Opportunity WHERE Order_Type__c NOT IN ('Contract Renewal')") == small[:2]
    assert ids_of("SELECT Id FROM Opportunity WHERE Name LIKE 'acme%' AND Order_Type__c != 'Contract Renewal'") \
        == [small[0]]
    assert ids_of("SELECT Id FROM Opportunity WHERE (Order_Type__c = 'Contract New' OR Order_Type__c = "
                  "'Contract Upsell') AND NOT Sync_Status__c = 'Processing'") == [small[1]]
    assert len(ids_of("SELECT Id FROM Opportunity WHERE NetSuite_Id__c = null")) == 4503
    assert ids_of("SELECT Id FROM Opportunity WHERE NetSuite_Id__c != null") == []
    assert len(ids_of("SELECT Id FROM Opportunity WHERE SystemModstamp >= 2020-01-01T00:00:00Z")) == 4503
    assert ids_of("SELECT Id FROM Opportunity WHERE SystemModstamp > 2999-01-01T00:00:00.000+0000") == []
    assert len(ids_of("SELECT Id FROM Opportunity WHERE CloseDate = TODAY AND CreatedDate = LAST_N_DAYS:1 "
                      "AND CloseDate > 2020-12-31")) == 4503
    assert len(ids_of("SELECT Id FROM OpportunityLineItem WHERE Quantity >= 4 AND Opportunity.Sync_Status__c = "
                      "'Processing'")) == 0
    top = sf.query("SELECT Name FROM Opportunity ORDER BY Name DESC NULLS LAST, CreatedDate LIMIT 3")["records"]
    names = [r["Name"] for r in top]
    assert names == sorted(names, key=str.lower, reverse=True) and len(names) == 3
    assert sf.query(f"SELECT COUNT() FROM Opportunity WHERE {BIG}")["totalSize"] == 4500
    by_15 = sf.query(f"SELECT Id FROM Opportunity WHERE Id = '{small[0][:15]}'")["records"]
    assert [r["Id"] for r in by_15] == [small[0]]
    semi = ids_of("SELECT Id FROM Opportunity WHERE Id IN (SELECT OpportunityId FROM OpportunityLineItem "
                  "WHERE Product2.NetSuite_Id__c = '503') AND Order_Type__c != 'Contract Renewal'")
    assert semi == [small[0]]


def test_query_all_sees_deleted_records(sf: Salesforce, seeded: dict):
    created = sf.Account.create({"Name": "To Delete", "NetSuite_Id__c": "D-1"})
    sf.Account.delete(created["id"])
    assert sf.query("SELECT Id FROM Account WHERE NetSuite_Id__c = 'D-1'")["totalSize"] == 0
    deleted = sf.query_all("SELECT Id, IsDeleted FROM Account WHERE NetSuite_Id__c = 'D-1'", include_deleted=True)
    assert deleted["records"][0]["IsDeleted"] is True


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Opportunity WHERE", "MALFORMED_QUERY"),
        ("SELECT Id Opportunity", "MALFORMED_QUERY"),
        ("SELECT Id, Bogus__c FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Id, Acount.Name FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE SystemModstamp >= '2024-01-01T00:00:00Z'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE Amount > '5'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
        ("SELECT Id, (SELECT Id FROM Nothings) FROM Opportunity", "INVALID_TYPE"),
    ],
)
def test_query_errors_map_to_malformed_request(sf: Salesforce, soql: str, code: str):
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query(soql)
    assert info.value.content[0]["errorCode"] == code


def test_datetime_comparison_within_the_same_day(sf):
    """Regression: a stamp earlier the same day must compare below a later datetime literal."""
    from datetime import UTC, datetime, timedelta

    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    earlier = (datetime.now(UTC) - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = sf.Account.create({"Name": "Same-day stamp"})
    soql = f"SELECT Id FROM Account WHERE Id = '{created['id']}' AND SystemModstamp < {later} AND SystemModstamp >= {earlier}"
    assert sf.query(soql)["totalSize"] == 1
    assert sf.query(f"SELECT Id FROM Account WHERE Id = '{created['id']}' AND SystemModstamp >= {later}")["totalSize"] == 0

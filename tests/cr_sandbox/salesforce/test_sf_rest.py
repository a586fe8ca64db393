"""sObject REST through simple-salesforce: CRUD, upsert by external id, validation errors, system fields."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from cr_sandbox.process import RunningSandbox


def _error_code(info: pytest.ExceptionInfo) -> str:
    return info.value.content[0]["errorCode"]


def test_create_read_update_delete_keep_system_fields(sf: Salesforce, sf_sandbox: RunningSandbox):
    created = sf.Account.create({"Name": "CRUD Co", "NetSuite_Id__c": "C-1", "Channel_Tier__c": "Reseller"})
    assert created["success"] is True and created["id"].startswith("001") and len(created["id"]) == 18
    record = sf.Account.get(created["id"])
    assert record["Name"] == "CRUD Co" and record["CreatedDate"] == record["SystemModstamp"]
    assert record["CreatedDate"].endswith("+0000") and record["OwnerId"].startswith("005")
    sf_sandbox.control("salesforce", "clock", {"advance_days": 1})
    try:
        assert sf.Account.update(created["id"], {"Name": "CRUD Co 2"}) == 204
        updated = sf.Account.get(created["id"])
        assert updated["Name"] == "CRUD Co 2"
        assert updated["SystemModstamp"] > record["SystemModstamp"]
        assert updated["LastModifiedDate"] == updated["SystemModstamp"]
        assert updated["CreatedDate"] == record["CreatedDate"]
    finally:
        sf_sandbox.control("salesforce", "clock", {"advance_days": -1})
    assert sf.Account.get_by_custom_id("NetSuite_Id__c", "c-1")["Id"] == created["id"]  # case-insensitive
    assert sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(created["id"])


def test_upsert_by_external_id_creates_updates_and_reports_conflicts(sf: Salesforce):
    response = sf.Account.upsert("NetSuite_Id__c/U-1", {"Name": "Upsert Co"}, raw_response=True)
    assert response.status_code == 201 and response.json()["created"] is True
    response = sf.Account.upsert("NetSuite_Id__c/U-1", {"Name": "Upsert Co 2"}, raw_response=True)
    assert response.status_code in (200, 204)
    assert sf.Account.get_by_custom_id("NetSuite_Id__c", "U-1")["Name"] == "Upsert Co 2"
    with pytest.raises(SalesforceResourceNotFound) as info:
        sf.Account.upsert("Name/Upsert Co 2", {"Name": "x"})
    assert _error_code(info) == "NOT_FOUND"
    # OpportunityLineItem.NetSuite_Line_Id__c is a unique external id: a second line with the key is refused.
    opp = sf.Opportunity.create({"Name": "Lines", "StageName": "Prospecting", "CloseDate": "2025-01-31",
                                 "Account": {"NetSuite_Id__c": "1001"}})
    entry = sf.query("SELECT Id FROM PricebookEntry WHERE Product2.NetSuite_Id__c = '501'")["records"][0]["Id"]
    line = {"OpportunityId": opp["id"], "PricebookEntryId": entry, "Quantity": 1, "NetSuite_Line_Id__c": "SO9_1"}
    sf.OpportunityLineItem.create(line)
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.OpportunityLineItem.create({**line, "NetSuite_Line_Id__c": "so9_1"})  # case-insensitive
    assert _error_code(info) == "DUPLICATE_VALUE"
    assert sf.OpportunityLineItem.upsert("NetSuite_Line_Id__c/SO9_1", {"Quantity": 2}, raw_response=True).status_code == 200
    amount = sf.Opportunity.get(opp["id"])
    assert amount["Amount"] == 2400.0 and amount["HasOpportunityLineItem"] is True


@pytest.mark.parametrize(
    ("sobject", "payload", "code", "field"),
    [
        ("Account", {"Name": "x", "Bogus__c": 1}, "INVALID_FIELD", "Bogus__c"),
        ("Account", {"Name": "x", "Channel_Tier__c": "Wholesale"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
         "Channel_Tier__c"),
        ("Account", {"Channel_Tier__c": "Reseller"}, "REQUIRED_FIELD_MISSING", "Name"),
        ("Opportunity", {"Name": "x", "StageName": "Prospecting", "CloseDate": "2025-01-01",
                         "AccountId": "001xx0000000001"}, "INVALID_CROSS_REFERENCE_KEY", "AccountId"),
        ("Opportunity", {"Name": "x", "StageName": "Prospecting", "CloseDate": "2025-01-01", "AccountId": "nope"},
         "MALFORMED_ID", "AccountId"),
        ("Account", {"Name": "x", "NetSuite_Id__c": "1001"}, "DUPLICATE_VALUE", "NetSuite_Id__c"),
        ("Opportunity", {"Name": "x", "StageName": "Prospecting", "CloseDate": "31/01/2025"},
         "INVALID_TYPE_ON_FIELD_IN_RECORD", "CloseDate"),
        ("Contract", {"Account": {"NetSuite_Id__c": "4242"}}, "INVALID_FIELD", "AccountId"),
        ("Account", {"Name": "x", "CreatedDate": "2020-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE",
         "CreatedDate"),
    ],
)
def test_validation_errors_use_salesforce_codes(sf: Salesforce, sobject: str, payload: dict, code: str, field: str):
    with pytest.raises(SalesforceMalformedRequest) as info:
        getattr(sf, sobject).create(payload)
    assert info.value.content[0]["errorCode"] == code
    assert field in info.value.content[0]["fields"]


def test_a_reference_set_on_create_only_is_refused_on_update_even_by_external_id(sf: Salesforce):
    """Quote.OpportunityId is createable, not updateable: naming the parent by external id sets that field,
    so an upsert that matches an existing Quote and names it again is refused, as Salesforce does."""
    opp = sf.Opportunity.create({"Name": "Renewal", "StageName": "Prospecting", "CloseDate": "2025-01-01",
                                 "NetSuite_Renewal_Estimate_Id__c": "7001"})
    body = {"Name": "Renewal quote", "Opportunity": {"NetSuite_Renewal_Estimate_Id__c": "7001"}}
    assert sf.Quote.upsert("NetSuite_Estimate_Id__c/7001", body, raw_response=True).status_code == 201
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Quote.upsert("NetSuite_Estimate_Id__c/7001", body)
    assert _error_code(info) == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert info.value.content[0]["fields"] == ["OpportunityId"]
    assert sf.Quote.upsert("NetSuite_Estimate_Id__c/7001", {"Name": "Renamed"}, raw_response=True).status_code == 200
    [quote] = sf.query("SELECT Name, OpportunityId FROM Quote WHERE NetSuite_Estimate_Id__c = '7001'")["records"]
    assert quote["Name"] == "Renamed" and quote["OpportunityId"] == opp["id"]


def test_contract_end_date_and_contract_item_lookups(sf: Salesforce):
    contract = sf.Contract.upsert("NetSuite_Id__c/3097", {
        "Account": {"NetSuite_Id__c": "1002"}, "StartDate": "2015-07-14", "ContractTerm": 12,
        "NetSuite_Name__c": "3097_2015-07-14_2016-07-13", "NetSuite_Status__c": "Active", "End_Date__c": "2016-07-13"},
        raw_response=True)
    assert contract.status_code == 201
    row = sf.query("SELECT Id, EndDate, Status, Account.NetSuite_Id__c FROM Contract WHERE NetSuite_Id__c = '3097'")
    record = row["records"][0]
    assert record["EndDate"] == "2016-07-13" and record["Status"] == "Draft"
    item = sf.Contract_Item__c.upsert("NetSuite_Id__c/135", {
        "Name": "00000135", "Contract__r": {"NetSuite_Id__c": "3097"}, "Product__r": {"NetSuite_Id__c": "503"},
        "Renew_With__r": {"NetSuite_Id__c": "504"}, "Quantity__c": 2, "Status__c": "Active"}, raw_response=True)
    assert item.status_code == 201
    nested = sf.query("SELECT Id, (SELECT Name, Product__r.NetSuite_Id__c, Renew_With__r.ProductCode FROM "
                      "Contract_Items__r) FROM Contract WHERE NetSuite_Id__c = '3097'")["records"][0]
    [child] = nested["Contract_Items__r"]["records"]
    assert child["Name"] == "00000135" and child["Product__r"]["NetSuite_Id__c"] == "503"
    assert child["Renew_With__r"]["ProductCode"] == "MAINT-REN"
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Contract.delete(record["Id"])
    assert _error_code(info) == "DELETE_FAILED"


def test_discovery_resources(sf: Salesforce, sf_sandbox: RunningSandbox):
    session = sf.session
    versions = session.get(f"{sf_sandbox.salesforce_url}/services/data").json()
    assert {"59.0", "60.0"} <= {v["version"] for v in versions}
    old = session.get(f"{sf_sandbox.salesforce_url}/services/data/v58.0/limits",
                      headers={"Authorization": "Bearer sandbox-access-token"})
    assert old.status_code == 404 and old.json()[0]["errorCode"] == "NOT_FOUND"
    later = Salesforce(instance_url=sf_sandbox.salesforce_url, session_id="sandbox-access-token", session=session,
                       version="62.0")
    assert later.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["totalSize"] == 1

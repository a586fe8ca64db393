"""Ids, the schema loaded from the DX source (no drift), persistence, and describe over HTTPS."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceResourceNotFound

from cr_sandbox.salesforce import ids
from cr_sandbox.salesforce.schema import DX_SOURCE_DIR, build_schema, default_schema
from cr_sandbox.salesforce.store import Store
from cr_sandbox.salesforce.writes import WriteOp, Writer

MD = "{http://soap.sforce.com/2006/04/metadata}"
DX_TYPE_TO_DESCRIBE = {"Text": "string", "LongTextArea": "textarea", "Picklist": "picklist", "Lookup": "reference",
                       "MasterDetail": "reference", "Date": "date", "DateTime": "datetime", "Number": "double",
                       "Currency": "currency", "Checkbox": "boolean"}


def test_case_safe_suffix_matches_salesforce_examples():
    assert ids.to_18("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert ids.is_well_formed("001A0000006Vm9rIAC")
    assert not ids.is_well_formed("001A0000006Vm9rIAD")
    assert ids.normalize("001a0000006vm9riac") == "001A0000006Vm9rIAC"
    assert ids.normalize("not-an-id") is None
    made = ids.make_id("a0X", 123456)
    assert len(made) == 18 and made.startswith("a0X") and ids.is_well_formed(made)


def _dx_fields() -> list[tuple[str, ET.Element]]:
    out = []
    for path in sorted(DX_SOURCE_DIR.glob("objects/*/fields/*.field-meta.xml")):
        out.append((path.parent.parent.name, ET.parse(path).getroot()))
    return out


def test_every_dx_field_is_in_the_stand_in_schema():
    schema = default_schema()
    fields = _dx_fields()
    assert len(fields) >= 40
    for object_name, root in fields:
        name = root.findtext(f"{MD}fullName")
        obj = schema.get(object_name)
        assert obj is not None, object_name
        f = obj.field(name)
        assert f is not None, f"{object_name}.{name} missing from the stand-in"
        assert f.type == DX_TYPE_TO_DESCRIBE[root.findtext(f"{MD}type")]
        assert f.external_id == (root.findtext(f"{MD}externalId") == "true")
        assert f.unique == (root.findtext(f"{MD}unique") == "true")
        values = [v.findtext(f"{MD}fullName") for v in root.iter(f"{MD}value")]
        assert list(f.picklist_values) == values
        if root.findtext(f"{MD}type") == "Lookup":
            assert f.reference_to == (root.findtext(f"{MD}referenceTo"),)


def test_domain_fields_and_the_quick_action_are_defined():
    schema = default_schema()
    expected = {
        "Opportunity": ["Order_Type__c", "Sync_Status__c", "Sync_Error__c", "NetSuite_Id__c", "NetSuite_Order_Number__c",
                        "NetSuite_Renewal_Estimate_Id__c", "Last_Synced__c", "ContractId"],
        "OpportunityLineItem": ["Start_Date__c", "End_Date__c", "Term_Months__c", "NetSuite_Line_Id__c"],
        "Account": ["NetSuite_Id__c", "Channel_Tier__c"],
        "Product2": ["NetSuite_Id__c", "Item_Category__c"],
        "Contract": ["NetSuite_Id__c", "NetSuite_Name__c", "NetSuite_Status__c", "End_Date__c", "Contract_Value__c",
                     "Target_Renewal_Date__c", "AccountId", "StartDate", "ContractTerm"],
        "Contract_Item__c": ["Name", "NetSuite_Id__c", "Contract__c", "Product__c", "Quantity__c", "Start_Date__c",
                             "End_Date__c", "Term_Months__c", "Status__c", "Renew_With__c", "List_Rate__c"],
        "Quote": ["NetSuite_Estimate_Id__c"],
        "QuoteLineItem": ["NetSuite_Line_Id__c"],
    }
    for object_name, names in expected.items():
        for name in names:
            assert schema.objects[object_name].field(name) is not None, f"{object_name}.{name}"
    ext = {o: [f.name for f in schema.objects[o].external_id_fields] for o in expected}
    assert "NetSuite_Line_Id__c" in ext["OpportunityLineItem"] and "NetSuite_Line_Id__c" in ext["QuoteLineItem"]
    assert schema.objects["Opportunity"].fields["Order_Type__c"].picklist_values == (
        "Contract New", "Contract Upsell", "Contract Renewal", "Contract Downsell")
    assert schema.objects["Opportunity"].fields["Sync_Status__c"].picklist_values == (
        "Not Synced", "Processing", "Synced", "Error")
    assert schema.objects["Contract_Item__c"].key_prefix == "a0X"
    action = ET.parse(DX_SOURCE_DIR / "quickActions/Opportunity.Create_NetSuite_Order.quickAction-meta.xml").getroot()
    assert action.findtext(f"{MD}label") == "Create NetSuite Order"
    override = action.find(f"{MD}fieldOverrides")
    assert override is not None
    assert (override.findtext(f"{MD}field"), override.findtext(f"{MD}literalValue")) == ("Sync_Status__c", "Processing")
    project = DX_SOURCE_DIR.parents[2] / "sfdx-project.json"
    assert '"path": "force-app"' in project.read_text()


def test_store_persists_records_and_clock_across_reopen(tmp_path: Path):
    schema = build_schema()
    store = Store(tmp_path / "salesforce.sqlite3", schema)
    writer = Writer(store, schema)
    [result] = writer.execute([WriteOp("create", "Account", {"Name": "Persisted", "NetSuite_Id__c": "42"})])
    assert result.success
    store.set_clock_offset(timedelta(days=10))
    store.close()
    reopened = Store(tmp_path / "salesforce.sqlite3", schema)
    record = reopened.get("Account", result.id or "")
    assert record is not None and record["Name"] == "Persisted"
    assert reopened.ids_by_value("Account", "NetSuite_Id__c", "42") == {result.id}
    assert reopened.clock_offset == timedelta(days=10)
    reopened.close()


def test_describe_reports_types_picklists_external_ids_and_references(sf: Salesforce):
    describe = sf.Contract_Item__c.describe()
    assert describe["keyPrefix"] == "a0X" and describe["custom"] is True
    fields = {f["name"]: f for f in describe["fields"]}
    assert fields["NetSuite_Id__c"]["externalId"] is True and fields["NetSuite_Id__c"]["type"] == "string"
    assert fields["Contract__c"]["referenceTo"] == ["Contract"] and fields["Contract__c"]["nillable"] is False
    assert fields["Contract__c"]["relationshipName"] == "Contract__r"
    assert [p["value"] for p in fields["Status__c"]["picklistValues"]] == ["Future", "Active", "Expired"]
    assert fields["Id"]["createable"] is False
    contract = sf.Contract.describe()
    assert {"childSObject": "Contract_Item__c", "field": "Contract__c", "relationshipName": "Contract_Items__r"}.items() \
        <= next(c for c in contract["childRelationships"] if c["childSObject"] == "Contract_Item__c").items()
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {"Account", "Product2", "Pricebook2", "PricebookEntry", "Opportunity", "OpportunityLineItem", "Contract",
            "Quote", "QuoteLineItem", "Contract_Item__c", "User"} <= names
    with pytest.raises(SalesforceResourceNotFound):
        sf.Nonexistent__c.describe()

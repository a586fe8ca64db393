"""crsync.mappings.contract, contract_item and renewal_estimate: the nightly NetSuite -> Salesforce maps."""

from __future__ import annotations

from typing import Any

from crsync.mappings.contract import (
    contract_opportunity_links,
    contract_origin_links,
    contracts_to_salesforce,
)
from crsync.mappings.contract_item import contract_items_to_salesforce
from crsync.mappings.renewal_estimate import (
    ExistingRenewal,
    existing_line_ids,
    existing_quote_ids,
    existing_renewals,
    pricebook_entry_map,
    renewals_to_salesforce,
)
from crsync.queries import to_18_char_id
from crsync.settings import IntegrationSettings

# -- contracts -----------------------------------------------------------------------------------------


def contract_row(contract_id: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "links": [], "id": str(contract_id), "name": f"{contract_id}_2015-07-14_2016-07-13", "externalid": None,
        "custrecord_contracts_start_date": "2015-07-14", "custrecord_contracts_end_date": "2016-07-13",
        "custrecord_contracts_bill_to_customer": "1001", "custrecord_contracts_end_user": "1001",
        "custrecord_contract_status": "2", "custrecord_swe_contract_value": "15000.5",
        "custrecord_swe_target_renewal_date": "2016-04-14", "lastmodified": "2025-03-01 00:10:00",
        "custrecord_swe_annual_contract_val_net": "14000",
    }  # fmt: skip
    row.update(overrides)
    return row


def test_contract_rows_become_contract_upserts(settings: IntegrationSettings) -> None:
    batch = contracts_to_salesforce([contract_row(3097)], settings, known_account_ids={"1001"})
    assert batch.failures == []
    assert batch.contracts.sobject == "Contract" and batch.contracts.external_id_field == "NetSuite_Id__c"
    assert batch.contracts.records == [
        {
            "NetSuite_Id__c": "3097", "Account": {"NetSuite_Id__c": "1001"}, "StartDate": "2015-07-14",
            "ContractTerm": 12, "End_Date__c": "2016-07-13", "NetSuite_Name__c": "3097_2015-07-14_2016-07-13",
            "NetSuite_Status__c": "Active", "Contract_Value__c": 15000.5, "Target_Renewal_Date__c": "2016-04-14",
        }
    ]  # fmt: skip


def test_contract_failures_fail_alone(settings: IntegrationSettings) -> None:
    rows = [
        contract_row(1),
        contract_row(2, custrecord_contracts_bill_to_customer="1999"),
        contract_row(3, custrecord_contract_status="42"),
        contract_row(4, custrecord_contracts_end_date="2015-01-01"),
        contract_row(5, custrecord_contracts_bill_to_customer=None),
    ]
    batch = contracts_to_salesforce(rows, settings, known_account_ids=["1001"])
    assert [r["NetSuite_Id__c"] for r in batch.contracts.records] == ["1"]
    by_key = {f.key: f for f in batch.failures}
    assert by_key["2"].code == "missing_account"
    assert "NetSuite customer 1999 has no Salesforce Account" in by_key["2"].message
    assert by_key["3"].code == "unknown_status" and "status id 42" in by_key["3"].message
    assert by_key["4"].code == "end_before_start"
    assert "End date 2015-01-01 is before start date 2015-07-14" in by_key["4"].message
    assert by_key["5"].code == "missing_customer"


def test_contract_extra_mapping(settings: IntegrationSettings) -> None:
    custom = settings.model_copy(
        update={"field_mappings": settings.field_mappings.model_copy(
            update={"ns_contract_to_sf_contract": {"custrecord_swe_annual_contract_val_net": "Annual_Value__c"}})}
    )  # fmt: skip
    (record,) = contracts_to_salesforce([contract_row(7)], custom).contracts.records
    assert record["Annual_Value__c"] == "14000"  # passed through as NetSuite returned it


def test_contract_opportunity_links() -> None:
    opportunity = "0065g00000AbCdE"
    rows = [
        {"id": "11", "externalid": opportunity, "custbody_contract_name": "3097"},
        {"id": "12", "externalid": "LEGACY-ORDER-1", "custbody_contract_name": "3097"},
        {"id": "13", "externalid": "0015g00000AcC01", "custbody_contract_name": "3097"},  # an Account id
    ]
    batch = contract_opportunity_links(rows)
    assert batch.sobject == "Opportunity" and batch.external_id_field == "Id"
    assert batch.records == [{"Id": to_18_char_id(opportunity), "Contract": {"NetSuite_Id__c": "3097"}}]


def test_lineage_renewal_opportunity_keeps_its_contract_and_contracts_record_their_origin() -> None:
    new_opp, upsell_opp, renewal_opp = "0065g00000AbCdE", "0065g00000AbCdF", "0065g00000AbCdG"
    rows = [
        {"id": "11", "externalid": new_opp, "custbody_contract_name": "3097", "custbody_order_type": "1"},
        {"id": "12", "externalid": upsell_opp, "custbody_contract_name": "3097", "custbody_order_type": "3"},
        # The renewal order made contract 3120 from contract 3097.
        {"id": "13", "externalid": renewal_opp, "custbody_contract_name": "3120", "custbody_order_type": "2",
         "custbody_swe_from_contract": "3097"},
    ]  # fmt: skip
    links = contract_opportunity_links(rows).records
    assert [r["Id"] for r in links] == [to_18_char_id(new_opp), to_18_char_id(upsell_opp)]  # not the renewal
    origins = contract_origin_links(rows, adding_order_type_ids=["3", "13"])
    assert (origins.sobject, origins.external_id_field) == ("Contract", "NetSuite_Id__c")
    assert origins.records == [
        {"NetSuite_Id__c": "3097", "Opportunity__c": to_18_char_id(new_opp)},
        {"NetSuite_Id__c": "3120", "Opportunity__c": to_18_char_id(renewal_opp)},
    ]


# -- contract items ------------------------------------------------------------------------------------


def item_row(item_id: int, contract: int = 3097, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": str(item_id), "name": f"{item_id:08d}", "custrecord_ci_contract_id": str(contract),
        "custrecord_ci_item": "505", "custrecord_ci_quantity": "3", "custrecord_ci_startdate": "2015-07-14",
        "custrecord_ci_enddate": "2016-07-13", "custrecord_ci_term": "12", "custrecord_ci_status": "2",
        "custrecord_ci_state": "2", "custrecord_ci_renew_with": "506", "custrecord_ci_original_list_rate": "3000",
    }  # fmt: skip
    row.update(overrides)
    return row


def test_contract_item_rows_become_upserts(settings: IntegrationSettings) -> None:
    batch = contract_items_to_salesforce([item_row(135)], settings, known_contract_ids={"3097"})
    assert batch.failures == [] and batch.waiting_for_contract == []
    assert batch.items.sobject == "Contract_Item__c" and batch.items.external_id_field == "NetSuite_Id__c"
    assert batch.items.records == [
        {
            "NetSuite_Id__c": "135", "Contract__r": {"NetSuite_Id__c": "3097"}, "Product__r": {"NetSuite_Id__c": "505"},
            "Name": "00000135", "Quantity__c": 3, "Start_Date__c": "2015-07-14", "End_Date__c": "2016-07-13",
            "Term_Months__c": 12, "Status__c": "Active", "Renew_With__r": {"NetSuite_Id__c": "506"}, "List_Rate__c": 3000,
        }
    ]  # fmt: skip


def test_item_before_its_contract_waits_and_bad_items_fail(settings: IntegrationSettings) -> None:
    rows = [
        item_row(1),
        item_row(2, contract=4000),
        item_row(3, custrecord_ci_item=None),
        item_row(4, custrecord_ci_term=None),
    ]
    batch = contract_items_to_salesforce(rows, settings, known_contract_ids={"3097"})
    assert [r["NetSuite_Id__c"] for r in batch.items.records] == ["1", "4"]
    assert batch.items.records[1]["Term_Months__c"] == 12  # computed from the dates
    assert [(w.key, w.code) for w in batch.waiting_for_contract] == [("2", "contract_not_synced")]
    assert batch.waiting_contract_ids == ["4000"]
    assert [(f.key, f.code) for f in batch.failures] == [("3", "missing_item")]


# -- renewals ------------------------------------------------------------------------------------------

PRICEBOOK = "01s5g00000AbC01"


def header(tran: int = 900, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": str(tran), "tranid": f"EST{tran}", "type": "Estimate", "entity": "1001", "externalid": None,
        "trandate": "2016-04-14", "startdate": "2016-07-14", "enddate": "2017-07-13", "status": "A", "currency": "1",
        "custbody_order_type": "2", "custbody_swe_from_contract": "3097", "customer_name": "Acme Analytics Inc.",
        "contract_name": "3097_2015-07-14_2016-07-13", "customer_externalid": None,
    }  # fmt: skip
    row.update(overrides)
    return row


def renewal_line(
    tran: int, line: int, item: str = "504", quantity: str = "-3", **overrides: Any
) -> dict[str, Any]:
    row = {
        "transaction": str(tran), "id": str(line), "linesequencenumber": str(line), "item": item,
        "quantity": quantity, "rate": "4500", "amount": "-13500", "custcol_swe_contract_start_date": "2016-07-14",
        "custcol_swe_contract_end_date": "2017-07-13", "custcol_swe_contract_item_term_months": "12",
        "item_name": "MAINT-REN", "item_displayname": "Maintenance (renewal)",
    }  # fmt: skip
    row.update(overrides)
    return row


def entries(settings: IntegrationSettings) -> dict[tuple[str, str], str]:
    records = [
        {"Id": "01u000000000504", "Product2Id": "01t000000000504", "Product2": {"NetSuite_Id__c": "504"}},
        {"Id": "01u000000000506", "Product2Id": "01t000000000506", "Product2": {"NetSuite_Id__c": "506"}},
    ]
    return pricebook_entry_map(records, settings)


def test_renewal_estimate_becomes_an_opportunity_with_lines(settings: IntegrationSettings) -> None:
    lines = [renewal_line(900, 1), renewal_line(900, 2, item="506", quantity="-5")]
    batch = renewals_to_salesforce([header()], lines, settings, pricebook_id=PRICEBOOK,
                                   pricebook_entries=entries(settings), known_account_ids={"1001"})  # fmt: skip
    assert batch.failures == [] and batch.skipped == {} and batch.stale_line_ids == []
    opportunities, items = batch.upserts
    assert (opportunities.sobject, opportunities.external_id_field) == (
        "Opportunity",
        "NetSuite_Renewal_Estimate_Id__c",
    )
    assert opportunities.records == [
        {
            "NetSuite_Renewal_Estimate_Id__c": "900", "Order_Type__c": "Contract Renewal", "CloseDate": "2016-07-13",
            "Contract": {"NetSuite_Id__c": "3097"}, "Account": {"NetSuite_Id__c": "1001"}, "Pricebook2Id": PRICEBOOK,
            "Name": "Renewal 3097_2015-07-14_2016-07-13 (EST900)", "StageName": "Prospecting",
        }
    ]  # fmt: skip
    assert (items.sobject, items.external_id_field) == ("OpportunityLineItem", "NetSuite_Line_Id__c")
    assert items.records[0] == {
        "NetSuite_Line_Id__c": "900_1", "Opportunity": {"NetSuite_Renewal_Estimate_Id__c": "900"},
        "PricebookEntryId": "01u000000000504", "Quantity": 3, "UnitPrice": 4500, "Start_Date__c": "2016-07-14",
        "End_Date__c": "2017-07-13", "Term_Months__c": 12,
    }  # fmt: skip
    assert items.records[1]["Quantity"] == 5


def test_changed_estimate_updates_lines_and_removes_dropped_ones(settings: IntegrationSettings) -> None:
    # Salesforce has lines 1, 2, 3; in NetSuite line 2 now has quantity 0 and line 3 was deleted.
    existing = existing_renewals([{"Id": "0065g00000RnW01", "NetSuite_Renewal_Estimate_Id__c": "900",
                                   "StageName": "Negotiation", "IsClosed": False}])  # fmt: skip
    current = existing_line_ids(
        [{"Id": f"00k5g00000Lin0{n}", "NetSuite_Line_Id__c": f"900_{n}"} for n in (1, 2, 3)]
        + [{"Id": "00k5g00000Oth01", "NetSuite_Line_Id__c": "777_1"}]  # another renewal: untouched
    )
    lines = [renewal_line(900, 1, quantity="-4"), renewal_line(900, 2, item="506", quantity="0")]
    batch = renewals_to_salesforce([header()], lines, settings, pricebook_id=PRICEBOOK,
                                   pricebook_entries=entries(settings), existing=existing,
                                   existing_lines=current)  # fmt: skip
    opportunities, items = batch.upserts
    (opportunity,) = opportunities.records
    assert "StageName" not in opportunity and "Name" not in opportunity  # sales owns them now
    assert items.records == [
        {"NetSuite_Line_Id__c": "900_1", "Quantity": 4, "UnitPrice": 4500, "Start_Date__c": "2016-07-14",
         "End_Date__c": "2017-07-13", "Term_Months__c": 12}
    ]  # fmt: skip
    assert batch.stale_line_ids == ["00k5g00000Lin02", "00k5g00000Lin03"]


def test_quote_variant(settings: IntegrationSettings) -> None:
    quote_settings = settings.model_copy(
        update={"renewal": settings.renewal.model_copy(update={"target": "quote"})}
    )
    batch = renewals_to_salesforce([header()], [renewal_line(900, 1)], quote_settings, pricebook_id=PRICEBOOK,
                                   pricebook_entries=entries(settings))  # fmt: skip
    opportunities, quotes, quote_lines = batch.upserts
    assert opportunities.sobject == "Opportunity"
    assert (quotes.sobject, quotes.external_id_field) == ("Quote", "NetSuite_Estimate_Id__c")
    assert quotes.records == [{"NetSuite_Estimate_Id__c": "900", "Name": "Renewal quote EST900",
                               "Opportunity": {"NetSuite_Renewal_Estimate_Id__c": "900"}, "Pricebook2Id": PRICEBOOK}]  # fmt: skip
    assert (quote_lines.sobject, quote_lines.external_id_field) == ("QuoteLineItem", "NetSuite_Line_Id__c")
    assert quote_lines.records[0]["Quote"] == {"NetSuite_Estimate_Id__c": "900"}
    assert batch.line_sobject == "QuoteLineItem"


def test_an_existing_quote_is_not_sent_its_opportunity_again(settings: IntegrationSettings) -> None:
    """Quote.OpportunityId can be set on create only: an update that names it is refused by Salesforce."""
    quote_settings = settings.model_copy(
        update={"renewal": settings.renewal.model_copy(update={"target": "quote"})}
    )
    quotes_found = existing_quote_ids([{"Id": "0Q05g000000Quo01", "NetSuite_Estimate_Id__c": "900"}])
    batch = renewals_to_salesforce([header(900), header(901)], [renewal_line(900, 1), renewal_line(901, 1)],
                                   quote_settings, pricebook_id=PRICEBOOK, pricebook_entries=entries(settings),
                                   existing_quotes=quotes_found)  # fmt: skip
    _, quotes, _ = batch.upserts
    by_estimate = {q["NetSuite_Estimate_Id__c"]: q for q in quotes.records}
    assert "Opportunity" not in by_estimate["900"]
    assert by_estimate["901"]["Opportunity"] == {"NetSuite_Renewal_Estimate_Id__c": "901"}


def test_renewal_failures_skips_and_account_creation(settings: IntegrationSettings) -> None:
    headers = [
        header(900),
        header(901, custbody_swe_from_contract=None),
        header(902),  # its item is not in the price book
        header(903, status="C"),  # processed: already ordered
        header(904, entity="2002", customer_name="New Customer Ltd."),
    ]
    lines = [renewal_line(900, 1), renewal_line(901, 1), renewal_line(902, 1, item="599", item_displayname="Gadget"),
             renewal_line(903, 1), renewal_line(904, 1)]  # fmt: skip
    batch = renewals_to_salesforce(headers, lines, settings, pricebook_id=PRICEBOOK,
                                   pricebook_entries=entries(settings), known_account_ids={"1001"})  # fmt: skip
    accounts, opportunities, _ = batch.upserts
    assert accounts.records == [{"NetSuite_Id__c": "2002", "Name": "New Customer Ltd."}]
    assert [r["NetSuite_Renewal_Estimate_Id__c"] for r in opportunities.records] == ["900", "904"]
    by_key = {f.key: f for f in batch.failures}
    assert by_key["901"].code == "missing_contract"
    assert by_key["902"].code == "missing_pricebook_entry"
    assert "Item Gadget (NetSuite id 599) has no active PricebookEntry" in by_key["902"].message
    assert batch.skipped == {"903": "renewal_already_ordered_or_closed"}


def test_closed_opportunity_is_not_touched(settings: IntegrationSettings) -> None:
    existing = {"900": ExistingRenewal(id="0065g00000RnW01", is_closed=True)}
    batch = renewals_to_salesforce([header()], [renewal_line(900, 1)], settings, pricebook_id=PRICEBOOK,
                                   pricebook_entries=entries(settings), existing=existing)  # fmt: skip
    assert batch.skipped == {"900": "opportunity_closed_in_salesforce"}
    assert all(len(b.records) == 0 for b in batch.upserts)


def test_close_date_rules(settings: IntegrationSettings) -> None:
    def close_date(rule: str) -> str:
        custom = settings.model_copy(
            update={"renewal": settings.renewal.model_copy(update={"close_date_rule": rule})}
        )
        batch = renewals_to_salesforce([header()], [renewal_line(900, 1)], custom, pricebook_id=PRICEBOOK,
                                       pricebook_entries=entries(settings))  # fmt: skip
        return batch.upserts[0].records[0]["CloseDate"]

    assert close_date("contract_end") == "2016-07-13"
    assert close_date("renewal_start") == "2016-07-14"
    assert close_date("estimate_date") == "2016-04-14"


def test_renewals_are_skipped_by_their_types_real_status_letters(settings: IntegrationSettings) -> None:
    """SuiteAnswers 23874: an estimate is A Open, B Processed, C Closed, V Voided, X Expired; an opportunity
    B is Issued Estimate (live), C Closed - Won, D Closed - Lost."""
    headers = [header(900 + n, status=s) for n, s in enumerate("ABCVX")] + [
        header(910, type="Opprtnty", status="B"), header(911, type="Opprtnty", status="C"),
        header(912, type="Opprtnty", status="D"),
    ]  # fmt: skip
    lines = [renewal_line(int(h["id"]), 1) for h in headers]
    batch = renewals_to_salesforce(headers, lines, settings, pricebook_id=PRICEBOOK,
                                   pricebook_entries=entries(settings))  # fmt: skip
    assert sorted(batch.skipped) == ["901", "902", "903", "904", "911", "912"]
    assert set(batch.skipped.values()) == {"renewal_already_ordered_or_closed"}
    assert [r["NetSuite_Renewal_Estimate_Id__c"] for r in batch.upserts[0].records] == ["900", "910"]

"""Nightly flows in a multi-currency Salesforce org (issue 17): Contract and Contract_Item__c carry the
contract's currency as CurrencyIsoCode; a currency missing from netsuite.lists.currency refuses that record."""

from __future__ import annotations

from crsync.mappings.contract import contracts_to_salesforce
from crsync.mappings.contract_item import contract_items_to_salesforce
from crsync.settings import IntegrationSettings
from tests.crsync.mappings.test_mapping_nightly import contract_row, item_row


def _multi(settings: IntegrationSettings) -> IntegrationSettings:
    return settings.model_copy(update={"salesforce": settings.salesforce.model_copy(update={"multi_currency": True})})


def test_contracts_carry_their_currency(settings: IntegrationSettings) -> None:
    rows = [contract_row(1, custrecord_swe_contract_currency="4"), contract_row(2),
            contract_row(3, custrecord_swe_contract_currency="99")]
    batch = contracts_to_salesforce(rows, _multi(settings), known_account_ids={"1001"})
    assert [(r["NetSuite_Id__c"], r["CurrencyIsoCode"]) for r in batch.contracts.records] == [("1", "EUR"), ("2", "USD")]
    (failure,) = batch.failures
    assert failure.key == "3" and failure.code == "unknown_currency"
    assert "currency id 99" in failure.message and "netsuite.lists.currency" in failure.message
    single = contracts_to_salesforce(rows, settings, known_account_ids={"1001"})
    assert single.failures == [] and all("CurrencyIsoCode" not in r for r in single.contracts.records)


def test_contract_items_carry_their_contracts_currency(settings: IntegrationSettings) -> None:
    rows = [item_row(135, contract_currency="4"), item_row(136, contract_currency="99")]
    batch = contract_items_to_salesforce(rows, _multi(settings), known_contract_ids={"3097"})
    assert [(r["NetSuite_Id__c"], r["CurrencyIsoCode"]) for r in batch.items.records] == [("135", "EUR")]
    assert [(f.key, f.code) for f in batch.failures] == [("136", "unknown_currency")]
    single = contract_items_to_salesforce(rows, settings, known_contract_ids={"3097"})
    assert single.failures == [] and "CurrencyIsoCode" not in single.items.records[0]

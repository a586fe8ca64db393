"""crsync.mappings.order_parties (issue 17): an order's subsidiary (OneWorld) and end user, the subsidiary
and currencies of the customers the hourly flow creates, and the settings that drive them."""

from __future__ import annotations

from typing import Any

import pytest

from crsync.mappings.opportunity_to_sales_order import opportunities_to_sales_orders, resolve_new_customers
from crsync.settings import (
    DEFAULT_SETTINGS_FILE,
    IntegrationSettings,
    SettingsError,
    load_settings,
    parse_settings,
)
from tests.crsync.mappings.test_mapping_opportunity_to_sales_order import ACCOUNT, key, opportunity

NEW_ACCOUNT = {"Id": ACCOUNT, "Name": "Euro Kunde GmbH", "NetSuite_Id__c": None, "Channel_Tier__c": None}


def _with(settings: IntegrationSettings, **netsuite: Any) -> IntegrationSettings:
    ns = settings.netsuite
    updates = {}
    for section, values in netsuite.items():
        updates[section] = getattr(ns, section).model_copy(update=values)
    multi = settings.salesforce.model_copy(update={"multi_currency": True})
    return settings.model_copy(update={"netsuite": ns.model_copy(update=updates), "salesforce": multi})


def test_order_carries_the_accounts_subsidiary_or_leaves_it_to_netsuite(settings: IntegrationSettings) -> None:
    multi = _with(settings)
    with_field = opportunity(1, Account={"Id": ACCOUNT, "Name": "A", "NetSuite_Id__c": "1001",
                                         "NetSuite_Subsidiary_Id__c": "2"}, CurrencyIsoCode="EUR")
    without = opportunity(2)  # existing customer, no subsidiary field: NetSuite uses the customer's
    batch = opportunities_to_sales_orders([with_field, without], multi)
    assert batch.failures == []
    first, second = batch.orders
    assert first.body["subsidiary"] == {"id": "2"} and first.body["currency"] == {"id": "4"}
    assert "subsidiary" not in second.body
    assert first.body["custbody_end_user"] == first.body["entity"] == {"id": "1001"}


def test_new_customer_gets_subsidiary_and_every_currency_its_opportunities_use(settings: IntegrationSettings) -> None:
    multi = _with(settings)
    account = {**NEW_ACCOUNT, "NetSuite_Subsidiary_Id__c": "2"}
    batch = opportunities_to_sales_orders(
        [opportunity(1, Account=dict(account), CurrencyIsoCode="EUR"),
         opportunity(2, Account=dict(account), CurrencyIsoCode="USD")], multi)
    (customer,) = batch.customers
    assert customer.body["subsidiary"] == {"id": "2"}
    assert customer.body["currency"] == {"id": "4"}
    assert customer.body["currencyList"] == {"items": [{"currency": {"id": "4"}}, {"currency": {"id": "1"}}]}
    defaulted = opportunities_to_sales_orders([opportunity(3, Account=dict(NEW_ACCOUNT))], multi).customers[0]
    assert defaulted.body["subsidiary"] == {"id": "1"}  # netsuite.subsidiary.default_id


def test_unresolvable_subsidiary_refuses_that_record_alone(settings: IntegrationSettings) -> None:
    no_default = _with(settings, subsidiary={"default_id": None})
    batch = opportunities_to_sales_orders([opportunity(1, Account=dict(NEW_ACCOUNT)), opportunity(2)], no_default)
    assert [o.key for o in batch.orders] == [key(2)] and batch.customers == []
    (failure,) = batch.failures
    assert failure.key == key(1) and failure.code == "unknown_subsidiary"
    assert "NetSuite_Subsidiary_Id__c" in failure.message and "netsuite.subsidiary.default_id" in failure.message

    junk = opportunity(3, Account={**NEW_ACCOUNT, "NetSuite_Subsidiary_Id__c": "Europe"})
    (failure,) = opportunities_to_sales_orders([junk], settings).failures
    assert failure.code == "unknown_subsidiary" and "'Europe'" in failure.message
    assert "Setup > Company > Subsidiaries" in failure.message


def test_not_oneworld_sends_no_subsidiary(settings: IntegrationSettings) -> None:
    single = _with(settings, subsidiary={"oneworld": False, "account_field": None, "default_id": None})
    batch = opportunities_to_sales_orders([opportunity(1, Account=dict(NEW_ACCOUNT))], single)
    assert batch.failures == [] and "subsidiary" not in batch.customers[0].body
    assert "subsidiary" not in batch.orders[0].body


def test_end_user_from_an_opportunity_lookup(settings: IntegrationSettings) -> None:
    lookup = _with(settings, end_user={"source": "opportunity_field", "field": "End_User__c"})
    reseller = opportunity(1, End_User__c="0015g00000EnD01", End_User__r={"NetSuite_Id__c": "1007"})
    direct = opportunity(2, End_User__c=None, End_User__r=None)
    unlinked = opportunity(3, End_User__c="0015g00000EnD02", End_User__r={"NetSuite_Id__c": None})
    batch = opportunities_to_sales_orders([reseller, direct, unlinked], lookup)
    assert [o.body["custbody_end_user"] for o in batch.orders] == [{"id": "1007"}, {"id": "1001"}]
    (failure,) = batch.failures
    assert failure.key == key(3) and failure.code == "missing_end_user"
    assert "0015g00000EnD02" in failure.message and "clear End_User__c" in failure.message


def test_end_user_from_an_account_lookup_and_new_bill_to(settings: IntegrationSettings) -> None:
    lookup = _with(settings, end_user={"source": "account_field", "field": "End_User_Account__c"})
    account = {**NEW_ACCOUNT, "End_User_Account__c": "0015g00000EnD01",
               "End_User_Account__r": {"NetSuite_Id__c": "1005"}}
    batch = opportunities_to_sales_orders([opportunity(1, Account=account), opportunity(2, Account=dict(NEW_ACCOUNT))],
                                          lookup)
    assert batch.failures == []
    assert batch.orders[0].body["custbody_end_user"] == {"id": "1005"}
    created = [{"key": batch.customers[0].key, "external_id": batch.customers[0].key, "status": "created",
                "id": "2001", "error": None}]
    ready, _ = resolve_new_customers(batch.orders, created)
    assert [o.body["custbody_end_user"] for o in ready] == [{"id": "1005"}, {"id": "2001"}]


def _settings_text(replace: str, by: str) -> str:
    text = DEFAULT_SETTINGS_FILE.read_text()
    assert replace in text
    return text.replace(replace, by)


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("    source: bill_to\n    field: null", "    source: opportunity_field\n    field: null",
         "netsuite.end_user.field: source opportunity_field reads the end user from an Account lookup field"),
        ("    source: bill_to\n    field: null", "    source: bill_to\n    field: End_User__c",
         "netsuite.end_user.field: the end user is the bill-to"),
        ("    source: bill_to\n    field: null", "    source: opportunity_field\n    field: End_User__r",
         "not an Account lookup field API name; name the lookup itself"),
        ("    source: bill_to\n", "    source: reseller\n", "netsuite.end_user.source"),
        ("    oneworld: true\n", "    oneworld: false\n",
         "netsuite.subsidiary.account_field: only a OneWorld account has subsidiaries"),
        ("    default_id: 1\n", "    default_id: 0\n", "netsuite.subsidiary.default_id"),
        ("    account_field: NetSuite_Subsidiary_Id__c\n", "    account_field: Subsidiary Id\n",
         "is not a Salesforce field API name"),
    ],
)
def test_party_settings_are_validated_with_the_fix(replace: str, by: str, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings(_settings_text(replace, by))
    assert message in str(info.value)
    assert " line " in str(info.value)


def test_shipped_party_settings() -> None:
    settings = load_settings()
    assert settings.netsuite.subsidiary.oneworld and settings.netsuite.subsidiary.default_id == 1
    assert settings.netsuite.end_user.source == "bill_to"


def test_subsidiary_refusal_is_explained_with_the_fix(settings: IntegrationSettings) -> None:
    from crsync.mappings.sales_order_write_back import explain_subsidiary_refusals

    order = {"key": key(1), "record_type": "salesOrder", "external_id": key(1),
             "body": {"entity": {"id": "1001"}, "subsidiary": {"id": "2"}}}
    refused = {"key": key(1), "external_id": key(1), "status": "failed", "id": None,
               "error": {"code": "INVALID_KEY_OR_REF", "message": "Invalid subsidiary reference key 2 for entity 1001.",
                         "path": "subsidiary"}}
    other = {**refused, "key": key(2), "error": {**refused["error"], "path": "currency"}}
    explained, untouched = explain_subsidiary_refusals([refused, other], [order], settings)
    assert explained.error.code == "subsidiary_not_allowed"
    assert "customer 1001 does not belong to subsidiary 2" in explained.error.message
    assert "NetSuite_Subsidiary_Id__c" in explained.error.message and "Invalid subsidiary" in explained.error.message
    assert untouched.error.code == "INVALID_KEY_OR_REF"

"""End to end (issue 17): a OneWorld multi-currency order goes through the whole cycle.

A new Account in the European subsidiary (EUR base currency) buys in EUR: the hourly flow creates its
NetSuite customer in that subsidiary and the order in EUR; the module's contract and contract items come to
Salesforce in EUR; at the target renewal date the module's renewal estimate (EUR) becomes a Salesforce
renewal Opportunity in EUR, priced from the EUR price book entries.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from cr_sandbox.netsuite.module import add_months

ORDER_DAG = "sf_opportunity_to_ns_sales_order"
CONTRACT_DAG = "ns_contract_to_sf_contract"
ITEM_DAG = "ns_contract_item_to_sf_contract_item"
RENEWAL_DAG = "ns_renewal_estimate_to_sf_opportunity"
NS, SF = "netsuite", "salesforce"
ROOT = Path(__file__).resolve().parents[2]
EUROPE, EUR = "2", "4"  # the stand-in's European subsidiary and its base currency (cr_sandbox.netsuite)
NS_CONF = {"netsuite_ids": [], "full_resync": False, "dry_run": False}
CONF = {ORDER_DAG: {"opportunity_ids": [], "mode": "queued", "dry_run": False}, CONTRACT_DAG: NS_CONF,
        ITEM_DAG: NS_CONF, RENEWAL_DAG: NS_CONF}


class Runs:
    """Manual DAG runs whose window ends just after the source system's (moved) clock."""

    def __init__(self, sandbox, dags) -> None:
        self.sandbox, self.dags, self.count = sandbox, dags, 0

    def __call__(self, dag_id: str, system: str = NS) -> str:
        self.count += 1
        now = self.sandbox.control(system, "clock", method="GET")["now"]
        moment = dt.datetime.fromisoformat(str(now).replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        run_after = moment + dt.timedelta(minutes=1, microseconds=self.count)
        return self.dags[dag_id].test(run_conf=CONF[dag_id], logical_date=None, run_after=run_after).state


def advance_order_lifecycle(sandbox, ns_sql, order_id: str) -> str:
    """What NetSuite does between the order and its contract items; returns the contract id.

    The order is approved and billed, and the module's scripts run (R07 makes the contract, R03 its items
    after billing): the shared step of tests/conftest.py (``cr_sandbox.order_steps.complete_orders``).
    """
    from cr_sandbox.order_steps import complete_orders

    complete_orders(sandbox, [order_id])
    (row,) = ns_sql(f"SELECT custbody_contract_name FROM transaction WHERE id = {order_id}")
    assert row["custbody_contract_name"], "the module made no contract for the order"
    return row["custbody_contract_name"]


@pytest.fixture
def multi_currency_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = yaml.safe_load((ROOT / "include/crsync/settings.yaml").read_text())
    data["salesforce"]["multi_currency"] = True
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv("CRSYNC_SETTINGS_FILE", str(path))
    return path


def _euro_opportunity(sandbox, sf_api) -> tuple[str, str]:
    """An Account in the European subsidiary with no NetSuite customer yet, and its EUR Opportunity."""
    sandbox.control(SF, "seed", {"opportunities": 0, "currency": EUR_CODE})  # EUR price book entries
    account = sf_api.Account.create({"Name": "Euro Kunde GmbH", "CurrencyIsoCode": EUR_CODE,
                                     "NetSuite_Subsidiary_Id__c": EUROPE})["id"]
    book = sf_api.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    today = sandbox.control(SF, "clock", method="GET")["today"]
    start = dt.date.fromisoformat(today)
    end = add_months(start, 12) - dt.timedelta(days=1)  # (start.replace(year=+1) fails on 29 February)
    opp = sf_api.Opportunity.create({
        "Name": "Euro Kunde - new contract", "AccountId": account, "StageName": "Closed Won", "CloseDate": today,
        "Order_Type__c": "Contract New", "Sync_Status__c": "Processing", "Pricebook2Id": book,
        "CurrencyIsoCode": EUR_CODE,
    })["id"]
    entries = {e["Product2"]["NetSuite_Id__c"]: e["Id"] for e in sf_api.query_all(
        f"SELECT Id, Product2.NetSuite_Id__c FROM PricebookEntry WHERE Pricebook2Id = '{book}' "
        f"AND CurrencyIsoCode = '{EUR_CODE}'")["records"]}
    for item, quantity, price in (("501", 4, 1100.0), ("505", 1, 2750.0)):  # term licence, support: both renew
        sf_api.OpportunityLineItem.create({
            "OpportunityId": opp, "PricebookEntryId": entries[item], "Quantity": quantity, "UnitPrice": price,
            "Start_Date__c": start.isoformat(), "End_Date__c": end.isoformat(), "Term_Months__c": 12})
    return account, opp


EUR_CODE = "EUR"


def test_oneworld_eur_order_renews_in_eur(fresh_sandbox, flow_dags, sf_api, ns_sql, multi_currency_settings):
    run = Runs(fresh_sandbox, flow_dags)
    try:
        _cycle(fresh_sandbox, run, sf_api, ns_sql)
    finally:
        for system in (NS, SF):
            fresh_sandbox.control(system, "clock", {"reset": True})


def _cycle(sandbox, run: Runs, sf_api, ns_sql) -> None:
    account, opp = _euro_opportunity(sandbox, sf_api)

    # 1. Hourly: the customer is created in the Account's subsidiary, in EUR; the order is in EUR.
    assert run(ORDER_DAG, SF) == "success"
    synced = sf_api.Opportunity.get(opp)
    assert synced["Sync_Status__c"] == "Synced", synced["Sync_Error__c"]
    customer_id = sf_api.Account.get(account)["NetSuite_Id__c"]
    (customer,) = ns_sql(f"SELECT id, subsidiary, currency FROM customer WHERE id = {customer_id}")
    assert (customer["subsidiary"], customer["currency"]) == (EUROPE, EUR)
    (order,) = ns_sql("SELECT id, entity, subsidiary, currency, custbody_end_user FROM transaction "
                      f"WHERE type = 'SalesOrd' AND externalid = '{opp}'")
    assert (order["entity"], order["subsidiary"], order["currency"]) == (customer_id, EUROPE, EUR)
    assert order["custbody_end_user"] == customer_id  # netsuite.end_user: bill_to
    assert synced["NetSuite_Id__c"] == order["id"]

    # 2. NetSuite's lifecycle, then the nightly contract and contract item flows: both in EUR.
    contract_id = advance_order_lifecycle(sandbox, ns_sql, order["id"])
    (contract,) = ns_sql("SELECT custrecord_swe_contract_currency AS currency, "
                         "TO_CHAR(custrecord_swe_target_renewal_date, 'YYYY-MM-DD') AS target "
                         f"FROM customrecord_contracts WHERE id = {contract_id}")
    assert contract["currency"] == EUR
    assert run(CONTRACT_DAG) == "success"
    (sf_contract,) = sf_api.query(f"SELECT Id, CurrencyIsoCode, AccountId FROM Contract "
                                  f"WHERE NetSuite_Id__c = '{contract_id}'")["records"]
    assert (sf_contract["CurrencyIsoCode"], sf_contract["AccountId"]) == (EUR_CODE, account)
    assert run(ITEM_DAG) == "success"
    items = sf_api.query_all(f"SELECT CurrencyIsoCode, Product__r.NetSuite_Id__c FROM Contract_Item__c "
                             f"WHERE Contract__c = '{sf_contract['Id']}'")["records"]
    assert sorted(i["Product__r"]["NetSuite_Id__c"] for i in items) == ["501", "505"]
    assert {i["CurrencyIsoCode"] for i in items} == {EUR_CODE}

    # 3. At the target renewal date the module's renewal estimate is in EUR, in the same subsidiary, and the
    # nightly renewal flow makes a Salesforce renewal Opportunity in EUR priced from the EUR entries.
    for system in (NS, SF):
        sandbox.control(system, "clock", {"today": contract["target"]})
    sandbox.control(NS, "run-scripts")
    (estimate,) = ns_sql("SELECT id, subsidiary, currency FROM transaction WHERE type = 'Estimate' "
                         f"AND custbody_swe_from_contract = {contract_id}")
    assert (estimate["subsidiary"], estimate["currency"]) == (EUROPE, EUR)
    assert run(RENEWAL_DAG) == "success"
    (renewal,) = sf_api.query(
        "SELECT Id, CurrencyIsoCode, AccountId, ContractId, (SELECT CurrencyIsoCode, PricebookEntry.CurrencyIsoCode "
        f"FROM OpportunityLineItems) FROM Opportunity WHERE NetSuite_Renewal_Estimate_Id__c = '{estimate['id']}'"
    )["records"]
    assert (renewal["CurrencyIsoCode"], renewal["AccountId"], renewal["ContractId"]) == (
        EUR_CODE, account, sf_contract["Id"])
    lines: list[dict[str, Any]] = renewal["OpportunityLineItems"]["records"]
    assert len(lines) == 2
    assert {(x["CurrencyIsoCode"], x["PricebookEntry"]["CurrencyIsoCode"]) for x in lines} == {(EUR_CODE, EUR_CODE)}

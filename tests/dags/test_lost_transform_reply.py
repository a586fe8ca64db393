"""Issue 13 finding 6: a renewal's ``!transform`` reply is lost after NetSuite made the order, and SuiteQL
does not show the order yet when the hook checks (index lag); the retry is refused with "already
processed". The hook must find the order (by external id and by ``createdfrom``) before calling it a
failure: the Opportunity ends ``Synced`` with the order's id, and NetSuite holds exactly one order.
"""

from __future__ import annotations

import json
import time

from tests.dags.test_renewal_flow import (
    NS,
    ORDER_DAG,
    RENEWAL_DAG,
    SF,
    clock,  # noqa: F401 - fixture
    new_contract,
    renewal_generated,
    renewal_opportunities,
)

TRANSFORM_TEMPLATE = "/services/rest/record/v1/estimate/{id}/!transform/salesOrder"
LAG_MS = 4000
LAG_S = LAG_MS / 1000


def counts(sf_api, ns_sql, estimate_id: str) -> dict[str, object]:
    """What both systems hold: Opportunities by sync status, sales orders, the estimate's status."""
    by_status: dict[str, int] = {}
    for row in sf_api.query_all("SELECT Sync_Status__c FROM Opportunity")["records"]:
        by_status[str(row["Sync_Status__c"])] = by_status.get(str(row["Sync_Status__c"]), 0) + 1
    orders = ns_sql(f"SELECT id FROM transaction WHERE type = 'SalesOrd' AND createdfrom = {estimate_id}")
    return {
        "sf_opportunities_by_sync_status": dict(sorted(by_status.items())),
        "ns_sales_orders_total": len(ns_sql("SELECT id FROM transaction WHERE type = 'SalesOrd'")),
        "ns_sales_orders_from_estimate": len(orders),
        "ns_estimate_status": ns_sql(f"SELECT status FROM transaction WHERE id = {estimate_id}")[0]["status"],
    }


def test_lost_transform_reply_with_lagging_lookup_ends_synced_with_one_order(
    fresh_sandbox, flow_dags, clock, sf_api, ns_sql  # noqa: F811
):
    start = new_contract(fresh_sandbox, flow_dags, clock, sf_api, ns_sql)
    estimate = renewal_generated(fresh_sandbox, clock, ns_sql, start)
    est_id = estimate["id"]
    assert clock.run(flow_dags[RENEWAL_DAG]).state == "success"
    [renewal] = renewal_opportunities(sf_api)
    sf_api.Opportunity.update(renewal["Id"], {"StageName": "Closed Won", "Sync_Status__c": "Processing"})
    before = counts(sf_api, ns_sql, est_id)

    # NetSuite makes the order but the reply is lost; SuiteQL shows new transactions only after LAG_MS.
    fresh_sandbox.control(
        NS, "governance", {"drop_after_path": TRANSFORM_TEMPLATE, "drop_after_count": 1, "suiteql_lag_ms": LAG_MS}
    )
    fresh_sandbox.control(NS, "stats/reset")
    try:
        run = clock.run(flow_dags[ORDER_DAG], SF)
        stats = fresh_sandbox.control(NS, "stats", method="GET")
    finally:
        fresh_sandbox.control(NS, "governance", {"drop_after_count": 0, "drop_after_path": "", "suiteql_lag_ms": 0})
    time.sleep(LAG_S)  # let the stand-in's SuiteQL show the new order before counting
    after = counts(sf_api, ns_sql, est_id)
    print("FINDING 6a COUNTS", json.dumps({"before": before, "after": after}))

    transforms = {r["status"]: r["count"] for r in stats["requests"] if r["path"] == TRANSFORM_TEMPLATE}
    assert stats["injected_faults"].get("drop_after") == 1 and transforms.get(0) == 1, stats  # the scenario ran
    orders = ns_sql(
        "SELECT id, tranid, externalid FROM transaction "
        f"WHERE type = 'SalesOrd' AND createdfrom = {est_id}"
    )
    assert len(orders) == 1, orders
    assert orders[0]["externalid"] == renewal["Id"]
    synced = sf_api.query(
        "SELECT Sync_Status__c, Sync_Error__c, NetSuite_Id__c, NetSuite_Order_Number__c FROM Opportunity "
        f"WHERE Id = '{renewal['Id']}'"
    )["records"][0]
    assert synced["Sync_Status__c"] == "Synced", synced
    assert synced["NetSuite_Id__c"] == orders[0]["id"] and synced["Sync_Error__c"] is None
    assert synced["NetSuite_Order_Number__c"] == orders[0]["tranid"]
    assert run.state == "success"
    assert after["ns_estimate_status"] == "B"  # Processed (SuiteAnswers 23874)
    assert after["ns_sales_orders_total"] == before["ns_sales_orders_total"] + 1

"""Injected faults: 429 / 503 / dropped connections on NetSuite and UNABLE_TO_LOCK_ROW on Salesforce.

The hourly flow runs once under faults and must still leave exactly one sales order per Opportunity
(SuiteQL: count and count of distinct external ids) and every Opportunity ``Synced`` with the order's
id and number. The 1,000-Opportunity run of issue 9 is marked ``reliability`` (``make reliability``);
a 60-Opportunity run with higher fault rates is in the default suite.
"""

from __future__ import annotations

import pytest

from cr_sandbox import order_steps
from tests.reliability.conftest import (
    NS,
    SF,
    injected,
    opportunities,
    orders_by_external_id,
    sales_order_counts,
)


def _run_under_faults(sandbox, run_opportunity_flow, ns_sql, sf_api, *, n, ns_faults, sf_faults):
    opp_ids = sandbox.control(
        SF, "seed", {"opportunities": n, "lines_per_opportunity": 2, "order_type": "Contract New"}
    )["opportunity_ids"]
    assert len(opp_ids) == n
    sandbox.control(NS, "stats/reset")
    sandbox.control(NS, "governance", {**ns_faults, "seed": 7})
    sandbox.control(SF, "governance", {**sf_faults, "seed": 11})
    try:
        run = run_opportunity_flow()
    finally:
        ns_injected = injected(sandbox, NS)
        sf_injected = injected(sandbox, SF)
        sandbox.control(NS, "governance", {k: 0 for k in ns_faults})
        sandbox.control(SF, "governance", {k: 0 for k in sf_faults})

    assert run.state == "success"
    # The faults really happened (else this proves nothing).
    assert ns_injected.get("429", 0) > 0 and ns_injected.get("503", 0) > 0 and ns_injected.get("drop", 0) > 0
    assert sf_injected.get("UNABLE_TO_LOCK_ROW", 0) > 0
    # Exactly one sales order per Opportunity, no duplicates, nothing else.
    assert sales_order_counts(ns_sql) == (n, n)
    assert orders_by_external_id(ns_sql, opp_ids) == {i: 1 for i in opp_ids}
    orders = {
        r["externalid"]: r
        for r in ns_sql("SELECT id, tranid, externalid FROM transaction WHERE type = 'SalesOrd'")
    }
    synced = opportunities(sf_api, opp_ids)
    assert len(synced) == n
    for opp_id, opp in synced.items():
        assert opp["Sync_Status__c"] == "Synced", opp
        assert opp["Sync_Error__c"] is None
        assert opp["NetSuite_Id__c"] == orders[opp_id]["id"]
        assert opp["NetSuite_Order_Number__c"] == orders[opp_id]["tranid"]
    # One contract per order: the module never saw an order twice (contracts come after approval, billing
    # and the module's scripts: the shared step of the complete_orders fixture, issue 17).
    order_steps.complete_orders(sandbox)
    assert len(ns_sql("SELECT id FROM customrecord_contracts")) == n
    return ns_injected, sf_injected


def test_60_opportunities_under_heavy_faults(fresh, run_opportunity_flow, ns_sql, sf_api):
    _run_under_faults(
        fresh,
        run_opportunity_flow,
        ns_sql,
        sf_api,
        n=60,
        ns_faults={"rate_429": 0.08, "rate_503": 0.08, "rate_drop": 0.08},
        sf_faults={"rate_unable_to_lock_row": 0.10, "rate_503": 0.05},
    )


@pytest.mark.reliability
def test_1000_opportunities_under_issue_9_faults(
    fresh, run_opportunity_flow, ns_sql, sf_api, record_property
):
    import time

    started = time.monotonic()
    ns_injected, sf_injected = _run_under_faults(
        fresh,
        run_opportunity_flow,
        ns_sql,
        sf_api,
        n=1000,
        ns_faults={"rate_429": 0.034, "rate_503": 0.033, "rate_drop": 0.033},  # 10% in all
        sf_faults={"rate_unable_to_lock_row": 0.05},
    )
    took = time.monotonic() - started
    record_property("seconds", round(took, 1))
    print(f"1,000 Opportunities under faults: {took:.1f} s; NetSuite {ns_injected}; Salesforce {sf_injected}")

"""The Opportunity flow's task bodies that need no system: transform, order_chunks, a dry run's write_back.

Each task's input goes through JSON first, as XCom hands it over.
"""

from __future__ import annotations

import json

from crsync.records import OpportunityExtract, OrderChunk, SalesOrderPlan
from crsync.runtime.flows import opportunity_to_sales_order as flow

MISSING = "006000000000001AAA"


def through_xcom(payload):
    return json.loads(json.dumps(payload))


def test_a_named_id_salesforce_lacks_fails_alone_with_what_to_fix():
    extracted = OpportunityExtract(dry_run=False, mode="ids", opportunities=[], missing_ids=[MISSING])

    plan = SalesOrderPlan.from_xcom(through_xcom(flow.transform(through_xcom(extracted.to_xcom()))))

    assert plan.read == 0 and plan.orders == [] and plan.customers == []
    assert [(f.key, f.code) for f in plan.failures] == [(MISSING, flow.NOT_FOUND)]
    assert "is not in Salesforce (deleted, or from another org); check the id" in plan.failures[0].message


def test_order_chunks_split_the_plan_and_always_leave_one():
    orders = [{"key": str(i)} for i in range(5)]
    plan = SalesOrderPlan(dry_run=True, read=5, orders=orders, chunk_size=2).to_xcom()

    chunks = flow.order_chunks(through_xcom(plan))

    # each chunk is one JSON text: a mapped task's pull of the list does not walk every order
    assert all(isinstance(c, str) for c in chunks)
    loaded = [OrderChunk.from_xcom(c) for c in chunks]
    assert [[o["key"] for o in c.orders] for c in loaded] == [["0", "1"], ["2", "3"], ["4"]]
    assert all(c.dry_run is True for c in loaded)
    empty = SalesOrderPlan(dry_run=False, read=0, chunk_size=2).to_xcom()
    assert [json.loads(c) for c in flow.order_chunks(empty)] == [{"dry_run": False, "orders": []}]


def test_dry_run_write_back_reports_what_a_real_run_would_write_and_refuse():
    failure = {"key": MISSING, "code": flow.NOT_FOUND, "message": "not in Salesforce"}
    plan = SalesOrderPlan.model_validate(
        {"dry_run": True, "read": 3, "orders": [{"key": "a"}, {"key": "b"}], "failures": [failure], "chunk_size": 1}
    )
    loaded = [{"results": [], "failures": []}, {"results": [], "failures": []}]

    summary = flow.write_back(through_xcom(plan.to_xcom()), {"results": []}, loaded, context={})

    assert summary["dry_run"] is True
    assert summary["read"] == 3
    assert summary["skipped_by_reason"] == {"dry_run": 2}
    assert summary["failures_by_code"] == {flow.NOT_FOUND: 1}

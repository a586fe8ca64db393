"""The payloads a flow's tasks hand each other (crsync.records.TaskPayload): plain JSON for XCom, the same
model back at the start of the next task."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from crsync.records import (
    ContractExtract,
    ContractItemExtract,
    ContractItemPlan,
    ContractPlan,
    LoadOutcome,
    OpportunityExtract,
    OrderChunk,
    Reconciliation,
    RecordFailure,
    RenewalExtract,
    RenewalPlan,
    RepairOutcome,
    SalesforceUpsertBatch,
    SalesOrderPlan,
    TaskPayload,
)

OPP = "006000000000001AAA"
FAILURE = RecordFailure(key=OPP, code="not_found", message="Opportunity is not in Salesforce; check the id")
RETRY = {"read_ids": [7], "gone_ids": [], "missing_ids": [], "read_through": None}
ORDER = {"key": OPP, "record_type": "salesOrder", "external_id": OPP, "body": {"item": {"items": [{"rate": 1.5}]}}}
UPSERTS = SalesforceUpsertBatch(
    sobject="Contract", external_id_field="NetSuite_Id__c", records=[{"NetSuite_Id__c": "7", "Name": "C-7"}]
)

PAYLOADS: list[TaskPayload] = [
    OpportunityExtract(dry_run=False, mode="ids", opportunities=[{"Id": OPP, "Amount": 10.5}], missing_ids=[OPP]),
    SalesOrderPlan(
        dry_run=True, read=1, customers=[], orders=[ORDER], failures=[FAILURE], guards={OPP: "2026-01-01"},
        chunk_size=50,
    ),
    OrderChunk(dry_run=False, orders=[ORDER]),
    LoadOutcome.model_validate(
        {
            "results": [{"key": OPP, "external_id": OPP, "status": "failed", "error": {"code": "X", "message": "m"}}],
            "failures": [FAILURE.model_dump()],
        }
    ),
    ContractExtract(dry_run=False, contracts=[{"id": "7"}], known_account_ids=["12"], retry=RETRY),
    ContractPlan(dry_run=False, read=1, contracts=UPSERTS, failures=[FAILURE], retry=RETRY),
    ContractItemExtract(dry_run=True, items=[{"id": "9"}], waiting_before=[3], known_contract_ids=["7"], retry=RETRY),
    ContractItemPlan(
        dry_run=True, read=1, read_ids=[9], waiting_before=[3], items=UPSERTS, waiting=[FAILURE],
        waiting_contract_ids=["8"], retry=RETRY,
    ),
    RenewalExtract(dry_run=False, headers=[{"id": "5"}], lines=[{"id": "1"}], salesforce={"pricebook_id": "01s"},
                   retry=RETRY),
    RenewalPlan(
        dry_run=False, read=1, upserts=[UPSERTS], line_sobject="OpportunityLineItem", stale_line_ids=["00k1"],
        stale_line_renewals={"00k1": "5"}, failures=[FAILURE], skipped={"6": "renewal_already_ordered_or_closed"},
        bulk_threshold=2000, retry=RETRY,
    ),
    Reconciliation(
        run_id="manual__2026", checked_at="2026-01-02T04:00:00+00:00", stuck_after_hours=2, total=3,
        counts={"contract_missing_in_salesforce": 3}, compared={"NetSuite contracts": 10}, requeueable=0,
        reports={"csv": "file:///r/drift.csv", "html": "file:///r/report.html", "summary": "file:///r/s.json"},
    ),
    RepairOutcome(enabled=True, requeued=1, failed=1, failures=[{"salesforce_id": "006", "requeued": False,
                                                               "error": "X: y"}], report="file:///r/repair.csv"),
]  # fmt: skip


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_payload_round_trips_through_json(payload: TaskPayload):
    sent = payload.to_xcom()
    text = json.dumps(sent)  # plain JSON: what the object-storage XCom backend writes

    received = type(payload).from_xcom(json.loads(text))

    assert received == payload
    assert received.to_xcom() == sent


def test_plain_json_rows_are_handed_on_without_a_copy():
    """The largest part of a plan (source rows, order bodies) is passed on as it is, never held twice."""
    orders = [dict(ORDER)]
    plan = SalesOrderPlan(dry_run=False, read=1, orders=orders, chunk_size=1)

    assert plan.to_xcom()["orders"] is plan.orders


def test_from_xcom_refuses_a_payload_of_another_shape():
    """A task given something else than its plan fails at its start, naming the field."""
    with pytest.raises(ValidationError, match="chunk_size"):
        SalesOrderPlan.from_xcom({"dry_run": False, "read": 0, "orders": []})
    with pytest.raises(ValidationError, match="unexpected"):
        OrderChunk.from_xcom({"dry_run": False, "orders": [], "unexpected": 1})


def test_from_xcom_passes_a_model_through():
    chunk = OrderChunk(dry_run=True)

    assert OrderChunk.from_xcom(chunk) is chunk

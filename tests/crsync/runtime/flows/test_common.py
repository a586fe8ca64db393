"""The helpers every flow shares (crsync.runtime.flows.common), against in-memory fake hooks."""

from __future__ import annotations

import pytest

from crsync.records import RecordFailure, RunSummary
from crsync.runtime.flows import common

LOCKED = {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access"}
INVALID = {"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "End date before start", "fields": []}


def test_salesforce_refusals_become_record_failures_with_salesforce_message():
    records = [{"Id": "006A"}, {"Id": "006B"}, {"Id": "006C"}]
    outcome = [
        {"success": True, "errors": []},
        {"success": False, "errors": [LOCKED, INVALID]},
        {"success": False, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "gone"}]},
    ]

    failures = common.salesforce_refusals(
        records,
        outcome,
        code="write_back_failed",
        key=lambda r: r["Id"],
        refused=lambda r: f"Salesforce refused the write-back of {r['Id']}",
    )

    assert failures == [
        RecordFailure(
            key="006B",
            code="write_back_failed",
            message="Salesforce refused the write-back of 006B: UNABLE_TO_LOCK_ROW: unable to obtain exclusive "
            "access; FIELD_CUSTOM_VALIDATION_EXCEPTION: End date before start",
        ),
        RecordFailure(
            key="006C",
            code="write_back_failed",
            message="Salesforce refused the write-back of 006C: ENTITY_IS_DELETED: gone",
        ),
    ]


def test_salesforce_refusals_accept_the_done_codes():
    """A delete of a line that is gone already did what was wanted: not a failure."""
    failures = common.salesforce_refusals(
        ["0QL1", "0QL2"],
        [
            {"success": False, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "gone"}]},
            {"success": False, "errors": [LOCKED]},
        ],
        code="stale_line_not_deleted",
        key=str,
        refused=lambda line: f"QuoteLineItem {line} could not be deleted",
        done_codes={"ENTITY_IS_DELETED"},
    )

    assert [(f.key, f.message) for f in failures] == [
        ("0QL2", "QuoteLineItem 0QL2 could not be deleted: UNABLE_TO_LOCK_ROW: unable to obtain exclusive access")
    ]


def test_salesforce_refusals_need_one_result_per_record():
    with pytest.raises(ValueError):
        common.salesforce_refusals([{"Id": "1"}], [], code="x", key=str, refused=str)


def test_count_statuses():
    results = [{"status": s} for s in ("created", "updated", "failed", "created", "created")]

    assert common.count_statuses(results) == {"created": 3, "updated": 1, "failed": 1}
    assert common.count_statuses([]) == {}


def test_one_refused_record_does_not_stop_the_others(settings, fake_salesforce):
    sf = fake_salesforce(refuse={"102": INVALID}, existing=["103"])
    records = [{"NetSuite_Id__c": str(i), "Name": f"C-{i}"} for i in (101, 102, 103)]

    results = common.salesforce_upsert("Contract", "NetSuite_Id__c", records, settings, sf=sf)

    assert [(r["external_id"], r["status"]) for r in results] == [
        ("101", "created"),
        ("102", "failed"),
        ("103", "updated"),
    ]
    assert results[1]["error"] == {
        "code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "message": "End date before start",
        "path": None,
    }
    assert common.count_statuses(results) == {"created": 1, "failed": 1, "updated": 1}
    summary = RunSummary(flow="f").add_results(results)
    assert (summary.created, summary.updated, summary.failed) == (1, 1, 1)
    assert summary.first_failures[0].message == "End date before start"


def test_salesforce_upsert_uses_collections_of_the_settings_size_then_bulk_above_the_threshold(
    settings, fake_salesforce
):
    small = settings.model_copy(
        update={
            "batch_sizes": settings.batch_sizes.model_copy(update={"salesforce_collection": 50}),
            "salesforce": settings.salesforce.model_copy(update={"bulk_threshold": 3}),
        }
    )
    sf = fake_salesforce()
    records = [{"NetSuite_Id__c": str(i)} for i in range(1, 4)]

    common.salesforce_upsert("Contract", "NetSuite_Id__c", records, small, sf=sf)
    common.salesforce_upsert("Contract", "NetSuite_Id__c", [*records, {"NetSuite_Id__c": "4"}], small, sf=sf)
    common.salesforce_upsert("Contract", "NetSuite_Id__c", records, small, sf=sf, bulk_threshold=2)

    assert sf.calls == [
        ("upsert_collection", ("Contract", 50, 3)),
        ("upsert_bulk", ("Contract", 4)),
        ("upsert_bulk", ("Contract", 3)),
    ]
    assert common.salesforce_upsert("Contract", "NetSuite_Id__c", [], small, sf=sf) == []
    assert len(sf.calls) == 3  # nothing to write: no call


def test_salesforce_ids_with_reads_numeric_ids_in_chunks(fake_salesforce):
    sf = fake_salesforce()
    sf.rows = {
        "ids 1,2": [{"NetSuite_Id__c": "1"}, {"NetSuite_Id__c": None}],
        "ids 10": [{"NetSuite_Id__c": "10"}],
    }

    found = common.salesforce_ids_with(
        lambda part: f"ids {','.join(part)}", ["10", "2", "x", "1", "2"], chunk_size=2, sf=sf
    )

    assert found == {"1", "10"}
    assert [c[1] for c in sf.calls] == ["ids 1,2", "ids 10"]


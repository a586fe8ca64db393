"""crsync.records: the interface models and the run summary."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from crsync.records import (
    NetSuiteWrite,
    RecordFailure,
    RunSummary,
    WriteResult,
    dump_all,
    dump_and_release,
    load_all,
)


def test_netsuite_write_round_trips_through_json() -> None:
    write = NetSuiteWrite(
        key="0065g00000AbCdEAAV",
        record_type="salesOrder",
        external_id="0065g00000AbCdEAAV",
        body={"entity": {"id": "1001"}},
        transform_from={"record_type": "estimate", "id": "123"},
    )
    (dumped,) = dump_all([write])
    assert json.loads(json.dumps(dumped)) == dumped
    assert load_all(NetSuiteWrite, [dumped]) == [write]


@pytest.mark.parametrize("bad", ["a b", "x/../y", "id'; --", ""])
def test_netsuite_write_refuses_unsafe_external_ids(bad: str) -> None:
    with pytest.raises(ValidationError, match="external id"):
        NetSuiteWrite(key="k", record_type="customer", external_id=bad, body={})


def test_transform_from_needs_a_numeric_id() -> None:
    with pytest.raises(ValidationError):
        NetSuiteWrite(
            key="k",
            record_type="salesOrder",
            external_id="x",
            body={},
            transform_from={"record_type": "estimate", "id": "12 OR 1=1"},
        )


def results() -> list[dict]:
    return [
        {"key": "a", "external_id": "a", "status": "created", "id": "1", "error": None},
        {"key": "b", "external_id": "b", "status": "updated", "id": "2", "error": None},
        {
            "key": "c",
            "external_id": "c",
            "status": "failed",
            "id": None,
            "error": {"code": "INVALID_CONTENT", "message": "Invalid item", "path": "item.items[0].item"},
        },
    ]


def test_summary_counts_results_failures_and_skips() -> None:
    summary = RunSummary(flow="sf_opportunity_to_ns_sales_order").add_read(5).add_results(results())
    summary.add_failures([RecordFailure(key="d", code="missing_item", message="sync the product first")])
    summary.add_skipped("already_synced", 1)
    assert (summary.read, summary.created, summary.updated, summary.failed, summary.skipped) == (
        5,
        1,
        1,
        2,
        1,
    )
    assert summary.failures_by_code == {"INVALID_CONTENT": 1, "missing_item": 1}
    assert summary.first_failures[0].message == "Invalid item (at item.items[0].item)"
    assert not summary.ok
    text = summary.render()
    assert "FAILED" in text and "created 1, updated 1, failed 2, skipped 1" in text
    assert "d [missing_item] sync the product first" in text
    assert json.loads(json.dumps(summary.as_dict()))["failed"] == 2


def test_summary_merge_adds_counts_and_caps_failures() -> None:
    one = RunSummary(flow="f", failures_kept=2).add_failures(
        [RecordFailure(key=str(i), code="x", message="m") for i in range(2)]
    )
    two = RunSummary().add_read(3).add_results(results())
    merged = one.merge(two.as_dict())
    assert merged.read == 3 and merged.failed == 3 and merged.created == 1
    assert merged.failures_by_code == {"x": 2, "INVALID_CONTENT": 1}
    assert len(merged.first_failures) == 2
    assert one.failed == 2  # merge returns a new summary


def test_empty_summary_is_ok() -> None:
    assert RunSummary().ok
    assert "read 0, created 0" in RunSummary().render()


def test_write_result_ok() -> None:
    assert [WriteResult.model_validate(r).ok for r in results()] == [True, True, False]


def test_dump_and_release_dumps_like_dump_all_and_empties_the_list() -> None:
    writes = [
        NetSuiteWrite(key=f"k{i}", record_type="salesOrder", external_id=f"E-{i}", body={"item": {"items": [i]}})
        for i in range(3)
    ]
    expected = dump_all(writes)

    dumped = dump_and_release(writes)

    assert dumped == expected
    assert writes == []  # the models are gone: the batch is not held twice over


def test_summary_says_what_was_read_and_retried() -> None:
    summary = RunSummary(
        flow="ns_contract_to_sf_contract",
        read_window="[2026-03-01T01:30:00+00:00, 2026-03-02T02:00:00+00:00)",
        read_overlap_minutes=30,
        retried_ids=["7", "8"],
        retry_gone_ids=["9"],
        retry_remembered=1,
        retry_overflow_ids=["10"],
        retry_limit=1,
        retry_variable="ns_contract_to_sf_contract.retry_ids",
    )
    text = summary.render()
    assert (
        "read [2026-03-01T01:30:00+00:00, 2026-03-02T02:00:00+00:00), 30 minute(s) before the window start"
        in text
    )
    assert "retried 2 record(s) that failed in an earlier run: 7, 8" in text
    assert "1 retried id(s) no longer in NetSuite, dropped from the retry list: 9" in text
    assert (
        "1 failed id(s) remembered for the next run (Airflow Variable ns_contract_to_sf_contract.retry_ids)"
        in text
    )
    assert "1 failed id(s) NOT remembered: the retry list is full (nightly.retry_max_ids = 1)" in text
    merged = summary.merge(RunSummary(retried_ids=["11"]))
    assert merged.retried_ids == ["7", "8", "11"] and merged.read_overlap_minutes == 30

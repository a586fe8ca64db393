"""The sync health page's open errors: what a run's summary does to them (crsync.runtime.health_log)."""

from __future__ import annotations

import datetime as dt

from crsync.records import RecordFailure, RunSummary, WriteResult
from crsync.runtime.health_log import FlowHealth, apply_run, parse_health

T0 = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=1)


def _summary(written: list[str] = (), failed: dict[str, str] | None = None) -> RunSummary:
    summary = RunSummary(flow="sf_opportunity_to_ns_sales_order")
    summary.add_read(len(written) + len(failed or {}))
    summary.add_results(WriteResult(key=k, external_id=k, status="created", id="1") for k in written)
    summary.add_failures(RecordFailure(key=k, code=c, message=f"fix {k}") for k, c in (failed or {}).items())
    return summary


def test_summary_keeps_every_failure_and_written_key_across_merges():
    many = {f"k{i}": "bad" for i in range(30)}
    merged = _summary(["a"], many).merge(_summary(["b"], {"z": "other"}))
    assert len(merged.first_failures) == 20  # the rendered summary is still capped ...
    assert [f.key for f in merged.every_failure] == [*many, "z"]  # ... the page gets every failure
    assert merged.written_keys == ["a", "b"]
    assert "every_failure" not in merged.render()


def test_failures_join_written_records_leave_and_first_seen_stays():
    first = apply_run(FlowHealth(), _summary(["ok1"], {"x": "c1", "y": "c1"}), run_id="r1", now=T0)
    assert [(e.key, e.first_seen, e.last_tried) for e in first.errors] == [("y", T0, T0), ("x", T0, T0)]
    assert first.last_run.run_id == "r1" and first.last_run.failed == 2 and first.last_run.created == 1

    second = apply_run(first, _summary(["x"], {"y": "c2"}), run_id="r2", now=T1)
    (row,) = second.errors
    assert (row.key, row.code, row.message, row.first_seen, row.last_tried, row.run_id) == (
        "y", "c2", "fix y", T0, T1, "r2"
    )  # fmt: skip


def test_a_record_written_back_with_a_failure_stays_open():
    health = apply_run(FlowHealth(), _summary(["x"], {"x": "write_back_failed"}), run_id="r", now=T0)
    assert [e.key for e in health.errors] == ["x"]


def test_only_the_newest_rows_are_kept_and_the_rest_counted():
    health = apply_run(FlowHealth(), _summary([], {"a": "c", "b": "c"}), run_id="r1", now=T0)
    health = apply_run(health, _summary([], {"c": "c"}), run_id="r2", now=T1, limit=2)
    assert [e.key for e in health.errors] == ["c", "b"]
    assert health.dropped == 1


def test_the_stored_json_reads_back_and_garbage_reads_as_empty():
    health = apply_run(FlowHealth(), _summary([], {"a": "c"}), run_id="r1", now=T0)
    assert parse_health(health.model_dump_json()) == health
    assert parse_health("not json") == FlowHealth()
    assert parse_health(None) == FlowHealth()


def test_a_retry_refused_as_not_queued_keeps_the_cause_the_row_showed():
    """Retry of an Opportunity left in Error is refused `not_queued` before anything is sent; the row must
    keep the cause the user has to fix (and say why the retry did nothing), once, however often retried."""
    from crsync.records import NOT_QUEUED
    from crsync.runtime.health_log import RETRY_NOT_QUEUED

    first = apply_run(FlowHealth(), _summary([], {"o1": "missing_customer"}), run_id="r1", now=T0)
    retried = apply_run(first, _summary([], {"o1": NOT_QUEUED}), run_id="r2", now=T1)
    again = apply_run(retried, _summary([], {"o1": NOT_QUEUED}), run_id="r3", now=T1)
    for health in (retried, again):
        (row,) = health.errors
        assert (row.code, row.first_seen, row.last_tried) == ("missing_customer", T0, T1)
        assert row.message == "fix o1" + RETRY_NOT_QUEUED
    # A record that only ever failed as not queued keeps that code.
    (only,) = apply_run(FlowHealth(), _summary([], {"o2": NOT_QUEUED}), run_id="r1", now=T0).errors
    assert only.code == NOT_QUEUED

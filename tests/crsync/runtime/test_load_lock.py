"""crsync.runtime.load_lock.holders: which other runs hold the hourly DAG's load lock."""

from __future__ import annotations

from crsync.runtime.load_lock import CLAIM_TASK_ID, holders, still_loading

RELEASE = "write_back"


def test_a_run_holds_the_lock_from_its_claim_until_its_write_back_ends() -> None:
    states = {
        "backfill__1": {CLAIM_TASK_ID: "success", RELEASE: None},  # loading
        "backfill__2": {CLAIM_TASK_ID: "success", RELEASE: "up_for_retry"},  # write-back not over
        "manual__3": {CLAIM_TASK_ID: "success", RELEASE: "success"},  # released
        "manual__4": {CLAIM_TASK_ID: "success", RELEASE: "upstream_failed"},  # a load failed: see below
        "scheduled__5": {CLAIM_TASK_ID: "up_for_reschedule"},  # waiting, holds nothing
        "scheduled__6": {RELEASE: "success"},  # before the lock existed
    }
    assert holders(states, own_run_id="scheduled__5", release_task_id=RELEASE) == ["backfill__1", "backfill__2", "manual__4"]


def test_a_run_never_waits_for_itself() -> None:
    states = {"manual__1": {CLAIM_TASK_ID: "success", RELEASE: None}}
    assert holders(states, own_run_id="manual__1", release_task_id=RELEASE) == []


def test_a_failed_load_chunk_does_not_release_the_lock_while_its_siblings_still_send() -> None:
    """Airflow marks the write-back upstream_failed as soon as one load chunk fails; the other chunks of that
    run may still be sending, so the run holds the lease until they are done (review of issue 13)."""
    sending = {
        CLAIM_TASK_ID: "success",
        "load_customers": "success",
        "load_orders_0": "failed",
        "load_orders_1": "running",
        RELEASE: "upstream_failed",
        "report": "upstream_failed",
    }
    assert still_loading(sending, release_task_id=RELEASE)
    done = {**sending, "load_orders_1": "success"}
    assert not still_loading(done, release_task_id=RELEASE)
    assert still_loading({CLAIM_TASK_ID: "success", RELEASE: None}, release_task_id=RELEASE)

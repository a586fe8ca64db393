"""crsync.runtime.load_lock.holders: which other runs hold the hourly DAG's load lock."""

from __future__ import annotations

from crsync.runtime.load_lock import CLAIM_TASK_ID, holders

RELEASE = "write_back"


def test_a_run_holds_the_lock_from_its_claim_until_its_write_back_ends() -> None:
    states = {
        "backfill__1": {CLAIM_TASK_ID: "success", RELEASE: None},  # loading
        "backfill__2": {CLAIM_TASK_ID: "success", RELEASE: "up_for_retry"},  # write-back not over
        "manual__3": {CLAIM_TASK_ID: "success", RELEASE: "success"},  # released
        "manual__4": {CLAIM_TASK_ID: "success", RELEASE: "upstream_failed"},  # released (loads failed)
        "scheduled__5": {CLAIM_TASK_ID: "up_for_reschedule"},  # waiting, holds nothing
        "scheduled__6": {RELEASE: "success"},  # before the lock existed
    }
    assert holders(states, own_run_id="scheduled__5", release_task_id=RELEASE) == ["backfill__1", "backfill__2"]


def test_a_run_never_waits_for_itself() -> None:
    states = {"manual__1": {CLAIM_TASK_ID: "success", RELEASE: None}}
    assert holders(states, own_run_id="manual__1", release_task_id=RELEASE) == []

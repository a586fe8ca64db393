"""Run windows: half-open, UTC, and defined for runs without a logical date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from crsync.queries import soql_datetime, suiteql_timestamp
from crsync.runtime.windows import SyncWindow, window_from_context

HOUR = timedelta(hours=1)


def test_scheduled_run_uses_its_data_interval():
    start, end = datetime(2026, 3, 1, 9, tzinfo=UTC), datetime(2026, 3, 1, 10, tzinfo=UTC)
    window = window_from_context({"data_interval_start": start, "data_interval_end": end}, default_length=HOUR)
    assert (window.start, window.end) == (start, end)
    assert soql_datetime(window.start) == "2026-03-01T09:00:00Z" and soql_datetime(window.end) == "2026-03-01T10:00:00Z"
    assert suiteql_timestamp(window.end) == "TO_TIMESTAMP('2026-03-01 10:00:00', 'YYYY-MM-DD HH24:MI:SS')"


def test_manual_run_without_logical_date_ends_at_run_after_rounded_up():
    run_after = datetime(2026, 3, 1, 10, 30, 5, 250_000, tzinfo=UTC)
    window = window_from_context({"dag_run": SimpleNamespace(run_after=run_after)}, default_length=HOUR)
    assert window.end == datetime(2026, 3, 1, 10, 30, 6, tzinfo=UTC)
    assert window.end - window.start == HOUR


def test_full_resync_has_no_start():
    run_after = datetime(2026, 3, 1, 10, tzinfo=UTC)
    window = window_from_context({"dag_run": SimpleNamespace(run_after=run_after)}, default_length=HOUR, full_resync=True)
    assert window.start is None and window.end == run_after
    assert window.describe().startswith("[the beginning")


def test_windows_must_be_aware_and_non_empty():
    moment = datetime(2026, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        SyncWindow(start=None, end=moment.replace(tzinfo=None))
    with pytest.raises(ValueError, match="empty sync window"):
        SyncWindow(start=moment, end=moment)


def test_read_overlap_extends_a_scheduled_window_back_and_leaves_a_full_resync_alone():
    import pendulum

    # A scheduled run's data interval is pendulum; the extended window must stay timezone-aware.
    start, end = pendulum.datetime(2026, 3, 1, 2), pendulum.datetime(2026, 3, 2, 2)
    window = window_from_context(
        {"data_interval_start": start, "data_interval_end": end}, default_length=HOUR
    )
    read = window.extended_back(timedelta(minutes=30))
    assert (read.start, read.end) == (datetime(2026, 3, 1, 1, 30, tzinfo=UTC), window.end)
    assert suiteql_timestamp(read.start) == "TO_TIMESTAMP('2026-03-01 01:30:00', 'YYYY-MM-DD HH24:MI:SS')"
    assert window.extended_back(timedelta(0)) is window
    full = SyncWindow(start=None, end=datetime(2026, 3, 1, tzinfo=UTC))
    assert full.extended_back(timedelta(minutes=30)) is full

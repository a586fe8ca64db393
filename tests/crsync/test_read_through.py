"""The nightly flows' high-water mark moves only forward and only past what was read (issue 13,
finding 7): the decision, for runs that overlap in time (a backfill and a scheduled run)."""

from __future__ import annotations

import datetime as dt

from crsync.runtime.flows.read_through import next_mark, parse_mark

T = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def test_first_run_ever_sets_the_mark():
    assert next_mark(None, read_start=T - DAY, window_end=T, mark_seen=None, capped=False) == T


def test_contiguous_read_advances_the_mark():
    assert next_mark(T, read_start=T - dt.timedelta(minutes=30), window_end=T + DAY, mark_seen=T,
                     capped=False) == T + DAY  # fmt: skip


def test_mark_never_moves_back():
    assert next_mark(T + 5 * DAY, read_start=T, window_end=T + DAY, mark_seen=T, capped=False) is None


def test_read_that_starts_after_the_mark_leaves_a_gap_and_does_not_advance():
    # Another run set the mark after this one read (it saw none): its read does not reach the mark.
    assert next_mark(T, read_start=T + 2 * DAY, window_end=T + 3 * DAY, mark_seen=None, capped=False) is None


def test_capped_read_advances_only_from_the_mark_it_saw():
    assert (
        next_mark(T, read_start=T + 9 * DAY, window_end=T + 10 * DAY, mark_seen=T, capped=True)
        == T + 10 * DAY
    )
    moved = T + 8 * DAY + dt.timedelta(hours=1)
    assert next_mark(moved, read_start=T + 9 * DAY, window_end=T + 10 * DAY, mark_seen=T, capped=True) is None


def test_full_resync_may_set_the_mark():
    assert next_mark(T, read_start=None, window_end=T + DAY, mark_seen=T, capped=False) == T + DAY


def test_junk_is_no_mark(caplog):
    assert parse_mark("x.read_through", "yesterday") is None
    assert parse_mark("x.read_through", "2026-03-01T02:00:00") is None  # no timezone
    assert "not an ISO timestamp" in caplog.text
    assert parse_mark("x.read_through", "2026-03-01T02:00:00+00:00") == T

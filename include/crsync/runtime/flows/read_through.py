"""The nightly flows' high-water mark: the end of the last window a run read and dealt with completely.

The nightly DAGs run with ``catchup=False``: after a scheduler outage or a paused DAG, Airflow creates only
the latest interval and the days in between are never scheduled. Each nightly flow therefore keeps the
Airflow Variable ``<dag id>.read_through`` (an ISO timestamp, managed by the flow, visible and editable
under Admin > Variables, next to its retry list ``<dag id>.retry_ids``):

- ``extract``: a run with a window (scheduled, backfill, manual without ``netsuite_ids``) whose window
  starts after the mark reads from the mark (minus ``nightly.read_overlap_minutes``) instead, at most
  ``nightly.max_catch_up_days`` before its window's start; the run summary says so, and says when the
  cap cut the read short. No mark (the first run ever): the window as before. A value that is not an
  ISO timestamp with a timezone is ignored with a warning (and replaced by the run's window end).
- the task that rewrites the retry list advances the mark to the run's window end when every record the
  run read was written or remembered in the retry list (which the next run reads whatever its window),
  and only when the read was contiguous with the mark as it is *at that moment*: the read started at or
  before it (another run may have moved it meanwhile), or the read was capped from the very mark it saw.
  The mark never moves back. A dry run, a manual ``netsuite_ids`` run, or a run that fails before that
  task never moves it; a full resync reads everything and may set it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from crsync.records import RunSummary
from crsync.runtime.windows import SyncWindow

log = logging.getLogger(__name__)


def mark_variable(flow_id: str) -> str:
    """The Airflow Variable holding a flow's high-water mark."""
    return f"{flow_id}.read_through"


def parse_mark(name: str, value: Any) -> datetime | None:
    """The mark held by Variable ``name``, or None (with a warning) when it is not a usable timestamp."""
    if value in (None, ""):
        return None
    text = str(value).strip().strip('"')
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        log.warning("Variable %s is not an ISO timestamp with a timezone (%r); ignoring it", name, value)
        return None
    return moment.astimezone(UTC)


def current_mark(flow_id: str) -> datetime | None:
    """The flow's mark now (an unusable value counts as none, with a warning)."""
    from airflow.sdk import Variable

    name = mark_variable(flow_id)
    return parse_mark(name, Variable.get(name, default=None))


def reach_back(
    window: SyncWindow, *, overlap: timedelta, mark: datetime | None, max_catch_up: timedelta
) -> tuple[timedelta, bool]:
    """How far before the window's start a run reads, and whether ``max_catch_up`` cut it short.

    The overlap alone when there is no mark or the mark is not before the window's start (a normal
    nightly run, or a backfill of an older window); else back to the mark minus the overlap.
    """
    if window.start is None or mark is None:
        return overlap, False
    start = _plain(window.start)
    if mark >= start:
        return overlap, False
    wanted = start - mark + overlap
    if wanted > max(max_catch_up, overlap):
        return max(max_catch_up, overlap), True
    return wanted, False


def next_mark(
    current: datetime | None,
    *,
    read_start: datetime | None,
    window_end: datetime,
    mark_seen: datetime | None,
    capped: bool,
) -> datetime | None:
    """The mark after a complete run, or None to leave it as it is.

    :param current: the mark now (read again: another run may have moved it since this one read).
    :param read_start: where this run's read started (None: a full resync, which read everything).
    :param mark_seen: the mark this run's read started from (None when there was none).
    :param capped: the read was cut short by ``nightly.max_catch_up_days`` (the summary said so).
    """
    if current is not None and window_end <= current:
        return None  # never back
    contiguous = (
        current is None or read_start is None or read_start <= current or (capped and mark_seen == current)
    )
    return window_end if contiguous else None


def outcome(
    flow_id: str, window: SyncWindow, read_window: SyncWindow, *, mark: datetime | None, capped: bool,
    max_catch_up_days: int,
) -> dict[str, Any]:  # fmt: skip
    """What ``extract`` read, for the task that advances the mark (JSON)."""
    reached = mark is not None and window.start is not None and mark < _plain(window.start)
    return {
        "variable": mark_variable(flow_id),
        "read_start": None if read_window.start is None else _plain(read_window.start).isoformat(),
        "window_end": _plain(window.end).isoformat(),
        "mark_seen": None if mark is None else mark.isoformat(),
        "read_from_mark": mark.isoformat() if reached and mark is not None else "",
        "capped": capped,
        "max_catch_up_days": max_catch_up_days,
    }


def advance(summary: RunSummary, state: dict[str, Any] | None, *, dry_run: bool, incomplete: str) -> None:
    """Report the catch-up on ``summary`` and advance the mark when the run dealt with every record.

    :param state: :func:`outcome` of the run's ``extract`` (None: a manual run for ``netsuite_ids``).
    :param incomplete: why some records were neither written nor remembered ("" when none).
    """
    if not state:
        return
    name = state["variable"]
    summary.read_through_variable = name
    summary.read_from_mark = state["read_from_mark"]
    summary.catch_up_capped = bool(state["capped"])
    summary.max_catch_up_days = state["max_catch_up_days"]
    if state["capped"]:
        log.warning(
            "Variable %s: the last successful read ended at %s, more than nightly.max_catch_up_days = %d "
            "day(s) before this window; changes between %s and %s were NOT read (run a backfill or a full "
            "resync for them)",
            name, state["read_from_mark"], state["max_catch_up_days"], state["read_from_mark"],
            state["read_start"],
        )  # fmt: skip
    current = current_mark(summary.flow)
    summary.read_through = "" if current is None else current.isoformat()
    if dry_run:
        summary.read_through_held = "dry run"
        return
    if incomplete:
        summary.read_through_held = incomplete
        log.warning("Variable %s not advanced: %s", name, incomplete)
        return
    new = next_mark(
        current,
        read_start=_parse(state["read_start"]),
        window_end=_parse(state["window_end"]) or datetime.now(UTC),
        mark_seen=_parse(state["mark_seen"]),
        capped=bool(state["capped"]),
    )
    if new is None:
        if current is not None and _parse(state["window_end"]) and _parse(state["window_end"]) > current:
            summary.read_through_held = (
                f"this run's read (from {state['read_start']}) does not reach the mark {current.isoformat()} "
                "that another run set meanwhile"
            )
            log.warning("Variable %s not advanced: %s", name, summary.read_through_held)
        return
    from airflow.sdk import Variable

    Variable.set(
        name,
        new.isoformat(),
        description=f"End of the last window {summary.flow} read and dealt with completely (written, or "
        "failed and remembered in its retry list); a run whose window starts later reads from here "
        "(managed by the flow; never moves back).",
    )
    summary.read_through = new.isoformat()
    log.info("Variable %s: read through %s (was %s)", name, new.isoformat(), current)


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _plain(value: datetime) -> datetime:
    """A stdlib UTC datetime (a scheduled run's data interval is pendulum's)."""
    return datetime.fromisoformat(value.astimezone(UTC).isoformat())

"""Half-open sync windows ``[start, end)`` from an Airflow run, with or without a logical date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class SyncWindow:
    """A half-open UTC window ``[start, end)``; ``start`` is None for a full resync."""

    start: datetime | None
    end: datetime

    def __post_init__(self) -> None:
        if self.end.tzinfo is None or (self.start is not None and self.start.tzinfo is None):
            raise ValueError("sync window bounds must be timezone-aware")
        if self.start is not None and self.start >= self.end:
            raise ValueError(f"empty sync window: start {self.start} is not before end {self.end}")

    def extended_back(self, by: timedelta) -> SyncWindow:
        """The same window starting ``by`` earlier (a full resync, with no start, stays as it is)."""
        if self.start is None or not by:
            return self
        # A plain datetime: pendulum's (a scheduled run's data interval) drops a stdlib tzinfo on arithmetic.
        start = datetime.fromisoformat(_utc(self.start).isoformat())
        return SyncWindow(start=start - by, end=self.end)

    def describe(self) -> str:
        start = "the beginning" if self.start is None else self.start.isoformat()
        return f"[{start}, {self.end.isoformat()})"


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _ceil_to_second(moment: datetime) -> datetime:
    """Query literals carry whole seconds: round a manual run's end up, so a record changed in the same
    second as the trigger is inside the window rather than cut off by truncation."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def window_from_context(context: Any, *, default_length: timedelta, full_resync: bool = False) -> SyncWindow:
    """The run's window.

    Scheduled and backfill runs carry ``data_interval_start``/``data_interval_end``. Manual and
    asset-triggered runs may have no logical date and therefore no data interval: their window ends
    at ``dag_run.run_after`` and is ``default_length`` long (the DAG's schedule period).
    """
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if start is None or end is None or start == end:
        end = _ceil_to_second(context["dag_run"].run_after)
        start = end - default_length
    end = _utc(end)
    return SyncWindow(start=None if full_resync else _utc(start), end=end)


def is_manual_run(context: Any) -> bool:
    """Whether the running DAG run was triggered by hand (UI form, CLI, REST API or ``dags test``)."""
    run_type = getattr(context["dag_run"], "run_type", None)  # Airflow's DagRun always has one
    return str(getattr(run_type, "value", run_type)) == "manual"


def until_run_started(window: SyncWindow, context: Any) -> SyncWindow:
    """A manual run's window extended to the moment the run was triggered (``run_after``, rounded up to
    the second); scheduled and backfill runs keep their window exactly.

    The UI trigger form (and ``dags test``) fill in a logical date, and Airflow gives such a run the
    schedule period that ends at or before it: the hour before the trigger. A run that reads what is
    queued must still read everything queued until it started, however it was triggered. A window whose
    end is later than the trigger (a logical date in the future) keeps its end.
    """
    if not is_manual_run(context):
        return window
    started = _utc(_ceil_to_second(context["dag_run"].run_after))
    return window if window.end >= started else SyncWindow(start=window.start, end=started)

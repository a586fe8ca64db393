"""What every flow DAG shares: schedules, start date, retries and the failure notifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import CronDataIntervalTimetable

from crsync.runtime.alerts import SyncFailureNotifier

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
NETSUITE_POOL = "netsuite_api"
# Pool slots one NetSuite load task takes; its bounded client uses that many parallel requests, so the
# pool (sized to the account limit) holds the limit across every worker. Keep it <= the pool size.
NETSUITE_TASK_SLOTS = 5

HOURLY = timedelta(hours=1)
DAILY = timedelta(days=1)


def hourly_timetable() -> CronDataIntervalTimetable:
    """Windows [HH:00, HH+1:00) UTC; the run starts when its window closes."""
    return CronDataIntervalTimetable("0 * * * *", timezone="UTC")


def nightly_timetable(minute: int = 0, hour: int = 2) -> CronDataIntervalTimetable:
    """Daily windows ending at ``hour:minute`` UTC (02:00 by default, after NetSuite's nightly scripts)."""
    return CronDataIntervalTimetable(f"{minute} {hour} * * *", timezone="UTC")


def default_args() -> dict:
    return {
        "owner": "data-integration",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "on_failure_callback": SyncFailureNotifier(),
    }

"""What every flow DAG shares: schedules, start date, retries, time limits, pools and the failure notifier.

Time limits (docs/operations.md, "Time limits"). A stalled connection is caught first, within minutes, by
the request timeouts of the settings' ``http`` section (every HTTP call, one retry). These limits are the
backstop for anything else that never ends (a hung worker, a lock wait, a backlog far beyond one run):

============  ==========================  ================================================================
cadence       ``execution_timeout``        ``dagrun_timeout``
              (each try of each task)      (the whole run, retries included)
============  ==========================  ================================================================
hourly        45 min                       3 h: at most two missed hours, then the next run starts
nightly       3 h                          12 h: ends well before the next night's run
============  ==========================  ================================================================

A task over its limit fails (and is retried like any failure); a run over its limit fails with its
unfinished tasks stopped. Both are reported through :class:`SyncFailureNotifier`, which says what timed
out, after how long and what to check.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from airflow.sdk import CronDataIntervalTimetable, task

from crsync.runtime.alerts import SyncFailureNotifier

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
NETSUITE_POOL = "netsuite_api"
#: Pool slots of a task that only reads NetSuite (one request at a time: its hook is bounded to 1).
NETSUITE_READ_SLOTS = 1
#: Used when the settings file cannot be read at parse time (the tasks then fail at once saying why).
DEFAULT_NETSUITE_TASK_SLOTS = 5


def netsuite_task_slots() -> int:
    """Pool slots of a NetSuite load task = its concurrent requests: the setting ``netsuite.concurrency``.

    ``pool_slots`` must be known when the DAG is parsed, so this reads the settings file then. It is the one
    input a DAG file takes at parse time: one small local file (no network, no metadata DB, no Variable or
    Connection), cached per file version, so a re-parse after an edit picks the new value up. A file that
    does not validate gives :data:`DEFAULT_NETSUITE_TASK_SLOTS` here and fails every task at its start with
    the file's errors. docs/operations.md, "The netsuite_api pool".
    """
    from crsync.settings import DEFAULT_SETTINGS_FILE, SETTINGS_ENV_VAR

    path = Path(os.environ.get(SETTINGS_ENV_VAR) or DEFAULT_SETTINGS_FILE)
    try:
        version = path.stat().st_mtime_ns
    except OSError:
        return DEFAULT_NETSUITE_TASK_SLOTS
    return _concurrency_setting(str(path), version)


@lru_cache(maxsize=8)
def _concurrency_setting(path: str, version: int) -> int:
    from crsync.settings import SettingsError, load_settings

    try:
        return load_settings(path).netsuite.concurrency
    except (SettingsError, ValueError, OSError):  # never an import error: the tasks report the file's errors
        return DEFAULT_NETSUITE_TASK_SLOTS

#: The options of a task that hands a batch of records on (extract, transform, order_chunks): its value goes
#: to object storage for the next task, and only its count goes into its log. Airflow's "Done. Returned value
#: was: ..." would write every record (megabytes of customer data) into the task log, where nobody can read
#: it, and the worker's supervisor would run the secrets masker over it (seconds of CPU while the next tasks
#: of the run start).
BATCH_TASK = {"multiple_outputs": False, "show_return_value_in_logs": False}

#: The options of a nightly flow's task that ends the run's writes (crsync.runtime.flows.retry.finish): it
#: reads, changes and writes back the flow's retry list (and the contract items' waiting list) and its
#: read-through mark. Runs of one flow can be active together (backfill runs are not held by
#: max_active_runs), and Variables have no compare-and-set, so two at once could each drop the other's
#: failed ids; Airflow's scheduler holds this across every run of the DAG.
FINISHES_RUN = {"max_active_tis_per_dag": 1}

HOURLY = timedelta(hours=1)
DAILY = timedelta(days=1)

#: cadence -> (execution_timeout of each task try, dagrun_timeout of the run); see the module docstring.
TIME_LIMITS: dict[timedelta, tuple[timedelta, timedelta]] = {
    HOURLY: (timedelta(minutes=45), timedelta(hours=3)),
    DAILY: (timedelta(hours=3), timedelta(hours=12)),
}


def hourly_timetable() -> CronDataIntervalTimetable:
    """Windows [HH:00, HH+1:00) UTC; the run starts when its window closes."""
    return CronDataIntervalTimetable("0 * * * *", timezone="UTC")


def nightly_timetable(minute: int = 0, hour: int = 2) -> CronDataIntervalTimetable:
    """Daily windows ending at ``hour:minute`` UTC (02:00 by default, after NetSuite's nightly scripts)."""
    return CronDataIntervalTimetable(f"{minute} {hour} * * *", timezone="UTC")


def run_timeout(cadence: timedelta) -> timedelta:
    """``dagrun_timeout`` of a DAG run every ``cadence`` (HOURLY or DAILY)."""
    return TIME_LIMITS[cadence][1]


def run_timeout_notifier() -> SyncFailureNotifier:
    """The DAG-level ``on_failure_callback``: reports a run stopped by its ``dagrun_timeout`` (only that:
    task failures are reported by the tasks' own callback)."""
    return SyncFailureNotifier(run_timeouts_only=True)


def default_args(cadence: timedelta) -> dict:
    """Every task's defaults: retries, the failure notifier and the ``execution_timeout`` of the cadence."""
    return {
        "owner": "data-integration",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": TIME_LIMITS[cadence][0],
        "on_failure_callback": SyncFailureNotifier(),
    }


def report_task():
    """The last task of every sync flow, task id ``report``: logs the run summary it is given, records it for
    the sync health page and fails the run when any record failed (:func:`crsync.runtime.flows.common.report`).

    Call it inside the ``@dag`` function and pass it the summary: ``report_task()(load(...))``.
    """

    # One report at a time per flow, across all its runs: it reads, changes and writes back the flow's sync
    # health Variable (crsync.runtime.health_log.record_run), so two at once (backfill runs beside each other
    # or beside a manual run) would each write over the other's open errors.
    @task(task_id="report", multiple_outputs=False, max_active_tis_per_dag=1)
    def report(summary: dict) -> dict:
        from crsync.runtime.flows import common

        return common.report(summary)

    return report

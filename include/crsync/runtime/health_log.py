"""What the sync health page shows that Airflow does not keep itself: each flow's open errors (one row per
record that failed, first seen / last tried) and its last run's counts, plus the latest reconciliation.

One home for them: Airflow Variables, Airflow's public store for small values shared between runs (a task
writes them through the Task SDK, the API server reads them from the metadata DB, they survive restarts):

- ``<dag id>.open_errors``: :class:`FlowHealth` as JSON, rewritten by the flow's ``report`` task
  (:func:`record_run`): a record written by a run leaves it, a record that failed joins it (or, already
  there, gets its new code, message and ``last_tried``; ``first_seen`` stays). Airflow runs one report of a
  flow at a time (``max_active_tis_per_dag=1`` in ``crsync.runtime.dag_defaults.report_task``), so runs of
  one flow that end together cannot write over each other's rows. At most
  :data:`MAX_OPEN_ERRORS` rows are kept (the newest); the count of the others is kept in ``dropped``.
- ``<dag id>.resolved_errors``: ``{record key: {"by": user, "at": ISO time, "seen": ISO time}}``, written
  by the page's Resolve only (never by a task, so the two never overwrite each other; two Resolves lock
  its row in turn). A resolved row is hidden until the record fails again after ``seen``, the last try the
  page showed when Resolve was clicked.
- ``crsync_reconciliation.latest``: the latest reconciliation's counts and report paths
  (:func:`record_reconciliation`).

A dry run writes nothing here: it tried nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from crsync.records import NOT_QUEUED, RunSummary

log = logging.getLogger(__name__)

#: Open errors kept per flow (the newest by last try): a Variable stays small; the run summaries and
#: the write-back on each record keep the rest.
MAX_OPEN_ERRORS = 1000
#: The reconciliation DAG (crsync.runtime.flows.reconciliation.DAG_ID; repeated here so that the API
#: server's page does not import the flows) and the Variable its report task writes.
RECONCILIATION_DAG_ID = "crsync_reconciliation"
RECONCILIATION_VARIABLE = f"{RECONCILIATION_DAG_ID}.latest"
#: Added to a row whose Retry was refused because its Opportunity is not queued (Sync Status Error).
RETRY_NOT_QUEUED = (
    " (Retry was refused: the Opportunity is not queued. Fix the above, then click Create NetSuite Order on "
    "it in Salesforce; the next hourly run sends it)"
)


def errors_variable(flow_id: str) -> str:
    """The Airflow Variable holding a flow's :class:`FlowHealth`."""
    return f"{flow_id}.open_errors"


def resolved_variable(flow_id: str) -> str:
    """The Airflow Variable holding the page's Resolve marks for a flow."""
    return f"{flow_id}.resolved_errors"


class OpenError(BaseModel):
    """A record that failed and has not been written since."""

    key: str
    code: str
    message: str
    first_seen: dt.datetime
    last_tried: dt.datetime
    run_id: str = ""


class LastRun(BaseModel):
    """The counts of a flow's last (non-dry) run that reached its report."""

    run_id: str
    finished_at: dt.datetime
    read_window: str = ""
    read: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    skipped: int = 0


class FlowHealth(BaseModel):
    """One flow's open errors (newest first) and last run."""

    last_run: LastRun | None = None
    errors: list[OpenError] = Field(default_factory=list)
    dropped: int = 0


def apply_run(
    health: FlowHealth, summary: RunSummary, *, run_id: str, now: dt.datetime, limit: int = MAX_OPEN_ERRORS
) -> FlowHealth:
    """``health`` after a run: written records leave, failed ones join or are updated (pure)."""
    rows = {error.key: error for error in health.errors}
    for key in summary.written_keys:
        rows.pop(key, None)
    for failure in summary.every_failure:
        seen = rows.get(failure.key)
        code, message = failure.code, failure.message
        if seen is not None and code == NOT_QUEUED and seen.code != NOT_QUEUED:
            # A Retry of an Opportunity left in Error is refused before anything is sent (only a queued one
            # may create its order): keep the cause the row showed, which is what the user has to fix.
            code = seen.code
            message = seen.message if RETRY_NOT_QUEUED in seen.message else f"{seen.message}{RETRY_NOT_QUEUED}"
        rows[failure.key] = OpenError(
            key=failure.key,
            code=code,
            message=message,
            first_seen=seen.first_seen if seen else now,
            last_tried=now,
            run_id=run_id,
        )
    ordered = sorted(rows.values(), key=lambda e: (e.last_tried, e.key), reverse=True)
    return FlowHealth(
        last_run=LastRun(
            run_id=run_id,
            finished_at=now,
            read_window=summary.read_window,
            read=summary.read,
            created=summary.created,
            updated=summary.updated,
            failed=summary.failed,
            skipped=summary.skipped,
        ),
        errors=ordered[:limit],
        dropped=health.dropped + max(len(ordered) - limit, 0),
    )


def read_health(value: Any) -> tuple[FlowHealth, str]:
    """A Variable's value (JSON text, a dict or nothing) as :class:`FlowHealth`, and why it is not one
    (empty when it is, or when there is none): an unreadable value reads as an empty record."""
    if not value:
        return FlowHealth(), ""
    try:
        return (
            FlowHealth.model_validate_json(value)
            if isinstance(value, str)
            else FlowHealth.model_validate(value)
        ), ""
    except ValueError as exc:
        return FlowHealth(), str(exc).splitlines()[0]


def parse_health(value: Any) -> FlowHealth:
    """A Variable's value as :class:`FlowHealth`; unreadable is empty (the report task starts a new one)."""
    health, problem = read_health(value)
    if problem:
        log.warning("Sync health record is not readable (%s); starting a new one", problem)
    return health


def record_run(summary: RunSummary) -> None:
    """Rewrite the running flow's open errors and last run from its summary (the ``report`` task)."""
    if summary.dry_run or not summary.flow:
        return
    from airflow.sdk import Variable, get_current_context

    context = get_current_context()
    run_id = str(context["run_id"])
    name = errors_variable(summary.flow)
    health = apply_run(
        parse_health(Variable.get(name, default=None)), summary, run_id=run_id, now=dt.datetime.now(dt.UTC)
    )
    Variable.set(
        name,
        health.model_dump_json(),
        description=f"Open errors and last run of {summary.flow} for the sync health page (/crsync/); "
        "rewritten by the flow's report task.",
    )
    log.info("Sync health: %d open error(s) for %s (Variable %s)", len(health.errors), summary.flow, name)


def record_reconciliation(result: Mapping[str, Any]) -> None:
    """Keep the latest reconciliation's counts and report paths (its ``report`` task)."""
    from airflow.sdk import Variable

    latest = {
        "run_id": str(result.get("run_id") or ""),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "total": int(result.get("total") or 0),
        "counts": dict(result.get("counts") or {}),
        "reports": dict(result.get("reports") or {}),
    }
    Variable.set(
        RECONCILIATION_VARIABLE,
        latest,
        description="The latest reconciliation, for the sync health page (/crsync/).",
        serialize_json=True,
    )

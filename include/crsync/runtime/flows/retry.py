"""The nightly flows' retry list: NetSuite ids that failed in a run, read again by the flow's next run.

Each nightly flow keeps the ids in the Airflow Variable ``<dag id>.retry_ids`` (a JSON list of integers,
managed by the flow, visible and editable under Admin > Variables). A Variable is Airflow's public store
for small values shared between runs (``airflow.sdk.Variable`` from a task), it does not depend on the
run's window, and it survives restarts; the contract item flow keeps its waiting list the same way.

- ``extract``: a run with a window (scheduled, backfill, manual without ``netsuite_ids``, full resync)
  reads the remembered ids as well as its window; a manual run for ``netsuite_ids`` reads only those.
- the last task rewrites the list from the Variable's value *at that moment* (ids added meanwhile are
  kept): the ids this run read or found gone leave it, the ids that failed join it. A dry run only logs
  what it would write. A task that fails before that keeps the previous list.
- an id NetSuite no longer returns is dropped with a warning (it cannot succeed any more); a requested
  ``netsuite_ids`` id that does not exist fails the run (``not_found``) and is never remembered.
- the list holds at most ``nightly.retry_max_ids`` ids; failures beyond it are named in the run summary.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from crsync.records import RecordFailure, RunSummary
from crsync.runtime.flows import read_through
from crsync.runtime.flows.common import RunScope
from crsync.settings import IntegrationSettings

log = logging.getLogger(__name__)

#: Ids shown in full in log lines.
SHOWN = 50


def retry_variable(flow_id: str) -> str:
    """The Airflow Variable holding a flow's retry list."""
    return f"{flow_id}.retry_ids"


def remembered_ids(flow_id: str) -> list[int]:
    """The flow's retry list (an unreadable value counts as empty, with a warning)."""
    return netsuite_ids_in_variable(retry_variable(flow_id))


def netsuite_ids_in_variable(name: str) -> list[int]:
    """The NetSuite ids an Airflow Variable holds as a JSON list (the retry lists, the contract item flow's
    waiting list); an unreadable value counts as empty and a value that is not an id is ignored, with a
    warning."""
    from airflow.sdk import Variable

    value = Variable.get(name, default=[], deserialize_json=True)
    if not isinstance(value, list):
        log.warning("Variable %s is not a JSON list (%r); ignoring it", name, value)
        return []
    ids = sorted({int(v) for v in value if str(v).isdigit() and int(v) > 0})
    if len(ids) != len(value):
        log.warning("Variable %s: ignored %d value(s) that are not NetSuite ids", name, len(value) - len(ids))
    return ids


def ids_to_retry(scope: RunScope) -> list[int]:
    """The remembered ids this run reads again (none for a manual run naming its ids)."""
    if scope.ids:
        return []
    ids = remembered_ids(scope.flow_id)
    limit = scope.settings.nightly.retry_max_ids
    if len(ids) > limit:
        log.warning("Variable %s holds %d ids; reading the first %d (nightly.retry_max_ids)",
                    retry_variable(scope.flow_id), len(ids), limit)  # fmt: skip
        ids = ids[:limit]
    if ids:
        log.info("Retrying %d record(s) that failed in an earlier run: %s", len(ids), _show(ids))
    return ids


def extract_outcome(scope: RunScope, retried: list[int], read_ids: Iterable[Any]) -> dict[str, Any]:
    """What the run read, for the last task: window, overlap, retried, gone and missing ids (JSON)."""
    read = sorted({int(i) for i in read_ids if str(i).isdigit()})
    found = set(read)
    requested = sorted({int(i) for i in scope.ids})
    missing = [i for i in requested if i not in found]
    gone = [i for i in retried if i not in found]
    if missing:
        log.warning("%d requested NetSuite id(s) not found: %s", len(missing), _show(missing))
    if gone:
        log.warning(
            "%d retried id(s) no longer in NetSuite; they will be dropped: %s", len(gone), _show(gone)
        )
    window = scope.read_window
    mark = None
    if not scope.ids:  # a manual run for netsuite_ids never moves the flow's high-water mark
        mark = read_through.outcome(
            scope.flow_id, scope.window, window, mark=scope.read_through, capped=scope.catch_up[1],
            max_catch_up_days=scope.settings.nightly.max_catch_up_days,
        )  # fmt: skip
    return {
        "read_window": "" if scope.ids else window.describe(),
        "read_overlap_minutes": None
        if scope.ids or window.start is None
        else int(scope.read_overlap.total_seconds() // 60),
        "retried_ids": [i for i in retried if i in found],
        "gone_ids": gone,
        "missing_ids": missing,
        "read_ids": read,
        "read_through": mark,
    }


def finish(
    summary: RunSummary,
    outcome: dict[str, Any],
    *,
    failed_ids: Iterable[Any],
    dry_run: bool,
    settings: IntegrationSettings,
    not_found: str,
) -> RunSummary:
    """Report the window and the retries on ``summary``, fail the missing requested ids, rewrite the list;
    then advance the flow's high-water mark (:mod:`crsync.runtime.flows.read_through`) when every record
    was written or remembered.

    :param failed_ids: NetSuite ids of the records that failed in this run (non-numeric keys ignored).
    :param not_found: what a missing requested id is, for its failure message (e.g. "contract").
    """
    flow_id = summary.flow
    failed_ids = list(failed_ids)
    missing = set(outcome["missing_ids"])
    summary.add_failures(
        RecordFailure(
            key=str(i),
            code="not_found",
            message=f"NetSuite {not_found} {i} not found in NetSuite; check the id (manual run netsuite_ids)",
        )
        for i in sorted(missing)
    )
    failed = sorted({int(i) for i in failed_ids if str(i).isdigit()} - missing)
    limit = settings.nightly.retry_max_ids
    current = remembered_ids(flow_id)
    handled = set(outcome["read_ids"]) | set(outcome["gone_ids"])
    kept = [i for i in current if i not in handled and i not in failed]  # not read by this run
    wanted = failed + kept  # this run's failures first: they are known to be current
    new, overflow = sorted(wanted[:limit]), sorted(wanted[limit:])
    summary.read_window = outcome["read_window"]
    summary.read_overlap_minutes = outcome["read_overlap_minutes"]
    summary.retried_ids = [str(i) for i in outcome["retried_ids"]]
    summary.retry_gone_ids = [str(i) for i in outcome["gone_ids"]]
    summary.retry_remembered = len(current) if dry_run else len(new)  # a dry run leaves the list as it is
    summary.retry_overflow_ids = [str(i) for i in overflow]
    summary.retry_limit = limit
    summary.retry_variable = retry_variable(flow_id)
    if overflow:
        log.warning("Retry list full (nightly.retry_max_ids = %d): %d failed id(s) not remembered: %s",
                    limit, len(overflow), _show(overflow))  # fmt: skip
    _rewrite(flow_id, new, current, dry_run=dry_run, limit=limit)
    unkeyed = [i for i in failed_ids if not str(i).isdigit()]
    incomplete = "; ".join(
        reason
        for reason in (
            f"{len(overflow)} failed record(s) not remembered (retry list full)" if overflow else "",
            f"{len(unkeyed)} failure(s) without a NetSuite id, not remembered" if unkeyed else "",
        )
        if reason
    )
    # Only after the list is written: a failure is then read again by the next run whatever its window.
    read_through.advance(summary, outcome.get("read_through"), dry_run=dry_run, incomplete=incomplete)
    return summary


def _rewrite(flow_id: str, new: list[int], current: list[int], *, dry_run: bool, limit: int) -> None:
    """Write the retry list (a dry run only logs it)."""
    if new == current:
        log.info("Variable %s unchanged (%d id(s) to retry)", retry_variable(flow_id), len(new))
        return
    if dry_run:
        log.info("Dry run: would set Variable %s to %d id(s) (now %d): %s; nothing was written.",
                 retry_variable(flow_id), len(new), len(current), _show(new))  # fmt: skip
        return
    from airflow.sdk import Variable

    Variable.set(
        retry_variable(flow_id),
        new,
        description=f"NetSuite ids of records that failed in a run of {flow_id}; its next run reads them "
        f"again whatever its window, until they succeed (managed by the flow; at most {limit}).",
        serialize_json=True,
    )
    log.info("Variable %s: %d id(s) to retry (was %d)", retry_variable(flow_id), len(new), len(current))


def _show(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids[:SHOWN]) + (" ..." if len(ids) > SHOWN else "")

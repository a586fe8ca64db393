"""What every flow's tasks share: settings and params of the run, hooks, dry runs, NetSuite change scopes
and keyset reads, Salesforce lookups, upserts and refusals, write-result counts and the run report.

A helper two flow modules need lives here (or in a small module beside it), never in one of the flows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from crsync.ids import NETSUITE_CONN_ID, OPPORTUNITY_ID_PREFIX, SALESFORCE_CONN_ID
from crsync.queries import (
    ChangeScope,
    KeysetQuery,
    chunked,
    validate_netsuite_ids,
    validate_salesforce_ids,
)
from crsync.records import RecordFailure, RunSummary
from crsync.runtime.flows import read_through
from crsync.runtime.windows import SyncWindow, window_from_context
from crsync.settings import IntegrationSettings, SettingsError, load_settings
from crsync_provider.hooks.permanent import THEN_CLEAR

log = logging.getLogger(__name__)

#: Ids per SuiteQL ``IN (...)`` list (Oracle refuses more than 1,000 expressions in one list).
SUITEQL_IN_LIMIT = 1000


@dataclass(frozen=True)
class RunScope:
    """What one run covers: its window, or explicit ids, and whether it writes."""

    flow_id: str
    settings: IntegrationSettings
    window: SyncWindow
    ids: list[Any]
    dry_run: bool
    params: dict[str, Any]
    #: How far before the window's start the run reads (nightly flows: ``nightly.read_overlap_minutes``).
    read_overlap: timedelta = timedelta(0)
    #: The flow's high-water mark when the run started (nightly flows: :mod:`read_through`), if any.
    read_through: datetime | None = None
    #: How far before the window's start the run reads at most to reach the mark.
    max_catch_up: timedelta = timedelta(0)

    @property
    def catch_up(self) -> tuple[timedelta, bool]:
        """How far before the window's start the run reads, and whether ``max_catch_up`` cut it short."""
        return read_through.reach_back(
            self.window, overlap=self.read_overlap, mark=self.read_through, max_catch_up=self.max_catch_up
        )

    @property
    def read_window(self) -> SyncWindow:
        """The window the run reads: its own, extended back by the overlap, or back to the flow's
        high-water mark when the days since it never ran (capped by ``nightly.max_catch_up_days``)."""
        return self.window.extended_back(self.catch_up[0])

    def describe(self) -> str:
        scope = f"{len(self.ids)} requested id(s)" if self.ids else f"window {self.window.describe()}"
        if not self.ids and self.read_window != self.window:
            scope += f", read from {self.read_window.describe()} (overlap {self.read_overlap})"
            if self.catch_up[0] > self.read_overlap:
                capped = " (capped: nightly.max_catch_up_days)" if self.catch_up[1] else ""
                scope += f"; last successful read ended at {self.read_through}{capped}"
        return f"{self.flow_id}: {scope}{' (dry run: nothing is written)' if self.dry_run else ''}"


def enabled_settings(flow_id: str) -> IntegrationSettings:
    """The settings, or a clean skip (with the reason in the log) when the flow is disabled.

    A settings file that does not validate fails the task at once, without retries: retrying cannot fix it.
    """
    settings = checked_settings()
    if not getattr(settings.enabled_flows, flow_id):
        raise AirflowSkipException(
            f"Flow {flow_id} is disabled in the integration settings (enabled_flows.{flow_id}: false). "
            "Set it to true to run it."
        )
    return settings


def run_scope(
    context: Any, flow_id: str, *, window_length: timedelta, ids_param: str, read_overlap: bool = False
) -> RunScope:
    """Resolve settings, params and the window of the running task's DAG run.

    Also checks that the ``netsuite_api`` pool can hold the DAG's NetSuite tasks (a smaller pool fails the
    run here, at once, instead of leaving a load task waiting for ever): :mod:`crsync.runtime.pools`.

    :param read_overlap: read ``nightly.read_overlap_minutes`` before the window's start (the nightly
        flows: a record committed late at the boundary is read by the next run).
    """
    from crsync.runtime.pools import check_netsuite_pool

    settings = enabled_settings(flow_id)
    check_netsuite_pool(
        context,
        concurrency_setting=settings.netsuite.concurrency,
        timeout=(settings.http.connect_timeout, settings.http.read_timeout),
    )
    params = dict(context.get("params") or {})
    ids = list(params.get(ids_param) or [])
    validate_run_ids(ids_param, ids)
    full_resync = bool(params.get("full_resync", False))
    window = window_from_context(context, default_length=window_length, full_resync=full_resync)
    # The nightly flows' high-water mark: reach back over days that never ran (catchup=False).
    mark = read_through.current_mark(flow_id) if read_overlap and not ids and not full_resync else None
    scope = RunScope(
        flow_id=flow_id,
        settings=settings,
        window=window,
        ids=ids,
        dry_run=bool(params.get("dry_run", False)),
        params=params,
        read_overlap=timedelta(minutes=settings.nightly.read_overlap_minutes)
        if read_overlap
        else timedelta(0),
        read_through=mark,
        max_catch_up=timedelta(days=settings.nightly.max_catch_up_days),
    )
    log.info("Scope: %s", scope.describe())
    return scope


def validate_run_ids(ids_param: str, ids: list[Any]) -> None:
    """Fail the task at once (no retries: the same ids fail again) when a requested id is not valid.

    The trigger form checks the ids' shape; this also checks what it cannot, such as the checksum of an
    18-character Salesforce id.
    """
    if not ids:
        return
    try:
        if ids_param == "opportunity_ids":
            validate_salesforce_ids(ids, prefix=OPPORTUNITY_ID_PREFIX)
        else:
            validate_netsuite_ids(ids)
    except ValueError as exc:
        raise AirflowFailException(
            f"Param {ids_param!r}: {exc}. Fix the ids and trigger a new run (retrying cannot fix them)"
        ) from exc


def checked_settings() -> IntegrationSettings:
    """The settings; a file that does not validate fails the task at once (retrying cannot fix it)."""
    try:
        return load_settings()
    except SettingsError as exc:
        raise AirflowFailException(f"{exc} (fix the settings file, {THEN_CLEAR})") from exc


def netsuite_hook(*, concurrency: int = 1):
    """The NetSuite hook with the settings' timeouts (a connection's ``timeout`` extras still win).

    :param concurrency: requests this task may have in flight: its ``netsuite_api`` pool slots (1 for the
        tasks that only read; ``netsuite.concurrency`` for the load tasks). Never above the connection's
        ``concurrency_limit``, whatever the pool's size.
    """
    from crsync_provider.hooks.netsuite import NetSuiteHook

    http = checked_settings().http
    return NetSuiteHook(
        NETSUITE_CONN_ID,
        concurrency_limit=concurrency,
        default_timeout=(http.connect_timeout, http.read_timeout),
    )


def salesforce_hook():
    """The Salesforce hook with the settings' connect/read timeouts on every request."""
    from crsync_provider.hooks.salesforce import SalesforceSyncHook

    http = checked_settings().http
    return SalesforceSyncHook(
        SALESFORCE_CONN_ID, connect_timeout=http.connect_timeout, read_timeout=http.read_timeout
    )


def log_dry_run(what: str, records: list[dict[str, Any]], *, shown: int = 5) -> None:
    """Show what a dry run would write (the first few records in full)."""
    log.info("Dry run: would write %d %s record(s); nothing was written.", len(records), what)
    for record in records[:shown]:
        log.info("  would write: %s", record)


def report(summary: dict[str, Any]) -> dict[str, Any]:
    """Log the run summary; fail the run (after all writes and write-backs) when any record failed.

    A dry run (a summary marked ``dry_run``) is not failed by its refusals: it lists what a real run would
    refuse. It goes red only when a task could not do its part (a system unreachable, bad settings or
    params), which fails that task before the report.
    """
    from crsync.runtime import health_log

    run = RunSummary.model_validate(summary)
    text = run.render()
    log.info("%s", text)
    health_log.record_run(run)  # the sync health page's open errors, before the run is failed
    if not run.ok and not run.dry_run:
        raise AirflowFailException(text)
    return run.as_dict()


# --------------------------------------------------------------------------------------------------
# NetSuite reads of the nightly flows
# --------------------------------------------------------------------------------------------------


def change_scopes(scope: RunScope) -> list[ChangeScope]:
    """The NetSuite change scopes of a run: named ids (in chunks), everything, or the run's window."""
    if scope.ids:
        ids = validate_netsuite_ids(scope.ids)
        return [ChangeScope.by_ids(part) for part in chunked(ids, SUITEQL_IN_LIMIT)]
    window = scope.read_window  # the run's window extended back by the overlap
    if window.start is None:
        return [ChangeScope.full()]
    return [ChangeScope.window(window.start, window.end)]


def keyset_rows(query: KeysetQuery, *, page_size: int, hook: Any = None) -> Iterator[dict[str, Any]]:
    """All rows of a keyset query, paged by the hook's one keyset pager (``key > last key``, no offset cap)."""
    return (hook or netsuite_hook()).suiteql_keyset(query, page_size=page_size)


# --------------------------------------------------------------------------------------------------
# Salesforce lookups, writes and refusals
# --------------------------------------------------------------------------------------------------


def salesforce_ids_with(
    soql_for: Any,
    netsuite_ids: Sequence[str],
    *,
    chunk_size: int,
    field: str = "NetSuite_Id__c",
    sf: Any = None,
) -> set[str]:
    """NetSuite ids (``field``) that Salesforce records carry, one SOQL query per chunk of ids."""
    wanted = sorted({str(i) for i in netsuite_ids if str(i).isdigit()}, key=int)
    if not wanted:
        return set()
    sf = sf or salesforce_hook()
    found: set[str] = set()
    for part in chunked(wanted, chunk_size):
        for record in sf.query(soql_for(part), strip_attributes=True):
            if record.get(field) not in (None, ""):
                found.add(str(record[field]))
    return found


def salesforce_upsert(
    sobject: str,
    external_id_field: str,
    records: list[dict[str, Any]],
    settings: IntegrationSettings,
    context: Any = None,
    *,
    sf: Any = None,
    bulk_threshold: int | None = None,
) -> list[dict[str, Any]]:
    """Upsert by external id: collections (``batch_sizes.salesforce_collection`` a call), or Bulk API 2.0
    above ``bulk_threshold`` (default: the settings' ``salesforce.bulk_threshold``).

    Returns one design.md write result per record, in order (a refused record is a ``failed`` result: the
    others are written all the same); points the running task's "Open in Salesforce" link at what it wrote
    (no link without ``context``).
    """
    from crsync_provider.hooks.salesforce import to_write_results
    from crsync_provider.links import link_task_to_salesforce

    if not records:
        return []
    sf = sf or salesforce_hook()
    threshold = settings.salesforce.bulk_threshold if bulk_threshold is None else bulk_threshold
    if len(records) > threshold:
        log.info("Upserting %d %s record(s) through Bulk API 2.0", len(records), sobject)
        results = sf.upsert_bulk(sobject, external_id_field, records)
    else:
        log.info("Upserting %d %s record(s) through sObject Collections", len(records), sobject)
        results = sf.upsert_collection(
            sobject, external_id_field, records, chunk_size=settings.batch_sizes.salesforce_collection
        )
    write_results = to_write_results(records, results, external_id_field=external_id_field)
    link_task_to_salesforce(context, sf.instance_url, sobject, write_results)
    return write_results


def salesforce_errors(result: Mapping[str, Any]) -> str:
    """What Salesforce said about one record it refused: ``statusCode: message`` per error, ``; `` between."""
    return "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in result.get("errors") or [])


def salesforce_refusals(
    records: Sequence[Any],
    outcome: Sequence[Mapping[str, Any]],
    *,
    code: str,
    key: Callable[[Any], str],
    refused: Callable[[Any], str],
    done_codes: Collection[str] = (),
) -> list[RecordFailure]:
    """A failure for each record Salesforce refused in ``outcome`` (its per-record results, in order).

    :param key: the failure's key for a record.
    :param refused: what was refused, for a record; the message is ``<refused>: <Salesforce's errors>``.
    :param done_codes: error codes that mean the record is as wanted already (``ENTITY_IS_DELETED`` for a
        delete): not a failure.
    """
    failures = []
    for record, result in zip(records, outcome, strict=True):
        codes = {str(e.get("statusCode")) for e in result.get("errors") or []}
        if result.get("success") or codes & set(done_codes):
            continue
        message = f"{refused(record)}: {salesforce_errors(result)}"
        failures.append(RecordFailure(key=key(record), code=code, message=message))
    return failures


def count_statuses(results: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Write results per status (``created``, ``updated``, ``failed``), for the task log."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return counts

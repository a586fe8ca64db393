"""The shapes passed between transforms, operators and DAGs (design.md, "Interfaces").

Batches travel through XCom as plain JSON-serialisable dicts: build them with ``model_dump(mode="json")``
(or :func:`dump_all`) and read them back with ``Model.model_validate(d)`` (or :func:`load_all`).
Operators use these models without importing pandas.

What one task of a flow hands the next (``extract``'s read, ``transform``'s plan, a load's outcome) is a
:class:`TaskPayload`: ``to_xcom()`` when a task returns it, ``from_xcom()`` at the start of the task given
it, so a field is read by name and checked, never looked up by a string key.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crsync.ids import NETSUITE_INTERNAL_ID, WriteStatus, is_netsuite_external_id

#: NetSuite accepts only letters, digits, ``_`` and ``-`` in an external id used in a URL.
#: Failure code of an update-only write whose record does not exist (nothing was created).
NOT_QUEUED = "not_queued"
#: How many failing records a summary keeps in full (the counts are always complete).
DEFAULT_FAILURES_KEPT = 20


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransformFrom(_Record):
    """Create the record by transforming another one (``POST record/v1/<record_type>/<id>/!transform/...``)."""

    record_type: str
    id: str

    @field_validator("id")
    @classmethod
    def _numeric_id(cls, value: str) -> str:
        if not NETSUITE_INTERNAL_ID.fullmatch(value):  # ASCII digits (isdigit also takes other scripts')
            raise ValueError(f"NetSuite internal id must be digits, got {value!r}")
        return value


class NetSuiteWrite(_Record):
    """One NetSuite write instruction.

    Without ``transform_from``: ``PUT record/v1/<record_type>/eid:<external_id>?replace=item``. With it:
    transform unless a record with ``external_id`` exists, else upsert. With ``update_only``: only a
    record that already exists is written; otherwise the result is ``failed`` (code
    :data:`NOT_QUEUED`) and nothing is created (a re-send of a source record nobody queued). With
    ``create_only``: the record is created when no record has ``external_id``; one that exists is left as
    it is (status ``unchanged``, its id returned): a customer is NetSuite's once it exists.
    ``create_only_fields`` are body fields sent only when the record is created (an order's approval
    status: a re-send must not approve again an order a NetSuite user set back to Pending Approval).
    """

    key: str
    record_type: str
    external_id: str
    body: dict[str, Any]
    transform_from: TransformFrom | None = None
    update_only: bool = False
    create_only: bool = False
    create_only_fields: list[str] = Field(default_factory=list)

    @field_validator("external_id")
    @classmethod
    def _safe_external_id(cls, value: str) -> str:
        if not is_netsuite_external_id(value):
            raise ValueError(f"external id {value!r} may contain only letters, digits, '_' and '-'")
        return value


class WriteError(_Record):
    """Why a system refused one record."""

    code: str
    message: str
    path: str | None = None


class WriteResult(_Record):
    """The outcome of writing one record; load operators return one per input record, in order."""

    key: str
    external_id: str
    status: WriteStatus
    id: str | None = None
    error: WriteError | None = None

    @property
    def ok(self) -> bool:
        """Whether the record was written."""
        return self.status != "failed"


class RecordFailure(_Record):
    """A record that a transform refused; ``message`` says what to fix."""

    key: str
    code: str
    message: str

    @classmethod
    def from_result(cls, result: WriteResult) -> RecordFailure:
        """The failure of a refused write, for write-back and summaries."""
        error = result.error or WriteError(code="UNKNOWN", message="the system refused the record")
        where = f" (at {error.path})" if error.path else ""
        return cls(key=result.key, code=error.code, message=f"{error.message}{where}")


class SalesforceUpsertBatch(_Record):
    """Records for one Salesforce upsert: each record dict includes ``external_id_field``."""

    sobject: str
    external_id_field: str
    records: list[dict[str, Any]] = Field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)


class RunSummary(_Record):
    """Counts and first failures of one run (or one task), mergeable across tasks."""

    flow: str = ""
    read: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    skipped: int = 0
    failures_by_code: dict[str, int] = Field(default_factory=dict)
    skipped_by_reason: dict[str, int] = Field(default_factory=dict)
    first_failures: list[RecordFailure] = Field(default_factory=list)
    failures_kept: int = DEFAULT_FAILURES_KEPT
    #: The window the run read (nightly flows: the data interval extended back by the overlap).
    read_window: str = ""
    #: Minutes read before the window's start (``nightly.read_overlap_minutes``); None when not a window run.
    read_overlap_minutes: int | None = None
    #: NetSuite ids that failed in an earlier run and were read again in this one.
    retried_ids: list[str] = Field(default_factory=list)
    #: Retried ids NetSuite no longer has: dropped from the retry list (with a warning).
    retry_gone_ids: list[str] = Field(default_factory=list)
    #: Failed ids remembered for the next run (the retry list's length after this run).
    retry_remembered: int = 0
    #: Failed ids not remembered because the retry list is full.
    retry_overflow_ids: list[str] = Field(default_factory=list)
    #: The retry list's limit (``nightly.retry_max_ids``) and its Airflow Variable, for the rendered text.
    retry_limit: int | None = None
    retry_variable: str = ""
    #: A dry run: nothing was written; its refusals are what a real run would refuse (a report, not a failure).
    dry_run: bool = False
    #: The flow's high-water mark the read reached back to (days that never ran); "" when it did not.
    read_from_mark: str = ""
    #: The reach back was cut short by ``nightly.max_catch_up_days`` (its value alongside).
    catch_up_capped: bool = False
    max_catch_up_days: int | None = None
    #: The flow's high-water mark after the run, its Airflow Variable, and why the run did not advance it.
    read_through: str = ""
    read_through_variable: str = ""
    read_through_held: str = ""
    #: Keys of the records written (created or updated) and every failure in full: what the sync health
    #: page's open errors are made of (:mod:`crsync.runtime.health_log`); not rendered.
    written_keys: list[str] = Field(default_factory=list)
    every_failure: list[RecordFailure] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no record failed and no change was left unread (the run fails otherwise): a catch-up cut
        short by ``nightly.max_catch_up_days`` fails the run it happened in, so its alert asks for the
        backfill (the mark moves on all the same, so the next run is not failed again for it)."""
        return self.failed == 0 and not self.catch_up_capped

    def add_read(self, count: int) -> RunSummary:
        """Count records read from the source."""
        self.read += count
        return self

    def add_results(self, results: Iterable[WriteResult | Mapping[str, Any]]) -> RunSummary:
        """Count write results; failed writes are recorded as failures."""
        for result in load_all(WriteResult, results):
            if result.status == "created":
                self.created += 1
                self.written_keys.append(result.key)
            elif result.status == "updated":
                self.updated += 1
                self.written_keys.append(result.key)
            elif result.status == "unchanged":
                self.written_keys.append(result.key)
            else:
                self._add_failure(RecordFailure.from_result(result))
        return self

    def add_failures(self, failures: Iterable[RecordFailure | Mapping[str, Any]]) -> RunSummary:
        """Count records refused by a transform."""
        for failure in load_all(RecordFailure, failures):
            self._add_failure(failure)
        return self

    def add_skipped(self, reason: str, count: int = 1) -> RunSummary:
        """Count records deliberately not written (e.g. already ordered, disabled flow)."""
        if count:
            self.skipped += count
            self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + count
        return self

    def merge(self, other: RunSummary | Mapping[str, Any]) -> RunSummary:
        """A new summary adding ``other`` (e.g. the summary of another mapped task) to this one."""
        theirs = other if isinstance(other, RunSummary) else RunSummary.model_validate(other)
        merged = self.model_copy(deep=True)
        merged.flow = self.flow or theirs.flow
        merged.read += theirs.read
        merged.created += theirs.created
        merged.updated += theirs.updated
        merged.failed += theirs.failed
        merged.skipped += theirs.skipped
        merged.failures_by_code = dict(Counter(self.failures_by_code) + Counter(theirs.failures_by_code))
        merged.skipped_by_reason = dict(Counter(self.skipped_by_reason) + Counter(theirs.skipped_by_reason))
        room = max(merged.failures_kept - len(merged.first_failures), 0)
        merged.first_failures.extend(theirs.first_failures[:room])
        merged.read_window = self.read_window or theirs.read_window
        if merged.read_overlap_minutes is None:
            merged.read_overlap_minutes = theirs.read_overlap_minutes
        merged.retried_ids += theirs.retried_ids
        merged.retry_gone_ids += theirs.retry_gone_ids
        merged.retry_remembered += theirs.retry_remembered
        merged.retry_overflow_ids += theirs.retry_overflow_ids
        merged.retry_limit = self.retry_limit if self.retry_limit is not None else theirs.retry_limit
        merged.retry_variable = self.retry_variable or theirs.retry_variable
        merged.dry_run = self.dry_run or theirs.dry_run
        merged.read_from_mark = self.read_from_mark or theirs.read_from_mark
        merged.catch_up_capped = self.catch_up_capped or theirs.catch_up_capped
        if merged.max_catch_up_days is None:
            merged.max_catch_up_days = theirs.max_catch_up_days
        merged.read_through = self.read_through or theirs.read_through
        merged.read_through_variable = self.read_through_variable or theirs.read_through_variable
        merged.read_through_held = self.read_through_held or theirs.read_through_held
        merged.written_keys += theirs.written_keys
        merged.every_failure += theirs.every_failure
        return merged

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the run's return value)."""
        return self.model_dump(mode="json")

    def render(self) -> str:
        """Human-readable summary for task logs and alerts."""
        if self.dry_run:
            return self._render_dry_run()
        title = f"Run summary{f' for {self.flow}' if self.flow else ''}: {'OK' if self.ok else 'FAILED'}"
        lines = [
            title,
            f"  read {self.read}, created {self.created}, updated {self.updated}, "
            f"failed {self.failed}, skipped {self.skipped}",
        ]
        lines += self._render_window_and_retries()
        lines += _by_reason_lines("  failures by reason:", self.failures_by_code)
        lines += _by_reason_lines("  skipped by reason:", self.skipped_by_reason)
        shown = len(self.first_failures)
        lines += _failure_lines(f"  first {shown} failing record(s) of {self.failed}:", self.first_failures)
        return "\n".join(lines)

    def _render_dry_run(self) -> str:
        """A dry run's summary: what a real run would write and what it would refuse, and why."""
        would_write = self.skipped_by_reason.get("dry_run", 0)
        lines = [
            f"Run summary{f' for {self.flow}' if self.flow else ''}: DRY RUN, nothing was written",
            f"  read {self.read}, would write {would_write}, would refuse {self.failed}",
        ]
        lines += self._render_window_and_retries()
        lines += _by_reason_lines("  would refuse, by reason:", self.failures_by_code)
        shown = len(self.first_failures)
        lines += _failure_lines(
            f"  first {shown} record(s) a real run would refuse, of {self.failed}:", self.first_failures
        )
        return "\n".join(lines)

    def _render_window_and_retries(self, shown: int = 20) -> list[str]:
        def ids(values: list[str]) -> str:
            return ", ".join(values[:shown]) + (f" ... ({len(values)} in all)" if len(values) > shown else "")

        lines = []
        if self.read_window:
            overlap = self.read_overlap_minutes
            lines.append(
                f"  read {self.read_window}"
                + (
                    f", {overlap} minute(s) before the window start (nightly.read_overlap_minutes)"
                    if overlap
                    else ""
                )
            )
        lines += self._render_catch_up()
        if self.retried_ids:
            lines.append(
                f"  retried {len(self.retried_ids)} record(s) that failed in an earlier run: {ids(self.retried_ids)}"
            )
        if self.retry_gone_ids:
            lines.append(
                f"  {len(self.retry_gone_ids)} retried id(s) no longer in NetSuite, dropped from the retry list: "
                f"{ids(self.retry_gone_ids)}"
            )
        if self.retry_remembered:
            where = f" (Airflow Variable {self.retry_variable})" if self.retry_variable else ""
            lines.append(f"  {self.retry_remembered} failed id(s) remembered for the next run{where}")
        if self.retry_overflow_ids:
            lines.append(
                f"  {len(self.retry_overflow_ids)} failed id(s) NOT remembered: the retry list is full "
                f"(nightly.retry_max_ids = {self.retry_limit}); re-run them with netsuite_ids: "
                f"{ids(self.retry_overflow_ids)}"
            )
        return lines

    def _render_catch_up(self) -> list[str]:
        """The high-water mark: days that never ran, read now (or not: capped), and where it stands."""
        lines = []
        where = f" (Airflow Variable {self.read_through_variable})" if self.read_through_variable else ""
        if self.read_from_mark and self.catch_up_capped:
            lines.append(
                f"  the last successful read ended at {self.read_from_mark}{where}, more than "
                f"nightly.max_catch_up_days = {self.max_catch_up_days} day(s) before this window: changes "
                "before the start above were NOT read; run a backfill or a full resync for them"
            )
        elif self.read_from_mark:
            lines.append(
                f"  read from {self.read_from_mark} (last successful read{where}): the days since then "
                "had not been read"
            )
        if self.read_through_held:
            lines.append(f"  read-through mark not advanced{where}: {self.read_through_held}")
        elif self.read_through:
            lines.append(f"  every change read through {self.read_through}{where}")
        return lines

    def _add_failure(self, failure: RecordFailure) -> None:
        self.failed += 1
        self.failures_by_code[failure.code] = self.failures_by_code.get(failure.code, 0) + 1
        self.every_failure.append(failure)
        if len(self.first_failures) < self.failures_kept:
            self.first_failures.append(failure)


def _by_reason_lines(heading: str, counts: Mapping[str, int]) -> list[str]:
    """``heading`` and one ``reason: n`` line per reason, most first; nothing when there is none."""
    if not counts:
        return []
    return [heading, *(f"    {reason}: {n}" for reason, n in sorted(counts.items(), key=_by_count))]


def _failure_lines(heading: str, failures: Sequence[RecordFailure]) -> list[str]:
    """``heading`` and one ``key [code] message`` line per failure; nothing when there is none."""
    if not failures:
        return []
    return [heading, *(f"    {f.key} [{f.code}] {f.message}" for f in failures)]


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


M = TypeVar("M", bound=BaseModel)


def load_all(model: type[M], items: Iterable[M | Mapping[str, Any]]) -> list[M]:
    """Validate XCom dicts (or pass through models) as ``model``."""
    return [item if isinstance(item, model) else model.model_validate(item) for item in items]


def dump_all(items: Iterable[BaseModel]) -> list[dict[str, Any]]:
    """JSON-serialisable dicts of models, for XCom."""
    return [item.model_dump(mode="json") for item in items]


def dump_and_release(items: list[BaseModel]) -> list[dict[str, Any]]:
    """Like :func:`dump_all`, but empties ``items`` as it goes: each model is dropped once dumped, so a
    large batch is never held twice over (models and dicts) at the transform's peak."""
    dumped: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        dumped.append(item.model_dump(mode="json"))
        items[index] = None  # type: ignore[call-overload]
    items.clear()
    return dumped


# ------------------------------------------------------------------------------------------------------
# What a flow's tasks hand each other: plain JSON through XCom (the object-storage backend stores it as
# it is), validated back into the model at the start of the next task.
# ------------------------------------------------------------------------------------------------------

P = TypeVar("P", bound="TaskPayload")


class TaskPayload(_Record):
    """A payload passed from one task of a flow to the next.

    Source rows and records already built as JSON (``list[dict]``) are kept as they are: the mapping or
    the hook that reads them validates them, and :meth:`to_xcom` hands them on without a second copy.
    """

    #: Fields holding plain JSON already: :meth:`to_xcom` passes them on as they are (no copy).
    _plain_json: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_xcom(cls: type[P], payload: P | Mapping[str, Any] | str) -> P:
        """The payload a task was given (an XCom dict, or the JSON text of :meth:`to_xcom_text`), validated."""
        if isinstance(payload, cls):
            return payload
        return cls.model_validate(json.loads(payload) if isinstance(payload, str) else payload)

    def to_xcom(self) -> dict[str, Any]:
        """Plain JSON for XCom."""
        dumped = self.model_dump(mode="json", exclude=set(self._plain_json))
        dumped.update({name: getattr(self, name) for name in self._plain_json})
        return dumped

    def to_xcom_text(self) -> str:
        """The payload as one JSON text, for the list a task is mapped over.

        Every mapped task pulls the whole list, and Airflow's XCom decoder visits each value of it (serde:
        about 2-3 s of CPU per task for 1,500 sales orders, while the other load tasks are sending); a list of
        texts it hands over as it is, and each task decodes only its own element (``json.loads``).
        """
        return json.dumps(self.to_xcom(), separators=(",", ":"))


class OpportunityExtract(TaskPayload):
    """``sf_opportunity_to_ns_sales_order``: what ``extract`` read for ``transform``."""

    _plain_json = ("opportunities",)

    dry_run: bool
    mode: str
    opportunities: list[dict[str, Any]]
    #: Named ids (18 characters) Salesforce does not have.
    missing_ids: list[str] = Field(default_factory=list)


class SalesOrderPlan(TaskPayload):
    """``sf_opportunity_to_ns_sales_order``: ``transform``'s plan for the load tasks and ``write_back``."""

    _plain_json = ("customers", "orders")

    dry_run: bool
    #: Opportunities read.
    read: int
    #: :class:`NetSuiteWrite` dumps: the customers to create first, then the orders (the largest part).
    customers: list[dict[str, Any]] = Field(default_factory=list)
    orders: list[dict[str, Any]] = Field(default_factory=list)
    failures: list[RecordFailure] = Field(default_factory=list)
    #: Opportunity id -> ``SystemModstamp`` at extract (an Opportunity changed since is not written back).
    guards: dict[str, str] = Field(default_factory=dict)
    #: Orders per mapped load task (``batch_sizes.netsuite_writes_per_task``).
    chunk_size: int = Field(ge=1)


class OrderChunk(TaskPayload):
    """``sf_opportunity_to_ns_sales_order``: the orders of one mapped ``load_orders`` task."""

    _plain_json = ("orders",)

    dry_run: bool
    orders: list[dict[str, Any]] = Field(default_factory=list)


class LoadOutcome(TaskPayload):
    """What a load task wrote: design.md write results, and the records it refused before writing."""

    results: list[WriteResult] = Field(default_factory=list)
    failures: list[RecordFailure] = Field(default_factory=list)


class NightlyPayload(TaskPayload):
    """What every task of a nightly flow (NetSuite to Salesforce) hands on: the dry run flag, and
    ``extract``'s retry and read-through state (:func:`crsync.runtime.flows.retry.extract_outcome`) for
    the last task."""

    dry_run: bool
    retry: dict[str, Any]


class ContractExtract(NightlyPayload):
    """``ns_contract_to_sf_contract``: contracts read, and the customers that have a Salesforce Account."""

    _plain_json = ("contracts",)

    contracts: list[dict[str, Any]]
    known_account_ids: list[str] = Field(default_factory=list)


class ContractPlan(NightlyPayload):
    """``ns_contract_to_sf_contract``: ``transform``'s plan for ``load`` and ``link_opportunities``."""

    read: int
    contracts: SalesforceUpsertBatch
    failures: list[RecordFailure] = Field(default_factory=list)


class ContractItemExtract(NightlyPayload):
    """``ns_contract_item_to_sf_contract_item``: items read (in scope, waiting and retried), the waiting
    list as the run found it, and the contracts Salesforce has."""

    _plain_json = ("items",)

    items: list[dict[str, Any]]
    waiting_before: list[int] = Field(default_factory=list)
    known_contract_ids: list[str] = Field(default_factory=list)


class ContractItemPlan(NightlyPayload):
    """``ns_contract_item_to_sf_contract_item``: ``transform``'s plan for ``load``."""

    read: int
    #: NetSuite ids of the items read (they leave the waiting list).
    read_ids: list[int] = Field(default_factory=list)
    waiting_before: list[int] = Field(default_factory=list)
    items: SalesforceUpsertBatch
    failures: list[RecordFailure] = Field(default_factory=list)
    #: Items whose contract is not in Salesforce yet (reported, remembered, not failed).
    waiting: list[RecordFailure] = Field(default_factory=list)
    waiting_contract_ids: list[str] = Field(default_factory=list)


class RenewalExtract(NightlyPayload):
    """``ns_renewal_estimate_to_sf_opportunity``: renewal transactions and lines read, and the Salesforce
    lookups the mapping needs (empty when nothing was read)."""

    _plain_json = ("headers", "lines", "salesforce")

    headers: list[dict[str, Any]]
    lines: list[dict[str, Any]] = Field(default_factory=list)
    salesforce: dict[str, Any] = Field(default_factory=dict)


class RenewalPlan(NightlyPayload):
    """``ns_renewal_estimate_to_sf_opportunity``: ``transform``'s plan for ``load``."""

    read: int
    #: Accounts, Opportunities (Quotes), line items: upserted in this order.
    upserts: list[SalesforceUpsertBatch] = Field(default_factory=list)
    line_sobject: str
    stale_line_ids: list[str] = Field(default_factory=list)
    #: Salesforce line id -> its renewal (a line that cannot be deleted fails the renewal, to retry).
    stale_line_renewals: dict[str, str] = Field(default_factory=dict)
    failures: list[RecordFailure] = Field(default_factory=list)
    #: Renewal id -> why it was not written (not a failure).
    skipped: dict[str, str] = Field(default_factory=dict)
    bulk_threshold: int


class ReconciliationReports(_Record):
    """Where a reconciliation's report files are (object storage paths)."""

    csv: str
    html: str
    summary: str


class Reconciliation(TaskPayload):
    """``crsync_reconciliation``: what ``reconcile`` found, for ``repair`` and ``report``."""

    run_id: str
    checked_at: str
    stuck_after_hours: int
    #: Drift rows, and their number per kind (kinds with none left out).
    total: int
    counts: dict[str, int] = Field(default_factory=dict)
    #: What was compared -> how many records.
    compared: dict[str, int] = Field(default_factory=dict)
    #: Opportunities in Error or stuck in Processing that ``repair`` could re-queue.
    requeueable: int = 0
    reports: ReconciliationReports


class RepairOutcome(TaskPayload):
    """``crsync_reconciliation``: what ``repair`` re-queued (nothing unless the run's ``repair`` param)."""

    enabled: bool
    requeued: int = 0
    failed: int = 0
    skipped: int = 0
    #: The first Opportunities Salesforce refused to re-queue (``salesforce_id``, ``requeued``, ``error``).
    failures: list[dict[str, Any]] = Field(default_factory=list)
    #: The repair CSV ("" when nothing was re-queued).
    report: str = ""

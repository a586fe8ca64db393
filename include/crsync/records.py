"""The shapes passed between transforms, operators and DAGs (design.md, "Interfaces").

Batches travel through XCom as plain JSON-serialisable dicts: build them with ``model_dump(mode="json")``
(or :func:`dump_all`) and read them back with ``Model.model_validate(d)`` (or :func:`load_all`).
Operators use these models without importing pandas.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: NetSuite accepts only letters, digits, ``_`` and ``-`` in an external id used in a URL.
_NS_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
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
        if not (value.isascii() and value.isdigit()):  # isdigit alone accepts e.g. Arabic-Indic digits
            raise ValueError(f"NetSuite internal id must be digits, got {value!r}")
        return value


class NetSuiteWrite(_Record):
    """One NetSuite write instruction.

    Without ``transform_from``: ``PUT record/v1/<record_type>/eid:<external_id>?replace=item``. With it:
    transform unless a record with ``external_id`` exists, else upsert.
    """

    key: str
    record_type: str
    external_id: str
    body: dict[str, Any]
    transform_from: TransformFrom | None = None

    @field_validator("external_id")
    @classmethod
    def _safe_external_id(cls, value: str) -> str:
        if not _NS_EXTERNAL_ID.fullmatch(value):
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
    status: Literal["created", "updated", "failed"]
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

    @property
    def ok(self) -> bool:
        """Whether no record failed (the run fails otherwise)."""
        return self.failed == 0

    def add_read(self, count: int) -> RunSummary:
        """Count records read from the source."""
        self.read += count
        return self

    def add_results(self, results: Iterable[WriteResult | Mapping[str, Any]]) -> RunSummary:
        """Count write results; failed writes are recorded as failures."""
        for result in load_all(WriteResult, results):
            if result.status == "created":
                self.created += 1
            elif result.status == "updated":
                self.updated += 1
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
        return merged

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (the run's return value)."""
        return self.model_dump(mode="json")

    def render(self) -> str:
        """Human-readable summary for task logs and alerts."""
        title = f"Run summary{f' for {self.flow}' if self.flow else ''}: {'OK' if self.ok else 'FAILED'}"
        lines = [
            title,
            f"  read {self.read}, created {self.created}, updated {self.updated}, "
            f"failed {self.failed}, skipped {self.skipped}",
        ]
        if self.failures_by_code:
            lines.append("  failures by reason:")
            lines += [f"    {code}: {n}" for code, n in sorted(self.failures_by_code.items(), key=_by_count)]
        if self.skipped_by_reason:
            lines.append("  skipped by reason:")
            lines += [
                f"    {reason}: {n}" for reason, n in sorted(self.skipped_by_reason.items(), key=_by_count)
            ]
        if self.first_failures:
            shown = len(self.first_failures)
            lines.append(f"  first {shown} failing record(s) of {self.failed}:")
            lines += [f"    {f.key} [{f.code}] {f.message}" for f in self.first_failures]
        return "\n".join(lines)

    def _add_failure(self, failure: RecordFailure) -> None:
        self.failed += 1
        self.failures_by_code[failure.code] = self.failures_by_code.get(failure.code, 0) + 1
        if len(self.first_failures) < self.failures_kept:
            self.first_failures.append(failure)


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

"""Bulk API 2.0 ingest jobs (``/jobs/ingest``), as simple-salesforce's ``bulk2`` drives them.

Create job (Open) -> ``PUT .../batches`` CSV (201) -> ``PATCH {"state": "UploadComplete"}`` -> the job
is processed right away (in a worker thread, 2,000 rows per store transaction) and reads
``JobComplete`` -> ``successfulResults`` / ``failedResults`` / ``unprocessedrecords`` as CSV.
A header naming an unknown field fails the whole job (state ``Failed`` with ``errorMessage``), as
Salesforce does. Jobs live in memory only: a restart forgets them.
"""

from __future__ import annotations

import csv
import io
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cr_sandbox.salesforce.errors import ApiError, RecordError
from cr_sandbox.salesforce.ids import BULK_JOB_PREFIX, make_id
from cr_sandbox.salesforce.schema import Schema
from cr_sandbox.salesforce.store import format_datetime
from cr_sandbox.salesforce.writes import WriteOp, Writer

DELIMITERS = {"BACKQUOTE": "`", "CARET": "^", "COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "TAB": "\t"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
OPERATIONS = {"insert": "create", "update": "update", "upsert": "upsert", "delete": "delete", "hardDelete": "delete"}
CHUNK_ROWS = 2000
NULL_MARKER = "#N/A"


@dataclass
class IngestJob:
    id: str
    object_name: str
    operation: str
    external_id_field: str | None
    column_delimiter: str
    line_ending: str
    api_version: str
    created: str
    modstamp: str
    state: str = "Open"
    data: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    processed: int = 0
    failures: int = 0
    error_message: str | None = None
    processing_ms: int = 0

    def info(self, user_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object_name,
            "createdById": user_id,
            "createdDate": self.created,
            "systemModstamp": self.modstamp,
            "state": self.state,
            "externalIdFieldName": self.external_id_field,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": "V2Ingest",
            "contentUrl": f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
            "numberRecordsProcessed": self.processed,
            "numberRecordsFailed": self.failures,
            "retries": 0,
            "totalProcessingTime": self.processing_ms,
            "apiActiveProcessingTime": self.processing_ms,
            "apexProcessingTime": 0,
        }
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


class BulkIngest:
    """All ingest jobs of the stand-in."""

    def __init__(self, writer: Writer, schema: Schema) -> None:
        self.writer = writer
        self.schema = schema
        self.jobs: dict[str, IngestJob] = {}
        self._sequence = 0
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.jobs.clear()

    def create(self, body: dict[str, Any], version: str) -> IngestJob:
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        obj = self.schema.get(str(body.get("object") or ""))
        if obj is None:
            raise ApiError(400, "INVALIDJOB", f"InvalidJob : Unable to find object: {body.get('object')}")
        external = body.get("externalIdFieldName")
        if operation == "upsert":
            ext_field = obj.field(external or "")
            if ext_field is None or not (ext_field.external_id or ext_field.name == "Id"):
                raise ApiError(400, "INVALIDJOB",
                               f"InvalidJob : External ID was blank or invalid for {obj.name}: {external}")
            external = ext_field.name
        delimiter = body.get("columnDelimiter") or "COMMA"
        line_ending = body.get("lineEnding") or "LF"
        if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
            raise ApiError(400, "INVALIDJOB", "InvalidJob : invalid columnDelimiter or lineEnding")
        if (body.get("contentType") or "CSV") != "CSV":
            raise ApiError(400, "INVALIDJOB", "InvalidJob : only CSV content is supported")
        now = format_datetime(self.writer.store.now())
        with self._lock:
            self._sequence += 1
            job_id = make_id(BULK_JOB_PREFIX, int(time.time()) * 1000 + self._sequence)
            job = IngestJob(job_id, obj.name, operation, external if operation == "upsert" else None, delimiter,
                            line_ending, version, now, now)
            self.jobs[job_id] = job
        return job

    def get(self, job_id: str) -> IngestJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def upload(self, job_id: str, data: bytes) -> None:
        job = self.get(job_id)
        if job.state != "Open":
            raise ApiError(409, "INVALIDJOBSTATE", f"Job with state {job.state} cannot accept data")
        if not data.strip():
            raise ApiError(400, "INVALIDJOB", "InvalidJob : the upload is empty")
        job.data.append(data)

    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        if job.state in ("Open", "UploadComplete", "InProgress"):
            raise ApiError(400, "INVALIDJOBSTATE", "Only closed or aborted jobs can be deleted")
        with self._lock:
            self.jobs.pop(job_id, None)

    def set_state(self, job_id: str, state: str) -> IngestJob:
        """``UploadComplete`` (then run :meth:`process`) or ``Aborted``."""
        job = self.get(job_id)
        if state == "Aborted":
            if job.state in ("JobComplete", "Failed"):
                raise ApiError(400, "INVALIDJOBSTATE", f"Job in state {job.state} cannot be aborted")
            job.state = "Aborted"
            job.modstamp = format_datetime(self.writer.store.now())
            return job
        if state != "UploadComplete":
            raise ApiError(400, "INVALIDJOBSTATE", f"Invalid state transition to {state}")
        if job.state != "Open":
            raise ApiError(409, "INVALIDJOBSTATE", f"Job with state {job.state} cannot be closed")
        if not job.data:
            job.state = "Failed"
            job.error_message = "InvalidBatch : no data uploaded"
            return job
        job.state = "UploadComplete"
        job.modstamp = format_datetime(self.writer.store.now())
        return job

    def process(self, job: IngestJob, *, lock_row_rate: float, rng: random.Random,
                on_locked: Any = None) -> None:
        """Apply the uploaded rows; failures per row, or the whole job ``Failed`` on a bad header."""
        started = time.monotonic()
        job.state = "InProgress"
        delimiter = DELIMITERS[job.column_delimiter]
        rows: list[list[str]] = []
        header: list[str] | None = None
        for chunk in job.data:
            reader = csv.reader(io.StringIO(chunk.decode("utf-8-sig")), delimiter=delimiter)
            chunk_header = next(reader, None)
            if chunk_header is None:
                continue
            if header is None:
                header = chunk_header
            elif chunk_header != header:
                return self._fail(job, "InvalidBatch : every upload of a job must have the same header")
            rows.extend(r for r in reader if r)
        job.header = header or []
        try:
            columns = self._columns(job)
        except ApiError as exc:
            job.unprocessed = rows
            return self._fail(job, exc.message)
        kind = OPERATIONS[job.operation]
        for start in range(0, len(rows), CHUNK_ROWS):
            batch = rows[start : start + CHUNK_ROWS]
            ops = [self._op(job, kind, columns, row) for row in batch]
            results = self.writer.execute(ops, lock_row_rate=lock_row_rate, rng=rng, on_locked=on_locked)
            for row, result in zip(batch, results, strict=True):
                job.processed += 1
                if result.success:
                    created = bool(result.created) if kind == "upsert" else kind == "create"
                    job.successful.append([result.id or "", "true" if created else "false", *row])
                else:
                    job.failures += 1
                    job.failed.append([result.id or "", error_cell(result.errors), *row])
        job.state = "JobComplete"
        job.processing_ms = int((time.monotonic() - started) * 1000)
        job.modstamp = format_datetime(self.writer.store.now())

    def _fail(self, job: IngestJob, message: str) -> None:
        job.state = "Failed"
        job.error_message = message
        job.modstamp = format_datetime(self.writer.store.now())

    def _columns(self, job: IngestJob) -> list[tuple[str, str | None]]:
        """Per CSV column: (field or relationship name, external id field of the parent or None)."""
        obj = self.schema.objects[job.object_name]
        columns: list[tuple[str, str | None]] = []
        for name in job.header:
            name = name.strip()
            if "." in name:
                rel_name, _, ext_name = name.partition(".")
                rel = obj.relationship(rel_name)
                target = self.schema.objects[rel.reference_to[0]] if rel else None
                ext = target.field(ext_name) if target else None
                if rel is None or ext is None or not (ext.external_id or ext.name == "Id"):
                    raise ApiError(400, "INVALIDBATCH", f"InvalidBatch : Field name not found : {name}")
                columns.append((rel.relationship_name or rel.name, ext.name))
                continue
            f = obj.field(name)
            if f is None:
                raise ApiError(400, "INVALIDBATCH", f"InvalidBatch : Field name not found : {name}")
            columns.append((f.name, None))
        if job.operation in ("delete", "hardDelete") and [c[0] for c in columns] != ["Id"]:
            raise ApiError(400, "INVALIDBATCH", "InvalidBatch : The 'delete' batch must contain only 'Id' column")
        if job.operation == "update" and "Id" not in [c[0] for c in columns]:
            raise ApiError(400, "INVALIDBATCH", "InvalidBatch : Field name not found : Id")
        if job.operation == "upsert" and job.external_id_field not in [c[0] for c in columns]:
            raise ApiError(400, "INVALIDBATCH", f"InvalidBatch : Field name not found : {job.external_id_field}")
        return columns

    @staticmethod
    def _op(job: IngestJob, kind: str, columns: list[tuple[str, str | None]], row: list[str]) -> WriteOp:
        payload: dict[str, Any] = {}
        for (name, ext), value in zip(columns, row, strict=False):
            if value == "":
                continue  # an empty cell leaves the field as it is; #N/A clears it
            cell = None if value == NULL_MARKER else value
            if ext is not None:
                if cell is not None:
                    payload[name] = {ext: cell}
                continue
            payload[name] = cell
        record_id = payload.get("Id") if kind in ("update", "delete") else None
        if kind == "upsert" and job.external_id_field == "Id":
            record_id = None
        return WriteOp(kind, job.object_name, payload, record_id, job.external_id_field)  # type: ignore[arg-type]

    def results_csv(self, job_id: str, kind: str) -> str:
        """``successfulResults``, ``failedResults`` or ``unprocessedrecords`` of a job as CSV text."""
        job = self.get(job_id)
        delimiter = DELIMITERS[job.column_delimiter]
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator=LINE_ENDINGS[job.line_ending])
        key = kind.lower()
        if key == "successfulresults":
            writer.writerow(["sf__Id", "sf__Created", *job.header])
            writer.writerows(job.successful)
        elif key == "failedresults":
            writer.writerow(["sf__Id", "sf__Error", *job.header])
            writer.writerows(job.failed)
        elif key == "unprocessedrecords":
            header = job.header
            if not header and job.data:
                header = next(csv.reader(io.StringIO(job.data[0].decode("utf-8-sig")), delimiter=delimiter), [])
            writer.writerow(header)
            rows = job.unprocessed
            if job.state in ("Aborted", "Open", "UploadComplete") and not rows:
                rows = [r for chunk in job.data for r in list(csv.reader(
                    io.StringIO(chunk.decode("utf-8-sig")), delimiter=delimiter))[1:] if r]
            writer.writerows(rows)
        else:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return buffer.getvalue()


def error_cell(errors: list[RecordError]) -> str:
    return " ".join(e.as_bulk() for e in errors)

"""Bulk API 2.0 upserts for :class:`~crsync_provider.hooks.salesforce.SalesforceSyncHook`.

Driven here, not by simple-salesforce's ``bulk2``: ``bulk2.<Object>.upsert`` spends one more API call per
job (a second job read after the wait), retries nothing, cannot be bounded by ``bulk_timeout``, returns
counts, not per-record results in input order, and its result readers decode CSV by the reply's charset
(ISO-8859-1 under ``requests`` when Salesforce names none), where Bulk 2.0 CSV is UTF-8.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.util import call_salesforce

from crsync_provider.hooks.salesforce_errors import LOCK_ERROR, SalesforceSyncError, error_code
from crsync_provider.hooks.salesforce_results import bulk_failure, bulk_success, unprocessed


class BulkUpsertMixin:
    """Bulk API 2.0 ingest (upsert) with per-record results; mixed into the Salesforce hook."""

    log: logging.Logger
    lock_retry_attempts: int
    bulk_poll_interval: float
    bulk_timeout: float

    # Provided by the hook.
    conn: Salesforce
    restful: Callable[..., Any]
    upsert_collection: Callable[..., list[dict[str, Any]]]
    with_client: Callable[..., Any]

    def upsert_bulk(
        self,
        sobject: str,
        external_id_field: str,
        records: Iterable[Mapping[str, Any]],
    ) -> list[dict[str, Any]]:
        """
        Upsert through a Bulk API 2.0 ingest job (CSV); per-record results mapped back to input order.

        Calls: create job, upload, close, poll (until complete), successful results, plus failed
        results when some failed and unprocessed records when some were not processed. Records that
        failed with ``UNABLE_TO_LOCK_ROW`` are re-sent through collections.
        """
        rows = [flatten_for_csv(r) for r in records]
        if not rows:
            return []
        job = self.restful(
            "jobs/ingest",
            method="POST",
            json={
                "object": sobject,
                "externalIdFieldName": external_id_field,
                "contentType": "CSV",
                "operation": "upsert",
                "lineEnding": "LF",
                "columnDelimiter": "COMMA",
            },
        )
        job_id = job["id"]
        self.log.info("Bulk 2.0 job %s: upserting %s %s record(s)", job_id, len(rows), sobject)
        try:
            self.with_client(
                csv_request,
                "PUT",
                f"jobs/ingest/{job_id}/batches",
                data=to_csv(rows).encode("utf-8"),
                headers={"Content-Type": "text/csv", "Accept": "application/json"},
            )
            self.restful(f"jobs/ingest/{job_id}", method="PATCH", json={"state": "UploadComplete"})
            info = self._wait_for_job(job_id)
        except BaseException:
            self._abort_quietly(job_id)
            raise

        processed = int(info.get("numberRecordsProcessed") or 0)
        failed = int(info.get("numberRecordsFailed") or 0)
        positions: dict[str, list[int]] = {}
        for index, row in enumerate(rows):
            positions.setdefault(str(row.get(external_id_field, "")), []).append(index)
        results: list[dict[str, Any] | None] = [None] * len(rows)

        def place(kind: str, as_result: Callable[[Mapping[str, str]], dict[str, Any]]) -> None:
            for row in self._read_results(job_id, kind):
                queue = positions.get(row.get(external_id_field, ""))
                if queue:
                    results[queue.pop(0)] = as_result(row)

        if processed - failed > 0:
            place("successfulResults", bulk_success)
        if failed > 0:
            place("failedResults", bulk_failure)
        if processed < len(rows):
            place("unprocessedrecords", lambda _: unprocessed())
        final = [r if r is not None else unprocessed() for r in results]
        locked = [i for i, r in enumerate(final) if error_code(r) == LOCK_ERROR]
        if locked and self.lock_retry_attempts:
            retried = self.upsert_collection(sobject, external_id_field, [unflatten(rows[i]) for i in locked])
            for index, result in zip(locked, retried, strict=True):
                final[index] = result
        return final

    def _wait_for_job(self, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.bulk_timeout
        delay = self.bulk_poll_interval
        while True:
            time.sleep(delay)
            info = self.restful(f"jobs/ingest/{job_id}")
            state = info.get("state")
            if state == "JobComplete":
                return info
            if state in ("Failed", "Aborted"):
                raise SalesforceSyncError(
                    0,
                    f"BULK_JOB_{str(state).upper()}",
                    f"Bulk 2.0 job {job_id}: {info.get('errorMessage') or state}",
                )
            if time.monotonic() > deadline:
                raise SalesforceSyncError(0, "BULK_JOB_TIMEOUT", f"Bulk 2.0 job {job_id} still {state}")
            delay = min(delay * 2, 5.0)

    def _read_results(self, job_id: str, kind: str) -> list[dict[str, str]]:
        reply = self.with_client(csv_request, "GET", f"jobs/ingest/{job_id}/{kind}", headers={"Accept": "text/csv"})
        return list(csv.DictReader(io.StringIO(reply.content.decode("utf-8-sig"))))

    def _abort_quietly(self, job_id: str) -> None:
        try:
            self.conn.restful(f"jobs/ingest/{job_id}", method="PATCH", json={"state": "Aborted"})
        except Exception as exc:
            self.log.warning("Could not abort Bulk 2.0 job %s: %s", job_id, exc)


def csv_request(client: Salesforce, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A call under ``base_url`` whose body or reply is CSV (``Salesforce.restful`` reads JSON only)."""
    headers = {**client.headers, **kwargs.pop("headers", {})}
    return call_salesforce(url=client.base_url + path, method=method, session=client.session, headers=headers, **kwargs)


def flatten_for_csv(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"Account": {"NetSuite_Id__c": "1"}}`` -> ``{"Account.NetSuite_Id__c": "1"}`` (Bulk CSV headers)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, Mapping):
            out.update(flatten_for_csv(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def unflatten(row: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`flatten_for_csv` (to re-send a Bulk row through collections)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        parts = key.split(".")
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out


def _csv_value(value: Any) -> str:
    if value is None:
        return "#N/A"  # Bulk 2.0: set the field to null (an empty value leaves it unchanged)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Bulk 2.0 CSV: the union of the rows' columns; ``#N/A`` for null (bulk2's writer leaves it empty)."""
    columns: list[str] = []
    seen: set[str] = set()
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                columns.append(key)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(row[c]) if c in row else "" for c in columns])
    return buffer.getvalue()

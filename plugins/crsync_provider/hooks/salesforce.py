"""Salesforce reads and loads on top of the provider's ``SalesforceHook``: paging, collections, Bulk 2.0.

The provider's hook (simple-salesforce) keeps its authentication options (password + security
token, OAuth 2.0 JWT, client credentials, direct session). This subclass adds:

- *session mode*: a connection whose extras hold ``session_id`` (or whose password is the session
  token when extra ``auth_type`` is ``session``) plus ``instance_url`` is reached directly with that
  token; this is how the local stand-in (and a pre-authenticated org) is reached, since the login
  flows always go to ``*.salesforce.com``;
- a ``requests.Session`` trusting extra ``ca_bundle`` with a pool sized for parallel use;
- SOQL paging (``nextRecordsUrl``, child subqueries), sObject Collections upserts/updates in chunks of
  200 with ``allOrNone=false`` and per-record results, a retry of ``UNABLE_TO_LOCK_ROW`` records only,
  and Bulk API 2.0 upserts whose results are mapped back to input order;
- connect/read timeouts on every request (simple-salesforce sends none; a session adapter adds them),
  one retry after a timeout, then :class:`~crsync_provider.hooks._http.HttpTimeoutError` saying what to check;
- retries for 5xx / dropped connections; 401 ``INVALID_SESSION_ID`` and 403
  ``REQUEST_LIMIT_EXCEEDED`` fail fast with a clear message.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any, TypeVar

import requests
import tenacity
from airflow.providers.salesforce.hooks.salesforce import SalesforceHook
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from crsync_provider.hooks._http import (
    DEFAULT_TIMEOUT,
    TIMEOUT_ATTEMPTS,
    as_loopback_refused,
    as_timeout_error,
    make_session,
    request_address,
    retry_message,
)
from crsync_provider.hooks.permanent import (
    ConnectionConfigError,
    PermanentError,
    connection_or_fail,
    credentials_fix,
)

R = TypeVar("R")

COLLECTION_LIMIT = 200
DEFAULT_BULK_THRESHOLD = 2000
LOCK_ERROR = "UNABLE_TO_LOCK_ROW"
_RETRYABLE_TRANSPORT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ReadTimeout,
)


class SalesforceSyncError(Exception):
    """A Salesforce error reply: HTTP status, ``errorCode`` and message.

    :param status: HTTP status (0 when no reply).
    :param code: Salesforce ``errorCode`` (e.g. ``MALFORMED_QUERY``).
    :param message: Salesforce's message.
    """

    retryable = False

    def __init__(self, status: int, code: str, message: str, *, url: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.url = url
        super().__init__(f"Salesforce {status} {code}: {message}" + (f" ({url})" if url else ""))


class SalesforceSessionError(SalesforceSyncError, PermanentError):
    """401 ``INVALID_SESSION_ID``: the session token is wrong or expired. Never retried; fails the task."""


class SalesforceLimitExceededError(SalesforceSyncError, PermanentError):
    """403 ``REQUEST_LIMIT_EXCEEDED``: the org's daily API allowance is used up. Never retried; fails the task."""


class SalesforceLoginError(SalesforceSyncError, PermanentError):
    """The login (password, JWT or client credentials) was refused. Never retried; fails the task."""


class SalesforceServerError(SalesforceSyncError):
    """5xx (or 429): retried with backoff."""

    retryable = True


def _translate(exc: SalesforceError, conn_id: str = SalesforceHook.default_conn_name) -> SalesforceSyncError:
    content = exc.content
    # Only Salesforce's own error code and message are repeated, never another reply's body (a proxy's
    # or an internal service's page must not be echoed into logs or the connection form).
    code = "UNKNOWN_ERROR"
    message = f"the host did not answer like Salesforce (HTTP {exc.status}); check the connection's instance_url"
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        code = str(content[0].get("errorCode") or code)
        message = str(content[0].get("message") or message)
    elif isinstance(content, Mapping):
        code = str(content.get("errorCode") or content.get("error") or code)
        message = str(content.get("message") or content.get("error_description") or message)
    url = str(exc.url).split("?", 1)[0] if exc.url else None
    status = int(exc.status or 0)
    if status == 401:
        hint = (
            " - the session id / access token was refused; renew it (session mode) or check the "
            f"connection's credentials. {credentials_fix(conn_id, 'the session id or credentials')}"
        )
        return SalesforceSessionError(status, code, message + hint, url=url)
    if status == 403 and code == "REQUEST_LIMIT_EXCEEDED" and "ConcurrentPerOrgLongTxn" in message:
        # Too many long-running requests at this moment (not the daily allowance): worth a retry.
        return SalesforceServerError(status, code, message, url=url)
    if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
        hint = " - the org's API request limit is used up; retry after the 24-hour window rolls"
        return SalesforceLimitExceededError(status, code, message + hint, url=url)
    if status >= 500 or status == 429:
        return SalesforceServerError(status, code, message, url=url)
    return SalesforceSyncError(status, code, message, url=url)


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, SalesforceSyncError):
        return exc.retryable
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.InvalidURL):
        return False
    return isinstance(exc, _RETRYABLE_TRANSPORT)


def _error_code(result: Mapping[str, Any]) -> str | None:
    errors = result.get("errors") or []
    return str(errors[0].get("statusCode")) if errors else None


class SalesforceSyncHook(SalesforceHook):
    """
    The provider's :class:`SalesforceHook` plus session mode, SOQL paging, collections and Bulk 2.0.

    :param salesforce_conn_id: the Airflow connection id (type ``salesforce``).
    :param session_id: access token to use (otherwise from the connection in session mode).
    :param session: a ``requests.Session`` to use (otherwise one trusting extra ``ca_bundle``).
    :param max_attempts: attempts per request for 5xx and dropped connections.
    :param lock_retry_attempts: extra rounds for records that failed with ``UNABLE_TO_LOCK_ROW``.
    :param backoff_base: base of the exponential backoff (full jitter), seconds.
    :param backoff_max: ceiling of one backoff sleep, seconds.
    :param bulk_poll_interval: first wait before polling a Bulk 2.0 job, seconds (doubles to 5 s).
    :param bulk_timeout: give up on a Bulk 2.0 job after this many seconds.
    :param connect_timeout: seconds to set up a connection, for every request (polls included).
    :param read_timeout: seconds to wait for the server's next bytes, for every request.
    """

    def __init__(
        self,
        salesforce_conn_id: str = SalesforceHook.default_conn_name,
        session_id: str | None = None,
        session: requests.Session | None = None,
        *,
        max_attempts: int = 5,
        lock_retry_attempts: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        bulk_poll_interval: float = 0.2,
        bulk_timeout: float = 3600.0,
        connect_timeout: float = DEFAULT_TIMEOUT[0],
        read_timeout: float = DEFAULT_TIMEOUT[1],
    ) -> None:
        super().__init__(salesforce_conn_id=salesforce_conn_id, session_id=session_id, session=session)
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.max_attempts = max(1, max_attempts)
        self.lock_retry_attempts = max(0, lock_retry_attempts)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.bulk_poll_interval = bulk_poll_interval
        self.bulk_timeout = bulk_timeout

    # ------------------------------------------------------------------ connection

    @cached_property
    def conn(self):  # type: ignore[override]
        """The simple-salesforce client: session mode when configured, else the provider's auth."""
        connection = connection_or_fail(self.get_connection, self.conn_id, "salesforce")
        extras = connection.extra_dejson or {}
        if self.session is None:
            self.session = make_session(
                ca_bundle=self._get_field(extras, "ca_bundle"), pool_size=16, timeout=self.timeout
            )
        if self.session_id is None:
            token = self._get_field(extras, "session_id")
            if not token and str(self._get_field(extras, "auth_type") or "").lower() == "session":
                token = connection.password or None
            if token:
                if not self._get_field(extras, "instance_url") and not self._get_field(extras, "instance"):
                    raise ConnectionConfigError(
                        f"Connection {self.conn_id!r}: session mode needs extra 'instance_url' with the session"
                    )
                self.session_id = token
                self._mask(token)
        try:
            return SalesforceHook.conn.func(self)  # type: ignore[attr-defined]
        except SalesforceAuthenticationFailed as exc:
            raise SalesforceLoginError(
                401, str(exc.code), f"{exc.message}. " + credentials_fix(self.conn_id, "the login")
            ) from exc
        except requests.exceptions.ConnectionError as exc:  # the login request (password, JWT, client credentials)
            refused = as_loopback_refused(exc, system="Salesforce", conn_id=self.conn_id)
            if refused is None:
                raise
            raise refused from exc

    @staticmethod
    def _mask(secret: str) -> None:
        try:
            from airflow.sdk.log import mask_secret

            mask_secret(secret, "session_id")
        except Exception:  # masking is best effort outside a task
            pass

    @property
    def instance_url(self) -> str:
        """``https://<instance>`` of the org (links, raw calls)."""
        return f"https://{self.conn.sf_instance}"

    # ------------------------------------------------------------------ retries

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (retry_state.attempt_number - 1))
        return random.uniform(0, ceiling)

    def _before_sleep(self, retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        address = request_address(exc, self.conn.sf_instance)
        self.log.warning(
            retry_message(
                "Salesforce", address, retry_state.attempt_number, self.max_attempts, exc, retry_state.upcoming_sleep
            )
        )

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run one simple-salesforce call with retries (5xx, dropped connections) and typed errors."""

        def once() -> R:
            try:
                return fn(*args, **kwargs)
            except SalesforceError as exc:
                raise _translate(exc, self.conn_id) from exc
            except requests.exceptions.ConnectionError as exc:
                # Nothing listening on a loopback host (the sandbox is not running): no retry can help.
                refused = as_loopback_refused(exc, system="Salesforce", conn_id=self.conn_id)
                if refused is None:
                    raise
                raise refused from exc
            except json.JSONDecodeError as exc:
                # A 2xx page that is not Salesforce's JSON (proxy, firewall, maintenance): retried.
                raise SalesforceServerError(
                    200,
                    "UNEXPECTED_REPLY",
                    "Salesforce answered with a page that is not JSON; the request may not "
                    "have reached Salesforce. Check the connection's instance_url and any proxy or firewall "
                    "in between, or Salesforce's status page if it persists",
                ) from exc

        retryer = tenacity.Retrying(
            stop=self._stop,
            wait=self._wait,
            retry=tenacity.retry_if_exception(_is_retryable),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retryer(once)
        except requests.exceptions.Timeout as exc:
            request = exc.request
            timeout_error = as_timeout_error(
                exc,
                system="Salesforce",
                method=str(getattr(request, "method", None) or "request"),
                url=str(getattr(request, "url", None) or self.conn.base_url),
                timeout=self.timeout,
                attempts=int(retryer.statistics.get("attempt_number", 1)),
            )
            raise timeout_error from exc  # type: ignore[misc]

    def _stop(self, retry_state: tenacity.RetryCallState) -> bool:
        """Stop after ``max_attempts``, or after :data:`TIMEOUT_ATTEMPTS` when the last attempt timed out."""
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        timed_out = isinstance(exc, requests.exceptions.Timeout)
        limit = min(self.max_attempts, TIMEOUT_ATTEMPTS) if timed_out else self.max_attempts
        return retry_state.attempt_number >= limit

    def restful(self, path: str, *, method: str = "GET", **kwargs: Any) -> Any:
        """``conn.restful`` (path under ``/services/data/vXX.X/``) with retries and typed errors."""
        return self.call(self.conn.restful, path, method=method, **kwargs)

    def _raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A call whose reply is not JSON (CSV), through simple-salesforce's request helper."""
        url = self.conn.base_url + path
        # _call_salesforce applies the connection's headers and refreshes a password/JWT session.
        return self.call(self.conn._call_salesforce, method, url, name=path, **kwargs)

    # ------------------------------------------------------------------ SOQL

    def query(
        self,
        soql: str,
        *,
        batch_size: int | None = None,
        include_deleted: bool = False,
        strip_attributes: bool = False,
        flatten_children: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """
        Yield the records of a SOQL query, page by page, following ``nextRecordsUrl``.

        :param batch_size: rows per page (``Sforce-Query-Options: batchSize=N``, 200..2000).
        :param strip_attributes: drop each record's ``attributes`` (also in parents and children).
        :param flatten_children: replace child subquery results (``{"totalSize","done","records"}``)
            by the list of child records (following their own ``nextRecordsUrl``). An empty child
            subquery stays ``None``, as Salesforce returns it.
        """
        headers = {"Sforce-Query-Options": f"batchSize={int(batch_size)}"} if batch_size else None
        kwargs: dict[str, Any] = {"headers": headers} if headers else {}
        page = self.call(self.conn.query, soql, include_deleted=include_deleted, **kwargs)
        while True:
            for record in page.get("records") or []:
                if flatten_children:
                    record = self._flatten_children(record, headers)
                yield _strip_attributes(record) if strip_attributes else record
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = self.call(self.conn.query_more, page["nextRecordsUrl"], identifier_is_url=True, **kwargs)

    def _flatten_children(self, record: dict[str, Any], headers: Mapping[str, str] | None) -> dict[str, Any]:
        out = dict(record)
        for name, value in record.items():
            if name == "attributes":
                continue
            if isinstance(value, Mapping) and "records" in value and "totalSize" in value:
                children = list(value.get("records") or [])
                page = value
                while not page.get("done", True) and page.get("nextRecordsUrl"):
                    kwargs: dict[str, Any] = {"headers": dict(headers)} if headers else {}
                    page = self.call(
                        self.conn.query_more, page["nextRecordsUrl"], identifier_is_url=True, **kwargs
                    )
                    children.extend(page.get("records") or [])
                out[name] = children
        return out

    # ------------------------------------------------------------------ collections

    def _collection_call(self, path: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        results = self.restful(path, method="PATCH", json={"allOrNone": False, "records": list(records)})
        if not isinstance(results, list) or len(results) != len(records):
            raise SalesforceSyncError(
                0, "UNEXPECTED_RESPONSE", f"expected {len(records)} results, got {results!r}"
            )
        return results

    def _collections(
        self, path: str, records: Sequence[dict[str, Any]], *, chunk_size: int
    ) -> list[dict[str, Any]]:
        if not 1 <= chunk_size <= COLLECTION_LIMIT:
            raise ValueError(f"chunk_size must be 1..{COLLECTION_LIMIT}")
        results: list[dict[str, Any]] = []
        for start in range(0, len(records), chunk_size):
            results.extend(self._collection_call(path, records[start : start + chunk_size]))
        pending = [i for i, r in enumerate(results) if _error_code(r) == LOCK_ERROR]
        for round_no in range(1, self.lock_retry_attempts + 1):
            if not pending:
                break
            delay = random.uniform(0, min(self.backoff_max, self.backoff_base * 2**round_no))
            self.log.info("Retrying %s record(s) after %s in %.2fs", len(pending), LOCK_ERROR, delay)
            time.sleep(delay)
            for start in range(0, len(pending), chunk_size):
                part = pending[start : start + chunk_size]
                for index, result in zip(
                    part, self._collection_call(path, [records[i] for i in part]), strict=True
                ):
                    results[index] = result
            pending = [i for i in pending if _error_code(results[i]) == LOCK_ERROR]
        return results

    def upsert_collection(
        self,
        sobject: str,
        external_id_field: str,
        records: Iterable[Mapping[str, Any]],
        *,
        chunk_size: int = COLLECTION_LIMIT,
    ) -> list[dict[str, Any]]:
        """
        Upsert by external id through sObject Collections, 200 records per call, ``allOrNone=false``.

        Returns Salesforce's per-record results in input order (``id``, ``success``, ``created``,
        ``errors``). Records that failed with ``UNABLE_TO_LOCK_ROW`` are re-sent (only those).
        """
        prepared = [_with_type(sobject, r) for r in records]
        return self._collections(
            f"composite/sobjects/{sobject}/{external_id_field}", prepared, chunk_size=chunk_size
        )

    def update_collection(
        self,
        sobject: str,
        records: Iterable[Mapping[str, Any]],
        *,
        chunk_size: int = COLLECTION_LIMIT,
    ) -> list[dict[str, Any]]:
        """Update records by ``Id`` through sObject Collections (like :meth:`upsert_collection`)."""
        prepared = [_with_type(sobject, r) for r in records]
        missing = [i for i, r in enumerate(prepared) if not r.get("Id")]
        if missing:
            raise ValueError(f"update_collection needs an Id in every record; missing at {missing[:10]}")
        return self._collections("composite/sobjects", prepared, chunk_size=chunk_size)

    def delete_collection(
        self,
        ids: Iterable[str],
        *,
        chunk_size: int = COLLECTION_LIMIT,
    ) -> list[dict[str, Any]]:
        """Delete records by id through sObject Collections (``DELETE composite/sobjects?ids=...``).

        Up to 200 ids per call, ``allOrNone=false``; returns Salesforce's per-record results in input
        order (``id``, ``success``, ``errors``). A record already deleted fails with ``ENTITY_IS_DELETED``.
        """
        ids = [str(i) for i in ids]
        if not 1 <= chunk_size <= COLLECTION_LIMIT:
            raise ValueError(f"chunk_size must be 1..{COLLECTION_LIMIT}")
        results: list[dict[str, Any]] = []
        for start in range(0, len(ids), chunk_size):
            part = ids[start : start + chunk_size]
            reply = self.restful(
                "composite/sobjects", method="DELETE", params={"ids": ",".join(part), "allOrNone": "false"}
            )
            if not isinstance(reply, list) or len(reply) != len(part):
                raise SalesforceSyncError(
                    0, "UNEXPECTED_RESPONSE", f"expected {len(part)} results, got {reply!r}"
                )
            results.extend(reply)
        return results

    # ------------------------------------------------------------------ Bulk API 2.0

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
        rows = [_flatten_for_csv(r) for r in records]
        if not rows:
            return []
        data = _to_csv(rows)
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
            self._raw(
                "PUT",
                f"jobs/ingest/{job_id}/batches",
                data=data.encode("utf-8"),
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

        def place(value: str, result: dict[str, Any]) -> None:
            queue = positions.get(value)
            if queue:
                results[queue.pop(0)] = result

        if processed - failed > 0:
            for row in self._read_results(job_id, "successfulResults"):
                created = str(row.get("sf__Created", "")).lower() == "true"
                place(
                    row.get(external_id_field, ""),
                    {"id": row.get("sf__Id") or None, "success": True, "created": created, "errors": []},
                )
        if failed > 0:
            for row in self._read_results(job_id, "failedResults"):
                code, message, fields = _parse_bulk_error(row.get("sf__Error", ""))
                place(
                    row.get(external_id_field, ""),
                    {
                        "id": row.get("sf__Id") or None,
                        "success": False,
                        "created": False,
                        "errors": [{"statusCode": code, "message": message, "fields": fields}],
                    },
                )
        if processed < len(rows) or any(r is None for r in results):
            if processed < len(rows):
                for row in self._read_results(job_id, "unprocessedrecords"):
                    place(row.get(external_id_field, ""), _unprocessed())
            results = [r if r is not None else _unprocessed() for r in results]

        final: list[dict[str, Any]] = [r for r in results if r is not None]
        locked = [i for i, r in enumerate(final) if _error_code(r) == LOCK_ERROR]
        if locked and self.lock_retry_attempts:
            retried = self.upsert_collection(
                sobject, external_id_field, [_unflatten(rows[i]) for i in locked]
            )
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
        resp = self._raw("GET", f"jobs/ingest/{job_id}/{kind}", headers={"Accept": "text/csv"})
        text = resp.content.decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text)))

    def _abort_quietly(self, job_id: str) -> None:
        try:
            self.conn.restful(f"jobs/ingest/{job_id}", method="PATCH", json={"state": "Aborted"})
        except Exception as exc:
            self.log.warning("Could not abort Bulk 2.0 job %s: %s", job_id, exc)

    # ------------------------------------------------------------------ choose the path

    def upsert(
        self,
        sobject: str,
        external_id_field: str,
        records: Iterable[Mapping[str, Any]],
        *,
        bulk_threshold: int = DEFAULT_BULK_THRESHOLD,
    ) -> list[dict[str, Any]]:
        """Upsert by external id: collections up to ``bulk_threshold`` records, Bulk 2.0 above it."""
        records = list(records)
        if len(records) > bulk_threshold:
            return self.upsert_bulk(sobject, external_id_field, records)
        return self.upsert_collection(sobject, external_id_field, records)

    def upsert_write_results(
        self,
        sobject: str,
        external_id_field: str,
        records: Iterable[Mapping[str, Any]],
        *,
        key_field: str | None = None,
        bulk_threshold: int = DEFAULT_BULK_THRESHOLD,
    ) -> list[dict[str, Any]]:
        """:meth:`upsert` returning design.md write results (``key``, ``external_id``, ``status``...)."""
        records = list(records)
        results = self.upsert(sobject, external_id_field, records, bulk_threshold=bulk_threshold)
        return to_write_results(records, results, external_id_field=external_id_field, key_field=key_field)

    # ------------------------------------------------------------------ UI test button

    def test_connection(self) -> tuple[bool, str]:
        """Check the connection with one cheap call (``limits``)."""
        try:
            self.call(self.conn.limits)
        except Exception as exc:
            return False, str(exc)
        return True, f"Connected to Salesforce at {self.instance_url}"


# --------------------------------------------------------------------------------------------- helpers


def to_write_results(
    records: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    *,
    external_id_field: str,
    key_field: str | None = None,
) -> list[dict[str, Any]]:
    """Salesforce per-record results as design.md write results, in input order."""
    out = []
    for record, result in zip(records, results, strict=True):
        external_id = str(record.get(external_id_field, ""))
        key = str(record.get(key_field)) if key_field and record.get(key_field) is not None else external_id
        if result.get("success"):
            out.append(
                {
                    "key": key,
                    "external_id": external_id,
                    "status": "created" if result.get("created") else "updated",
                    "id": result.get("id"),
                    "error": None,
                }
            )
            continue
        errors = result.get("errors") or [{}]
        first = errors[0]
        fields = first.get("fields") or []
        message = "; ".join(str(e.get("message")) for e in errors if e.get("message")) or "failed"
        out.append(
            {
                "key": key,
                "external_id": external_id,
                "status": "failed",
                "id": result.get("id"),
                "error": {
                    "code": str(first.get("statusCode") or "UNKNOWN_ERROR"),
                    "message": message,
                    "path": ",".join(fields) if fields else None,
                },
            }
        )
    return out


def _with_type(sobject: str, record: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(record)
    body["attributes"] = {"type": sobject}
    return body


def _strip_attributes(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip_attributes(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, list):
        return [_strip_attributes(v) for v in value]
    return value


def _flatten_for_csv(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"Account": {"NetSuite_Id__c": "1"}}`` -> ``{"Account.NetSuite_Id__c": "1"}`` (Bulk CSV headers)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, Mapping):
            out.update(_flatten_for_csv(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _unflatten(row: Mapping[str, Any]) -> dict[str, Any]:
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


def _to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
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


def _parse_bulk_error(text: str) -> tuple[str, str, list[str]]:
    """``CODE:message:field1,field2`` (Bulk 2.0 ``sf__Error``) -> (code, message, fields)."""
    if not text:
        return "UNKNOWN_ERROR", "failed", []
    code, _, rest = text.partition(":")
    message, fields = rest, []
    if rest.endswith("--"):
        message = rest[:-2].rstrip(":")
    elif ":" in rest:
        head, _, tail = rest.rpartition(":")
        if tail and " " not in tail:
            message, fields = head, [f for f in tail.split(",") if f]
    return code.strip() or "UNKNOWN_ERROR", message.strip() or code, fields


def _unprocessed() -> dict[str, Any]:
    return {
        "id": None,
        "success": False,
        "created": False,
        "errors": [
            {"statusCode": "UNPROCESSED", "message": "the Bulk 2.0 job did not process it", "fields": []}
        ],
    }


def soql_literal(value: Any) -> str:
    """A SOQL literal: datetimes as unquoted UTC ``YYYY-MM-DDTHH:MM:SSZ``, strings quoted and escaped."""
    from datetime import UTC, date, datetime

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def bind_soql(soql: str, parameters: Mapping[str, Any] | None) -> str:
    """Replace ``:name`` placeholders with :func:`soql_literal` values."""
    import re

    if not parameters:
        return soql

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        return soql_literal(parameters[name]) if name in parameters else match.group(0)

    return re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", sub, soql)

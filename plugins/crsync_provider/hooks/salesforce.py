"""Salesforce reads and loads on top of the provider's ``SalesforceHook``: paging, collections, Bulk 2.0.

The provider's hook (simple-salesforce) keeps its authentication options (password + security
token, OAuth 2.0 JWT, client credentials, direct session). This subclass adds:

- *session mode*: a connection whose extras hold ``session_id`` (or whose password is the session
  token when extra ``auth_type`` is ``session``) plus ``instance_url`` is reached directly with that
  token; this is how the local stand-in (and a pre-authenticated org) is reached, since the login
  flows always go to ``*.salesforce.com``;
- a ``requests.Session`` trusting extra ``ca_bundle`` with a pool sized for parallel use;
- SOQL paging (``nextRecordsUrl``, child subqueries), sObject Collections upserts/updates in chunks of
  200 with ``allOrNone=false`` and per-record results, a retry of ``UNABLE_TO_LOCK_ROW`` records only
  (:mod:`~crsync_provider.hooks.salesforce_collections`), and Bulk API 2.0 upserts whose results are
  mapped back to input order (:mod:`~crsync_provider.hooks.salesforce_bulk`);
- connect/read timeouts on every request (simple-salesforce sends none; a session adapter adds them),
  one retry after a timeout, then :class:`~crsync_provider.hooks._http.HttpTimeoutError` saying what to check;
- retries for 5xx / dropped connections; 401 ``INVALID_SESSION_ID`` and 403
  ``REQUEST_LIMIT_EXCEEDED`` fail fast with a clear message
  (:mod:`~crsync_provider.hooks.salesforce_errors`).

Only public simple-salesforce and provider APIs are used: the client comes from a provider
``SalesforceHook``'s ``get_conn()``, JSON calls go through ``Salesforce.restful``/``query``, CSV calls
through ``simple_salesforce.util.call_salesforce`` with the client's ``session``, ``base_url`` and ``headers``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any, TypeVar

import requests
from airflow.providers.salesforce.hooks.salesforce import SalesforceHook
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from crsync_provider.hooks import salesforce_soql
from crsync_provider.hooks._http import (
    DEFAULT_TIMEOUT,
    as_loopback_refused,
    backoff_wait,
    call_with_retries,
    make_session,
)
from crsync_provider.hooks.permanent import ConnectionConfigError, connection_or_fail
from crsync_provider.hooks.salesforce_bulk import BulkUpsertMixin
from crsync_provider.hooks.salesforce_collections import COLLECTION_LIMIT, CollectionsMixin
from crsync_provider.hooks.salesforce_errors import (
    LOCK_ERROR,
    SalesforceLimitExceededError,
    SalesforceLoginError,
    SalesforceServerError,
    SalesforceSessionError,
    SalesforceSyncError,
    is_retryable,
    login_error,
    translate_error,
)
from crsync_provider.hooks.salesforce_results import to_write_results
from crsync_provider.hooks.salesforce_soql import bind_soql, soql_literal

__all__ = [
    "COLLECTION_LIMIT",
    "DEFAULT_BULK_THRESHOLD",
    "LOCK_ERROR",
    "SalesforceLimitExceededError",
    "SalesforceLoginError",
    "SalesforceServerError",
    "SalesforceSessionError",
    "SalesforceSyncError",
    "SalesforceSyncHook",
    "bind_soql",
    "soql_literal",
    "to_write_results",
]

R = TypeVar("R")

DEFAULT_BULK_THRESHOLD = 2000


def _extra(extras: Mapping[str, Any], name: str) -> Any:
    """An extra by its name, or by the provider form's older ``extra__salesforce__<name>``; blank is None."""
    return extras.get(name) or extras.get(f"extra__salesforce__{name}") or None


class SalesforceSyncHook(CollectionsMixin, BulkUpsertMixin, SalesforceHook):
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
    def conn(self) -> Salesforce:  # type: ignore[override]
        """The simple-salesforce client: session mode when configured, else the provider's auth."""
        connection = connection_or_fail(self.get_connection, self.conn_id, "salesforce")
        extras = connection.extra_dejson or {}
        if self.session is None:
            self.session = make_session(ca_bundle=_extra(extras, "ca_bundle"), pool_size=16, timeout=self.timeout)
        if self.session_id is None:
            token = _extra(extras, "session_id")
            if not token and str(_extra(extras, "auth_type") or "").lower() == "session":
                token = connection.password or None
            if token:
                if not _extra(extras, "instance_url") and not _extra(extras, "instance"):
                    raise ConnectionConfigError(
                        f"Connection {self.conn_id!r}: session mode needs extra 'instance_url' with the session"
                    )
                self.session_id = token
                self._mask(token)
        # The provider's own hook builds the client from the connection (its public get_conn()); session
        # mode hands it the token, so simple-salesforce goes straight to instance_url without a login.
        provider = SalesforceHook(salesforce_conn_id=self.conn_id, session_id=self.session_id, session=self.session)
        try:
            client = provider.get_conn()
        except SalesforceAuthenticationFailed as exc:  # 429/5xx retried by Airflow, a refusal is permanent
            raise login_error(exc, self.conn_id) from exc
        except requests.exceptions.ConnectionError as exc:  # the login request (password, JWT, client credentials)
            refused = as_loopback_refused(exc, system="Salesforce", conn_id=self.conn_id)
            if refused is None:
                raise
            raise refused from exc
        if client.session_id and client.session_id != self.session_id:
            self._mask(client.session_id)  # the access token a login (password, JWT, client credentials) got
        return client

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

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run one simple-salesforce call with retries (429/5xx, dropped connections) and typed errors.

        The retry loop is the shared one (:func:`~crsync_provider.hooks._http.call_with_retries`: full
        jitter backoff, one retry after a timeout, a refused loopback host fails at once); which replies
        are retried is Salesforce's (:func:`~crsync_provider.hooks.salesforce_errors.is_retryable`).
        """

        def once() -> R:
            try:
                return fn(*args, **kwargs)
            except SalesforceError as exc:
                raise translate_error(exc, self.conn_id) from exc
            except json.JSONDecodeError as exc:
                # A 2xx page that is not Salesforce's JSON (proxy, firewall, maintenance): retried.
                raise SalesforceServerError(
                    200,
                    "UNEXPECTED_REPLY",
                    "Salesforce answered with a page that is not JSON; the request may not "
                    "have reached Salesforce. Check the connection's instance_url and any proxy or firewall "
                    "in between, or Salesforce's status page if it persists",
                ) from exc

        return call_with_retries(
            once,
            system="Salesforce",
            conn_id=self.conn_id,
            max_attempts=self.max_attempts,
            wait=backoff_wait(self.backoff_base, self.backoff_max),
            retry=is_retryable,
            timeout=self.timeout,
            default_url=self.conn.base_url,
            log=self.log,
        )

    def restful(self, path: str, *, method: str = "GET", **kwargs: Any) -> Any:
        """``conn.restful`` (path under ``/services/data/vXX.X/``) with retries and typed errors."""
        return self.call(self.conn.restful, path, method=method, **kwargs)

    def with_client(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run ``fn(client, ...)`` through :meth:`call`; a session that expired in the middle of a run is renewed.

        ``Salesforce.restful`` and ``query`` renew an expired password/JWT/client-credentials session
        themselves; calls made with the client's session directly (CSV) do not, so on a 401 this logs in
        again (a new client) and tries once more. A session-mode token cannot be renewed: the 401 fails.
        """
        try:
            return self.call(fn, self.conn, *args, **kwargs)
        except SalesforceSessionError:
            if self.conn.auth_type == "direct":
                raise
            self.log.info("Salesforce session expired; logging in again")
            self.__dict__.pop("conn", None)
            return self.call(fn, self.conn, *args, **kwargs)

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
        first = self.call(self.conn.query, soql, include_deleted=include_deleted, **kwargs)
        for record in self._records(first, headers):
            if flatten_children:
                record = self._flatten_children(record, headers)
            yield salesforce_soql.strip_attributes(record) if strip_attributes else record

    def _records(self, page: Mapping[str, Any], headers: Mapping[str, str] | None) -> Iterator[dict[str, Any]]:
        """The records of ``page`` and of the pages after it (``nextRecordsUrl``), each fetched when reached."""
        kwargs: dict[str, Any] = {"headers": dict(headers)} if headers else {}
        while True:
            yield from page.get("records") or []
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = self.call(self.conn.query_more, page["nextRecordsUrl"], identifier_is_url=True, **kwargs)

    def _flatten_children(self, record: dict[str, Any], headers: Mapping[str, str] | None) -> dict[str, Any]:
        out = dict(record)
        for name, value in record.items():
            if name != "attributes" and isinstance(value, Mapping) and "records" in value and "totalSize" in value:
                out[name] = list(self._records(value, headers))
        return out

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

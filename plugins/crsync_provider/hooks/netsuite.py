"""NetSuite SuiteTalk REST: SuiteQL, record operations and many-record writes, governance-aware.

:class:`NetSuiteHook` composes the pieces, each in a module of its own:

- :mod:`~crsync_provider.hooks.netsuite_errors`: the error types and the error-reply parser;
- :mod:`~crsync_provider.hooks.netsuite_auth`: token-based auth (OAuth 1.0a) and OAuth 2.0 client
  credentials with the process-wide token cache, as ``requests`` auth classes;
- :mod:`~crsync_provider.hooks.netsuite_concurrency`: the account's concurrency slots in this process;
- :mod:`~crsync_provider.hooks.netsuite_transport`: signing, slots, retries with backoff and jitter;
- :mod:`~crsync_provider.hooks.suiteql`: SuiteQL literals and the offset and keyset pagers;
- :mod:`~crsync_provider.hooks.netsuite_writes`: many writes in one call (``write_many``).

The hook itself holds the connection form, the configuration read from the connection, and record
operations. Operators and ``@task`` functions call it. Every HTTP attempt holds a slot of the account
(sized to the account limit, shared by all hooks of a process); :meth:`NetSuiteHook.map_concurrently`
runs work on exactly that many threads. Across workers, the Airflow pool ``netsuite_api`` (sized to the
same limit) does the same job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

import requests
from airflow.sdk import BaseHook

from crsync_provider.connection_fields import (
    NETSUITE_CONN_FIELDS,
    NETSUITE_DEFAULT_CONN_ID,
    NETSUITE_UI_FIELD_BEHAVIOUR,
)
from crsync_provider.hooks import netsuite_concurrency as concurrency
from crsync_provider.hooks._http import DEFAULT_TIMEOUT, make_session
from crsync_provider.hooks.netsuite_auth import (
    TOKEN_PATH,
    ClientCredentialsAuth,
    TokenBasedAuth,
    load_private_key,
)
from crsync_provider.hooks.netsuite_concurrency import Slots
from crsync_provider.hooks.netsuite_endpoint import checked_base_url
from crsync_provider.hooks.netsuite_errors import (
    EXTERNAL_ID_RE,
    NetSuiteAuthError,
    NetSuiteError,
    NetSuiteNotFoundError,
    NetSuiteRateLimitError,
    NetSuiteRedirectError,
    NetSuiteServerError,
    NetSuiteUnexpectedReplyError,
    NetSuiteValidationError,
    error_from_response,
    is_retryable,
    unexpected_reply,
    validate_external_id,
)
from crsync_provider.hooks.netsuite_records import NetSuiteRecordsMixin
from crsync_provider.hooks.netsuite_transport import NetSuiteTransport
from crsync_provider.hooks.netsuite_writes import NOT_QUEUED, TRANSACTION_TYPES
from crsync_provider.hooks.permanent import ConnectionConfigError, connection_or_fail
from crsync_provider.hooks.suiteql import (
    SUITEQL_MAX_PAGE,
    SUITEQL_ROW_CAP,
    KeysetPaged,
    KeysetTemplate,
    bind_suiteql,
    keyset_rows,
    offset_rows,
    suiteql_literal,
    suiteql_timestamp,
)

if TYPE_CHECKING:
    from airflow.sdk import Connection

T = TypeVar("T")
R = TypeVar("R")


def default_base_url(account_id: str) -> str:
    """``https://<account>.suitetalk.api.netsuite.com``; ``1234567_SB1`` becomes ``1234567-sb1``."""
    return f"https://{account_id.lower().replace('_', '-')}.suitetalk.api.netsuite.com"


class NetSuiteHook(NetSuiteRecordsMixin, BaseHook):
    """
    Talk to NetSuite SuiteTalk REST web services.

    Connection (type ``netsuite``): extras ``account_id``, ``auth_method`` (``tba`` or
    ``oauth2_m2m``), TBA consumer key/secret (login/password, or extras ``consumer_key``/
    ``consumer_secret``) and ``token_id``/``token_secret``, M2M
    ``client_id``/``certificate_id``/``private_key`` (PEM) or ``private_key_file``, ``ca_bundle``,
    ``concurrency_limit`` (default 5), optional ``max_attempts``, ``timeout`` (read), ``connect_timeout``,
    ``backoff_base``,
    ``backoff_max``; host = base URL override (default
    ``https://<account>.suitetalk.api.netsuite.com``).

    :param netsuite_conn_id: the Airflow connection id.
    :param concurrency_limit: a stricter limit for this hook; never above the connection's
        ``concurrency_limit`` (the account limit) when the connection sets one.
    :param max_attempts: attempts per request for retryable failures (429, 5xx, dropped connections).
    :param timeout: seconds to wait for the server's next bytes (read timeout); wins over the extras.
    :param connect_timeout: seconds to set up a connection; wins over the extras.
    :param default_timeout: (connect, read) seconds used when neither the arguments nor the connection's
        extras name them (the flows pass the integration settings' ``http`` section).
    :param backoff_base: base of the exponential backoff (full jitter), seconds.
    :param backoff_max: ceiling of one backoff sleep, seconds.
    """

    conn_name_attr = "netsuite_conn_id"
    default_conn_name = NETSUITE_DEFAULT_CONN_ID
    conn_type = "netsuite"
    hook_name = "NetSuite"

    def __init__(
        self,
        netsuite_conn_id: str = default_conn_name,
        *,
        concurrency_limit: int | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        backoff_base: float | None = None,
        backoff_max: float | None = None,
        connect_timeout: float | None = None,
        default_timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__()
        self.netsuite_conn_id = netsuite_conn_id
        self._overrides = {
            "concurrency_limit": concurrency_limit,
            "max_attempts": max_attempts,
            "timeout": timeout,
            "connect_timeout": connect_timeout,
            "backoff_base": backoff_base,
            "backoff_max": backoff_max,
        }
        self._default_timeout = default_timeout
        self._session_lock = threading.Lock()

    # ------------------------------------------------------------------ connection form (UI)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Return the connection form's extra fields (Airflow < 3.2 UI; 3.2+ reads provider info)."""
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, PasswordField, StringField

        widgets: dict[str, Any] = {}
        for name, spec in NETSUITE_CONN_FIELDS.items():
            label = lazy_gettext(spec["label"])
            schema = spec["schema"]
            if schema.get("format") == "password":
                widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget())
            elif "integer" in schema.get("type", []):
                widgets[name] = IntegerField(label, widget=BS3TextFieldWidget())
            else:
                widgets[name] = StringField(label, widget=BS3TextFieldWidget())
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Return custom field behaviour: hidden standard fields, host relabelled as base URL override."""
        return {
            "hidden_fields": list(NETSUITE_UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(NETSUITE_UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(NETSUITE_UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    # ------------------------------------------------------------------ configuration

    @cached_property
    def connection(self) -> Connection:
        return connection_or_fail(self.get_connection, self.netsuite_conn_id, self.conn_type)

    @cached_property
    def extras(self) -> dict[str, Any]:
        raw = self.connection.extra_dejson or {}
        prefix = f"extra__{self.conn_type}__"
        out: dict[str, Any] = {}
        for key, value in raw.items():
            name = key[len(prefix) :] if key.startswith(prefix) else key
            if value not in (None, "") and (name not in out or not key.startswith(prefix)):
                out[name] = value
        return out

    def _setting(self, name: str, default: Any, cast: Callable[[Any], Any]) -> Any:
        value = self._overrides.get(name)
        if value is None:
            value = self.extras.get(name)
        return default if value in (None, "") else cast(value)

    @cached_property
    def account_id(self) -> str:
        """The account id as NetSuite spells it (the OAuth 1.0a realm): ``1234567-sb1`` becomes ``1234567_SB1``.

        The host form (``1234567-sb1``, :func:`default_base_url`) is accepted too; NetSuite refuses a TBA
        signature whose realm is not upper case with ``_``.
        """
        account = self.extras.get("account_id")
        if not account:
            raise ConnectionConfigError(
                f"Connection {self.netsuite_conn_id!r} has no account_id: set extra 'account_id' (Setup > "
                "Company > Company Information in NetSuite)"
            )
        return str(account).strip().upper().replace("-", "_")

    @cached_property
    def base_url(self) -> str:
        """Scheme and host (and port) of the REST endpoint, without ``/services/rest``."""
        host = (self.connection.host or "").strip()
        if not host:
            return default_base_url(self.account_id)
        if "://" not in host:
            host = f"https://{host}"
        if self.connection.port and not urlparse(host).port:
            host = f"{host.rstrip('/')}:{self.connection.port}"
        host = host.rstrip("/")
        for suffix in ("/services/rest", "/services"):
            if host.endswith(suffix):
                host = host[: -len(suffix)]
        return checked_base_url(host, self.netsuite_conn_id)  # https:// only (loopback excepted)

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/services/rest/"

    @property
    def token_url(self) -> str:
        return f"{self.api_root}{TOKEN_PATH}"

    @cached_property
    def ui_base_url(self) -> str | None:
        """NetSuite UI root for links, or None when unknown (base URL overridden, no ``ui_base_url``)."""
        if self.extras.get("ui_base_url"):
            return str(self.extras["ui_base_url"]).rstrip("/")
        if (self.connection.host or "").strip():
            return None
        return f"https://{self.account_id.lower().replace('_', '-')}.app.netsuite.com"

    @cached_property
    def auth_method(self) -> str:
        method = str(self.extras.get("auth_method") or "").lower()
        if not method:
            method = (
                "oauth2_m2m" if self.extras.get("client_id") and not self.extras.get("token_id") else "tba"
            )
        if method not in ("tba", "oauth2_m2m"):
            raise ConnectionConfigError(
                f"Connection {self.netsuite_conn_id!r}: auth_method must be 'tba' or 'oauth2_m2m', got {method!r}"
            )
        return method

    @cached_property
    def concurrency_limit(self) -> int:
        """The requested limit, but never above the connection's (the account limit), default 5."""
        limit = self._setting("concurrency_limit", 5, int)
        account_limit = self.extras.get("concurrency_limit")
        if account_limit not in (None, ""):
            limit = min(limit, int(account_limit))
        if limit < 1:
            raise ConnectionConfigError(
                f"Connection {self.netsuite_conn_id!r}: concurrency_limit must be at least 1, got {limit}"
            )
        return limit

    @cached_property
    def max_attempts(self) -> int:
        return max(1, self._setting("max_attempts", 8, int))

    @cached_property
    def timeout(self) -> float:
        """Read timeout, seconds."""
        return self._setting("timeout", self._default_timeout[1], float)

    @cached_property
    def timeouts(self) -> tuple[float, float]:
        """(connect, read) seconds sent with every request, token fetches included."""
        return (self._setting("connect_timeout", self._default_timeout[0], float), self.timeout)

    @cached_property
    def transform_lookup_wait(self) -> float:
        """Seconds to wait for SuiteQL to show a record a lost transform reply may have made (extra)."""
        return max(0.0, self._setting("transform_lookup_wait", 30.0, float))

    @cached_property
    def backoff_base(self) -> float:
        return self._setting("backoff_base", 0.5, float)

    @cached_property
    def backoff_max(self) -> float:
        return self._setting("backoff_max", 30.0, float)

    @cached_property
    def semaphore(self) -> Slots:
        """The slots every HTTP attempt to this account holds (shared by all hooks of this process).

        The account's slots are sized by the first limit seen for the account in this process; a hook
        asking for a smaller limit also holds a semaphore of its own, so neither is exceeded.
        """
        return concurrency.hook_slots(self.account_id, self.base_url, self.concurrency_limit)

    # ------------------------------------------------------------------ authentication

    def _secret(self, name: str, *, required: bool = True) -> str | None:
        value = self.extras.get(name)
        if value is None and name == "consumer_key":
            value = self.connection.login or None
        if value is None and name == "consumer_secret":
            value = self.connection.password or None
        if value is None and required:
            raise ConnectionConfigError(
                f"Connection {self.netsuite_conn_id!r} ({self.auth_method}) needs extra {name!r}"
            )
        if value is not None:
            value = str(value)
            self._mask(value, name)
        return value

    @staticmethod
    def _mask(value: str, name: str) -> None:
        try:
            from airflow.sdk.log import mask_secret

            mask_secret(value, name)
        except Exception:  # masking is best effort outside a task
            pass

    def _private_key(self) -> Any:
        pem = self._secret("private_key", required=False)
        if not pem:
            path = self.extras.get("private_key_file")
            if not path:
                raise ConnectionConfigError(
                    f"Connection {self.netsuite_conn_id!r} (oauth2_m2m) needs private_key or private_key_file"
                )
            pem = Path(path).expanduser().read_text()
            self._mask(pem, "private_key")
        return load_private_key(pem)

    @cached_property
    def auth(self) -> TokenBasedAuth | ClientCredentialsAuth:
        """The connection's authentication, applied to every request (:mod:`~crsync_provider.hooks.netsuite_auth`)."""
        if self.auth_method == "tba":
            return TokenBasedAuth(
                consumer_key=str(self._secret("consumer_key")),
                consumer_secret=str(self._secret("consumer_secret")),
                token_id=str(self._secret("token_id")),
                token_secret=str(self._secret("token_secret")),
                account_id=self.account_id,
            )
        return ClientCredentialsAuth(
            token_url=self.token_url,
            client_id=str(self._secret("client_id")),  # missing: ConnectionConfigError before any request
            certificate_id=str(self._secret("certificate_id")),
            private_key=self._private_key,
            conn_id=self.netsuite_conn_id,
            post_token=lambda data: self.transport.post_token(data),
            mask=self._mask,
        )

    def _m2m(self) -> ClientCredentialsAuth:
        auth = self.auth
        if not isinstance(auth, ClientCredentialsAuth):
            raise ConnectionConfigError(f"Connection {self.netsuite_conn_id!r} does not use oauth2_m2m")
        return auth

    def client_assertion(self, *, lifetime: int = 300) -> str:
        """A signed JWT for the client-credentials grant (``kid`` = certificate id, ``iss`` = client id)."""
        self._secret("client_id")
        self._secret("certificate_id")
        return self._m2m().client_assertion(lifetime=lifetime)

    def access_token(self) -> str:
        """A cached OAuth 2.0 access token, renewed five minutes before it expires."""
        return self._m2m().access_token()

    # ------------------------------------------------------------------ HTTP

    @cached_property
    def session(self) -> requests.Session:
        """One session with a connection pool at least as large as the concurrency limit."""
        session = make_session(
            ca_bundle=self.extras.get("ca_bundle"),
            pool_size=2 * self.concurrency_limit + 2,
            timeout=self.timeouts,
        )
        session.headers.update({"Accept": "application/json", "User-Agent": "crsync-provider/netsuite"})
        return session

    @cached_property
    def transport(self) -> NetSuiteTransport:
        """Sends this hook's requests: auth, the account's slots, retries (:mod:`~crsync_provider.hooks.netsuite_transport`)."""
        ca_bundle = self.extras.get("ca_bundle")
        return NetSuiteTransport(
            conn_id=self.netsuite_conn_id,
            base_url=self.base_url,
            session=self.session,
            verify=str(Path(ca_bundle).expanduser()) if ca_bundle else True,
            slots=lambda: self.semaphore,
            auth=lambda: self.auth,
            max_attempts=self.max_attempts,
            timeouts=self.timeouts,
            backoff_base=self.backoff_base,
            backoff_max=self.backoff_max,
            log=self.log,
        )

    def get_conn(self) -> requests.Session:
        """Return the HTTP session (authentication is applied per request)."""
        return self.session

    def request(self, method: str, path: str, **options: Any) -> Any:
        """
        Send a request to ``services/rest/<path>`` with retries and the concurrency limit.

        ``options``: ``params``, ``json``, ``headers``; ``idempotent=False`` for requests that must not
        be repeated once the server may have acted on them (create, transform): those are retried after
        429 and connect failures only, and after 5xx / dropped connections only when ``already_done``
        (a callable checking whether an earlier attempt took effect) says the write did not land.
        See :meth:`~crsync_provider.hooks.netsuite_transport.NetSuiteTransport.request`.

        :raises NetSuiteError: the typed error of the last attempt.
        """
        return self.transport.request(method, path, **options)

    # ------------------------------------------------------------------ concurrency

    def map_concurrently(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        max_workers: int | None = None,
    ) -> list[R]:
        """
        Apply ``fn`` to every item on ``concurrency_limit`` threads; results in input order.

        Every request ``fn`` makes through this hook holds a slot of the account semaphore, so the
        limit is used fully and never exceeded. ``max_workers`` may exceed the limit: the extra
        threads prepare (and sign) their next request and wait for a slot, so a slot is refilled the
        moment it frees; requests in flight still never exceed ``concurrency_limit``.
        The first exception raised by ``fn`` propagates (after the running calls finish); catch
        per-item errors inside ``fn`` to keep going.
        """
        return concurrency.map_concurrently(fn, items, workers=max_workers or self.concurrency_limit)

    # ------------------------------------------------------------------ SuiteQL

    def suiteql_page(self, query: str, *, limit: int = SUITEQL_MAX_PAGE, offset: int = 0) -> dict[str, Any]:
        """One SuiteQL page as NetSuite returns it (``items``, ``hasMore``, ``totalResults``...)."""
        if not 1 <= limit <= SUITEQL_MAX_PAGE:
            raise ValueError(f"limit must be 1..{SUITEQL_MAX_PAGE}")
        resp = self.request(
            "POST",
            "query/v1/suiteql",
            params={"limit": limit, "offset": offset},
            json={"q": query},
            headers={"Prefer": "transient"},
        )
        return resp.json()  # type: ignore[union-attr]

    def _fetch_page(self, query: str, limit: int, offset: int) -> dict[str, Any]:
        return self.suiteql_page(query, limit=limit, offset=offset)

    def suiteql(
        self,
        query: str,
        *,
        page_size: int = SUITEQL_MAX_PAGE,
        parameters: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """
        Yield the rows of a SuiteQL query, paging with limit/offset (``links`` removed).

        NetSuite returns at most 100,000 rows this way; for more use :meth:`suiteql_keyset`.

        :param query: SuiteQL; ``ORDER BY`` a unique key for stable paging. ``:name`` placeholders
            are replaced from ``parameters`` (see :func:`bind_suiteql`).
        :param page_size: rows per request, at most 1000.
        """

        def too_many() -> NetSuiteValidationError:
            return NetSuiteValidationError(
                0, "SUITEQL_ROW_CAP", f"query returns more than {SUITEQL_ROW_CAP} rows; use suiteql_keyset()"
            )

        return offset_rows(
            self._fetch_page, bind_suiteql(query, parameters), page_size=page_size, too_many=too_many
        )

    def suiteql_keyset(
        self,
        query: str | KeysetPaged,
        *,
        key: str = "id",
        start_after: Any = None,
        page_size: int = SUITEQL_MAX_PAGE,
        parameters: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """
        Yield all rows of a query of any size by paging on a unique key (past the 100,000-row cap).

        ``query`` is a :class:`~crsync_provider.hooks.suiteql.KeysetPaged` object (a template and its
        key, e.g. ``crsync.queries.KeysetQuery``), or a template string whose key is ``key``. The
        template holds ``{key_filter}`` where the key condition goes and must ``ORDER BY`` the key
        ascending, e.g.
        ``SELECT id, tranid FROM transaction WHERE type = 'SalesOrd' AND {key_filter} ORDER BY id``.
        Each page is one request: ``key > <last key seen>`` with limit ``page_size``, offset 0.

        :param key: the unique key expression of a template string (``id``, ``t.id``...).
        :param start_after: begin after this key value (None: from the start).
        """
        keyset = KeysetTemplate(query, key) if isinstance(query, str) else query
        if parameters:
            keyset = KeysetTemplate(bind_suiteql(keyset.template, parameters), keyset.key)
        return keyset_rows(self._fetch_page, keyset, page_size=page_size, start_after=start_after)

    # ------------------------------------------------------------------ UI test button

    #: The UI Test button's query: one cheap SuiteQL round trip (``DUAL`` support is unconfirmed in
    #: NetSuite's docs; ``SELECT id FROM currency`` is an alternative any REST role can read).
    test_query = "SELECT 1 AS ok FROM DUAL"

    def test_connection(self) -> tuple[bool, str]:
        """Authenticate and run :attr:`test_query` (one cheap SuiteQL round trip)."""
        try:
            page = self.suiteql_page(self.test_query, limit=1)
        except Exception as exc:
            return False, str(exc)
        return (
            True,
            f"Connected to NetSuite account {self.account_id} ({self.auth_method}); {page.get('count', 0)} row",
        )


__all__ = [
    "EXTERNAL_ID_RE",
    "NOT_QUEUED",
    "TRANSACTION_TYPES",
    "NetSuiteAuthError",
    "NetSuiteError",
    "NetSuiteHook",
    "NetSuiteNotFoundError",
    "NetSuiteRateLimitError",
    "NetSuiteRedirectError",
    "NetSuiteServerError",
    "NetSuiteUnexpectedReplyError",
    "NetSuiteValidationError",
    "bind_suiteql",
    "default_base_url",
    "error_from_response",
    "is_retryable",
    "suiteql_literal",
    "suiteql_timestamp",
    "unexpected_reply",
    "validate_external_id",
]

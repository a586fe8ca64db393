"""NetSuite SuiteTalk REST: SuiteQL, record operations and many-record writes, governance-aware.

The hook owns the connection, authentication (token-based OAuth 1.0a or OAuth 2.0 client
credentials), retries and the account concurrency limit. Operators and ``@task`` functions call it.

Concurrency: every HTTP attempt holds a slot of a :class:`threading.BoundedSemaphore` sized to the
account limit (shared by all hooks of a process that talk to the same account), released while a
retry backs off. :meth:`NetSuiteHook.map_concurrently` runs work on exactly that many threads, so a
task uses the whole limit and never exceeds it. Across workers, the Airflow pool ``netsuite_api``
(sized to the same limit) does the same job.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

import requests
import tenacity
from airflow.sdk import BaseHook

from crsync_provider.connection_fields import NETSUITE_CONN_FIELDS, NETSUITE_UI_FIELD_BEHAVIOUR
from crsync_provider.hooks._http import (
    DEFAULT_TIMEOUT,
    TIMEOUT_ATTEMPTS,
    HttpTimeoutError,
    as_loopback_refused,
    as_timeout_error,
    host_and_port,
    make_session,
    request_address,
    retry_message,
)
from crsync_provider.hooks.netsuite_endpoint import (
    check_same_host,
    checked_base_url,
    netsuite_error_of,
    not_netsuite_message,
)
from crsync_provider.hooks.permanent import (
    ConnectionConfigError,
    PermanentError,
    connection_or_fail,
    credentials_fix,
)

if TYPE_CHECKING:
    from airflow.sdk import Connection

T = TypeVar("T")
R = TypeVar("R")

SUITEQL_MAX_PAGE = 1000
SUITEQL_ROW_CAP = 100_000
TOKEN_PATH = "auth/oauth2/v1/token"
# Use with fullmatch: match() with "$" would accept a trailing newline.
EXTERNAL_ID_RE = re.compile(r"[A-Za-z0-9_-]+")
# NetSuite record type (REST) -> (SuiteQL table, transaction type filter) for external-id lookups.
TRANSACTION_TYPES: dict[str, str] = {
    "salesorder": "SalesOrd",
    "estimate": "Estimate",
    "invoice": "CustInvc",
    "opportunity": "Opprtnty",
    "purchaseorder": "PurchOrd",
    "creditmemo": "CustCred",
    "cashsale": "CashSale",
    "returnauthorization": "RtnAuth",
    "customerpayment": "CustPymt",
    "journalentry": "Journal",
    "vendorbill": "VendBill",
}
#: Failure code of an ``update_only`` write whose record does not exist (``crsync.records.NOT_QUEUED``;
#: the provider does not import the integration package).
NOT_QUEUED = "not_queued"

_RETRYABLE_TRANSPORT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ReadTimeout,
)


# --------------------------------------------------------------------------------------------- errors


class NetSuiteError(Exception):
    """An error reply from NetSuite, carrying ``o:errorCode``, ``o:errorPath`` and the detail.

    :param status: HTTP status (0 when no reply was received).
    :param code: NetSuite's ``o:errorCode`` (e.g. ``INVALID_CONTENT``), or a client-side code.
    :param detail: NetSuite's ``detail`` message.
    :param path: NetSuite's ``o:errorPath`` (the field at fault) when given.
    :param retry_after: seconds from a ``Retry-After`` header, when given.
    """

    retryable = False

    def __init__(
        self,
        status: int,
        code: str | None,
        detail: str,
        *,
        path: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status = status
        self.code = code or "UNKNOWN_ERROR"
        self.detail = detail
        self.path = path
        self.retry_after = retry_after
        self.method = method
        self.url = url
        where = f" at {path}" if path else ""
        request = f" ({method} {url})" if method and url else ""
        super().__init__(f"NetSuite {status} {self.code}{where}: {detail}{request}")

    def as_error(self) -> dict[str, Any]:
        """The ``error`` member of a write result."""
        return {"code": self.code, "message": self.detail, "path": self.path}


class NetSuiteAuthError(NetSuiteError, PermanentError):
    """401/403: bad credentials, expired token, missing permission. Never retried; fails the task at once."""


class NetSuiteValidationError(NetSuiteError):
    """Other 4xx: the request itself is wrong. Never retried."""


class NetSuiteNotFoundError(NetSuiteValidationError):
    """404: no such record."""


class NetSuiteRateLimitError(NetSuiteError):
    """429: over the account concurrency limit. Retried with backoff."""

    retryable = True


class NetSuiteServerError(NetSuiteError):
    """5xx. Retried with backoff."""

    retryable = True


class NetSuiteUnexpectedReplyError(NetSuiteServerError):
    """A success status whose body is not NetSuite's JSON (a proxy, firewall or maintenance page).

    Nothing says the request was handled, so it is retried like a 5xx; after the last attempt the
    error names the likely fix.
    """


def unexpected_reply(resp: requests.Response) -> NetSuiteUnexpectedReplyError | None:
    """The error for a 2xx reply with a body that is not JSON (None when the reply is fine)."""
    if not resp.content:
        return None
    content_type = resp.headers.get("Content-Type", "")
    if "json" in content_type.lower():
        return None
    # Never the body: the host may not be NetSuite (netsuite_endpoint).
    return NetSuiteUnexpectedReplyError(
        resp.status_code,
        "UNEXPECTED_REPLY",
        f"{not_netsuite_message(resp)} (the reply is not JSON; the request may not have reached NetSuite: "
        "also check any proxy or firewall in between, or NetSuite's status page if it persists)",
        method=resp.request.method if resp.request is not None else None,
        url=_strip_query(resp.url),
    )


def error_from_response(resp: requests.Response) -> NetSuiteError:
    """Map an error reply to the typed :class:`NetSuiteError` it stands for."""
    status = resp.status_code
    try:
        body = resp.json()
    except ValueError:
        body = None
    # Only NetSuite's error code and message are repeated, never a raw body (netsuite_endpoint).
    known = netsuite_error_of(body)
    code, detail, path = known if known else ("UNEXPECTED_REPLY", not_netsuite_message(resp), None)
    retry_after = _parse_retry_after(resp.headers.get("Retry-After"))
    cls: type[NetSuiteError]
    if status in (401, 403):
        cls = NetSuiteAuthError
    elif status == 404:
        cls = NetSuiteNotFoundError
    elif status == 429:
        cls = NetSuiteRateLimitError
    elif status >= 500:
        cls = NetSuiteServerError
    else:
        cls = NetSuiteValidationError
    return cls(
        status,
        code,
        detail,
        path=path,
        retry_after=retry_after,
        method=resp.request.method if resp.request is not None else None,
        url=_strip_query(resp.url),
    )


def _strip_query(url: str | None) -> str | None:
    return url.split("?", 1)[0] if url else url


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_retryable(exc: BaseException) -> bool:
    """True for 429, 5xx and dropped connections; False for auth, validation and TLS errors."""
    if isinstance(exc, NetSuiteError):
        return exc.retryable
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.InvalidURL):
        return False
    return isinstance(exc, _RETRYABLE_TRANSPORT)


def _maybe_processed(exc: BaseException) -> bool:
    """Could the server have acted on the request that failed this way?

    429 (refused at the door) and connect failures are safe to resend; a 5xx or a connection
    dropped after the request was sent may have been processed.
    """
    if isinstance(exc, NetSuiteRateLimitError):
        return False
    return not isinstance(exc, requests.exceptions.ConnectTimeout)


# --------------------------------------------------------------------------------------------- helpers


def validate_external_id(external_id: str) -> str:
    """Return ``external_id`` or raise :class:`NetSuiteValidationError` (letters, digits, ``_``, ``-``)."""
    if not isinstance(external_id, str) or not EXTERNAL_ID_RE.fullmatch(external_id):
        raise NetSuiteValidationError(
            0,
            "INVALID_EXTERNAL_ID",
            f"external id {external_id!r} may contain only letters, digits, '_' and '-'",
            path="externalId",
        )
    return external_id


def default_base_url(account_id: str) -> str:
    """``https://<account>.suitetalk.api.netsuite.com``; ``1234567_SB1`` becomes ``1234567-sb1``."""
    return f"https://{account_id.lower().replace('_', '-')}.suitetalk.api.netsuite.com"


def suiteql_literal(value: Any) -> str:
    """A SuiteQL literal: numbers as is, strings quoted (``'`` doubled), datetimes as TO_TIMESTAMP."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "'T'" if value else "'F'"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return suiteql_timestamp(value)
    text = str(value).replace("'", "''")
    return f"'{text}'"


def suiteql_timestamp(value: datetime | date | str) -> str:
    """``TO_TIMESTAMP('YYYY-MM-DD HH24:MI:SS', 'YYYY-MM-DD HH24:MI:SS')`` for a datetime or ISO string.

    Aware datetimes are written as their wall time (NetSuite compares in the account's time zone);
    convert them first if the account does not run on UTC.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    stamp = value.strftime("%Y-%m-%d %H:%M:%S")
    return f"TO_TIMESTAMP('{stamp}', 'YYYY-MM-DD HH24:MI:SS')"


def bind_suiteql(query: str, parameters: Mapping[str, Any] | None) -> str:
    """Replace ``:name`` placeholders with :func:`suiteql_literal` values (SuiteQL REST has no binds)."""
    if not parameters:
        return query

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in parameters:
            return match.group(0)
        return suiteql_literal(parameters[name])

    return re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", sub, query)


def _sublists(body: Mapping[str, Any]) -> list[str]:
    """Names of the sublists in a record body (values shaped ``{"items": [...]}``)."""
    return [k for k, v in body.items() if isinstance(v, Mapping) and isinstance(v.get("items"), list)]


def _id_from_location(resp: requests.Response) -> str | None:
    location = resp.headers.get("Location")
    if not location:
        return None
    last = location.rstrip("/").rsplit("/", 1)[-1]
    return last or None


# --------------------------------------------------------------------------------------------- auth


class _TokenCache:
    """OAuth 2.0 access tokens per (token URL, client id, certificate id), shared by threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}

    def get(self, key: tuple[str, str, str], fetch: Callable[[], tuple[str, float]], margin: float) -> str:
        with self._lock:
            cached = self._tokens.get(key)
            if cached and cached[1] - margin > time.monotonic():
                return cached[0]
            token, expires_in = fetch()
            self._tokens[key] = (token, time.monotonic() + expires_in)
            return token

    def invalidate(self, key: tuple[str, str, str], token: str) -> None:
        with self._lock:
            if self._tokens.get(key, ("", 0.0))[0] == token:
                self._tokens.pop(key, None)


_TOKENS = _TokenCache()
_SEMAPHORES: dict[tuple[str, str], threading.BoundedSemaphore] = {}
_SEMAPHORES_LOCK = threading.Lock()


def _account_semaphore(key: tuple[str, str], limit: int) -> threading.BoundedSemaphore:
    """The process-wide slots of one account, sized by the first limit seen for it."""
    with _SEMAPHORES_LOCK:
        sem = _SEMAPHORES.get(key)
        if sem is None:
            sem = threading.BoundedSemaphore(limit)
            sem._crsync_limit = limit  # type: ignore[attr-defined]
            _SEMAPHORES[key] = sem
        return sem


class _Slots:
    """Hold a slot of every semaphore in order (the account's, then a stricter per-hook one)."""

    def __init__(self, semaphores: Sequence[threading.BoundedSemaphore]) -> None:
        self.semaphores = semaphores

    def __enter__(self) -> None:
        for sem in self.semaphores:
            sem.acquire()

    def __exit__(self, *exc: object) -> None:
        for sem in reversed(self.semaphores):
            sem.release()


# --------------------------------------------------------------------------------------------- hook


class NetSuiteHook(BaseHook):
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
    default_conn_name = "netsuite_default"
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
        account = self.extras.get("account_id")
        if not account:
            raise ConnectionConfigError(
                f"Connection {self.netsuite_conn_id!r} has no account_id: set extra 'account_id' (Setup > "
                "Company > Company Information in NetSuite)"
            )
        return str(account)

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
    def semaphore(self) -> _Slots:
        """The slot every HTTP attempt to this account holds (shared by all hooks of this process).

        The account's semaphore is sized by the first limit seen for the account in this process; a
        hook asking for a smaller limit also holds a semaphore of its own, so neither is exceeded.
        """
        account = _account_semaphore((self.account_id, self.base_url), self.concurrency_limit)
        account_limit = account._crsync_limit  # type: ignore[attr-defined]
        if account_limit == self.concurrency_limit:
            return _Slots([account])
        if account_limit < self.concurrency_limit:
            self.log.warning(
                "NetSuite account %s already runs at concurrency %s in this process; this hook asked for %s",
                self.account_id,
                account_limit,
                self.concurrency_limit,
            )
            return _Slots([account])
        return _Slots([threading.BoundedSemaphore(self.concurrency_limit), account])

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

    @cached_property
    def _oauth1(self) -> Any:
        from requests_oauthlib import OAuth1

        return OAuth1(
            client_key=str(self._secret("consumer_key")),
            client_secret=self._secret("consumer_secret"),
            resource_owner_key=self._secret("token_id"),
            resource_owner_secret=self._secret("token_secret"),
            realm=self.account_id,
            signature_method="HMAC-SHA256",
        )

    @cached_property
    def _private_key(self) -> Any:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        pem = self._secret("private_key", required=False)
        if not pem:
            path = self.extras.get("private_key_file")
            if not path:
                raise ConnectionConfigError(
                    f"Connection {self.netsuite_conn_id!r} (oauth2_m2m) needs private_key or private_key_file"
                )
            pem = Path(path).expanduser().read_text()
            self._mask(pem, "private_key")
        pem = pem.replace("\\n", "\n").strip() + "\n"
        return load_pem_private_key(pem.encode(), password=None)

    @staticmethod
    def _mask(value: str, name: str) -> None:
        try:
            from airflow.sdk.log import mask_secret

            mask_secret(value, name)
        except Exception:  # masking is best effort outside a task
            pass

    def _jwt_algorithm(self) -> str:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        key = self._private_key
        if isinstance(key, rsa.RSAPrivateKey):
            return "PS256"
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return {256: "ES256", 384: "ES384", 521: "ES512"}.get(key.curve.key_size, "ES256")
        raise ConnectionConfigError(f"Connection {self.netsuite_conn_id!r}: private_key must be an RSA or EC private key")

    def client_assertion(self, *, lifetime: int = 300) -> str:
        """A signed JWT for the client-credentials grant (``kid`` = certificate id, ``iss`` = client id)."""
        import jwt

        if not 0 < lifetime <= 3600:
            raise ValueError("assertion lifetime must be within 60 minutes")
        now = int(time.time())
        claims = {
            "iss": self._secret("client_id"),
            "scope": "rest_webservices",
            "aud": self.token_url,
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self._secret("certificate_id"), "typ": "JWT"}
        return jwt.encode(claims, self._private_key, algorithm=self._jwt_algorithm(), headers=headers)

    @property
    def _token_key(self) -> tuple[str, str, str]:
        return (self.token_url, str(self.extras.get("client_id")), str(self.extras.get("certificate_id")))

    def _fetch_token(self) -> tuple[str, float]:
        data = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.client_assertion(),
        }

        def post() -> requests.Response:
            with self.semaphore:
                resp = self.session.post(
                    self.token_url, data=data, timeout=self.timeouts, verify=self._verify, allow_redirects=False
                )
            if resp.status_code >= 400:
                error = error_from_response(resp)
                if 400 <= resp.status_code < 500 and resp.status_code != 429:
                    # Any refusal at the token endpoint is an authentication failure: no retry.
                    raise NetSuiteAuthError(
                        error.status,
                        error.code,
                        f"OAuth 2.0 token request refused: {error.detail}. "
                        + credentials_fix(self.netsuite_conn_id, "the client id, certificate id or private key"),
                        method="POST",
                        url=self.token_url,
                    )
                raise error
            return resp

        resp = self._retrying(post)
        payload = resp.json()
        token = payload["access_token"]
        self._mask(token, "access_token")
        expires_in = float(payload.get("expires_in") or 3600)
        self.log.info("NetSuite OAuth 2.0 token obtained, valid for %ss", int(expires_in))
        return token, expires_in

    def access_token(self) -> str:
        """A cached OAuth 2.0 access token, renewed five minutes (or 10%) before it expires."""
        return _TOKENS.get(self._token_key, self._fetch_token, margin=300.0)

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
    def _verify(self) -> str | bool:
        # Passed on every request too: requests lets REQUESTS_CA_BUNDLE override ``session.verify``.
        ca_bundle = self.extras.get("ca_bundle")
        return str(Path(ca_bundle).expanduser()) if ca_bundle else True

    @cached_property
    def _send_settings(self) -> dict[str, Any]:
        """Proxies/verify/cert for the one host this hook talks to, resolved once (not per request)."""
        return self.session.merge_environment_settings(self.api_root, {}, None, self._verify, None)

    def get_conn(self) -> requests.Session:
        """Return the HTTP session (authentication is applied per request)."""
        return self.session

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            # At least what the server asked for, plus jitter so waiting threads do not return together.
            return min(float(retry_after), max(self.backoff_max, 60.0)) + random.uniform(0, self.backoff_base)
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (retry_state.attempt_number - 1))
        return random.uniform(0, ceiling)

    def _before_sleep(self, retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        address = request_address(exc, host_and_port(self.base_url))
        self.log.warning(
            retry_message("NetSuite", address, retry_state.attempt_number, self.max_attempts, exc, retry_state.upcoming_sleep)
        )

    def _retrying(
        self,
        fn: Callable[[], R],
        *,
        retry: Callable[[BaseException], bool] = is_retryable,
    ) -> R:
        def stop(retry_state: tenacity.RetryCallState) -> bool:
            # A timed-out attempt already waited the whole timeout: retry it once, not max_attempts times.
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            timed_out = isinstance(exc, requests.exceptions.Timeout)
            limit = min(self.max_attempts, TIMEOUT_ATTEMPTS) if timed_out else self.max_attempts
            return retry_state.attempt_number >= limit

        def once() -> R:
            try:
                return fn()
            except requests.exceptions.ConnectionError as exc:
                # Nothing listening on a loopback host (the sandbox is not running): no retry can help.
                refused = as_loopback_refused(exc, system="NetSuite", conn_id=self.netsuite_conn_id)
                if refused is None:
                    raise
                raise refused from exc

        retryer = tenacity.Retrying(
            stop=stop,
            wait=self._wait,
            retry=tenacity.retry_if_exception(retry),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retryer(once)
        except requests.exceptions.Timeout as exc:
            request = exc.request
            raise as_timeout_error(  # type: ignore[misc]
                exc,
                system="NetSuite",
                method=str(getattr(request, "method", None) or "request"),
                url=str(getattr(request, "url", None) or self.api_root),
                timeout=self.timeouts,
                attempts=int(retryer.statistics.get("attempt_number", 1)),
            ) from exc

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        refreshed: list[bool],
    ) -> requests.Response:
        """One attempt: authenticate (re-signing), hold a concurrency slot for the request only."""
        request_headers = {"Content-Type": "application/json"} if json is not None else {}
        request_headers.update(headers or {})
        auth = None
        token = None
        if self.auth_method == "tba":
            auth = self._oauth1  # signs each prepared request afresh: new nonce and timestamp
        else:
            token = self.access_token()  # may fetch a token: done before taking a slot
            request_headers["Authorization"] = f"Bearer {token}"
        # Build and sign the request before taking a slot, so a slot is busy only on the wire.
        prepared = self.session.prepare_request(
            requests.Request(method, url, params=params, json=json, headers=request_headers, auth=auth)
        )
        with self.semaphore:
            # No redirects: a reply may not send the hook to another host (netsuite_endpoint).
            resp = self.session.send(prepared, timeout=self.timeouts, allow_redirects=False, **self._send_settings)
            resp.content  # noqa: B018 - read the whole body while holding the slot
        time.sleep(0)  # yield the GIL: the thread just given the slot sends now, not after our bookkeeping
        if resp.status_code < 400:
            odd = unexpected_reply(resp)
            if odd is not None:
                raise odd
            return resp
        error = error_from_response(resp)
        if isinstance(error, NetSuiteAuthError) and token is not None and not refreshed[0]:
            # A cached token the server no longer accepts: drop it and try once with a new one.
            _TOKENS.invalidate(self._token_key, token)
            refreshed[0] = True
            raise _RefreshToken(error)
        if isinstance(error, NetSuiteAuthError):
            raise NetSuiteAuthError(
                error.status,
                error.code,
                f"{error.detail} "
                + credentials_fix(self.netsuite_conn_id, "the credentials (or the role's permissions)"),
                path=error.path,
                method=error.method,
                url=error.url,
            )
        raise error

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        already_done: Callable[[], R | None] | None = None,
    ) -> requests.Response | R:
        """
        Send a request to ``services/rest/<path>`` with retries and the concurrency limit.

        :param idempotent: False for requests that must not be repeated once the server may have
            acted on them (create, transform): those are retried after 429 and connect failures only,
            and after 5xx / dropped connections only when ``already_done`` says the write did not land.
        :param already_done: for non-idempotent requests, checks whether an earlier attempt took
            effect; returns the outcome (then no new attempt is sent) or None.
        :raises NetSuiteError: the typed error of the last attempt.
        """
        absolute = "://" in path.split("?", 1)[0]
        url = check_same_host(path, self.base_url) if absolute else self.api_root + path
        refreshed = [False]
        suspect = [False]

        def attempt() -> requests.Response | R:
            if suspect[0] and already_done is not None:
                outcome = already_done()
                if outcome is not None:
                    self.log.info("NetSuite %s %s: an earlier attempt had succeeded", method, path)
                    return outcome
            try:
                return self._send_once(
                    method, url, params=params, json=json, headers=headers, refreshed=refreshed
                )
            except Exception as exc:
                if not idempotent and is_retryable(exc) and _maybe_processed(exc):
                    suspect[0] = True
                raise

        def retry(exc: BaseException) -> bool:
            if isinstance(exc, _RefreshToken):
                return True
            if not is_retryable(exc):
                return False
            if idempotent or not _maybe_processed(exc):
                return True
            return already_done is not None

        try:
            return self._retrying(attempt, retry=retry)
        except _RefreshToken as exc:  # pragma: no cover - only when attempts run out right then
            raise exc.error from None

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
        items = list(items)
        workers = min(max_workers or self.concurrency_limit, max(1, len(items)))
        if workers <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="netsuite") as pool:
            return list(pool.map(fn, items))

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

    @staticmethod
    def _rows(page: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        for item in page.get("items") or []:
            row = dict(item)
            row.pop("links", None)
            yield row

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
        query = bind_suiteql(query, parameters)
        offset = 0
        while True:
            page = self.suiteql_page(query, limit=page_size, offset=offset)
            yield from self._rows(page)
            if not page.get("hasMore"):
                return
            offset += page_size
            if offset >= SUITEQL_ROW_CAP:
                raise NetSuiteValidationError(
                    0,
                    "SUITEQL_ROW_CAP",
                    f"query returns more than {SUITEQL_ROW_CAP} rows; use suiteql_keyset()",
                )

    def suiteql_keyset(
        self,
        query_template: str,
        *,
        key: str = "id",
        start_after: Any = None,
        page_size: int = SUITEQL_MAX_PAGE,
        parameters: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """
        Yield all rows of a query of any size by paging on a unique key (past the 100,000-row cap).

        ``query_template`` holds ``{key_filter}`` where the key condition goes and must
        ``ORDER BY`` the key ascending, e.g.
        ``SELECT id, tranid FROM transaction WHERE type = 'SalesOrd' AND {key_filter} ORDER BY id``.
        Each page is one request: ``key > <last key seen>`` with limit ``page_size``, offset 0.

        :param key: the unique key column as it appears in the rows (lower case).
        :param start_after: begin after this key value (None: from the start).
        """
        if "{key_filter}" not in query_template:
            raise ValueError("query_template must contain {key_filter}")
        query_template = bind_suiteql(query_template, parameters)
        column = key.rsplit(".", 1)[-1].lower()
        last = start_after
        while True:
            key_filter = "1 = 1" if last is None else f"{key} > {suiteql_literal(last)}"
            page = self.suiteql_page(query_template.replace("{key_filter}", key_filter), limit=page_size)
            rows = list(self._rows(page))
            yield from rows
            if not rows or not page.get("hasMore"):
                return
            new_last = rows[-1].get(column)
            if new_last is None:
                raise ValueError(f"keyset column {column!r} is missing from the rows")
            if isinstance(new_last, str) and new_last.lstrip("-").isdigit():
                new_last = int(new_last)  # SuiteQL may return numbers as strings; compare numerically
            if last is not None and new_last == last:
                raise ValueError("keyset paging made no progress; ORDER BY the key ascending")
            last = new_last

    # ------------------------------------------------------------------ records

    def get_record(
        self,
        record_type: str,
        record_id: str | int,
        *,
        expand_sub_resources: bool = False,
        fields: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """GET ``record/v1/<type>/<id>`` (``record_id`` may be ``eid:<external id>``)."""
        params: dict[str, Any] = {}
        if expand_sub_resources:
            params["expandSubResources"] = "true"
        if fields:
            params["fields"] = ",".join(fields)
        resp = self.request("GET", f"record/v1/{record_type}/{record_id}", params=params or None)
        body = resp.json()  # type: ignore[union-attr]
        body.pop("links", None)
        return body

    def _lookup_external_id(self, record_type: str, external_id: str) -> str | None:
        found = self.existing_external_ids(record_type, [external_id])
        return found.get(external_id)

    def create_record(self, record_type: str, body: Mapping[str, Any]) -> str | None:
        """POST ``record/v1/<type>``; returns the new internal id (from the ``Location`` header).

        With ``externalId`` in the body, a retry after an ambiguous failure first checks whether
        the record was created, so it is never created twice.
        """
        external_id = body.get("externalId")
        check = (lambda: self._lookup_external_id(record_type, external_id)) if external_id else None
        resp = self.request(
            "POST", f"record/v1/{record_type}", json=dict(body), idempotent=False, already_done=check
        )
        return resp if isinstance(resp, str) else _id_from_location(resp)  # type: ignore[arg-type]

    def update_record(
        self,
        record_type: str,
        record_id: str | int,
        body: Mapping[str, Any],
        *,
        replace: Sequence[str] | None = None,
    ) -> None:
        """PATCH ``record/v1/<type>/<id>``.

        NetSuite applies a sublist in the body by line key: lines naming an existing ``line`` update it,
        the others are added, and lines not sent stay (section_1545295601). A sublist named in
        ``?replace=`` becomes what was sent: matched keys are updated, the other lines removed
        (section_1545297048).

        :param replace: sublists to replace; default: every sublist present in ``body``. Pass ``[]`` to
            add or update single lines by their ``line`` key.
        """
        replace = _sublists(body) if replace is None else list(replace)
        params = {"replace": ",".join(replace)} if replace else None
        self.request("PATCH", f"record/v1/{record_type}/{record_id}", params=params, json=dict(body))

    def upsert_record(
        self,
        record_type: str,
        external_id: str,
        body: Mapping[str, Any],
        *,
        replace: Sequence[str] | None = None,
    ) -> str | None:
        """PUT ``record/v1/<type>/eid:<external id>`` (create or update); returns the id if NetSuite says.

        An update applies sublists as :meth:`update_record` does (by line key unless ``?replace=``;
        section_156335203191).

        :param replace: sublists to replace; default: every sublist present in ``body``.
        """
        validate_external_id(external_id)
        replace = _sublists(body) if replace is None else list(replace)
        params = {"replace": ",".join(replace)} if replace else None
        resp = self.request(
            "PUT", f"record/v1/{record_type}/eid:{external_id}", params=params, json=dict(body)
        )
        return _id_from_location(resp)  # type: ignore[arg-type]

    def delete_record(self, record_type: str, record_id: str | int) -> None:
        """DELETE ``record/v1/<type>/<id>``."""
        self.request("DELETE", f"record/v1/{record_type}/{record_id}")

    def transform_record(
        self,
        from_type: str,
        from_id: str | int,
        to_type: str,
        body: Mapping[str, Any] | None = None,
        *,
        replace: Sequence[str] | None = None,
    ) -> str | None:
        """POST ``record/v1/<from>/<id>/!transform/<to>`` (e.g. estimate to salesOrder); returns the new id.

        Sublists in ``body`` replace the ones copied from the source (``?replace=...``), as in
        :meth:`upsert_record`, so a transform and a later upsert of the same body give the same lines.
        With ``externalId`` in the body, a retry after an ambiguous failure first checks whether
        the record was created, so it is never created twice; a 4xx refusal (e.g. "already processed")
        is settled by :mod:`crsync_provider.hooks.netsuite_transform` (the record our lost attempt made
        counts as written, waiting up to ``transform_lookup_wait`` seconds for SuiteQL to show it).

        :param replace: sublists to replace; default: every sublist present in ``body``.
        """
        from crsync_provider.hooks import netsuite_transform as settle

        body = dict(body or {})
        external_id = body.get("externalId")
        if external_id:
            validate_external_id(external_id)
        replace = _sublists(body) if replace is None else list(replace)
        ambiguous = [False]  # set when an attempt may have been processed (already_done is then asked)

        def check() -> str | None:
            ambiguous[0] = True
            return settle.our_record(settle.find_transformed(self, from_id, to_type, external_id), external_id)

        try:
            resp = self.request(
                "POST",
                f"record/v1/{from_type}/{from_id}/!transform/{to_type}",
                params={"replace": ",".join(replace)} if replace else None,
                json=body,
                idempotent=False,
                already_done=check if external_id else None,
            )
        except NetSuiteValidationError as exc:
            if not external_id:
                raise
            # "Already processed" may mean our lost attempt made the record: look again before failing.
            return settle.settle_refused_transform(
                self, exc, from_type=from_type, from_id=from_id, to_type=to_type, external_id=external_id,
                ambiguous=ambiguous[0], wait_seconds=self.transform_lookup_wait,
            )  # fmt: skip
        return resp if isinstance(resp, str) else _id_from_location(resp)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ many writes

    @staticmethod
    def suiteql_source(record_type: str) -> tuple[str, str | None]:
        """SuiteQL table (and transaction type) holding records of a REST ``record_type``."""
        name = record_type.lower()
        if name in TRANSACTION_TYPES:
            return "transaction", TRANSACTION_TYPES[name]
        return name, None

    def existing_external_ids(
        self, record_type: str, external_ids: Iterable[str], *, chunk: int = 1000
    ) -> dict[str, str]:
        """Map each external id that exists for ``record_type`` to its internal id (1 query per 1,000)."""
        wanted = sorted({e for e in external_ids if e and EXTERNAL_ID_RE.fullmatch(e)})
        table, tran_type = self.suiteql_source(record_type)
        found: dict[str, str] = {}
        for start in range(0, len(wanted), chunk):
            part = wanted[start : start + chunk]
            in_list = ", ".join(suiteql_literal(e) for e in part)
            where = f"externalid IN ({in_list})"
            if tran_type:
                where += f" AND type = {suiteql_literal(tran_type)}"
            query = f"SELECT id, externalid FROM {table} WHERE {where} ORDER BY id"
            for row in self.suiteql(query):
                if row.get("externalid") is not None:
                    found[str(row["externalid"])] = str(row["id"])
        return found

    def write_many(self, writes: Iterable[Mapping[str, Any] | Any]) -> list[dict[str, Any]]:
        """
        Run NetSuite write instructions concurrently; one write result per instruction, in order.

        A write instruction is ``{"key", "record_type", "external_id", "body", "transform_from"}``
        (design.md "Interfaces"). Existing external ids are looked up first (one SuiteQL query per
        1,000 records per record type), which decides ``created`` vs ``updated`` and whether a
        ``transform_from`` write transforms (new record, ``externalId`` in the body) or upserts.
        Each record then costs exactly one write request (plus retries of failed attempts).
        Per-record errors become ``failed`` results; auth errors abort the whole call.
        """
        items = [_as_dict(w) for w in writes]
        results: list[dict[str, Any] | None] = [None] * len(items)
        groups: dict[tuple[str, str], list[int]] = {}
        for index, write in enumerate(items):
            external_id = str(write.get("external_id") or "")
            key = str(write.get("key") if write.get("key") is not None else external_id)
            try:
                validate_external_id(external_id)
                if not write.get("record_type"):
                    raise NetSuiteValidationError(0, "MISSING_RECORD_TYPE", "record_type is required")
            except NetSuiteError as exc:
                results[index] = _write_result(key, external_id, "failed", error=exc.as_error())
                continue
            groups.setdefault((str(write["record_type"]), external_id), []).append(index)

        existing: dict[tuple[str, str], str] = {}
        by_type: dict[str, list[str]] = {}
        for record_type, external_id in groups:
            by_type.setdefault(record_type, []).append(external_id)
        for record_type, external_ids in by_type.items():
            for ext, internal in self.existing_external_ids(record_type, external_ids).items():
                existing[(record_type, ext)] = internal

        # One slow record fails alone (its write may or may not have landed: a later upsert by external id
        # settles it); NetSuite answering nothing at all fails the call once this many requests timed out,
        # rather than waiting out every record's timeout (the task then fails and the alert says so).
        timeouts: list[HttpTimeoutError] = []
        timeout_budget = 2 * self.concurrency_limit

        def run_group(group: tuple[tuple[str, str], list[int]]) -> None:
            (record_type, external_id), indexes = group
            for index in indexes:  # same record: one after the other, in input order
                write = items[index]
                key = str(write.get("key") if write.get("key") is not None else external_id)
                if len(timeouts) >= timeout_budget:
                    raise timeouts[-1]
                try:
                    status, record_id = self._write_one(write, existing.get((record_type, external_id)))
                except NetSuiteAuthError:
                    raise
                except HttpTimeoutError as exc:
                    timeouts.append(exc)
                    error = {"code": "TIMEOUT", "message": str(exc), "path": None}
                    results[index] = _write_result(key, external_id, "failed", error=error)
                    continue
                except NetSuiteError as exc:
                    results[index] = _write_result(key, external_id, "failed", error=exc.as_error())
                    continue
                except _RETRYABLE_TRANSPORT as exc:
                    error = {"code": "CONNECTION_ERROR", "message": str(exc), "path": None}
                    results[index] = _write_result(key, external_id, "failed", error=error)
                    continue
                if status == "created" and record_id:
                    existing[(record_type, external_id)] = record_id
                elif status == "created":
                    existing[(record_type, external_id)] = ""
                results[index] = _write_result(key, external_id, status, record_id=record_id)

        # A few threads beyond the limit keep a signed request waiting for each slot that frees.
        spare = max(1, self.concurrency_limit // 2)
        self.map_concurrently(run_group, list(groups.items()), max_workers=self.concurrency_limit + spare)

        missing: dict[str, list[str]] = {}
        for result, write in zip(results, items, strict=True):
            if result and result["status"] != "failed" and not result["id"]:
                missing.setdefault(str(write["record_type"]), []).append(result["external_id"])
        for record_type, external_ids in missing.items():
            ids = self.existing_external_ids(record_type, external_ids)
            for result, write in zip(results, items, strict=True):
                if result and str(write["record_type"]) == record_type and not result["id"]:
                    result["id"] = ids.get(result["external_id"])
        return [r for r in results if r is not None]

    def _write_one(self, write: Mapping[str, Any], existing_id: str | None) -> tuple[str, str | None]:
        record_type = str(write["record_type"])
        external_id = str(write["external_id"])
        body = dict(write.get("body") or {})
        source = write.get("transform_from")
        # The body's sublists are the record's whole line set (an order's lines are the Opportunity's
        # lines, without NetSuite line keys): every write replaces them (?replace=item). Without it NetSuite
        # would add the sent lines to the saved ones (section_1545295601).
        replace = _sublists(body)
        if write.get("update_only"):
            # A re-send may update what was sent before; it never creates (or transforms) a record, so it
            # is a PATCH of the record found (an upsert would create one deleted since the lookup).
            gone = NetSuiteValidationError(
                0,
                NOT_QUEUED,
                f"No NetSuite {record_type} has external id {external_id} and this re-send may only update "
                "one; nothing was written. Click Create NetSuite Order to send it as a new order",
            )
            if not existing_id:
                raise gone
            body.pop("externalId", None)
            try:
                self.update_record(record_type, existing_id, body, replace=replace)
            except NetSuiteNotFoundError:
                raise gone from None
            return "updated", existing_id
        if source and existing_id is None:
            body["externalId"] = external_id
            new_id = self.transform_record(
                str(source["record_type"]), str(source["id"]), record_type, body, replace=replace
            )
            return "created", new_id
        body.pop("externalId", None)
        record_id = self.upsert_record(record_type, external_id, body, replace=replace)
        if existing_id is None:
            return "created", record_id
        return "updated", record_id or existing_id or None

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


class _RefreshToken(Exception):
    """Internal: the access token was rejected; fetch a new one and retry once."""

    def __init__(self, error: NetSuiteError) -> None:
        super().__init__(str(error))
        self.error = error


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    raise TypeError(f"write instruction must be a mapping or a pydantic model, got {type(value).__name__}")


def _write_result(
    key: str,
    external_id: str,
    status: str,
    *,
    record_id: str | None = None,
    error: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "external_id": external_id,
        "status": status,
        "id": record_id,
        "error": dict(error) if error else None,
    }


__all__ = [
    "NetSuiteAuthError",
    "NetSuiteError",
    "NetSuiteHook",
    "NetSuiteNotFoundError",
    "NetSuiteRateLimitError",
    "NetSuiteServerError",
    "NetSuiteUnexpectedReplyError",
    "NetSuiteValidationError",
    "bind_suiteql",
    "default_base_url",
    "is_retryable",
    "suiteql_literal",
    "suiteql_timestamp",
    "validate_external_id",
]

"""HTTP plumbing shared by the hooks."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import tenacity
from requests.adapters import HTTPAdapter

from crsync_provider.hooks.permanent import THEN_CLEAR, ConnectionConfigError, PermanentError

#: (connect, read) seconds when the caller names none: the integration settings' ``http`` defaults.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 120.0)
#: Attempts for a request that timed out: each attempt already waited the whole read timeout, so a
#: stalled server is tried once more, not ``max_attempts`` times (which would multiply the stall).
TIMEOUT_ATTEMPTS = 2
#: What to do when a loopback host (the local sandbox) is not there.
START_SANDBOX = "start the sandbox with `make sandbox` (or `make up`, which starts it with Airflow)"
_DEFAULT_PORTS = {"https": 443, "http": 80}
R = TypeVar("R")
#: Transport failures after which a request may be sent again (the server may be restarting).
RETRYABLE_TRANSPORT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ReadTimeout,
)


def is_retryable_failure(exc: BaseException, vendor_error: type[Exception]) -> bool:
    """Whether a retry may fix ``exc``: a ``vendor_error`` says so itself (its ``retryable``, e.g. 429/5xx);
    a dropped connection may be retried, never a TLS or URL problem."""
    if isinstance(exc, vendor_error):
        return bool(getattr(exc, "retryable", False))
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.InvalidURL):
        return False
    return isinstance(exc, RETRYABLE_TRANSPORT)


def is_loopback(hostname: str) -> bool:
    """``localhost`` or a loopback IP address (no DNS lookup: a name that resolves to one does not count)."""
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def host_and_port(url: str) -> str:
    """``host:port`` of ``url`` (the scheme's default port when none is given)."""
    parts = urlsplit(url)
    host = parts.hostname or "(no host)"
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    return f"{host}:{port}" if port else host


class LoopbackRefusedError(PermanentError):
    """A loopback host (``127.0.0.0/8``, ``localhost``, ``::1``: the local sandbox) refused the connection.

    Nothing listens there, and waiting will not start it: the task fails at once, without HTTP or task
    retries, saying to start the sandbox.

    :param system: ``NetSuite`` or ``Salesforce``.
    :param url: the request URL.
    :param conn_id: the Airflow connection that points there, when known.
    """

    def __init__(self, system: str, url: str, conn_id: str | None = None) -> None:
        self.system = system
        self.address = host_and_port(url)
        connection = f"connection {conn_id!r}" if conn_id else "the connection"
        super().__init__(
            f"{system} at {self.address} refused the connection: nothing is listening there. It is a loopback "
            f"address (the local sandbox): {START_SANDBOX}, or point {connection} at the real {system}; "
            f"{THEN_CLEAR}"
        )


def _connection_refused(exc: BaseException) -> bool:
    """Whether a :class:`ConnectionRefusedError` is behind ``exc`` (requests wraps urllib3's errors, which
    wrap the socket's)."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return False


def as_loopback_refused(exc: BaseException, *, system: str, conn_id: str | None = None) -> LoopbackRefusedError | None:
    """The :class:`LoopbackRefusedError` to raise when ``exc`` is a refused connection to a loopback host,
    else None (a real host is retried: it may be restarting)."""
    if not isinstance(exc, requests.exceptions.ConnectionError) or isinstance(
        exc, requests.exceptions.Timeout | requests.exceptions.SSLError
    ):
        return None
    url = str(getattr(exc.request, "url", None) or "")
    hostname = urlsplit(url).hostname
    if not hostname or not is_loopback(hostname) or not _connection_refused(exc):
        return None
    return LoopbackRefusedError(system, url, conn_id)


def retry_message(system: str, address: str, attempt: int, max_attempts: int, exc: BaseException | None, sleep: float) -> str:
    """The log line before a retry: what is waited for (system, host), which attempt failed and why."""
    return (
        f"Waiting for {system} at {address}: attempt {attempt}/{max_attempts} failed ({exc}); "
        f"retrying in {sleep:.2f}s"
    )


def backoff_wait(base: float, ceiling: float) -> Callable[[tenacity.RetryCallState], float]:
    """The wait before a retry: what ``Retry-After`` asked for, else exponential backoff with full jitter.

    Full jitter is tenacity's :class:`~tenacity.wait_random_exponential` (a uniform draw up to
    ``min(ceiling, base * 2 ** (attempt - 1))``). An error carrying ``retry_after`` seconds (from the
    reply's ``Retry-After`` header) waits at least that long, capped at ``max(ceiling, 60)``, plus up to
    ``base`` of jitter so the threads that waited do not all return at once.

    :param base: seconds of the first backoff ceiling.
    :param ceiling: most seconds of one exponential backoff.
    """
    exponential = tenacity.wait_random_exponential(multiplier=base, max=ceiling)
    jitter = tenacity.wait_random(0, base)

    def wait(retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), max(ceiling, 60.0)) + jitter(retry_state)
        return exponential(retry_state)

    return wait


def backoff_delay(base: float, ceiling: float, attempt: int) -> float:
    """The full-jitter wait after failed attempt ``attempt`` (1, 2...), for a loop that is not tenacity's.

    The same draw as :func:`backoff_wait` without ``Retry-After``: uniform up to
    ``min(ceiling, base * 2 ** (attempt - 1))``.
    """
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.attempt_number = attempt
    return tenacity.wait_random_exponential(multiplier=base, max=ceiling)(state)


def call_with_retries(
    fn: Callable[[], R],
    *,
    system: str,
    conn_id: str,
    max_attempts: int,
    wait: Callable[[tenacity.RetryCallState], float],
    retry: Callable[[BaseException], bool],
    timeout: tuple[float, float],
    default_url: str,
    log: logging.Logger | logging.LoggerAdapter[Any],
) -> R:
    """Call ``fn`` until it succeeds, ``retry`` refuses its error, or ``max_attempts`` are spent.

    A timed-out attempt is retried once only (:data:`TIMEOUT_ATTEMPTS`: each already waited the whole
    timeout) and then raises :class:`HttpTimeoutError`; a loopback host that refuses the connection raises
    :class:`LoopbackRefusedError` at once; each retry is logged with :func:`retry_message`.

    :param system: ``NetSuite`` or ``Salesforce``.
    :param conn_id: the Airflow connection (named in the errors).
    :param wait: seconds before the next attempt (e.g. :func:`backoff_wait`).
    :param timeout: (connect, read) seconds of each attempt, named in a timeout error.
    :param default_url: the URL named when an error does not carry its request's.
    """

    def stop(retry_state: tenacity.RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        timed_out = isinstance(exc, requests.exceptions.Timeout)
        limit = min(max_attempts, TIMEOUT_ATTEMPTS) if timed_out else max_attempts
        return retry_state.attempt_number >= limit

    def before_sleep(retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        address = request_address(exc, host_and_port(default_url))
        attempt = retry_state.attempt_number
        log.warning(retry_message(system, address, attempt, max_attempts, exc, retry_state.upcoming_sleep))

    def once() -> R:
        try:
            return fn()
        except requests.exceptions.ConnectionError as exc:
            # Nothing listening on a loopback host (the sandbox is not running): no retry can help.
            refused = as_loopback_refused(exc, system=system, conn_id=conn_id)
            if refused is None:
                raise
            raise refused from exc

    retryer = tenacity.Retrying(
        stop=stop, wait=wait, retry=tenacity.retry_if_exception(retry), before_sleep=before_sleep, reraise=True
    )
    try:
        return retryer(once)
    except requests.exceptions.Timeout as exc:
        request = exc.request
        raise as_timeout_error(  # type: ignore[misc]
            exc,
            system=system,
            method=str(getattr(request, "method", None) or "request"),
            url=str(getattr(request, "url", None) or default_url),
            timeout=timeout,
            attempts=int(retryer.statistics.get("attempt_number", 1)),
        ) from exc


def request_address(exc: BaseException | None, default: str) -> str:
    """``host:port`` of the request that failed with ``exc`` (``default`` when it does not say)."""
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None) or getattr(exc, "url", None)
    return host_and_port(str(url)) if url else default


class HttpTimeoutError(Exception):
    """A NetSuite or Salesforce request got no reply (or no connection) within its timeout.

    The message says which system, which request, how long was waited and what to check; the failure
    notifier recognises this type and reports the task as timed out.

    :param system: ``NetSuite`` or ``Salesforce``.
    :param method: HTTP method.
    :param url: the request URL (query string removed).
    :param phase: ``connect`` or ``read``.
    :param seconds: the timeout that ran out.
    :param attempts: attempts made.
    """

    def __init__(self, system: str, method: str, url: str, phase: str, seconds: float, attempts: int) -> None:
        self.system = system
        self.url = url
        self.phase = phase
        self.seconds = seconds
        self.attempts = attempts
        setting = "http.connect_timeout" if phase == "connect" else "http.read_timeout"
        waited = "could not connect" if phase == "connect" else "sent no reply"
        super().__init__(
            f"{system} {waited} within {seconds:g} s ({phase} timeout, {setting} in the integration "
            f"settings) to {method} {url}; gave up after {attempts} attempt(s). Check {system}'s status page and the "
            f"network, proxy or firewall between Airflow and {urlsplit(url).netloc}; raise {setting} only "
            "if replies are merely slow."
        )


def timeout_phase(exc: BaseException) -> str | None:
    """``connect`` / ``read`` when ``exc`` is a requests timeout, else None."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect"
    if isinstance(exc, requests.exceptions.Timeout):
        return "read"
    return None


def as_timeout_error(
    exc: BaseException, *, system: str, method: str, url: str, timeout: tuple[float, float], attempts: int
) -> HttpTimeoutError | None:
    """The :class:`HttpTimeoutError` to raise for a requests timeout, else None."""
    phase = timeout_phase(exc)
    if phase is None:
        return None
    seconds = timeout[0] if phase == "connect" else timeout[1]
    return HttpTimeoutError(system, method, url.split("?", 1)[0], phase, seconds, attempts)


class TimeoutHTTPAdapter(HTTPAdapter):
    """An adapter that applies ``timeout`` to every request sent without one.

    Libraries such as simple-salesforce never pass ``timeout``, and requests then waits forever for a
    stalled server; mounting this adapter bounds every call of the session.
    """

    def __init__(self, *args: Any, timeout: tuple[float, float] = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(*args, **kwargs)

    def send(
        self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, **kwargs: Any
    ) -> requests.Response:
        chosen = self.timeout if timeout is None else timeout
        return super().send(request, stream=stream, timeout=chosen, **kwargs)


class TrustingSession(requests.Session):
    """A session whose ``verify`` (e.g. a CA bundle) is not overridden by ``REQUESTS_CA_BUNDLE``.

    requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` win over ``session.verify`` when a call
    does not pass ``verify``; libraries such as simple-salesforce never pass it.
    """

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None or verify is True:
            settings["verify"] = self.verify
        return settings


def make_session(
    *, ca_bundle: str | None = None, pool_size: int = 10, timeout: tuple[float, float] = DEFAULT_TIMEOUT
) -> TrustingSession:
    """A session with a connection pool of ``pool_size`` that trusts ``ca_bundle`` when given.

    :param timeout: (connect, read) seconds for every request that does not name its own.
    """
    if ca_bundle and not Path(ca_bundle).expanduser().is_file():
        raise ConnectionConfigError(
            f"The connection's CA bundle {ca_bundle} (extra ca_bundle) does not exist. For the local sandbox it "
            f"is created when the sandbox first starts: {START_SANDBOX}; otherwise fix the path, {THEN_CLEAR}"
        )
    session = TrustingSession()
    adapter = TimeoutHTTPAdapter(
        pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0, timeout=timeout
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.verify = str(Path(ca_bundle).expanduser()) if ca_bundle else True
    return session

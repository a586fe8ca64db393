"""HTTP plumbing shared by the hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

#: (connect, read) seconds when the caller names none: the integration settings' ``http`` defaults.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 120.0)
#: Attempts for a request that timed out: each attempt already waited the whole read timeout, so a
#: stalled server is tried once more, not ``max_attempts`` times (which would multiply the stall).
TIMEOUT_ATTEMPTS = 2


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
    session = TrustingSession()
    adapter = TimeoutHTTPAdapter(
        pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0, timeout=timeout
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.verify = str(Path(ca_bundle).expanduser()) if ca_bundle else True
    return session

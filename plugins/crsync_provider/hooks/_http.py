"""HTTP plumbing shared by the hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter


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


def make_session(*, ca_bundle: str | None = None, pool_size: int = 10) -> TrustingSession:
    """A session with a connection pool of ``pool_size`` that trusts ``ca_bundle`` when given."""
    session = TrustingSession()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.verify = str(Path(ca_bundle).expanduser()) if ca_bundle else True
    return session

"""Authentication and the daily API allowance of the Salesforce stand-in.

The stand-in accepts one bearer session token (``SANDBOX_SF_ACCESS_TOKEN``, default
``sandbox-access-token``), which is also what ``POST /services/oauth2/token`` (client credentials, with
the sandbox client id and secret) hands out. Every authenticated API call counts against a daily
allowance reported in ``Sforce-Limit-Info``; the count starts again when the sandbox clock's date changes.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from cr_sandbox.config import SalesforceSandboxCredentials
from cr_sandbox.salesforce.errors import ApiError

DEFAULT_DAILY_API_LIMIT = 100_000


@dataclass
class SalesforceGovernance:
    """Salesforce-only settings next to the shared FaultSettings (set through ``/__sandbox/governance``)."""

    daily_api_limit: int = DEFAULT_DAILY_API_LIMIT
    api_usage: int = 0
    rate_unable_to_lock_row: float = 0.0

    KEYS = ("daily_api_limit", "api_usage", "rate_unable_to_lock_row")

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key == "rate_unable_to_lock_row":
                rate = float(value)
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"{key} must be between 0 and 1, got {value}")
                self.rate_unable_to_lock_row = rate
            elif key in ("daily_api_limit", "api_usage"):
                setattr(self, key, int(value))

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k in self.KEYS}


@dataclass
class ApiAllowance:
    """Counts API calls per sandbox day and refuses them past the allowance."""

    settings: SalesforceGovernance = field(default_factory=SalesforceGovernance)
    day: date | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def consume(self, today: date) -> None:
        """Count one call; 403 ``REQUEST_LIMIT_EXCEEDED`` once the day's allowance is spent."""
        with self.lock:
            if self.day != today:
                self.day = today
                self.settings.api_usage = 0
            if self.settings.api_usage >= self.settings.daily_api_limit:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.settings.api_usage += 1

    def header(self) -> str:
        return f"api-usage={self.settings.api_usage}/{self.settings.daily_api_limit}"

    def reset(self, seed: int = 0) -> None:
        self.settings = SalesforceGovernance()
        self.day = None
        self.rng = random.Random(seed)


class SessionAuth:
    """Bearer-token check and the OAuth 2.0 client-credentials token endpoint."""

    def __init__(self, credentials: SalesforceSandboxCredentials, instance_url: str) -> None:
        self.credentials = credentials
        self.instance_url = instance_url

    def check(self, authorization: str | None) -> None:
        token = ""
        if authorization:
            scheme, _, value = authorization.partition(" ")
            token = value.strip() if scheme.lower() in ("bearer", "oauth") else ""
        if token != self.credentials.access_token:
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The ``/services/oauth2/token`` reply for ``form`` (only ``grant_type=client_credentials``)."""
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
        if (form.get("client_id"), form.get("client_secret")) != (
            self.credentials.client_id, self.credentials.client_secret
        ):
            return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
        issued = str(int(time.time() * 1000))
        return 200, {
            "access_token": self.credentials.access_token,
            "instance_url": self.instance_url,
            "id": f"{self.instance_url}/id/00D5g000000SANDBOX/0055g0000000001AAA",
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": "sandbox",
            "scope": "api",
        }

"""Sandbox settings: ports, state folder and the sandbox-only credentials.

Every value can be overridden by an environment variable. The credentials here are published,
sandbox-only defaults; they never grant access to a real NetSuite or Salesforce account.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class NetSuiteSandboxCredentials:
    account_id: str = field(default_factory=lambda: _env("SANDBOX_NS_ACCOUNT", "1234567_SB1"))
    consumer_key: str = field(default_factory=lambda: _env("SANDBOX_NS_CONSUMER_KEY", "sandbox-consumer-key"))
    consumer_secret: str = field(
        default_factory=lambda: _env("SANDBOX_NS_CONSUMER_SECRET", "sandbox-consumer-secret")
    )
    token_id: str = field(default_factory=lambda: _env("SANDBOX_NS_TOKEN_ID", "sandbox-token-id"))
    token_secret: str = field(default_factory=lambda: _env("SANDBOX_NS_TOKEN_SECRET", "sandbox-token-secret"))
    # OAuth 2.0 machine-to-machine: the client id and certificate id the sandbox accepts. The public
    # key is registered at start-up from `<state>/m2m_public.pem`, created with its private key
    # (`<state>/m2m_private.pem`) the first time the sandbox starts.
    m2m_client_id: str = field(default_factory=lambda: _env("SANDBOX_NS_CLIENT_ID", "sandbox-client-id"))
    m2m_certificate_id: str = field(
        default_factory=lambda: _env("SANDBOX_NS_CERTIFICATE_ID", "sandbox-certificate-id")
    )


@dataclass(frozen=True)
class SalesforceSandboxCredentials:
    access_token: str = field(default_factory=lambda: _env("SANDBOX_SF_ACCESS_TOKEN", "sandbox-access-token"))
    client_id: str = field(default_factory=lambda: _env("SANDBOX_SF_CLIENT_ID", "sandbox-sf-client-id"))
    client_secret: str = field(
        default_factory=lambda: _env("SANDBOX_SF_CLIENT_SECRET", "sandbox-sf-client-secret")
    )


@dataclass(frozen=True)
class SandboxConfig:
    state_dir: Path = field(
        default_factory=lambda: Path(_env("SANDBOX_DIR", str(PROJECT_ROOT / ".sandbox"))).resolve()
    )
    host: str = field(default_factory=lambda: _env("SANDBOX_HOST", "127.0.0.1"))
    netsuite_port: int = field(default_factory=lambda: int(_env("SANDBOX_NS_PORT", "8444")))
    salesforce_port: int = field(default_factory=lambda: int(_env("SANDBOX_SF_PORT", "8443")))
    netsuite: NetSuiteSandboxCredentials = field(default_factory=NetSuiteSandboxCredentials)
    salesforce: SalesforceSandboxCredentials = field(default_factory=SalesforceSandboxCredentials)

    @property
    def ca_path(self) -> Path:
        return self.state_dir / "ca.pem"

    @property
    def netsuite_url(self) -> str:
        return f"https://{self.host}:{self.netsuite_port}"

    @property
    def salesforce_url(self) -> str:
        return f"https://{self.host}:{self.salesforce_port}"

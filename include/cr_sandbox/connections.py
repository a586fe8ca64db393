"""Airflow connections that point the project at the sandbox (sandbox-only credentials).

`python -m cr_sandbox.connections --shell` prints `export AIRFLOW_CONN_...=...` lines for
bin/airflow; variables already set in the environment are left alone so users can override them.
"""

from __future__ import annotations

import json
import os
import shlex
import sys

from cr_sandbox.config import SandboxConfig

NETSUITE_CONN_ID = "netsuite_default"
SALESFORCE_CONN_ID = "salesforce_default"


def sandbox_connections(config: SandboxConfig | None = None) -> dict[str, dict]:
    """Connection definitions (Airflow JSON connection format) for both stand-ins."""
    config = config or SandboxConfig()
    ns = config.netsuite
    return {
        NETSUITE_CONN_ID: {
            "conn_type": "netsuite",
            "description": "NetSuite sandbox stand-in (sandbox-only credentials)",
            "host": config.netsuite_url,
            "login": ns.consumer_key,
            "password": ns.consumer_secret,
            "extra": {
                "account_id": ns.account_id,
                "auth_method": "tba",
                "token_id": ns.token_id,
                "token_secret": ns.token_secret,
                "ca_bundle": str(config.ca_path),
                "concurrency_limit": int(os.environ.get("SANDBOX_NS_CONCURRENCY", "5")),
            },
        },
        SALESFORCE_CONN_ID: {
            "conn_type": "salesforce",
            "description": "Salesforce sandbox stand-in, session mode (sandbox-only token)",
            "extra": {
                "auth_type": "session",
                "session_id": config.salesforce.access_token,
                "instance_url": config.salesforce_url,
                "ca_bundle": str(config.ca_path),
                "version": "59.0",
            },
        },
    }


def env_var_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def shell_exports(config: SandboxConfig | None = None) -> str:
    lines = []
    for conn_id, definition in sandbox_connections(config).items():
        name = env_var_name(conn_id)
        if name not in os.environ:
            lines.append(f"export {name}={shlex.quote(json.dumps(definition))}")
    return "\n".join(lines)


if __name__ == "__main__":
    if "--shell" in sys.argv:
        print(shell_exports())
    else:
        print(json.dumps(sandbox_connections(), indent=2))

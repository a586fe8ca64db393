"""Airflow connections that point the project at the sandbox (sandbox-only credentials).

They are a fallback only: ``bin/setup-airflow`` (run by ``make up``, ``make demo``) calls
:func:`ensure_sandbox_connections`, which creates ``netsuite_default`` / ``salesforce_default`` in the
metadata DB where no connection of that id exists (environment variable, secrets backend or metadata
DB), so a connection saved in the UI later replaces the sandbox's and is never overridden. (Environment
variables cannot do this: Airflow reads them before the metadata DB.) It reports, per id, which
connection is in use and its host; never a secret.

`python -m cr_sandbox.connections --shell` prints `export AIRFLOW_CONN_...=...` lines, for a shell or
tool that must use the sandbox whatever else is defined (the demo does the same with
:func:`env_connections`).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from typing import Any
from urllib.parse import urlsplit

from cr_sandbox.config import SandboxConfig
from crsync.ids import NETSUITE_CONN_ID, SALESFORCE_CONN_ID  # the connections the flows read

__all__ = ["NETSUITE_CONN_ID", "SALESFORCE_CONN_ID", "sandbox_connections"]


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
                # "Open in NetSuite" links: the stand-in serves a page per record at NetSuite's UI paths.
                "ui_base_url": config.netsuite_url,
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


def env_connections(config: SandboxConfig | None = None) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` variables for the sandbox (they take precedence over every other definition)."""
    return {env_var_name(conn_id): json.dumps(d) for conn_id, d in sandbox_connections(config).items()}


def _is_sandbox(conn_id: str, conn: Any, definition: dict) -> bool:
    """Whether ``conn`` carries the sandbox's own (sandbox-only) credentials, i.e. it is the sandbox's."""
    if conn_id == NETSUITE_CONN_ID:
        return conn.login == definition["login"] and conn.password == definition["password"]
    return (conn.extra_dejson or {}).get("session_id") == definition["extra"]["session_id"]


def _host_of(conn_id: str, conn: Any) -> str:
    """Scheme, host and port the connection points at (no user info, path or secret)."""
    extra = conn.extra_dejson or {}
    raw = (conn.host or "").strip() or str(extra.get("instance_url") or "")
    if not raw and conn_id == NETSUITE_CONN_ID and extra.get("account_id"):
        account = str(extra["account_id"]).lower().replace("_", "-")
        return f"https://{account}.suitetalk.api.netsuite.com (default for its account id)"
    if not raw:
        return "(no host: the provider's default)"
    parts = urlsplit(raw if "://" in raw else f"https://{raw}")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def ensure_sandbox_connections(config: SandboxConfig | None = None, *, create: bool = True) -> list[str]:
    """Create each sandbox connection in the metadata DB where no connection of that id exists; say which
    connection is in use for each id.

    A connection carrying the sandbox's credentials that is stored in the metadata DB is refreshed to the
    running sandbox's host and CA (ports and state folder may change between runs). Any other
    connection of that id (saved in the UI, an ``AIRFLOW_CONN_*`` variable, a secrets backend) is the
    user's and is left alone.

    :param create: False with ``CRSYNC_USE_SANDBOX=0``: only report.
    :return: one line per connection id, e.g. ``netsuite_default: user-defined (metadata DB), https://...``.
    """
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection
    from airflow.secrets.metastore import MetastoreBackend
    from airflow.utils.session import create_session
    from sqlalchemy import select

    lines = []
    for conn_id, definition in sandbox_connections(config).items():
        wanted = Connection.from_json(json.dumps(definition), conn_id=conn_id)
        stored = MetastoreBackend().get_connection(conn_id)
        try:
            in_use = Connection.get_connection_from_secrets(conn_id)
        except AirflowNotFoundException:
            in_use = None
        if env_var_name(conn_id) in os.environ:
            source = f"environment variable {env_var_name(conn_id)}"
        elif stored is not None and in_use is not None and in_use.get_uri() == stored.get_uri():
            source = "metadata DB"
        elif in_use is not None:
            source = "secrets backend"
        else:
            source = ""
        if not source and create:
            with create_session() as session:
                session.add(wanted)
            in_use, source = wanted, "metadata DB"
        elif source == "metadata DB" and create and _is_sandbox(conn_id, in_use, definition):
            if in_use.get_uri() != wanted.get_uri() or in_use.description != wanted.description:
                with create_session() as session:
                    row = session.scalars(select(Connection).where(Connection.conn_id == conn_id)).one()
                    for name in ("conn_type", "description", "host", "login", "password", "port", "extra"):
                        setattr(row, name, getattr(wanted, name))
            in_use = wanted
        if in_use is None:
            lines.append(f"{conn_id}: not defined (define it in the UI, a secrets backend or {env_var_name(conn_id)})")
            continue
        kind = "sandbox" if _is_sandbox(conn_id, in_use, definition) else "user-defined"
        lines.append(f"{conn_id}: {kind} ({source}), {_host_of(conn_id, in_use)}")
    return lines


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
    elif "--ensure" in sys.argv:
        print("\n".join(ensure_sandbox_connections(create="--report-only" not in sys.argv)))
    else:
        print(json.dumps(sandbox_connections(), indent=2))

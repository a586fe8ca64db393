"""Links from an open error to its record, built from the connections the flows use (no request made)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from crsync.ids import NETSUITE_CONN_ID, SALESFORCE_CONN_ID
from crsync_provider.links import netsuite_record_url, salesforce_record_url

log = logging.getLogger(__name__)


def _extras_and_host(conn_id: str) -> tuple[dict[str, Any], str]:
    from airflow.models.connection import Connection

    try:
        conn = Connection.get_connection_from_secrets(conn_id)
    except Exception as exc:  # a missing connection: the page shows no link, not an error
        log.warning("Connection %s not readable (%s): record links left out", conn_id, exc)
        return {}, ""
    return dict(conn.extra_dejson or {}), (conn.host or "").strip()


def salesforce_base_url() -> str:
    """The org's URL: the connection's host or ``instance_url`` extra, with https:// when it has none."""
    extras, host = _extras_and_host(SALESFORCE_CONN_ID)
    raw = host or str(extras.get("instance_url") or extras.get("instance") or "")
    if raw and "://" not in raw:
        raw = f"https://{raw}"
    return raw.rstrip("/")


def netsuite_ui_base_url() -> str:
    """NetSuite's UI root: the connection's ``ui_base_url`` extra, else the account's own host."""
    extras, host = _extras_and_host(NETSUITE_CONN_ID)
    if extras.get("ui_base_url"):
        return str(extras["ui_base_url"]).rstrip("/")
    if host or not extras.get("account_id"):
        return ""
    return f"https://{str(extras['account_id']).lower().replace('_', '-')}.app.netsuite.com"


def record_links() -> Callable[[Any, str], str]:
    """``link(flow, key)``: the record's page in its system ("" when the base URL is not known); the
    connections are read once, here."""
    salesforce, netsuite = salesforce_base_url(), netsuite_ui_base_url()

    def link(flow: Any, key: str) -> str:
        if flow.system == "Salesforce":
            return salesforce_record_url(salesforce, flow.record_type, key)
        return netsuite_record_url(netsuite, flow.record_type, key)

    return link

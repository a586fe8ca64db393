"""The NetSuite connection form, defined once.

Airflow 3.2+ reads connection forms declaratively from provider info (``conn-fields`` and
``ui-field-behaviour``) without importing the hook; ``get_provider_info`` publishes these, and
:class:`~crsync_provider.hooks.netsuite.NetSuiteHook` exposes the same data through the older
``get_connection_form_widgets`` / ``get_ui_field_behaviour`` class methods.
"""

from __future__ import annotations

from typing import Any

#: The connection a NetSuite hook, operator or task decorator uses unless told otherwise.
NETSUITE_DEFAULT_CONN_ID = "netsuite_default"

_TEXT: dict[str, Any] = {"type": ["string", "null"]}
_SECRET: dict[str, Any] = {"type": ["string", "null"], "format": "password"}

NETSUITE_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "account_id": {
        "label": "Account ID",
        "description": "NetSuite account id, e.g. 1234567 or 1234567_SB1 (also the OAuth 1.0a realm).",
        "schema": _TEXT,
    },
    "auth_method": {
        "label": "Auth method",
        "description": "tba (token-based, OAuth 1.0a) or oauth2_m2m (OAuth 2.0 client credentials).",
        "schema": {"type": ["string", "null"], "enum": ["tba", "oauth2_m2m", None], "default": "tba"},
    },
    "token_id": {"label": "Token ID (TBA)", "schema": _TEXT},
    "token_secret": {"label": "Token secret (TBA)", "schema": _SECRET},
    "client_id": {"label": "Client ID (OAuth 2.0 M2M)", "schema": _TEXT},
    "certificate_id": {"label": "Certificate ID (OAuth 2.0 M2M)", "schema": _TEXT},
    "private_key": {
        "label": "Private key, PEM (OAuth 2.0 M2M)",
        "description": "PEM of the certificate's private key (RSA signs PS256, EC signs ES256).",
        "schema": _SECRET,
    },
    "private_key_file": {
        "label": "Private key file path (OAuth 2.0 M2M)",
        "description": "Alternative to the PEM field: a path readable by the workers.",
        "schema": _TEXT,
    },
    "ca_bundle": {
        "label": "CA bundle path",
        "description": "PEM bundle to trust instead of the system CAs (sandboxes, TLS-inspecting proxies).",
        "schema": _TEXT,
    },
    "concurrency_limit": {
        "label": "Concurrency limit",
        "description": "Account concurrency limit; one task never has more requests in flight. Default 5.",
        "schema": {"type": ["integer", "null"], "default": 5},
    },
    "ui_base_url": {
        "label": "UI base URL",
        "description": "For 'Open in NetSuite' links; default https://<account>.app.netsuite.com.",
        "schema": _TEXT,
    },
}

NETSUITE_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {
        "host": "Base URL override",
        "login": "Consumer key (TBA)",
        "password": "Consumer secret (TBA)",
    },
    "placeholders": {
        "host": "https://1234567-sb1.suitetalk.api.netsuite.com (leave empty for the default)",
        "account_id": "1234567_SB1",
        "auth_method": "tba",
        "concurrency_limit": "5",
    },
}

"""SOQL literals and ``:name`` parameters, quoted by simple-salesforce (``quote_soql_value``, as ``format_soql`` does)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from simple_salesforce.format import quote_soql_value

from crsync_provider.hooks.query_parameters import bind_parameters


def soql_literal(value: Any) -> str:
    """A SOQL literal: datetimes as unquoted UTC ``YYYY-MM-DDTHH:MM:SSZ``, the rest as ``format_soql`` quotes them."""
    if isinstance(value, datetime):
        # Kept by hand: format_soql reads a naive datetime as local time; ours are UTC (and written with Z).
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, list | tuple | set | frozenset):
        # Each item by this function (quote_soql_value would read a naive datetime in a list as local time).
        return "(" + ",".join(soql_literal(item) for item in value) + ")"
    if isinstance(value, Decimal):
        return str(value)  # a number, as before; quote_soql_value refuses the type
    return quote_soql_value(value)


def bind_soql(soql: str, parameters: Mapping[str, Any] | None) -> str:
    """Replace ``:name`` placeholders with :func:`soql_literal` values; unknown names stay as written.

    Values are quoted by simple-salesforce's ``quote_soql_value``, exactly as ``format_soql`` quotes a
    ``{name}`` field; the binding itself is shared with SuiteQL's (``query_parameters``).
    """
    return bind_parameters(soql, parameters, soql_literal)


def strip_attributes(value: Any) -> Any:
    """A query reply without its ``attributes`` blocks (in parents and children too)."""
    if isinstance(value, Mapping):
        return {k: strip_attributes(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, list):
        return [strip_attributes(v) for v in value]
    return value

"""SOQL literals and ``:name`` parameters, on top of simple-salesforce's ``format_soql``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from simple_salesforce.format import format_soql, quote_soql_value

_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def soql_literal(value: Any) -> str:
    """A SOQL literal: datetimes as unquoted UTC ``YYYY-MM-DDTHH:MM:SSZ``, the rest as ``format_soql`` quotes them."""
    if isinstance(value, datetime):
        # Kept by hand: format_soql reads a naive datetime as local time; ours are UTC (and written with Z).
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return quote_soql_value(value)


def bind_soql(soql: str, parameters: Mapping[str, Any] | None) -> str:
    """Replace ``:name`` placeholders with SOQL literals (``format_soql``); unknown names stay as written."""
    if not parameters:
        return soql
    values: dict[str, Any] = {}

    def placeholder(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in parameters:
            return match.group(0)
        value = parameters[name]
        if isinstance(value, datetime):  # written by soql_literal (UTC, Z), inserted as is
            values[name] = soql_literal(value)
            return "{" + name + ":literal}"
        values[name] = value  # quoted by format_soql
        return "{" + name + "}"

    template = _PARAMETER.sub(placeholder, soql.replace("{", "{{").replace("}", "}}"))
    return format_soql(template, **values)


def strip_attributes(value: Any) -> Any:
    """A query reply without its ``attributes`` blocks (in parents and children too)."""
    if isinstance(value, Mapping):
        return {k: strip_attributes(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, list):
        return [strip_attributes(v) for v in value]
    return value

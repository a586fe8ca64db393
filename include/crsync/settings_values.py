"""What a single setting value may be: the field-name and value validators and the annotated types the
settings models (:mod:`crsync.settings`) are built from. Every validator's message says what to set instead.

Split from :mod:`crsync.settings` (which re-exports the public names) to keep each module small.
"""

from __future__ import annotations

import re
import string
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

from crsync import fields as f
from crsync.ids import is_netsuite_internal_id, is_salesforce_id

_SF_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*(?:__c|__r)?$")
_NS_COLUMN = re.compile(r"^[a-z][a-z0-9_]*$")
_NS_BODY_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def salesforce_field(value: str) -> str:
    if not _SF_FIELD.fullmatch(value):
        raise ValueError(f"{value!r} is not a Salesforce field API name (letters, digits, single '_')")
    return value


def salesforce_field_path(value: str) -> str:
    parts = value.split(".")
    if len(parts) > 5 or not all(_SF_FIELD.fullmatch(p) for p in parts):
        raise ValueError(f"{value!r} is not a Salesforce field or relationship path (e.g. Account.Industry)")
    return value


def netsuite_column(value: str) -> str:
    if not _NS_COLUMN.fullmatch(value):
        raise ValueError(f"{value!r} is not a NetSuite SuiteQL column (lower-case letters, digits, '_')")
    return value


def netsuite_body_field(value: str) -> str:
    if not _NS_BODY_FIELD.fullmatch(value):
        raise ValueError(f"{value!r} is not a NetSuite record field id (letters, digits, '_')")
    return value


def check_order_type_label(value: str) -> str:
    if value not in {t.value for t in f.OrderType}:
        expected = ", ".join(repr(t.value) for t in f.OrderType)
        raise ValueError(f"unknown Order_Type__c value; expected one of {expected}")
    return value


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. UTC, Europe/London)") from exc
    return value


def check_pricebook(value: str) -> str:
    if value != "standard" and not is_salesforce_id(value):
        raise ValueError(f"{value!r} is neither 'standard' nor a Pricebook2 id")
    return value


_NAME_PLACEHOLDERS = frozenset({"customer", "contract", "tranid", "start_date", "end_date"})
#: Longest name Salesforce keeps (Opportunity and Quote names); also the widest field a template may pad to.
NAME_MAX_LENGTH = 120
#: A text format spec: optional fill and alignment, width, precision, type ``s`` (no sign, ``#``, ``0``, ``,``).
_TEXT_FORMAT_SPEC = re.compile(
    r"(?:(?P<fill>[^{}])?(?P<align>[<>^]))?(?P<width>\d+)?(?:\.(?P<precision>\d+))?s?"
)


def check_name_template(value: str) -> str:
    """Only the documented placeholders, each plain or with a simple text format spec.

    The template is applied with :meth:`str.format` to every renewal, so anything else would fail at run
    time (``{contract:d}``), read Python internals (``{customer.__class__}``) or build absurd strings
    (``{contract:>999999999}``, a gigabyte per renewal before the name is cut).
    """
    try:
        parts = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid template: {exc}") from exc
    allowed = ", ".join("{" + n + "}" for n in sorted(_NAME_PLACEHOLDERS))
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        field = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if name == "" or name.isdigit():
            raise ValueError(f"{field}: positional placeholders are not allowed; use {allowed}")
        if "." in name or "[" in name:
            raise ValueError(f"{field}: attribute or index access is not allowed; use {allowed}")
        if name not in _NAME_PLACEHOLDERS:
            raise ValueError(f"unknown placeholder(s) {[name]}; use {allowed}")
        if conversion:
            raise ValueError(f"{field}: conversions (!r, !s, !a) are not allowed; the values are text")
        if spec and ("{" in spec or "}" in spec):
            raise ValueError(f"{field}: nested placeholders are not allowed in a format spec")
        match = _TEXT_FORMAT_SPEC.fullmatch(spec or "")
        if match is None:
            raise ValueError(
                f"{field}: {spec!r} is not a text format spec; use [[fill]align][width][.precision] "
                "(e.g. {customer:.40} or {contract:>10})"
            )
        for what in ("width", "precision"):
            number = match.group(what)
            if number is not None and int(number) > NAME_MAX_LENGTH:
                raise ValueError(
                    f"{field}: {what} {int(number)} is more than {NAME_MAX_LENGTH} (names are cut to "
                    f"{NAME_MAX_LENGTH} characters)"
                )
    value.format(**{name: "x" for name in _NAME_PLACEHOLDERS})  # anything left that str.format refuses
    return value


def check_sales_order_form_id(value: Any) -> Any:
    """The internal id of the order's custom form (a positive whole number), or null."""
    if value is None:
        return None
    if not is_netsuite_internal_id(value):
        raise ValueError(
            f"{value!r} is not a form internal id; set the internal id of your 'Sales Order - Contract Renewals' "
            "form or your copy of it (NetSuite: Customization > Forms > Transaction Forms, column Internal ID), "
            "or null to use the account's preferred sales order form"
        )
    return int(value)


class NewOrderStatus(StrEnum):
    """The approval status the hourly flow creates sales orders in."""

    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"


def check_new_order_status(value: Any) -> Any:
    if value not in {s.value for s in NewOrderStatus}:
        raise ValueError(
            f"{value!r} is not a sales order status the flow creates orders in; use pending_approval (orders wait "
            "for a NetSuite user to approve them) or approved (orders are sent with orderStatus B; the "
            "integration role needs the permission to approve sales orders)"
        )
    return value


SalesforceField = Annotated[str, AfterValidator(salesforce_field)]
SalesforceFieldPath = Annotated[str, AfterValidator(salesforce_field_path)]
NetSuiteColumn = Annotated[str, AfterValidator(netsuite_column)]
NetSuiteBodyField = Annotated[str, AfterValidator(netsuite_body_field)]
OrderTypeLabel = Annotated[str, AfterValidator(check_order_type_label)]
NonEmptyText = Annotated[str, Field(min_length=1, max_length=120)]
PositiveId = Annotated[int, Field(gt=0)]

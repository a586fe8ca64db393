"""Builders for every extract and lookup query (SOQL and SuiteQL).

No value is spliced into a query without being validated first: Salesforce ids must match the 15/18
character id format, NetSuite ids must be integers, external ids must be NetSuite-safe, field names
come from :mod:`crsync.fields` or are validated like settings field names, and datetimes are formatted
from ``datetime`` objects. Anything else raises ``ValueError`` with a message saying what was wrong.

SuiteQL extracts are keyset-paged: :class:`KeysetQuery` holds the text with a ``{last_id}`` placeholder
on the unique key it is ordered by; the hook renders page after page with the last id it saw.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, model_validator

from crsync import fields as f
from crsync.ids import MAX_IDS_PER_RUN
from crsync.order_party_settings import party_source_paths
from crsync.settings import IntegrationSettings, netsuite_column, salesforce_field_path

# --------------------------------------------------------------------------------------------------
# Salesforce ids
# --------------------------------------------------------------------------------------------------

# Matched with fullmatch (never match + "$", which accepts a trailing newline); the classes are ASCII only.
_SF_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?")
#: A NetSuite internal id as text: ASCII digits only (``str.isdigit`` also accepts e.g. Arabic-Indic digits).
_NS_INTERNAL_ID = re.compile(r"[0-9]+")
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
#: Key prefix of Opportunity ids.
OPPORTUNITY_ID_PREFIX = "006"
#: Ids per explicit-id query and per run: keeps a SOQL GET under Salesforce's URI limit (crsync.ids).
MAX_IDS_PER_QUERY = MAX_IDS_PER_RUN


def _checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character id case-insensitively unique."""
    suffix = ""
    for block in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, char in enumerate(block) if char.isupper())
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def to_18_char_id(value: str) -> str:
    """Validate a Salesforce id and return its 18-character form.

    :param value: a 15- or 18-character Salesforce id.
    :raises ValueError: not an id (surrounding whitespace, e.g. a pasted trailing newline, included),
        or an 18-character id whose checksum does not match.
    """
    text = value
    if not isinstance(text, str) or not _SF_ID.fullmatch(text):
        raise ValueError(f"{value!r} is not a Salesforce id (15 or 18 letters and digits)")
    full = text[:15] + _checksum(text[:15])
    if len(text) == 18 and text != full:
        raise ValueError(
            f"{value!r} is not a valid 18-character Salesforce id (checksum should be {full[15:]})"
        )
    return full


def validate_salesforce_ids(values: Iterable[str], *, prefix: str | None = None) -> list[str]:
    """Validate ids given by a user, in order, de-duplicated, as 18-character ids.

    :param values: 15- or 18-character ids.
    :param prefix: required key prefix (``006`` for Opportunities), if any.
    :raises ValueError: listing every value that is not an acceptable id.
    """
    ids: list[str] = []
    problems: list[str] = []
    for value in values:
        try:
            full = to_18_char_id(value)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if prefix and not full.startswith(prefix):
            problems.append(f"{value!r} is not an id of the expected object (ids start with {prefix!r})")
        elif full not in ids:
            ids.append(full)
    if problems:
        raise ValueError("; ".join(problems))
    if not ids:
        raise ValueError("no Salesforce ids given")
    if len(ids) > MAX_IDS_PER_QUERY:
        raise ValueError(f"{len(ids)} ids given; at most {MAX_IDS_PER_QUERY} per run")
    return ids


def validate_netsuite_ids(values: Iterable[int | str]) -> list[int]:
    """Validate NetSuite internal ids (positive integers), in order, de-duplicated.

    Text must be ASCII digits only: no whitespace or newline, no digits of other scripts.

    :raises ValueError: listing every value that is not a positive integer.
    """
    ids: list[int] = []
    problems: list[str] = []
    for value in values:
        text = str(value) if isinstance(value, int) else value
        if (
            isinstance(value, bool)
            or not isinstance(text, str)
            or not _NS_INTERNAL_ID.fullmatch(text)
            or int(text) <= 0
        ):
            problems.append(f"{value!r} is not a NetSuite internal id (a positive integer)")
        elif int(text) not in ids:
            ids.append(int(text))
    if problems:
        raise ValueError("; ".join(problems))
    if not ids:
        raise ValueError("no NetSuite ids given")
    return ids


_NS_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")


def validate_external_ids(values: Iterable[str]) -> list[str]:
    """Validate NetSuite external ids (letters, digits, ``_``, ``-``), in order, de-duplicated."""
    ids: list[str] = []
    for value in values:
        if not isinstance(value, str) or not _NS_EXTERNAL_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not a NetSuite external id (letters, digits, '_' and '-')")
        if value not in ids:
            ids.append(value)
    if not ids:
        raise ValueError("no external ids given")
    return ids


# --------------------------------------------------------------------------------------------------
# Literals
# --------------------------------------------------------------------------------------------------


def _utc(moment: dt.datetime, timezone: str = "UTC") -> dt.datetime:
    """``moment`` in ``timezone``; a naive datetime is taken to be in that time zone already."""
    zone = ZoneInfo(timezone)
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


def soql_datetime(moment: dt.datetime) -> str:
    """A SOQL datetime literal (no quotes), in UTC: ``2024-01-01T00:00:00Z``."""
    return _utc(moment).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_string(value: str) -> str:
    """A quoted SOQL string literal with quotes and backslashes escaped."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def suiteql_string(value: str) -> str:
    """A quoted SuiteQL (Oracle) string literal with quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def suiteql_timestamp(moment: dt.datetime, timezone: str = "UTC") -> str:
    """``TO_TIMESTAMP('YYYY-MM-DD HH24:MI:SS', ...)`` of ``moment`` in the settings' time zone."""
    text = _utc(moment, timezone).strftime("%Y-%m-%d %H:%M:%S")
    return f"TO_TIMESTAMP('{text}', 'YYYY-MM-DD HH24:MI:SS')"


def _date(column: str, alias: str | None = None) -> str:
    """A date column formatted ``YYYY-MM-DD`` (NetSuite returns dates in the user's format otherwise)."""
    return f"TO_CHAR({column}, 'YYYY-MM-DD') AS {alias or column.rsplit('.', 1)[-1]}"


def _datetime(column: str, alias: str | None = None) -> str:
    return f"TO_CHAR({column}, 'YYYY-MM-DD HH24:MI:SS') AS {alias or column.rsplit('.', 1)[-1]}"


def _in_list(values: Sequence[str]) -> str:
    return "(" + ", ".join(values) + ")"


def chunked(values: Sequence[object], size: int) -> list[list[object]]:
    """Split ``values`` into lists of at most ``size`` (for ``IN (...)`` lookups)."""
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


# --------------------------------------------------------------------------------------------------
# SOQL: Opportunities to order
# --------------------------------------------------------------------------------------------------

_O, _L, _A, _P, _C = f.Opportunity, f.OpportunityLineItem, f.Account, f.Product, f.Contract

OPPORTUNITY_FIELDS: tuple[str, ...] = (
    _O.ID,
    _O.NAME,
    _O.ORDER_TYPE,
    _O.CLOSE_DATE,
    _O.SYNC_STATUS,
    _O.NETSUITE_ID,
    _O.NETSUITE_RENEWAL_ESTIMATE_ID,
    _O.ACCOUNT_ID,
    f"{_O.ACCOUNT}.{_A.ID}",
    f"{_O.ACCOUNT}.{_A.NAME}",
    f"{_O.ACCOUNT}.{_A.NETSUITE_ID}",
    f"{_O.ACCOUNT}.{_A.CHANNEL_TIER}",
    _O.CONTRACT_ID,
    f"{_O.CONTRACT}.{_C.NETSUITE_ID}",
    f"{_O.CONTRACT}.{_C.NETSUITE_NAME}",
    f"{_O.CONTRACT}.{_C.START_DATE}",
    f"{_O.CONTRACT}.{_C.END_DATE}",
    _O.SYSTEM_MODSTAMP,
    _O.STAGE_NAME,
    _O.IS_CLOSED,
    _O.IS_WON,
)
LINE_ITEM_FIELDS: tuple[str, ...] = (
    _L.ID,
    _L.QUANTITY,
    _L.UNIT_PRICE,
    _L.LIST_PRICE,
    _L.START_DATE,
    _L.END_DATE,
    _L.TERM_MONTHS,
    _L.NETSUITE_LINE_ID,
    _L.PRODUCT_ID,
    f"{_L.PRODUCT}.{_P.NAME}",
    f"{_L.PRODUCT}.{_P.NETSUITE_ID}",
    f"{_L.PRODUCT}.{_P.ITEM_CATEGORY}",
    _L.SYSTEM_MODSTAMP,
)

OpportunityMode = Literal["queued", "window", "ids"]


def opportunities_soql(
    mode: OpportunityMode,
    *,
    window_start: dt.datetime | None = None,
    window_end: dt.datetime | None = None,
    ids: Iterable[str] | None = None,
    settings: IntegrationSettings | None = None,
    multi_currency: bool = False,
) -> str:
    """SOQL for the Opportunities the hourly flow orders, with their line items.

    :param mode: ``queued`` - ``Sync_Status__c = 'Processing'`` and modified before ``window_end``;
        ``window`` - Opportunities with an Order Type modified in ``[window_start, window_end)`` that are
        queued now or were already sent (have a ``NetSuite_Id__c``): a re-send never reaches one nobody
        queued; ``ids`` - the named ids (the mapping refuses those neither queued nor sent).
    :param settings: adds the source fields of the flow's extra field mappings to the select list.
    :param multi_currency: also select ``CurrencyIsoCode``.
    :raises ValueError: a missing window bound or an invalid id.
    """
    select = list(OPPORTUNITY_FIELDS)
    if multi_currency or (settings is not None and settings.salesforce.multi_currency):
        select.append(_O.CURRENCY)
    if settings is not None:
        extra = settings.field_mappings.sf_opportunity_to_ns_sales_order
        # The order's subsidiary and end user (settings netsuite.subsidiary / netsuite.end_user).
        select += [p for p in party_source_paths(settings.netsuite) if p not in select]
        select += [salesforce_field_path(s) for s in extra if s not in select]
    lines = f"(SELECT {', '.join(LINE_ITEM_FIELDS)} FROM {_O.LINE_ITEMS} ORDER BY {_L.ID})"
    where = _opportunity_filter(mode, window_start, window_end, ids)
    return f"SELECT {', '.join(select)}, {lines} FROM {_O.SOBJECT} WHERE {where} ORDER BY {_O.ID}"


def _opportunity_filter(
    mode: OpportunityMode,
    start: dt.datetime | None,
    end: dt.datetime | None,
    ids: Iterable[str] | None,
) -> str:
    if mode == "ids":
        valid = validate_salesforce_ids(ids or [], prefix=OPPORTUNITY_ID_PREFIX)
        return f"{_O.ID} IN {_in_list([soql_string(i) for i in valid])}"
    if end is None:
        raise ValueError(f"mode {mode!r} needs the window end")
    if mode == "queued":
        status = soql_string(f.SyncStatus.PROCESSING.value)
        return f"{_O.SYNC_STATUS} = {status} AND {_O.SYSTEM_MODSTAMP} < {soql_datetime(end)}"
    if mode == "window":
        if start is None or start >= end:
            raise ValueError("mode 'window' needs a window start before its end")
        queued = soql_string(f.SyncStatus.PROCESSING.value)
        return (
            f"{_O.SYSTEM_MODSTAMP} >= {soql_datetime(start)} AND {_O.SYSTEM_MODSTAMP} < {soql_datetime(end)}"
            f" AND {_O.ORDER_TYPE} != null AND ({_O.SYNC_STATUS} = {queued} OR {_O.NETSUITE_ID} != null)"
        )
    raise ValueError(f"unknown mode {mode!r}; expected queued, window or ids")


def opportunity_modstamps_soql(ids: Iterable[str]) -> str:
    """``SystemModstamp`` of the named Opportunities (at most :data:`MAX_IDS_PER_QUERY`) and of their line
    items: the write-back re-reads them to leave alone any Opportunity edited since it was extracted (the
    lines too, as Salesforce documents no parent stamp change for a line edit that leaves Amount alone)."""
    valid = validate_salesforce_ids(ids, prefix=OPPORTUNITY_ID_PREFIX)
    lines = f"(SELECT {_L.ID}, {_L.SYSTEM_MODSTAMP} FROM {_O.LINE_ITEMS} ORDER BY {_L.ID})"
    return (
        f"SELECT {_O.ID}, {_O.SYSTEM_MODSTAMP}, {lines} FROM {_O.SOBJECT} "
        f"WHERE {_O.ID} IN {_in_list([soql_string(i) for i in valid])}"
    )


def opportunity_lines_soql(ids: Iterable[str]) -> str:
    """Line items (product's NetSuite item id, quantity, unit price) of the named Opportunities (at most
    :data:`MAX_IDS_PER_QUERY`), for comparing them with the lines of their sales orders."""
    valid = validate_salesforce_ids(ids, prefix=OPPORTUNITY_ID_PREFIX)
    return (
        f"SELECT {_L.ID}, {_L.OPPORTUNITY_ID}, {_L.PRODUCT}.{_P.NETSUITE_ID}, {_L.QUANTITY}, {_L.UNIT_PRICE} "
        f"FROM {_L.SOBJECT} WHERE {_L.OPPORTUNITY_ID} IN {_in_list([soql_string(i) for i in valid])} "
        f"ORDER BY {_L.OPPORTUNITY_ID}, {_L.ID}"
    )


# --------------------------------------------------------------------------------------------------
# SOQL: lookups
# --------------------------------------------------------------------------------------------------


def _netsuite_id_literals(ids: Iterable[int | str]) -> str:
    return _in_list([soql_string(str(i)) for i in validate_netsuite_ids(ids)])


def accounts_by_netsuite_ids_soql(netsuite_ids: Iterable[int | str]) -> str:
    """Accounts that carry these NetSuite customer ids."""
    return (
        f"SELECT {_A.ID}, {_A.NETSUITE_ID} FROM {_A.SOBJECT} "
        f"WHERE {_A.NETSUITE_ID} IN {_netsuite_id_literals(netsuite_ids)}"
    )


def contracts_by_netsuite_ids_soql(netsuite_ids: Iterable[int | str]) -> str:
    """Contracts that carry these NetSuite contract ids (parents of contract items)."""
    return (
        f"SELECT {_C.ID}, {_C.NETSUITE_ID} FROM {_C.SOBJECT} "
        f"WHERE {_C.NETSUITE_ID} IN {_netsuite_id_literals(netsuite_ids)}"
    )


def standard_pricebook_soql() -> str:
    """The org's standard price book."""
    pb = f.PricebookEntry
    return f"SELECT Id FROM {pb.PRICEBOOK_SOBJECT} WHERE {pb.PRICEBOOK_IS_STANDARD} = true LIMIT 1"


def pricebook_entries_soql(
    pricebook_id: str, item_netsuite_ids: Iterable[int | str], *, multi_currency: bool = False
) -> str:
    """Active PricebookEntries of a price book for products with these NetSuite item ids."""
    pb = f.PricebookEntry
    select = [pb.ID, pb.PRODUCT_ID, pb.PRODUCT_NETSUITE_ID] + ([pb.CURRENCY] if multi_currency else [])
    return (
        f"SELECT {', '.join(select)} FROM {pb.SOBJECT} "
        f"WHERE {pb.PRICEBOOK_ID} = {soql_string(to_18_char_id(pricebook_id))} AND {pb.IS_ACTIVE} = true "
        f"AND {pb.PRODUCT_NETSUITE_ID} IN {_netsuite_id_literals(item_netsuite_ids)}"
    )


def renewal_opportunities_soql(estimate_ids: Iterable[int | str]) -> str:
    """Renewal Opportunities already created from these NetSuite renewal transactions."""
    return (
        f"SELECT {_O.ID}, {_O.NETSUITE_RENEWAL_ESTIMATE_ID}, {_O.STAGE_NAME}, {_O.IS_CLOSED} FROM {_O.SOBJECT} "
        f"WHERE {_O.NETSUITE_RENEWAL_ESTIMATE_ID} IN {_netsuite_id_literals(estimate_ids)}"
    )


def renewal_line_items_soql(
    estimate_ids: Iterable[int | str], target: Literal["opportunity", "quote"]
) -> str:
    """Line items (OpportunityLineItem or QuoteLineItem) of the renewals of these transactions."""
    literals = _netsuite_id_literals(estimate_ids)
    if target == "quote":
        q = f.Quote
        parent = f"{q.LINE_QUOTE}.{q.NETSUITE_ESTIMATE_ID}"
        return f"SELECT Id, {q.LINE_NETSUITE_LINE_ID}, {parent} FROM {q.LINE_SOBJECT} WHERE {parent} IN {literals}"
    parent = f"{_L.OPPORTUNITY}.{_O.NETSUITE_RENEWAL_ESTIMATE_ID}"
    return f"SELECT {_L.ID}, {_L.NETSUITE_LINE_ID}, {parent} FROM {_L.SOBJECT} WHERE {parent} IN {literals}"


# --------------------------------------------------------------------------------------------------
# SuiteQL
# --------------------------------------------------------------------------------------------------

LAST_ID_PLACEHOLDER = "{last_id}"


class KeysetQuery(BaseModel):
    """A SuiteQL query ordered by a unique key, paged with ``key > {last_id}``."""

    model_config = ConfigDict(frozen=True)

    template: str
    key_column: str = "id"

    def render(self, last_id: int = 0) -> str:
        """The query for the page after ``last_id`` (0 for the first page)."""
        if isinstance(last_id, bool) or not isinstance(last_id, int) or last_id < 0:
            raise ValueError(f"last_id must be a non-negative integer, got {last_id!r}")
        return self.template.replace(LAST_ID_PLACEHOLDER, str(last_id))


class ChangeScope(BaseModel):
    """Which NetSuite records an extract reads: changed in a window, named ids, or everything."""

    model_config = ConfigDict(frozen=True)

    mode: Literal["window", "ids", "full"]
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    ids: tuple[int, ...] = ()

    @model_validator(mode="after")
    def _complete(self) -> ChangeScope:
        if self.mode == "window" and (self.start is None or self.end is None or self.start >= self.end):
            raise ValueError("a window scope needs start < end")
        if self.mode == "ids" and not self.ids:
            raise ValueError("an ids scope needs at least one id")
        return self

    @classmethod
    def window(cls, start: dt.datetime, end: dt.datetime) -> ChangeScope:
        """Records whose last-modified time is in ``[start, end)``."""
        return cls(mode="window", start=start, end=end)

    @classmethod
    def by_ids(cls, ids: Iterable[int | str]) -> ChangeScope:
        """The named records (validated integers)."""
        return cls(mode="ids", ids=tuple(validate_netsuite_ids(ids)))

    @classmethod
    def full(cls) -> ChangeScope:
        """Every record (full resync)."""
        return cls(mode="full")

    def condition(self, id_column: str, modified_column: str, timezone: str = "UTC") -> str:
        """The WHERE condition selecting this scope (empty for a full resync)."""
        if self.mode == "window":
            assert self.start is not None and self.end is not None
            return (
                f"{modified_column} >= {suiteql_timestamp(self.start, timezone)} "
                f"AND {modified_column} < {suiteql_timestamp(self.end, timezone)}"
            )
        if self.mode == "ids":
            return f"{id_column} IN {_in_list([str(i) for i in self.ids])}"
        return ""


def _extra_columns(alias: str, columns: Iterable[str], present: Iterable[str]) -> list[str]:
    taken = set(present)
    return [f"{alias}.{netsuite_column(c)} AS {c}" for c in columns if c not in taken]


def _output_name(select_item: str) -> str:
    """The column name a select item comes back under (its alias, else its column)."""
    return select_item.rsplit(" ", 1)[-1].rsplit(".", 1)[-1]


def _keyset(select: Sequence[str], source: str, where: str, key: str) -> KeysetQuery:
    conditions = " AND ".join(c for c in (where, f"{key} > {LAST_ID_PLACEHOLDER}") if c)
    text = f"SELECT {', '.join(select)} FROM {source} WHERE {conditions} ORDER BY {key}"
    return KeysetQuery(template=text, key_column=key.rsplit(".", 1)[-1])


_NC, _NI, _NT, _NL = f.NsContract, f.NsContractItem, f.NsTransaction, f.NsTransactionLine


def contracts_query(
    scope: ChangeScope, settings: IntegrationSettings | None = None, extra_columns: Iterable[str] = ()
) -> KeysetQuery:
    """Contracts (``customrecord_contracts``) in scope, one row per contract, dates as ``YYYY-MM-DD``.

    :param settings: adds the source columns of the flow's extra field mappings, and gives the time zone.
    """
    c = "c"
    select = [
        f"{c}.{_NC.ID}",
        f"{c}.{_NC.NAME}",
        f"{c}.{_NC.EXTERNAL_ID}",
        _date(f"{c}.{_NC.START_DATE}"),
        _date(f"{c}.{_NC.END_DATE}"),
        f"{c}.{_NC.BILL_TO}",
        f"{c}.{_NC.END_USER}",
        f"{c}.{_NC.STATUS}",
        f"{c}.{_NC.VALUE}",
        _date(f"{c}.{_NC.TARGET_RENEWAL_DATE}"),
        f"{c}.{_NC.RENEWAL_TRANSACTION}",
        f"{c}.{_NC.ORIGINAL_CONTRACT}",
        f"{c}.{_NC.CURRENCY}",
        f"{c}.{_NC.TYPE}",
        _datetime(f"{c}.{_NC.LAST_MODIFIED}"),
    ]
    extra = list(extra_columns) + list(settings.field_mappings.ns_contract_to_sf_contract if settings else [])
    select += _extra_columns(c, extra, [_output_name(s) for s in select])
    tz = settings.timezone if settings else "UTC"
    where = scope.condition(f"{c}.{_NC.ID}", f"{c}.{_NC.LAST_MODIFIED}", tz)
    return _keyset(select, f"{_NC.TABLE} {c}", where, f"{c}.{_NC.ID}")


def contract_items_query(
    scope: ChangeScope, settings: IntegrationSettings | None = None, extra_columns: Iterable[str] = ()
) -> KeysetQuery:
    """Contract items (``customrecord_contract_item``) in scope, dates as ``YYYY-MM-DD``.

    ``ids`` scopes name contract item ids.
    """
    tz = settings.timezone if settings else "UTC"
    where = scope.condition(f"{_CI}.{_NI.ID}", f"{_CI}.{_NI.LAST_MODIFIED}", tz)
    return _contract_items_keyset(where, settings, extra_columns)


def contract_items_of_contracts_query(
    contract_ids: Iterable[int | str], settings: IntegrationSettings | None = None
) -> KeysetQuery:
    """Every item of the named contracts (to pick up items that arrived before their contract)."""
    ids = validate_netsuite_ids(contract_ids)
    where = f"{_CI}.{_NI.CONTRACT} IN {_in_list([str(i) for i in ids])}"
    return _contract_items_keyset(where, settings, ())


_CI = "ci"
_CC = "cc"  # the contract of a contract item


def _contract_items_keyset(
    where: str, settings: IntegrationSettings | None, extra_columns: Iterable[str]
) -> KeysetQuery:
    i = _CI
    select = [
        f"{i}.{_NI.ID}",
        f"{i}.{_NI.NAME}",
        f"{i}.{_NI.CONTRACT}",
        f"{i}.{_NI.ITEM}",
        f"{i}.{_NI.QUANTITY}",
        _date(f"{i}.{_NI.START_DATE}"),
        _date(f"{i}.{_NI.END_DATE}"),
        f"{i}.{_NI.TERM}",
        f"{i}.{_NI.STATUS}",
        f"{i}.{_NI.STATE}",
        f"{i}.{_NI.RENEW_WITH}",
        f"{i}.{_NI.ORIGINAL_LIST_RATE}",
        f"{i}.{_NI.ORIGINAL_TRANSACTION}",
        f"{i}.{_NI.BILL_TO}",
        # The item's currency is its contract's (CurrencyIsoCode in a multi-currency Salesforce org).
        f"{_CC}.{_NC.CURRENCY} AS {_NI.CONTRACT_CURRENCY}",
        _datetime(f"{i}.{_NI.LAST_MODIFIED}"),
    ]
    extra = list(extra_columns) + list(
        settings.field_mappings.ns_contract_item_to_sf_contract_item if settings else []
    )
    select += _extra_columns(i, extra, [_output_name(s) for s in select])
    source = f"{_NI.TABLE} {i} LEFT JOIN {_NC.TABLE} {_CC} ON {_CC}.{_NC.ID} = {i}.{_NI.CONTRACT}"
    return _keyset(select, source, where, f"{i}.{_NI.ID}")


def contract_orders_query(contract_ids: Iterable[int | str]) -> KeysetQuery:
    """Sales orders tied to these contracts that came from Salesforce (have an external id).

    The external id of such an order is the Opportunity id: an upsell's or a new contract's Opportunity
    gets the contract's ``ContractId``; the contract records the Opportunity of the order that made it
    (order type and ``custbody_swe_from_contract`` say which, see :mod:`crsync.mappings.contract`).
    """
    t = "t"
    ids = validate_netsuite_ids(contract_ids)
    select = [
        f"{t}.{_NT.ID}", f"{t}.{_NT.TRANID}", f"{t}.{_NT.EXTERNAL_ID}", f"{t}.{_NT.CONTRACT_NAME}",
        f"{t}.{_NT.ORDER_TYPE}", f"{t}.{_NT.FROM_CONTRACT}",
    ]  # fmt: skip
    where = (
        f"{t}.{_NT.TYPE} = {suiteql_string(f.NsTransactionType.SALES_ORDER.value)} "
        f"AND {t}.{_NT.CONTRACT_NAME} IN {_in_list([str(i) for i in ids])} AND {t}.{_NT.EXTERNAL_ID} IS NOT NULL"
    )
    return _keyset(select, f"{_NT.TABLE} {t}", where, f"{t}.{_NT.ID}")


#: Column aliases of the renewal header query that are not plain transaction columns.
CUSTOMER_NAME = "customer_name"
CUSTOMER_EXTERNAL_ID = "customer_externalid"
CONTRACT_NAME = "contract_name"
ITEM_NAME = "item_name"
ITEM_DISPLAY_NAME = "item_displayname"


def renewal_transactions_query(
    scope: ChangeScope, settings: IntegrationSettings, extra_columns: Iterable[str] = ()
) -> KeysetQuery:
    """Renewal transactions in scope: the type the module creates (settings), with order type Renewal.

    One row per transaction with its customer and the contract it renews; read the lines with
    :func:`renewal_lines_query`.
    """
    t, cu, c = "t", "cu", "c"
    tran_type = settings.renewal.transaction_type.suiteql_type.value
    select = [
        f"{t}.{_NT.ID}",
        f"{t}.{_NT.TRANID}",
        f"{t}.{_NT.TYPE}",
        f"{t}.{_NT.ENTITY}",
        f"{t}.{_NT.EXTERNAL_ID}",
        _date(f"{t}.{_NT.TRANDATE}"),
        _date(f"{t}.{_NT.STARTDATE}"),
        _date(f"{t}.{_NT.ENDDATE}"),
        f"{t}.{_NT.STATUS}",
        f"{t}.{_NT.CURRENCY}",
        f"{t}.{_NT.FOREIGN_TOTAL}",
        f"{t}.{_NT.ORDER_TYPE}",
        f"{t}.{_NT.FROM_CONTRACT}",
        _date(f"{t}.{_NT.CONTRACT_START_DATE}"),
        _date(f"{t}.{_NT.CONTRACT_END_DATE}"),
        f"{t}.{_NT.TERM_MONTHS}",
        _datetime(f"{t}.{_NT.LAST_MODIFIED}"),
        f"{cu}.{f.NsCustomer.COMPANY_NAME} AS {CUSTOMER_NAME}",
        f"{cu}.{f.NsCustomer.EXTERNAL_ID} AS {CUSTOMER_EXTERNAL_ID}",
        f"{c}.{_NC.NAME} AS {CONTRACT_NAME}",
    ]
    extra = list(extra_columns) + list(settings.field_mappings.ns_renewal_estimate_to_sf_opportunity)
    select += _extra_columns(t, extra, [_output_name(s) for s in select])
    source = (
        f"{_NT.TABLE} {t} LEFT JOIN {f.NsCustomer.TABLE} {cu} ON {cu}.{f.NsCustomer.ID} = {t}.{_NT.ENTITY} "
        f"LEFT JOIN {_NC.TABLE} {c} ON {c}.{_NC.ID} = {t}.{_NT.FROM_CONTRACT}"
    )
    in_scope = scope.condition(f"{t}.{_NT.ID}", f"{t}.{_NT.LAST_MODIFIED}", settings.timezone)
    where = " AND ".join(
        c
        for c in (
            f"{t}.{_NT.TYPE} = {suiteql_string(tran_type)}",
            f"{t}.{_NT.ORDER_TYPE} = {settings.renewal_order_type_id}",
            in_scope,
        )
        if c
    )
    return _keyset(select, source, where, f"{t}.{_NT.ID}")


def renewal_lines_query(transaction_ids: Iterable[int | str]) -> str:
    """Item lines of these transactions (offset-paged; order by transaction and line)."""
    tl, i = "tl", "i"
    ids = validate_netsuite_ids(transaction_ids)
    select = [
        f"{tl}.{_NL.TRANSACTION}",
        f"{tl}.{_NL.ID}",
        f"{tl}.{_NL.SEQUENCE}",
        f"{tl}.{_NL.ITEM}",
        f"{tl}.{_NL.QUANTITY}",
        f"{tl}.{_NL.RATE}",
        f"{tl}.{_NL.FOREIGN_AMOUNT}",
        _date(f"{tl}.{_NL.CONTRACT_START_DATE}"),
        _date(f"{tl}.{_NL.CONTRACT_END_DATE}"),
        f"{tl}.{_NL.TERM_MONTHS}",
        f"{i}.{f.NsItem.ITEM_ID} AS {ITEM_NAME}",
        f"{i}.{f.NsItem.DISPLAY_NAME} AS {ITEM_DISPLAY_NAME}",
    ]
    return (
        f"SELECT {', '.join(select)} FROM {_NL.TABLE} {tl} "
        f"LEFT JOIN {f.NsItem.TABLE} {i} ON {i}.{f.NsItem.ID} = {tl}.{_NL.ITEM} "
        f"WHERE {tl}.{_NL.TRANSACTION} IN {_in_list([str(x) for x in ids])} "
        f"AND {tl}.{_NL.MAINLINE} = 'F' AND {tl}.{_NL.ITEM} IS NOT NULL "
        f"ORDER BY {tl}.{_NL.TRANSACTION}, {tl}.{_NL.SEQUENCE}, {tl}.{_NL.ID}"
    )


def customers_by_external_ids_query(external_ids: Iterable[str]) -> str:
    """NetSuite customers created from these Salesforce Account ids (their external ids)."""
    cu = f.NsCustomer
    literals = _in_list([suiteql_string(i) for i in validate_external_ids(external_ids)])
    return (
        f"SELECT {cu.ID}, {cu.ENTITY_ID}, {cu.COMPANY_NAME}, {cu.EXTERNAL_ID} FROM {cu.TABLE} "
        f"WHERE {cu.EXTERNAL_ID} IN {literals} ORDER BY {cu.ID}"
    )


def sales_orders_by_external_ids_query(external_ids: Iterable[str]) -> str:
    """Orders created from these Opportunity ids (their external ids), with document numbers: sales orders
    and the return authorizations of downsells."""
    literals = _in_list([suiteql_string(i) for i in validate_external_ids(external_ids)])
    types = _in_list([suiteql_string(t.value) for t in (
        f.NsTransactionType.SALES_ORDER, f.NsTransactionType.RETURN_AUTHORIZATION)])  # fmt: skip
    return (
        f"SELECT {_NT.ID}, {_NT.TRANID}, {_NT.EXTERNAL_ID}, {_NT.STATUS}, {_NT.CONTRACT_NAME} FROM {_NT.TABLE} "
        f"WHERE {_NT.TYPE} IN {types} "
        f"AND {_NT.EXTERNAL_ID} IN {literals} ORDER BY {_NT.ID}"
    )


def billed_sales_orders_query(external_ids: Iterable[str]) -> str:
    """External and internal ids of the sales orders (of these Opportunity ids) that have an invoice: billed
    orders, whose lines NetSuite no longer lets anyone change."""
    literals = _in_list([suiteql_string(i) for i in validate_external_ids(external_ids)])
    return (
        f"SELECT DISTINCT o.{_NT.EXTERNAL_ID}, o.{_NT.ID} FROM {_NT.TABLE} o "
        f"JOIN {_NT.TABLE} i ON i.{_NT.CREATED_FROM} = o.{_NT.ID} "
        f"WHERE o.{_NT.TYPE} = {suiteql_string(f.NsTransactionType.SALES_ORDER.value)} "
        f"AND i.{_NT.TYPE} = {suiteql_string(f.NS_INVOICE_TYPE)} AND o.{_NT.EXTERNAL_ID} IN {literals} "
        f"ORDER BY o.{_NT.EXTERNAL_ID}"
    )


def sales_order_lines_query(transaction_ids: Iterable[int | str]) -> str:
    """Item lines (item, quantity, rate) of these sales orders (offset-paged; ordered by order and line),
    for reconciling them with the Opportunity's products."""
    tl = "tl"
    ids = validate_netsuite_ids(transaction_ids)
    return (
        f"SELECT {tl}.{_NL.TRANSACTION}, {tl}.{_NL.ID}, {tl}.{_NL.ITEM}, {tl}.{_NL.QUANTITY}, {tl}.{_NL.RATE} "
        f"FROM {_NL.TABLE} {tl} WHERE {tl}.{_NL.TRANSACTION} IN {_in_list([str(x) for x in ids])} "
        f"AND {tl}.{_NL.MAINLINE} = 'F' AND {tl}.{_NL.ITEM} IS NOT NULL "
        f"ORDER BY {tl}.{_NL.TRANSACTION}, {tl}.{_NL.ID}"
    )

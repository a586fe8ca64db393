"""SuiteQL (NetSuite) queries: keyset-paged extracts (:class:`KeysetQuery`) and id lookups.

A keyset extract is a :class:`KeysetQuery`: a template holding ``{key_filter}`` on the unique key it is
ordered by, and that key. ``NetSuiteHook.suiteql_keyset`` pages it (``<key> > <last key seen>``, one
request per page, any size); lookups by id lists are plain text paged by offset. Literals come from
:mod:`crsync_provider.hooks.suiteql`, the one home of SuiteQL literal formatting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from crsync import fields as f
from crsync.queries.validation import in_list, validate_external_ids, validate_netsuite_ids
from crsync.settings import IntegrationSettings, netsuite_column
from crsync_provider.hooks.suiteql import KEY_FILTER, keyset_page_query, suiteql_string, suiteql_timestamp


def _date(column: str, alias: str | None = None) -> str:
    """A date column formatted ``YYYY-MM-DD`` (NetSuite returns dates in the user's format otherwise)."""
    return f"TO_CHAR({column}, 'YYYY-MM-DD') AS {alias or column.rsplit('.', 1)[-1]}"


def _datetime(column: str, alias: str | None = None) -> str:
    return f"TO_CHAR({column}, 'YYYY-MM-DD HH24:MI:SS') AS {alias or column.rsplit('.', 1)[-1]}"


class KeysetQuery(BaseModel):
    """A SuiteQL query ordered by a unique key: ``template`` holds ``{key_filter}`` where the key condition
    goes, ``key`` is the key expression (``c.id``). ``NetSuiteHook.suiteql_keyset`` pages it."""

    model_config = ConfigDict(frozen=True)

    template: str
    key: str = "id"

    @model_validator(mode="after")
    def _has_key_filter(self) -> KeysetQuery:
        if KEY_FILTER not in self.template:
            raise ValueError(f"a keyset query template must contain {KEY_FILTER}")
        return self

    @property
    def key_column(self) -> str:
        """The key as it comes back in the rows (``c.id`` -> ``id``)."""
        return self.key.rsplit(".", 1)[-1].lower()

    def render(self, last_id: int = 0) -> str:
        """The query for the page after key ``last_id`` (for logs and tests; the hook pages the template)."""
        if isinstance(last_id, bool) or not isinstance(last_id, int) or last_id < 0:
            raise ValueError(f"last_id must be a non-negative integer, got {last_id!r}")
        return keyset_page_query(self, last_id)


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
            return f"{id_column} IN {in_list([str(i) for i in self.ids])}"
        return ""


def _extra_columns(alias: str, columns: Iterable[str], present: Iterable[str]) -> list[str]:
    taken = set(present)
    return [f"{alias}.{netsuite_column(c)} AS {c}" for c in columns if c not in taken]


def _output_name(select_item: str) -> str:
    """The column name a select item comes back under (its alias, else its column)."""
    return select_item.rsplit(" ", 1)[-1].rsplit(".", 1)[-1]


def _keyset(select: Sequence[str], source: str, where: str, key: str) -> KeysetQuery:
    conditions = " AND ".join(c for c in (where, KEY_FILTER) if c)
    text = f"SELECT {', '.join(select)} FROM {source} WHERE {conditions} ORDER BY {key}"
    return KeysetQuery(template=text, key=key)


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
    where = f"{_CI}.{_NI.CONTRACT} IN {in_list([str(i) for i in ids])}"
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
        f"AND {t}.{_NT.CONTRACT_NAME} IN {in_list([str(i) for i in ids])} AND {t}.{_NT.EXTERNAL_ID} IS NOT NULL"
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
        f"WHERE {tl}.{_NL.TRANSACTION} IN {in_list([str(x) for x in ids])} "
        f"AND {tl}.{_NL.MAINLINE} = 'F' AND {tl}.{_NL.ITEM} IS NOT NULL "
        f"ORDER BY {tl}.{_NL.TRANSACTION}, {tl}.{_NL.SEQUENCE}, {tl}.{_NL.ID}"
    )


def sales_orders_by_external_ids_query(external_ids: Iterable[str]) -> str:
    """Orders created from these Opportunity ids (their external ids), with document numbers: sales orders
    and the return authorizations of downsells."""
    literals = in_list([suiteql_string(i) for i in validate_external_ids(external_ids)])
    types = in_list([suiteql_string(t.value) for t in (
        f.NsTransactionType.SALES_ORDER, f.NsTransactionType.RETURN_AUTHORIZATION)])  # fmt: skip
    return (
        f"SELECT {_NT.ID}, {_NT.TRANID}, {_NT.EXTERNAL_ID}, {_NT.STATUS}, {_NT.CONTRACT_NAME} FROM {_NT.TABLE} "
        f"WHERE {_NT.TYPE} IN {types} "
        f"AND {_NT.EXTERNAL_ID} IN {literals} ORDER BY {_NT.ID}"
    )


def billed_sales_orders_query(external_ids: Iterable[str]) -> str:
    """External and internal ids of the sales orders (of these Opportunity ids) that have an invoice: billed
    orders, whose lines NetSuite no longer lets anyone change."""
    literals = in_list([suiteql_string(i) for i in validate_external_ids(external_ids)])
    return (
        f"SELECT DISTINCT o.{_NT.EXTERNAL_ID}, o.{_NT.ID} FROM {_NT.TABLE} o "
        f"JOIN {_NT.TABLE} i ON i.{_NT.CREATED_FROM} = o.{_NT.ID} "
        f"WHERE o.{_NT.TYPE} = {suiteql_string(f.NsTransactionType.SALES_ORDER.value)} "
        f"AND i.{_NT.TYPE} = {suiteql_string(f.NS_INVOICE_TYPE)} AND o.{_NT.EXTERNAL_ID} IN {literals} "
        f"ORDER BY o.{_NT.EXTERNAL_ID}"
    )


def sales_order_lines_query(transaction_ids: Iterable[int | str], *, with_terms: bool = False) -> str:
    """Item lines (item, quantity, rate) of these sales orders (offset-paged; ordered by order and line),
    for reconciling them with the Opportunity's products.

    :param with_terms: also each line's contract start and end date (``YYYY-MM-DD``) and term in months.
    """
    tl = "tl"
    ids = validate_netsuite_ids(transaction_ids)
    terms = (
        f", {_date(f'{tl}.{_NL.CONTRACT_START_DATE}')}, {_date(f'{tl}.{_NL.CONTRACT_END_DATE}')}, "
        f"{tl}.{_NL.TERM_MONTHS}"
        if with_terms
        else ""
    )
    return (
        f"SELECT {tl}.{_NL.TRANSACTION}, {tl}.{_NL.ID}, {tl}.{_NL.ITEM}, {tl}.{_NL.QUANTITY}, {tl}.{_NL.RATE}{terms} "
        f"FROM {_NL.TABLE} {tl} WHERE {tl}.{_NL.TRANSACTION} IN {in_list([str(x) for x in ids])} "
        f"AND {tl}.{_NL.MAINLINE} = 'F' AND {tl}.{_NL.ITEM} IS NOT NULL "
        f"ORDER BY {tl}.{_NL.TRANSACTION}, {tl}.{_NL.ID}"
    )


# --------------------------------------------------------------------------------------------------
# SuiteQL: reconciliation (only the compared columns: each TO_CHAR costs time on every page)
# --------------------------------------------------------------------------------------------------


def reconciliation_contracts_query() -> KeysetQuery:
    """Every contract, only the columns reconciliation compares (not :func:`contracts_query`: that one
    selects every mapped column)."""
    c = "c"
    select = [
        f"{c}.{_NC.ID}", f"{c}.{_NC.NAME}", _date(f"{c}.{_NC.START_DATE}"), _date(f"{c}.{_NC.END_DATE}"),
        f"{c}.{_NC.STATUS}", f"{c}.{_NC.VALUE}",
    ]  # fmt: skip
    return _keyset(select, f"{_NC.TABLE} {c}", "", f"{c}.{_NC.ID}")


def reconciliation_contract_items_query() -> KeysetQuery:
    """Every contract item, only the columns reconciliation compares."""
    i = _CI
    select = [
        f"{i}.{_NI.ID}", f"{i}.{_NI.NAME}", f"{i}.{_NI.CONTRACT}", f"{i}.{_NI.QUANTITY}",
        _date(f"{i}.{_NI.START_DATE}"), _date(f"{i}.{_NI.END_DATE}"), f"{i}.{_NI.STATE}",
    ]  # fmt: skip
    return _keyset(select, f"{_NI.TABLE} {i}", "", f"{i}.{_NI.ID}")


def downsell_returns_query() -> KeysetQuery:
    """Return authorizations that carry an external id (downsells, created from Opportunities)."""
    where = (
        f"{_NT.TYPE} = {suiteql_string(f.NsTransactionType.RETURN_AUTHORIZATION.value)} "
        f"AND {_NT.EXTERNAL_ID} IS NOT NULL"
    )
    return _keyset([_NT.ID, _NT.TRANID, _NT.EXTERNAL_ID], _NT.TABLE, where, _NT.ID)


def synced_sales_orders_query() -> KeysetQuery:
    """Sales orders that carry an external id (those created from Opportunities)."""
    where = (
        f"{_NT.TYPE} = {suiteql_string(f.NsTransactionType.SALES_ORDER.value)} AND {_NT.EXTERNAL_ID} IS NOT NULL"
    )
    return _keyset([_NT.ID, _NT.TRANID, _NT.EXTERNAL_ID], _NT.TABLE, where, _NT.ID)

"""SOQL (Salesforce) queries: the Opportunities the hourly flow orders, lookups, and reconciliation's reads.

Ids are validated (:mod:`crsync.queries.validation`) and literals written by :func:`soql_string` and
:func:`soql_datetime` before they reach a query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal
from zoneinfo import ZoneInfo

from crsync import fields as f
from crsync.order_party_settings import party_source_paths
from crsync.queries.validation import (
    OPPORTUNITY_ID_PREFIX,
    in_list,
    to_18_char_id,
    validate_netsuite_ids,
    validate_salesforce_ids,
)
from crsync.settings import IntegrationSettings, salesforce_field_path

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
        return f"{_O.ID} IN {in_list([soql_string(i) for i in valid])}"
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
        f"WHERE {_O.ID} IN {in_list([soql_string(i) for i in valid])}"
    )


def opportunity_lines_soql(ids: Iterable[str]) -> str:
    """Line items (product's NetSuite item id, quantity, unit price) of the named Opportunities (at most
    :data:`MAX_IDS_PER_QUERY`), for comparing them with the lines of their sales orders."""
    valid = validate_salesforce_ids(ids, prefix=OPPORTUNITY_ID_PREFIX)
    return (
        f"SELECT {_L.ID}, {_L.OPPORTUNITY_ID}, {_L.PRODUCT}.{_P.NETSUITE_ID}, {_L.QUANTITY}, {_L.UNIT_PRICE} "
        f"FROM {_L.SOBJECT} WHERE {_L.OPPORTUNITY_ID} IN {in_list([soql_string(i) for i in valid])} "
        f"ORDER BY {_L.OPPORTUNITY_ID}, {_L.ID}"
    )




def _netsuite_id_literals(ids: Iterable[int | str]) -> str:
    return in_list([soql_string(str(i)) for i in validate_netsuite_ids(ids)])


def _ids_by_netsuite_ids_soql(sobject: type[f.Account] | type[f.Contract], netsuite_ids: Iterable[int | str]) -> str:
    """``Id`` and ``NetSuite_Id__c`` of the ``sobject`` records that carry these NetSuite ids."""
    return (
        f"SELECT {sobject.ID}, {sobject.NETSUITE_ID} FROM {sobject.SOBJECT} "
        f"WHERE {sobject.NETSUITE_ID} IN {_netsuite_id_literals(netsuite_ids)}"
    )


def accounts_by_netsuite_ids_soql(netsuite_ids: Iterable[int | str]) -> str:
    """Accounts that carry these NetSuite customer ids."""
    return _ids_by_netsuite_ids_soql(_A, netsuite_ids)


def contracts_by_netsuite_ids_soql(netsuite_ids: Iterable[int | str]) -> str:
    """Contracts that carry these NetSuite contract ids (parents of contract items)."""
    return _ids_by_netsuite_ids_soql(_C, netsuite_ids)


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


def renewal_quotes_soql(estimate_ids: Iterable[int | str]) -> str:
    """Renewal Quotes (``renewal.target: quote``) already created from these NetSuite renewal transactions."""
    q = f.Quote
    return (
        f"SELECT Id, {q.NETSUITE_ESTIMATE_ID} FROM {q.SOBJECT} "
        f"WHERE {q.NETSUITE_ESTIMATE_ID} IN {_netsuite_id_literals(estimate_ids)}"
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
# SOQL: contract flow
# --------------------------------------------------------------------------------------------------


def contract_origins_soql(netsuite_ids: Iterable[int | str]) -> str:
    """The originating Opportunity (``Opportunity__c``) of the Contracts with these NetSuite ids."""
    return (
        f"SELECT {_C.NETSUITE_ID}, {_C.ORIGINATING_OPPORTUNITY} FROM {_C.SOBJECT} "
        f"WHERE {_C.NETSUITE_ID} IN {_netsuite_id_literals(netsuite_ids)}"
    )


def opportunity_contracts_soql(opportunity_ids: Iterable[str]) -> str:
    """The Contract (and its NetSuite id) of each of these Opportunities."""
    valid = validate_salesforce_ids(opportunity_ids)
    return (
        f"SELECT {_O.ID}, {_O.CONTRACT_ID}, {_O.CONTRACT}.{_C.NETSUITE_ID} FROM {_O.SOBJECT} "
        f"WHERE {_O.ID} IN {in_list([soql_string(i) for i in valid])}"
    )


# --------------------------------------------------------------------------------------------------
# SOQL: reconciliation
# --------------------------------------------------------------------------------------------------


def opportunities_to_check_soql(stuck_before: dt.datetime) -> str:
    """Opportunities in Error, or in Processing last changed before ``stuck_before``."""
    from crsync import reconcile as rc

    return (
        f"SELECT {', '.join(rc.OPPORTUNITY_COLUMNS)} FROM {_O.SOBJECT} "
        f"WHERE {_O.SYNC_STATUS} = {soql_string(f.SyncStatus.ERROR.value)} "
        f"OR ({_O.SYNC_STATUS} = {soql_string(f.SyncStatus.PROCESSING.value)} "
        f"AND {rc.LAST_MODIFIED_DATE} < {soql_datetime(stuck_before)}) ORDER BY {_O.ID}"
    )


def opportunities_by_ids_soql(ids: Iterable[str]) -> str:
    """The reconciliation's columns of the named Opportunities."""
    from crsync import reconcile as rc

    valid = validate_salesforce_ids(ids, prefix=OPPORTUNITY_ID_PREFIX)
    return (
        f"SELECT {', '.join(rc.OPPORTUNITY_COLUMNS)} FROM {_O.SOBJECT} "
        f"WHERE {_O.ID} IN {in_list([soql_string(i) for i in valid])}"
    )


def linked_opportunities_soql() -> str:
    """The reconciliation's columns of every Opportunity that carries a NetSuite order id."""
    from crsync import reconcile as rc

    return (
        f"SELECT {', '.join(rc.OPPORTUNITY_COLUMNS)} FROM {_O.SOBJECT} "
        f"WHERE {_O.NETSUITE_ID} != null ORDER BY {_O.ID}"
    )


def salesforce_contracts_soql() -> str:
    """Every Contract that carries a NetSuite id (the reconciliation's columns)."""
    from crsync import reconcile as rc

    return (
        f"SELECT {', '.join(rc.SF_CONTRACT_COLUMNS)} FROM {_C.SOBJECT} "
        f"WHERE {_C.NETSUITE_ID} != null ORDER BY {_C.ID}"
    )


def salesforce_contract_items_soql() -> str:
    """Every Contract_Item__c that carries a NetSuite id (the reconciliation's columns)."""
    from crsync import reconcile as rc

    ci = f.ContractItem
    return (
        f"SELECT {', '.join(rc.SF_CONTRACT_ITEM_COLUMNS)} FROM {ci.SOBJECT} "
        f"WHERE {ci.NETSUITE_ID} != null ORDER BY {ci.ID}"
    )

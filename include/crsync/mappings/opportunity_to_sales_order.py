"""Salesforce Opportunity -> NetSuite Contract Renewals sales order (hourly flow), and its write-back.

:func:`opportunities_to_sales_orders` turns Opportunity records, as a SOQL query from
:func:`crsync.queries.opportunities_soql` returns them (nested ``Account``, ``Contract`` and
``OpportunityLineItems``), into NetSuite write instructions:

- ``customers``: a ``customer`` upsert (external id = Account id) for every Account that has no NetSuite
  customer yet; load these first, then :func:`resolve_new_customers` fills the orders' ``entity``;
- ``orders``: a ``salesOrder`` upsert per valid Opportunity (external id = the 18-character Opportunity
  id, so a retry updates instead of duplicating); a renewal Opportunity that came from a NetSuite
  renewal estimate is created by transforming that estimate (``transform_from``);
- ``failures``: one :class:`~crsync.records.RecordFailure` per invalid Opportunity, saying what to fix.

:func:`opportunity_write_back` and :func:`account_write_back` build the Salesforce updates from the
write results (:mod:`crsync.mappings.sales_order_write_back`); the validation rules live in
:mod:`crsync.mappings.sales_order_checks`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from crsync import fields as f
from crsync.mappings.common import (
    add_months_minus_a_day,
    dates,
    get_path,
    ids,
    iso_dates,
    numbers,
    python_numbers,
    python_values,
    term_months,
    texts,
)
from crsync.mappings.order_lifecycle import as_return_authorization, complete_required, lifecycle_fields
from crsync.mappings.order_parties import add_parties, customer_fields, party_sources, prepare_parties
from crsync.mappings.sales_order_checks import (
    Problems,
    check_currency,
    check_eligibility,
    check_headers,
    check_line_presence,
    check_lines,
    mark_eligibility,
)
from crsync.mappings.sales_order_write_back import (
    account_write_back,
    as_18_char_id,
    changed_since_extract,
    explain_currency_refusals,
    opportunity_guard,
    opportunity_key,
    opportunity_write_back,
    resolve_new_customers,
    write_back_guards,
)
from crsync.records import NetSuiteWrite, RecordFailure
from crsync.settings import FlowId, IntegrationSettings

_O, _L, _A, _P, _C = f.Opportunity, f.OpportunityLineItem, f.Account, f.Product, f.Contract
_B, _N = f.NsBody, f.NsLine

#: Prefix of the columns that carry the sources of extra field mappings.
_EXTRA = "extra:"


class SalesOrderBatch(BaseModel):
    """The transform's output (JSON-serialisable with ``model_dump(mode="json")``)."""

    customers: list[NetSuiteWrite] = Field(default_factory=list)
    orders: list[NetSuiteWrite] = Field(default_factory=list)
    failures: list[RecordFailure] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Flattening the nested query result
# --------------------------------------------------------------------------------------------------

_HEADER_COLUMNS = [
    "key", "name", "order_type", "close_date", "renewal_estimate_id", "account_id", "account_name",
    "account_ns_id", "channel_tier", "contract_id", "contract_ns_id", "contract_name", "contract_start",
    "contract_end", "lines_complete", "currency", "sync_status", "netsuite_id", "is_closed", "is_won",
]  # fmt: skip
_LINE_COLUMNS = [
    "key", "line_no", "line_id", "quantity", "unit_price", "start", "end", "term", "product_id",
    "product_name", "item_ns_id", "category",
]  # fmt: skip



def _flatten(
    opportunities: Sequence[Mapping[str, Any]], extra_sources: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Header and line tables from nested records (one pass; the rest is vectorised)."""
    headers: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    for opp in opportunities:
        key = opportunity_key(opp)
        account = opp.get(_O.ACCOUNT) or {}
        contract = opp.get(_O.CONTRACT) or {}
        children = opp.get(_O.LINE_ITEMS) or {}
        headers.append(
            (
                key, opp.get(_O.NAME), opp.get(_O.ORDER_TYPE), opp.get(_O.CLOSE_DATE),
                opp.get(_O.NETSUITE_RENEWAL_ESTIMATE_ID), account.get(_A.ID) or opp.get(_O.ACCOUNT_ID),
                account.get(_A.NAME), account.get(_A.NETSUITE_ID), account.get(_A.CHANNEL_TIER),
                opp.get(_O.CONTRACT_ID), contract.get(_C.NETSUITE_ID), contract.get(_C.NETSUITE_NAME),
                contract.get(_C.START_DATE), contract.get(_C.END_DATE), children.get("done", True),
                opp.get(_O.CURRENCY), opp.get(_O.SYNC_STATUS), opp.get(_O.NETSUITE_ID),
                opp.get(_O.IS_CLOSED), opp.get(_O.IS_WON),
            )
            + tuple(get_path(opp, source) for source in extra_sources)
        )  # fmt: skip
        for number, line in enumerate(children.get("records") or [], start=1):
            product = line.get(_L.PRODUCT) or {}
            lines.append(
                (
                    key, number, line.get(_L.ID), line.get(_L.QUANTITY), line.get(_L.UNIT_PRICE),
                    line.get(_L.START_DATE), line.get(_L.END_DATE), line.get(_L.TERM_MONTHS),
                    line.get(_L.PRODUCT_ID), product.get(_P.NAME), product.get(_P.NETSUITE_ID),
                    product.get(_P.ITEM_CATEGORY),
                )
            )  # fmt: skip
    header_columns = _HEADER_COLUMNS + [_EXTRA + s for s in extra_sources]
    return (
        pd.DataFrame.from_records(headers, columns=header_columns),
        pd.DataFrame.from_records(lines, columns=_LINE_COLUMNS),
    )


# --------------------------------------------------------------------------------------------------
# Preparing the tables
# --------------------------------------------------------------------------------------------------


def _prepare_headers(h: pd.DataFrame, settings: IntegrationSettings) -> pd.DataFrame:
    for column in ("key", "name", "order_type", "account_id", "account_name", "channel_tier", "contract_id",
                   "contract_name"):  # fmt: skip
        h[column] = texts(h[column])
    for column in ("account_ns_id", "contract_ns_id", "renewal_estimate_id"):
        h[column] = ids(h[column])
    h["account_id"] = h["account_id"].map(as_18_char_id, na_action="ignore").astype("string")
    h["type_id"] = h["order_type"].map(settings.order_type_map)
    h["is_downsell"] = h["order_type"].eq(f.OrderType.DOWNSELL.value).fillna(False).astype(bool)
    # "is_upsell": the order changes an existing contract (an upsell adds to it, a downsell returns part of
    # it): the contract is required and the lines are co-termed to it.
    h["is_upsell"] = h["order_type"].eq(f.OrderType.UPSELL.value).fillna(False).astype(bool) | h["is_downsell"]
    h["is_renewal"] = h["order_type"].eq(f.OrderType.RENEWAL.value).fillna(False).astype(bool)
    mark_eligibility(h)
    h["close"] = dates(h["close_date"])
    h["c_start"] = dates(h["contract_start"])
    h["c_end"] = dates(h["contract_end"])
    # A single-currency org's amounts are all in its default currency; a multi-currency org's Opportunity
    # carries its own (CurrencyIsoCode, selected only then).
    default = settings.salesforce.default_currency
    code = texts(h["currency"]) if settings.salesforce.multi_currency else pd.Series(pd.NA, index=h.index)
    h["currency_code"] = code.astype("string").fillna(default)
    h["currency_id"] = h["currency_code"].map(settings.currency_ids)
    return h


def _prepare_lines(lines: pd.DataFrame, h: pd.DataFrame, settings: IntegrationSettings) -> pd.DataFrame:
    lines["key"] = texts(lines["key"])
    lines["product_name"] = texts(lines["product_name"])
    lines["item_ns_id"] = ids(lines["item_ns_id"])
    lines["qty"] = numbers(lines["quantity"])
    lines["price"] = numbers(lines["unit_price"])
    lines["term_given"] = numbers(lines["term"])
    context = h.set_index("key")[["is_upsell", "close", "c_start", "c_end"]]
    context = context[~context.index.duplicated()]
    lines = lines.join(context, on="key")
    lines["is_upsell"] = lines["is_upsell"].fillna(False).astype(bool)
    category = texts(lines["category"].astype("string"))
    renewing = settings.renewing_category_labels | {
        str(c) for c in settings.netsuite.renewing_item_categories
    }
    lines["needs_dates"] = (category.isna() | category.isin(list(renewing))).astype(bool)
    lines["whole_units"] = category.isin(list(settings.whole_unit_categories)).fillna(False).astype(bool)
    lines["s"], lines["e"] = _line_dates(lines)
    return lines


def _line_dates(lines: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Line start/end, filling the gaps the way the module would.

    An upsell line without dates is co-termed: from the close date (not before the contract start) to
    the contract end. A line with a start and whole Term Months but no end ends the day before the
    term's anniversary.
    """
    start = dates(lines["start"])
    end = dates(lines["end"])
    upsell_start = lines[["close", "c_start"]].max(axis=1)
    start = start.mask(start.isna() & lines["is_upsell"], upsell_start)
    from_term = end.isna() & start.notna() & lines["term_given"].notna()
    if from_term.any():
        computed = [
            add_months_minus_a_day(s, t)
            for s, t in zip(start[from_term], lines.loc[from_term, "term_given"], strict=True)
        ]
        end = end.mask(from_term, pd.Series(computed, index=end.index[from_term], dtype="datetime64[ns]"))
    end = end.mask(end.isna() & lines["is_upsell"], lines["c_end"])
    return start, end


# --------------------------------------------------------------------------------------------------
# Building the writes
# --------------------------------------------------------------------------------------------------


def _line_payloads(lines: pd.DataFrame, settings: IntegrationSettings) -> list[dict[str, Any]]:
    """One NetSuite item sublist line per row (rows already valid)."""
    term = lines["term_given"].where(lines["term_given"].notna(), term_months(lines["s"], lines["e"]))
    price_level = {"id": settings.netsuite.custom_price_level_id}
    columns = zip(
        lines["item_ns_id"].astype(str).tolist(),
        python_numbers(lines["qty"]),
        python_numbers(lines["price"]),
        iso_dates(lines["s"]),
        iso_dates(lines["e"]),
        python_numbers(term),
        strict=True,
    )
    payloads = []
    # One shared price-level reference and one string per distinct date: a batch of 100,000 lines
    # repeats the same few values, and these dicts are read-only from here to the JSON encoder.
    dates: dict[str, str] = {}
    for item, quantity, rate, start, end, months in columns:
        line: dict[str, Any] = {
            _N.ITEM: {"id": item},
            _N.QUANTITY: quantity,
            _N.RATE: rate,
            _N.PRICE: price_level,
        }
        start = dates.setdefault(start, start) if start is not None else None
        end = dates.setdefault(end, end) if end is not None else None
        if start is not None and end is not None:
            line[_N.CONTRACT_START_DATE] = start
            line[_N.CONTRACT_END_DATE] = end
            line[_N.TERM_MONTHS] = months
        payloads.append(line)
    return payloads


def _order_bodies(
    h: pd.DataFrame, lines: pd.DataFrame, settings: IntegrationSettings
) -> list[dict[str, Any]]:
    """Sales order bodies, one per header row, with their item sublists."""
    lines = lines.assign(_order=lines["key"].map({k: i for i, k in enumerate(h["key"])}))
    lines = lines.sort_values(["_order", "line_no"], kind="stable")
    payloads = _line_payloads(lines, settings)
    bounds = np.searchsorted(lines["_order"].to_numpy(), np.arange(len(h) + 1))
    term = lines.groupby("key", sort=False).agg(s=("s", "min"), e=("e", "max"))
    h = h.join(term, on="key")
    body_start, body_end = iso_dates(h["s"]), iso_dates(h["e"])
    months = python_numbers(term_months(h["s"], h["e"]))
    contract_start = np.where(h["is_upsell"], iso_dates(h["c_start"]), body_start).tolist()
    contract_end = np.where(h["is_upsell"], iso_dates(h["c_end"]), body_end).tolist()
    tiers = {label: str(ns_id) for ns_id, label in settings.netsuite.lists.bill_to_tier.items()}
    lifecycle, close_dates = lifecycle_fields(settings), iso_dates(h["close"])

    bodies: list[dict[str, Any]] = []
    rows = zip(
        h["key"].tolist(), python_values(h["account_ns_id"]), h["account_id"].tolist(),
        h["type_id"].astype(int).tolist(), h["is_upsell"].tolist(), h["is_renewal"].tolist(),
        python_values(h["contract_ns_id"]), python_values(h["channel_tier"]),
        h["currency_id"].astype(int).tolist(), strict=True,
    )  # fmt: skip
    for i, (key, ns_customer, account_id, type_id, upsell, renewal, contract, tier, currency) in enumerate(rows):
        body: dict[str, Any] = {
            _B.EXTERNAL_ID: key,
            # A customer created in this run is referenced by its external id until resolve_new_customers.
            _B.ENTITY: {"id": ns_customer} if ns_customer else {_B.EXTERNAL_ID: account_id},
            _B.ORDER_TYPE: {"id": str(type_id)},
            # Always sent: without it NetSuite books the order in the customer's primary currency.
            _B.CURRENCY: {"id": str(currency)},
            **lifecycle,
        }
        if upsell:
            body[_B.CONTRACT_NAME] = {"id": contract}
        if renewal:
            body[_B.FROM_CONTRACT] = {"id": contract}
        if body_start[i] and body_end[i]:
            body[_B.START_DATE], body[_B.END_DATE], body[_B.TERM_MONTHS] = (
                body_start[i],
                body_end[i],
                months[i],
            )
        if contract_start[i] and contract_end[i]:
            body[_B.CONTRACT_START_DATE], body[_B.CONTRACT_END_DATE] = contract_start[i], contract_end[i]
        if tier:
            body[_B.BILL_TO_TIER] = {"id": tiers[tier]}
        complete_required(body, close_dates[i])
        body[_B.ITEM_SUBLIST] = {_B.SUBLIST_ITEMS: payloads[bounds[i] : bounds[i + 1]]}
        bodies.append(body)
    extra = settings.field_mappings.sf_opportunity_to_ns_sales_order
    for source, target in extra.items():
        for body, value in zip(bodies, python_values(h[_EXTRA + source]), strict=True):
            body[target] = value
    return bodies


def _customer_writes(h: pd.DataFrame, settings: IntegrationSettings) -> list[NetSuiteWrite]:
    new = h[h["account_ns_id"].isna()].drop_duplicates("account_id")
    parties = customer_fields(new, h)  # subsidiary and currencies (crsync.mappings.order_parties)
    writes = []
    for account_id, name in zip(new["account_id"].tolist(), new["account_name"].tolist(), strict=True):
        body: dict[str, Any] = {_B.EXTERNAL_ID: account_id, _B.COMPANY_NAME: name, **parties[account_id]}
        writes.append(
            NetSuiteWrite(
                key=account_id,
                record_type=f.NsRecordType.CUSTOMER,
                external_id=account_id,
                body=body,
                create_only=True,  # an existing customer (its Account lost the link) is used as it is
            )
        )
    return writes


#: Opportunities mapped per pass: each record is validated on its own, so chunking changes nothing but
#: the size of the intermediate frames (peak memory stays flat however large the batch).
MAPPING_CHUNK = 2_000


def opportunities_to_sales_orders(
    opportunities: Sequence[Mapping[str, Any]], settings: IntegrationSettings
) -> SalesOrderBatch:
    """Map Opportunities (SOQL records) to NetSuite customer and sales order writes.

    :param opportunities: records as returned by :func:`crsync.queries.opportunities_soql`.
    :param settings: the integration settings (order-type map, price level, lists, extra mappings).
    :returns: customer writes (load first), order writes and one failure per invalid Opportunity.
    """
    batch = SalesOrderBatch()
    customer_keys: set[str] = set()
    for start in range(0, len(opportunities), MAPPING_CHUNK):
        part = _map_chunk(opportunities[start : start + MAPPING_CHUNK], settings)
        batch.orders.extend(part.orders)
        batch.failures.extend(part.failures)
        for customer in part.customers:  # an Account may have Opportunities in several chunks
            if customer.key not in customer_keys:
                customer_keys.add(customer.key)
                batch.customers.append(customer)
    return batch


def _map_chunk(opportunities: Sequence[Mapping[str, Any]], settings: IntegrationSettings) -> SalesOrderBatch:
    extra_sources = list(settings.field_mappings.for_flow(FlowId.OPPORTUNITY_TO_SALES_ORDER))
    extra_sources += [p for p in party_sources(settings) if p not in extra_sources]
    raw_headers, raw_lines = _flatten(opportunities, extra_sources)
    h = _prepare_headers(raw_headers, settings)
    lines = _prepare_lines(raw_lines, h, settings)

    problems = Problems()
    check_eligibility(h, problems)
    check_headers(h, settings, problems)
    check_currency(h, settings, problems)
    prepare_parties(h, settings, problems.add)
    check_line_presence(h, lines, problems)
    check_lines(lines, problems)
    failed = problems.keys()

    good = h[~h["key"].isin(failed)].reset_index(drop=True)
    good_lines = lines[lines["key"].isin(set(good["key"]))]
    bodies = _order_bodies(good, good_lines, settings)
    add_parties(bodies, good)
    transform_type = settings.renewal.transaction_type.record_type
    orders = []
    for key, body, renewal, estimate, queued, downsell in zip(
        good["key"], bodies, good["is_renewal"], python_values(good["renewal_estimate_id"]), good["queued"],
        good["is_downsell"], strict=True,
    ):  # fmt: skip
        # Only a queued Opportunity may create its order (or transform its estimate); one that was sent
        # before and is not queued now is re-sent as an update of that order, never a creation.
        source = {"record_type": transform_type.value, "id": estimate} if renewal and estimate and queued else None
        orders.append(
            NetSuiteWrite(
                key=key,
                # A downsell is a return authorization tied to the contract (Oracle: "Contracts and Returns").
                record_type=f.NsRecordType.RETURN_AUTHORIZATION if downsell else f.NsRecordType.SALES_ORDER,
                external_id=key,
                body=as_return_authorization(body) if downsell else body,
                transform_from=source,
                update_only=not queued,
                # The approval a new order is created in (new_order_status: approved), never sent again.
                create_only_fields=[_B.ORDER_STATUS] if _B.ORDER_STATUS in body else [],
            )
        )
    return SalesOrderBatch(
        customers=_customer_writes(good[good["queued"]], settings),  # only what was queued creates
        orders=orders,
        failures=problems.failures(order=h["key"].tolist()),
    )


__all__ = [
    "MAPPING_CHUNK",
    "SalesOrderBatch",
    "account_write_back",
    "changed_since_extract",
    "explain_currency_refusals",
    "opportunities_to_sales_orders",
    "opportunity_guard",
    "opportunity_write_back",
    "resolve_new_customers",
    "write_back_guards",
]

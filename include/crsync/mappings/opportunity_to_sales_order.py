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
write results.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from crsync import fields as f
from crsync.ids import OPPORTUNITY_ID_PREFIX, to_18_char_id
from crsync.mappings.common import (
    add_months_minus_a_day,
    dates,
    failures_by_key,
    get_path,
    ids,
    is_id,
    iso_dates,
    json_value,
    numbers,
    python_numbers,
    python_values,
    term_months,
    texts,
)
from crsync.mappings.order_lifecycle import as_return_authorization, complete_required, lifecycle_fields
from crsync.mappings.order_parties import add_parties, customer_fields, party_sources, prepare_parties
from crsync.records import (
    NOT_QUEUED,
    NetSuiteWrite,
    RecordFailure,
    SalesforceUpsertBatch,
    WriteResult,
    load_all,
)
from crsync.settings import FlowId, IntegrationSettings, RenewalTransactionType

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


def _as_18_char_id(value: Any) -> Any:
    """The 18-character form of a Salesforce id; other values unchanged (validation reports them)."""
    if isinstance(value, str) and len(value) == 18 and value.isalnum():
        return value  # Salesforce itself returns 18-character ids; only user input needs the checksum
    try:
        return to_18_char_id(value) if value else value
    except ValueError:
        return value


def _opportunity_key(record: Mapping[str, Any]) -> str:
    return str(_as_18_char_id(record.get(_O.ID)) or "")


def _flatten(
    opportunities: Sequence[Mapping[str, Any]], extra_sources: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Header and line tables from nested records (one pass; the rest is vectorised)."""
    headers: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    for opp in opportunities:
        key = _opportunity_key(opp)
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
# Validation
# --------------------------------------------------------------------------------------------------


class _Problems:
    """Collects (key, code, message) for failing records; messages are built only for failing rows."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(self, keys: pd.Series, code: str, messages: pd.Series | str) -> None:
        if keys.empty:
            return
        text = messages if isinstance(messages, pd.Series) else pd.Series(messages, index=keys.index)
        self._parts.append(pd.DataFrame({"key": keys, "code": code, "message": text.astype(str)}))

    def failures(self, order: Sequence[str]) -> list[RecordFailure]:
        if not self._parts:
            return []
        table = pd.concat(self._parts, ignore_index=True).drop_duplicates(["key", "message"])
        return failures_by_key(table["key"], table["code"], table["message"], order=order)

    def keys(self) -> set[str]:
        return set().union(*(set(p["key"]) for p in self._parts)) if self._parts else set()


def _s(series: pd.Series) -> pd.Series:
    """Text for messages (nulls shown as '?')."""
    return series.astype("string").fillna("?")


def _day(series: pd.Series) -> pd.Series:
    return series.dt.strftime("%Y-%m-%d").astype("string").fillna("?")


def _line_label(lines: pd.DataFrame) -> pd.Series:
    return "Line " + _s(lines["line_no"]) + " (Product '" + _s(lines["product_name"]) + "')"


def _check_headers(h: pd.DataFrame, settings: IntegrationSettings, problems: _Problems) -> None:
    known_types = ", ".join(settings.order_type_map)
    bad_type = h["type_id"].isna()
    problems.add(
        h.loc[bad_type, "key"],
        "unknown_order_type",
        "Order Type '" + _s(h.loc[bad_type, "order_type"]) + f"' is not one the sync knows; set it to one of "
        f"{known_types}",
    )
    no_account = h["account_id"].isna()
    problems.add(
        h.loc[no_account, "key"],
        "missing_customer",
        "Opportunity has no Account; set its Account, then click Create NetSuite Order again",
    )
    bad_account = ~no_account & ~h["account_id"].str.fullmatch(r"[A-Za-z0-9]{18}").fillna(False).astype(bool)
    problems.add(
        h.loc[bad_account, "key"],
        "missing_customer",
        "Account id '" + _s(h.loc[bad_account, "account_id"]) + "' is not a Salesforce id",
    )
    creates_customer = ~no_account & ~bad_account & h["account_ns_id"].isna()
    nameless = creates_customer & h["account_name"].isna()
    problems.add(
        h.loc[nameless, "key"],
        "missing_customer",
        "Account " + _s(h.loc[nameless, "account_id"]) + " has no NetSuite customer and no name to create "
        "one with; name the Account or set its NetSuite_Id__c",
    )
    long_name = creates_customer & (h["account_name"].str.len() > f.NS_COMPANY_NAME_MAX_LENGTH)
    problems.add(
        h.loc[long_name, "key"],
        "oversize_text",
        "Account name '" + _s(h.loc[long_name, "account_name"]).str.slice(0, 40) + "...' is "
        + _s(h.loc[long_name, "account_name"].str.len())
        + f" characters; NetSuite customer names allow {f.NS_COMPANY_NAME_MAX_LENGTH}. Shorten it, or set "
        "the Account's NetSuite_Id__c to an existing customer",
    )  # fmt: skip
    bad_ns_id = h["account_ns_id"].notna() & ~is_id(h["account_ns_id"])
    problems.add(
        h.loc[bad_ns_id, "key"],
        "missing_customer",
        "Account NetSuite_Id__c '" + _s(h.loc[bad_ns_id, "account_ns_id"]) + "' is not a NetSuite internal "
        "id; correct it or clear it so that the customer is created",
    )
    tiers = {label: ns_id for ns_id, label in settings.netsuite.lists.bill_to_tier.items()}
    bad_tier = h["channel_tier"].notna() & ~h["channel_tier"].isin(list(tiers))
    problems.add(
        h.loc[bad_tier, "key"],
        "unknown_channel_tier",
        "Account Channel Tier '"
        + _s(h.loc[bad_tier, "channel_tier"])
        + f"' is not one of {', '.join(tiers)}; "
        "correct the Account or netsuite.lists.bill_to_tier in the settings",
    )
    _check_contract(h, problems)
    estimate = h["renewal_estimate_id"]
    bad_estimate = h["is_renewal"] & estimate.notna() & ~is_id(estimate)
    problems.add(
        h.loc[bad_estimate, "key"],
        "invalid_renewal_estimate",
        "NetSuite_Renewal_Estimate_Id__c '" + _s(estimate[bad_estimate]) + "' is not a NetSuite internal id",
    )
    # With the module's "Transaction Type to Create" at Sales Order the renewal is already an order (its
    # renewal contract is made from it): there is nothing to transform, and a new order would be a duplicate.
    if settings.renewal.transaction_type is RenewalTransactionType.SALES_ORDER:
        ordered = h["is_renewal"] & estimate.notna() & ~bad_estimate
        problems.add(
            h.loc[ordered, "key"],
            "renewal_already_ordered",
            "This renewal is already NetSuite sales order " + _s(estimate[ordered]) + " (the module creates "
            "renewals as sales orders, renewal.transaction_type: salesorder); change it in NetSuite, do not send "
            "it again",
        )


def _mark_eligibility(h: pd.DataFrame) -> None:
    """``queued`` (Sync Status Processing now) and ``sent`` (has a NetSuite order id) per header row."""
    h["queued"] = texts(h["sync_status"]).eq(f.SyncStatus.PROCESSING.value).fillna(False).astype(bool)
    h["sent"] = texts(h["netsuite_id"].astype("string")).notna().astype(bool)


def _check_eligibility(h: pd.DataFrame, problems: _Problems) -> None:
    """Refuse what nobody asked to order: a Closed Lost deal (any mode), and an Opportunity that is
    neither queued nor already sent (a re-send may only touch those)."""
    lost = h["is_closed"].eq(True).fillna(False).astype(bool) & ~h["is_won"].eq(True).fillna(False).astype(bool)
    left = pd.Series(
        np.where(h["sent"], "; its NetSuite order " + _s(h["netsuite_id"]) + " was left unchanged (cancel it "
                 "in NetSuite if the deal is lost)", ""),
        index=h.index,
    )  # fmt: skip
    problems.add(
        h.loc[lost, "key"],
        "closed_lost",
        "Opportunity is Closed Lost, so it is not ordered in NetSuite" + left[lost] + ". If the deal is "
        "not lost, change its Stage, then click Create NetSuite Order",
    )
    never = ~lost & ~h["queued"] & ~h["sent"]
    problems.add(
        h.loc[never, "key"],
        NOT_QUEUED,
        "Opportunity is not queued (Sync Status is '" + _s(h.loc[never, "sync_status"]) + "') and was never "
        "sent to NetSuite, so a re-send does not order it; click Create NetSuite Order to send it",
    )
    # A re-send of one that is not queued may update its order only: never create a NetSuite customer (its
    # Account lost its NetSuite_Id__c, e.g. after a merge) nor move the order to a new one.
    no_customer = ~lost & ~h["queued"] & h["sent"] & h["account_ns_id"].isna()
    problems.add(
        h.loc[no_customer, "key"],
        "missing_customer",
        "Account " + _s(h.loc[no_customer, "account_id"]) + " has no NetSuite_Id__c, and a re-send of an "
        "Opportunity that is not queued never creates a NetSuite customer; set the Account's NetSuite_Id__c "
        "to its customer, or click Create NetSuite Order to send it as a new order",
    )


def _check_contract(h: pd.DataFrame, problems: _Problems) -> None:
    needs_contract = h["is_upsell"] | h["is_renewal"]
    kind = pd.Series(
        np.where(h["is_downsell"], "Downsell", np.where(h["is_upsell"], "Upsell", "Renewal")), index=h.index
    )
    purpose = pd.Series(
        np.where(h["is_downsell"], "the contract it reduces",
                 np.where(h["is_upsell"], "the contract it adds to", "the contract it renews")),
        index=h.index,
    )  # fmt: skip
    no_contract = needs_contract & h["contract_id"].isna() & h["contract_ns_id"].isna()
    problems.add(
        h.loc[no_contract, "key"],
        "missing_contract",
        kind[no_contract] + " has no Contract; set the Opportunity's Contract to " + purpose[no_contract],
    )
    unsynced = needs_contract & ~no_contract & ~is_id(h["contract_ns_id"])
    problems.add(
        h.loc[unsynced, "key"],
        "missing_contract",
        "Contract " + _s(h.loc[unsynced, "contract_name"].fillna(h.loc[unsynced, "contract_id"]))
        + " has no NetSuite id; wait for the nightly contract sync, then click Create NetSuite Order again",
    )  # fmt: skip
    undated = h["is_upsell"] & ~no_contract & ~unsynced & (h["c_start"].isna() | h["c_end"].isna())
    problems.add(
        h.loc[undated, "key"],
        "missing_contract",
        "Contract " + _s(h.loc[undated, "contract_name"]) + " has no start or end date in Salesforce; wait "
        "for the nightly contract sync, then click Create NetSuite Order again",
    )


def _check_line_presence(h: pd.DataFrame, lines: pd.DataFrame, problems: _Problems) -> None:
    counts = lines.groupby("key", sort=False).size()
    line_count = h["key"].map(counts).fillna(0)
    none = line_count == 0
    problems.add(h.loc[none, "key"], "no_line_items", "Opportunity has no products; add at least one product")
    too_many = line_count > f.NS_MAX_LINES_PER_TRANSACTION
    problems.add(
        h.loc[too_many, "key"],
        "too_many_lines",
        "Opportunity has " + _s(line_count[too_many].astype(int)) + f" products; NetSuite accepts at most "
        f"{f.NS_MAX_LINES_PER_TRANSACTION} lines per order. Split it into several Opportunities",
    )
    incomplete = h["lines_complete"].eq(False)
    problems.add(
        h.loc[incomplete, "key"],
        "incomplete_lines",
        "Not all products of the Opportunity were read (query page limit); the order was not sent so that it "
        "is never created with missing lines. Re-run the flow for this Opportunity",
    )


def _check_quantities(lines: pd.DataFrame, label: pd.Series, problems: _Problems) -> None:
    """Quantities NetSuite can hold and the item can be sold in: positive, finite, at most
    :data:`~crsync.fields.NS_MAX_LINE_QUANTITY`, whole for whole-unit items."""
    qty = lines["qty"]
    given = _s(lines["quantity"].map(json_value))
    # pandas reads a missing value and NaN alike (a JSON reply cannot carry NaN, so it means missing).
    missing = lines["quantity"].isna()
    problems.add(lines.loc[missing, "key"], "bad_quantity", label[missing] + " has no quantity; enter the quantity sold")
    not_a_number = ~missing & (qty.isna() | ~np.isfinite(qty.astype(float)))
    problems.add(
        lines.loc[not_a_number, "key"],
        "bad_quantity",
        label[not_a_number] + ": quantity " + given[not_a_number] + " is not a number; enter the quantity sold",
    )
    not_a_number |= missing
    bad_quantity = ~not_a_number & ~(qty > 0)
    problems.add(
        lines.loc[bad_quantity, "key"],
        "bad_quantity",
        label[bad_quantity] + ": quantity " + given[bad_quantity] + " must be greater than 0",
    )
    too_large = ~not_a_number & (qty > f.NS_MAX_LINE_QUANTITY)
    problems.add(
        lines.loc[too_large, "key"],
        "bad_quantity",
        label[too_large] + ": quantity " + given[too_large] + f" is more than NetSuite accepts (at most "
        f"{f.NS_MAX_LINE_QUANTITY:,}); correct the quantity",
    )  # fmt: skip
    fractional = ~not_a_number & ~bad_quantity & ~too_large & lines["whole_units"] & (qty % 1 != 0)
    problems.add(
        lines.loc[fractional, "key"],
        "bad_quantity",
        label[fractional] + ": quantity " + given[fractional] + " is not a whole number; "
        + _s(lines.loc[fractional, "category"]) + " items are sold in whole units "
        "(netsuite.whole_unit_item_categories). Round the quantity",
    )  # fmt: skip


def _check_currency(h: pd.DataFrame, settings: IntegrationSettings, problems: _Problems) -> None:
    """The Opportunity's currency must have a NetSuite id in the settings. Whether the customer may use
    it is known only to NetSuite, which refuses the order (see :func:`explain_currency_refusals`)."""
    unknown = h["currency_id"].isna()
    known = ", ".join(sorted(settings.currency_ids))
    problems.add(
        h.loc[unknown, "key"],
        "unknown_currency",
        "Currency " + _s(h.loc[unknown, "currency_code"]) + f" has no NetSuite currency id in the settings' "
        f"netsuite.lists.currency (known: {known}); add it there, or change the Opportunity's currency",
    )  # fmt: skip


def _check_lines(lines: pd.DataFrame, problems: _Problems) -> None:
    label = _line_label(lines)
    no_item = lines["item_ns_id"].isna()
    problems.add(
        lines.loc[no_item, "key"],
        "missing_item",
        "Product '" + _s(lines.loc[no_item, "product_name"]) + "' (" + _s(lines.loc[no_item, "product_id"])
        + ") has no NetSuite item id; sync the product first",
    )  # fmt: skip
    bad_item = ~no_item & ~is_id(lines["item_ns_id"])
    problems.add(
        lines.loc[bad_item, "key"],
        "missing_item",
        "Product '" + _s(lines.loc[bad_item, "product_name"]) + "' (" + _s(lines.loc[bad_item, "product_id"])
        + ") has NetSuite item id '" + _s(lines.loc[bad_item, "item_ns_id"]) + "', which is not a NetSuite "
        "internal id; correct the product's NetSuite_Id__c",
    )  # fmt: skip
    _check_quantities(lines, label, problems)
    no_price = lines["price"].isna()
    problems.add(
        lines.loc[no_price, "key"], "missing_price", label[no_price] + " has no sales price; set one"
    )
    undated = lines["needs_dates"] & (lines["s"].isna() | lines["e"].isna())
    problems.add(
        lines.loc[undated, "key"],
        "missing_dates",
        label[undated] + " has no start or end date; set Start Date and End Date (or Term Months)",
    )
    backwards = lines["e"] < lines["s"]
    problems.add(
        lines.loc[backwards, "key"],
        "end_before_start",
        "End date " + _day(lines.loc[backwards, "e"]) + " is before start date " + _day(lines.loc[backwards, "s"])
        + " on " + label[backwards] + "; correct the dates",
    )  # fmt: skip
    outside = (
        lines["is_upsell"]
        & ~backwards
        & lines["s"].notna()
        & lines["e"].notna()
        & ((lines["s"] < lines["c_start"]) | (lines["e"] > lines["c_end"]))
    )
    problems.add(
        lines.loc[outside, "key"],
        "upsell_outside_contract",
        label[outside] + " runs " + _day(lines.loc[outside, "s"]) + " to " + _day(lines.loc[outside, "e"])
        + ", outside the contract term " + _day(lines.loc[outside, "c_start"]) + " to "
        + _day(lines.loc[outside, "c_end"]) + "; co-term the dates with the contract, or sell it as Contract New",
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Preparing the tables
# --------------------------------------------------------------------------------------------------


def _prepare_headers(h: pd.DataFrame, settings: IntegrationSettings) -> pd.DataFrame:
    for column in ("key", "name", "order_type", "account_id", "account_name", "channel_tier", "contract_id",
                   "contract_name"):  # fmt: skip
        h[column] = texts(h[column])
    for column in ("account_ns_id", "contract_ns_id", "renewal_estimate_id"):
        h[column] = ids(h[column])
    h["account_id"] = h["account_id"].map(_as_18_char_id, na_action="ignore").astype("string")
    h["type_id"] = h["order_type"].map(settings.order_type_map)
    h["is_downsell"] = h["order_type"].eq(f.OrderType.DOWNSELL.value).fillna(False).astype(bool)
    # "is_upsell": the order changes an existing contract (an upsell adds to it, a downsell returns part of
    # it): the contract is required and the lines are co-termed to it.
    h["is_upsell"] = h["order_type"].eq(f.OrderType.UPSELL.value).fillna(False).astype(bool) | h["is_downsell"]
    h["is_renewal"] = h["order_type"].eq(f.OrderType.RENEWAL.value).fillna(False).astype(bool)
    _mark_eligibility(h)
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
                key=account_id, record_type=f.NsRecordType.CUSTOMER, external_id=account_id, body=body
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

    problems = _Problems()
    _check_eligibility(h, problems)
    _check_headers(h, settings, problems)
    _check_currency(h, settings, problems)
    prepare_parties(h, settings, problems.add)
    _check_line_presence(h, lines, problems)
    _check_lines(lines, problems)
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
            )
        )
    return SalesOrderBatch(
        customers=_customer_writes(good[good["queued"]], settings),  # only what was queued creates
        orders=orders,
        failures=problems.failures(order=h["key"].tolist()),
    )


# --------------------------------------------------------------------------------------------------
# After the customer load, and the write-back
# --------------------------------------------------------------------------------------------------


def resolve_new_customers(
    orders: Iterable[NetSuiteWrite | Mapping[str, Any]],
    customer_results: Iterable[WriteResult | Mapping[str, Any]],
) -> tuple[list[NetSuiteWrite], list[RecordFailure]]:
    """Point orders at the customers just created; orders whose customer failed fail with its reason.

    :returns: the orders ready to load, and failures keyed by Opportunity id.
    """
    by_account = {r.key: r for r in load_all(WriteResult, customer_results)}
    ready: list[NetSuiteWrite] = []
    failures: list[RecordFailure] = []
    for order in load_all(NetSuiteWrite, orders):
        entity = order.body.get(_B.ENTITY) or {}
        account_id = entity.get(_B.EXTERNAL_ID)
        if account_id is None:
            ready.append(order)
            continue
        result = by_account.get(account_id)
        if result is not None and result.ok and result.id:
            body = {**order.body, _B.ENTITY: {"id": result.id}}
            if order.body.get(_B.END_USER) == entity:  # the bill-to is the end user
                body[_B.END_USER] = {"id": result.id}
            ready.append(order.model_copy(update={"body": body}))
            continue
        reason = RecordFailure.from_result(result).message if result else "it was not loaded"
        failures.append(
            RecordFailure(
                key=order.key,
                code="missing_customer",
                message=f"The NetSuite customer for Account {account_id} could not be created: {reason}",
            )
        )
    return ready, failures


def explain_currency_refusals(
    results: Iterable[WriteResult | Mapping[str, Any]],
    orders: Iterable[NetSuiteWrite | Mapping[str, Any]],
    settings: IntegrationSettings,
) -> list[WriteResult]:
    """Say what to fix when NetSuite refused an order's currency.

    Which currencies a customer may use (its primary currency and its Currencies sublist) is known only
    to NetSuite, so the transform cannot check it; NetSuite refuses such an order with an error at the
    ``currency`` field. That error is kept and followed by the fix, for the Opportunity's Sync_Error__c.

    :param results: the sales order write results (key = Opportunity id), in any order.
    :param orders: the order writes that produced them (for the currency and the customer sent).
    :returns: the results, in their order; refused currencies carry the explained message.
    """
    sent = {o.key: o.body for o in load_all(NetSuiteWrite, orders)}
    codes = {str(ns_id): code for ns_id, code in settings.netsuite.lists.currency.items()}
    explained: list[WriteResult] = []
    for result in load_all(WriteResult, results):
        error, body = result.error, sent.get(result.key) or {}
        currency_id = str((body.get(_B.CURRENCY) or {}).get("id", ""))
        if result.ok or error is None or not currency_id or (error.path or "").split(".")[0] != _B.CURRENCY:
            explained.append(result)
            continue
        code = codes.get(currency_id, f"id {currency_id}")
        customer = (body.get(_B.ENTITY) or {}).get("id", "?")
        if "change the currency" in error.message.lower():
            reason, message = "currency_changed", (
                f"The NetSuite order (or the renewal estimate it is made from) is in another currency than {code}, "
                "and NetSuite never changes the currency of a saved transaction: set the Opportunity's currency "
                f"back to the order's, then click Create NetSuite Order again. NetSuite said: {error.message}"
            )
        else:
            reason, message = "currency_not_allowed", (
                f"NetSuite customer {customer} may not use currency {code}: add {code} to the customer's "
                "currencies in NetSuite (customer record, Financial subtab, Currencies), or change the "
                "Opportunity's currency to one the customer uses; then click Create NetSuite Order again. "
                f"NetSuite said: {error.message}"
            )
        fixed = error.model_copy(update={"code": reason, "message": message, "path": None})
        explained.append(result.model_copy(update={"error": fixed}))
    return explained


def _now_text(moment: dt.datetime | None) -> str:
    moment = moment or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_opportunity_id(key: str) -> bool:
    try:
        return to_18_char_id(key).startswith(OPPORTUNITY_ID_PREFIX)
    except ValueError:
        return False


def opportunity_guard(opportunity: Mapping[str, Any]) -> str:
    """What must not change between extract and write-back: the Opportunity's ``SystemModstamp`` and
    each line item's id and ``SystemModstamp`` (a line added, edited or deleted changes it)."""
    children = opportunity.get(_O.LINE_ITEMS) or []
    lines = children.get("records") or [] if isinstance(children, Mapping) else children
    stamps = ",".join(sorted(f"{line.get(_L.ID)}@{line.get(_L.SYSTEM_MODSTAMP)}" for line in lines))
    # A digest keeps the plan small (an Opportunity may have 500 lines; the plan travels through XCom).
    text = f"{opportunity.get(_O.SYSTEM_MODSTAMP)}|{stamps}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def write_back_guards(opportunities: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Opportunity id -> :func:`opportunity_guard` as extracted, for the Opportunities the write-back may
    touch: those queued now or already sent. One nobody queued and never sent (a named id) is reported in
    the run summary but left as it is in Salesforce.
    """
    guards: dict[str, str] = {}
    for opp in opportunities:
        queued = opp.get(_O.SYNC_STATUS) == f.SyncStatus.PROCESSING.value
        if queued or opp.get(_O.NETSUITE_ID):
            guards[_opportunity_key(opp)] = opportunity_guard(opp)
    return guards


def changed_since_extract(guards: Mapping[str, str], current: Iterable[Mapping[str, Any]]) -> set[str]:
    """Guarded ids whose guard differs now (``current``: the Opportunities re-read with
    :func:`crsync.queries.opportunity_modstamps_soql`), or that are gone."""
    now = {_opportunity_key(opp): opportunity_guard(opp) for opp in current}
    return {key for key, guard in guards.items() if now.get(key) != guard}


def opportunity_write_back(
    results: Iterable[WriteResult | Mapping[str, Any]],
    failures: Iterable[RecordFailure | Mapping[str, Any]] = (),
    *,
    order_numbers: Mapping[str, str] | None = None,
    synced_at: dt.datetime | None = None,
    writable: Collection[str] | None = None,
) -> SalesforceUpsertBatch:
    """Opportunity updates (by ``Id``) recording every outcome.

    :param results: sales order write results (key = Opportunity id).
    :param failures: transform and customer failures (key = Opportunity id); other keys are ignored.
    :param order_numbers: Opportunity id -> NetSuite document number (``tranid``), when known.
    :param synced_at: the sync time (default now, UTC).
    :param writable: when given, only these Opportunity ids are written back (the others were not
        queued, or changed since they were extracted and stay ``Processing`` for the next run).
    """
    stamp = _now_text(synced_at)
    numbers_by_key = order_numbers or {}
    records: dict[str, dict[str, Any]] = {}
    for result in load_all(WriteResult, results):
        if not _is_opportunity_id(result.key):
            continue
        key = to_18_char_id(result.key)
        if result.ok:
            record = {
                _O.ID: key,
                _O.NETSUITE_ID: result.id,
                _O.SYNC_STATUS: f.SyncStatus.SYNCED.value,
                _O.SYNC_ERROR: None,
                _O.LAST_SYNCED: stamp,
            }
            if key in numbers_by_key:
                record[_O.NETSUITE_ORDER_NUMBER] = numbers_by_key[key]
            records[key] = record
        else:
            records[key] = _error_record(key, RecordFailure.from_result(result).message, stamp)
    for failure in load_all(RecordFailure, failures):
        if _is_opportunity_id(failure.key):
            key = to_18_char_id(failure.key)
            records[key] = _error_record(key, failure.message, stamp)
    if writable is not None:
        allowed = set(writable)
        records = {key: record for key, record in records.items() if key in allowed}
    return SalesforceUpsertBatch(sobject=_O.SOBJECT, external_id_field=_O.ID, records=list(records.values()))


def _error_record(key: str, message: str, stamp: str) -> dict[str, Any]:
    limit = f.SYNC_ERROR_MAX_LENGTH
    text = message if len(message) <= limit else message[: limit - 3] + "..."
    return {_O.ID: key, _O.SYNC_STATUS: f.SyncStatus.ERROR.value, _O.SYNC_ERROR: text, _O.LAST_SYNCED: stamp}


def account_write_back(customer_results: Iterable[WriteResult | Mapping[str, Any]]) -> SalesforceUpsertBatch:
    """Account updates (by ``Id``) storing the NetSuite id of every customer created or matched."""
    records = [
        {_A.ID: r.key, _A.NETSUITE_ID: r.id} for r in load_all(WriteResult, customer_results) if r.ok and r.id
    ]
    return SalesforceUpsertBatch(sobject=_A.SOBJECT, external_id_field=_A.ID, records=records)

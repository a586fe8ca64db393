"""The validation rules of the Opportunity -> sales order mapping
(:mod:`crsync.mappings.opportunity_to_sales_order`): each ``check_*`` adds a message saying what to fix for
every Opportunity (or line) that breaks a rule; the mapping leaves those out and reports them.

Kept apart from the mapping to keep each module small; the rules work on the flattened tables the mapping
builds (one row per Opportunity, one per line).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crsync import fields as f
from crsync.mappings.common import failures_by_key, is_id, json_value, texts
from crsync.records import NOT_QUEUED, RecordFailure
from crsync.settings import IntegrationSettings, RenewalTransactionType


class Problems:
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


def check_headers(h: pd.DataFrame, settings: IntegrationSettings, problems: Problems) -> None:
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


def mark_eligibility(h: pd.DataFrame) -> None:
    """``queued`` (Sync Status Processing now) and ``sent`` (has a NetSuite order id) per header row."""
    h["queued"] = texts(h["sync_status"]).eq(f.SyncStatus.PROCESSING.value).fillna(False).astype(bool)
    h["sent"] = texts(h["netsuite_id"].astype("string")).notna().astype(bool)


def check_eligibility(h: pd.DataFrame, problems: Problems) -> None:
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


def _check_contract(h: pd.DataFrame, problems: Problems) -> None:
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


def check_line_presence(h: pd.DataFrame, lines: pd.DataFrame, problems: Problems) -> None:
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


def _check_quantities(lines: pd.DataFrame, label: pd.Series, problems: Problems) -> None:
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


def check_currency(h: pd.DataFrame, settings: IntegrationSettings, problems: Problems) -> None:
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


def check_lines(lines: pd.DataFrame, problems: Problems) -> None:
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

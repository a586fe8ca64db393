"""Who a sales order is for: its subsidiary (NetSuite OneWorld), its end user, and the new customers' subsidiary
and currencies. Used by :mod:`crsync.mappings.opportunity_to_sales_order` (kept apart to keep it small).

- **Subsidiary** (``netsuite.subsidiary``): an order carries the Account's subsidiary field when it is set;
  otherwise NetSuite puts the order in its customer's subsidiary, so nothing is sent. A customer the flow
  creates gets the Account's subsidiary, else ``default_id``; with neither the Opportunity is refused with
  the fix.
- **Currency**: a created customer's primary currency is the currency of the Account's first queued
  Opportunity, and its Currencies sublist holds every currency those Opportunities use, so NetSuite accepts
  their orders (it refuses a transaction in a currency the customer may not use).
- **End user** (``netsuite.end_user``): the bill-to, or the Account an Account lookup names (an empty lookup
  means the bill-to); a named Account without a NetSuite customer refuses the Opportunity with the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from crsync import fields as f
from crsync.mappings.common import ids, is_id, python_values, texts
from crsync.order_party_settings import EndUserSource, party_source_paths
from crsync.settings import IntegrationSettings

_B = f.NsBody
_EXTRA = "extra:"

#: ``problems.add(keys, code, messages)`` of the calling mapping.
AddProblem = Callable[[pd.Series, str, "pd.Series | str"], None]


def party_sources(settings: IntegrationSettings) -> list[str]:
    """Opportunity field paths the hourly query selects for these rules (besides its own fields)."""
    return party_source_paths(settings.netsuite)


def _column(h: pd.DataFrame, path: str | None) -> pd.Series:
    if path is None or _EXTRA + path not in h:
        return pd.Series(pd.NA, index=h.index, dtype="string")
    return texts(h[_EXTRA + path].astype("string"))


def _s(series: pd.Series) -> pd.Series:
    return series.astype("string").fillna("?")


def prepare_parties(h: pd.DataFrame, settings: IntegrationSettings, add_problem: AddProblem) -> None:
    """Add ``subsidiary_id``, ``end_user_ns_id`` and ``end_user_id`` to the header table; refuse what cannot
    be resolved, saying what to fix."""
    sub = settings.netsuite.subsidiary
    given = ids(_column(h, sub.account_path))
    h["subsidiary_id"] = given
    if sub.oneworld:
        field = f"Account {sub.account_field}"
        bad = given.notna() & ~is_id(given)
        add_problem(
            h.loc[bad, "key"],
            "unknown_subsidiary",
            field + " '" + _s(given[bad]) + "' of Account " + _s(h.loc[bad, "account_id"]) + " is not a NetSuite "
            "subsidiary internal id; correct it (NetSuite: Setup > Company > Subsidiaries lists the ids)",
        )
        creates = h["account_ns_id"].isna() & given.isna()
        if sub.default_id is not None:
            h.loc[creates, "subsidiary_id"] = str(sub.default_id)
        else:
            where = f"the Account's {sub.account_field}" if sub.account_field else "the Account's subsidiary field"
            add_problem(
                h.loc[creates, "key"],
                "unknown_subsidiary",
                "Account " + _s(h.loc[creates, "account_id"]) + " has no NetSuite customer yet and no subsidiary to "
                f"create one in (NetSuite OneWorld); set {where} to its NetSuite subsidiary id, or set "
                "netsuite.subsidiary.default_id in the integration settings",
            )
    else:
        h["subsidiary_id"] = pd.Series(pd.NA, index=h.index, dtype="string")

    end_user = settings.netsuite.end_user
    h["end_user_id"] = texts(_column(h, end_user.lookup_path))
    h["end_user_ns_id"] = ids(_column(h, end_user.netsuite_id_path))
    if end_user.source != EndUserSource.BILL_TO:
        named = h["end_user_id"].notna()
        unlinked = named & ~is_id(h["end_user_ns_id"])
        add_problem(
            h.loc[unlinked, "key"],
            "missing_end_user",
            "End user Account " + _s(h.loc[unlinked, "end_user_id"]) + f" (the {end_user.field} lookup) has no "
            "NetSuite customer (its NetSuite_Id__c is empty or not an id); set its NetSuite_Id__c to its NetSuite "
            f"customer, or clear {end_user.field} to make the bill-to the end user",
        )


def add_parties(bodies: Sequence[dict[str, Any]], h: pd.DataFrame) -> None:
    """Set ``subsidiary`` (when known) and ``custbody_end_user`` on the order bodies (rows of ``h`` in order)."""
    for body, subsidiary, end_user in zip(
        bodies, python_values(h["subsidiary_id"]), python_values(h["end_user_ns_id"]), strict=True
    ):
        if subsidiary:
            body[_B.SUBSIDIARY] = {"id": str(subsidiary)}
        # The bill-to: the entity as sent (a customer created in this run is still an external-id reference;
        # resolve_new_customers points both at the new customer).
        body[_B.END_USER] = {"id": str(end_user)} if end_user else dict(body[_B.ENTITY])


def customer_fields(new: pd.DataFrame, all_queued: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Account id -> subsidiary and currencies of the customer created for it.

    :param new: one header row per Account to create (``account_id``, ``subsidiary_id``, ``currency_id``).
    :param all_queued: every queued header row (an Account's Opportunities may use several currencies).
    """
    currencies: dict[str, list[str]] = {}
    for account, currency in zip(
        all_queued["account_id"].tolist(), python_values(all_queued["currency_id"]), strict=True
    ):
        if currency is not None and str(int(currency)) not in currencies.setdefault(account, []):
            currencies[account].append(str(int(currency)))
    out: dict[str, dict[str, Any]] = {}
    for account, subsidiary in zip(new["account_id"].tolist(), python_values(new["subsidiary_id"]), strict=True):
        body: dict[str, Any] = {}
        if subsidiary:
            body[_B.SUBSIDIARY] = {"id": str(subsidiary)}
        used = currencies.get(account) or []
        if used:
            body[_B.CURRENCY] = {"id": used[0]}
            body[_B.CURRENCY_LIST] = {_B.SUBLIST_ITEMS: [{_B.CURRENCY: {"id": c}} for c in used]}
        out[account] = body
    return out

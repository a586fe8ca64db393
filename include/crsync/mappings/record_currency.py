"""``CurrencyIsoCode`` on the records the nightly flows write to a multi-currency Salesforce org (issue 17).

A contract's currency is ``custrecord_swe_contract_currency`` (the currency of the order it came from); a
contract item is in its contract's currency. The NetSuite currency id is turned into the ISO code with the
currency map ``netsuite.lists.currency``; no currency means ``salesforce.default_currency``. An id missing
from the map refuses that record alone, saying to add it. In a single-currency org (``salesforce.
multi_currency: false``) nothing is added: Salesforce has no CurrencyIsoCode field there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from crsync import fields as f
from crsync.mappings.common import ids, python_values
from crsync.settings import IntegrationSettings


def currency_codes(currency_ids: pd.Series, settings: IntegrationSettings) -> pd.Series:
    """ISO code per NetSuite currency id (null ids: the default currency; unknown ids: null)."""
    codes = {str(k): v for k, v in settings.netsuite.lists.currency.items()}
    currency = ids(currency_ids)
    out = currency.map(codes).astype("string")
    return out.mask(currency.isna(), settings.salesforce.default_currency)


def currency_problems(
    keys: pd.Series, currency_ids: pd.Series, labels: pd.Series, settings: IntegrationSettings
) -> pd.DataFrame:
    """``key``/``code``/``message`` rows for records whose currency id is not in the currency map."""
    if not settings.salesforce.multi_currency:
        return pd.DataFrame({"key": [], "code": [], "message": []})
    unknown = currency_codes(currency_ids, settings).isna()
    known = ", ".join(f"{k}: {v}" for k, v in sorted(settings.netsuite.lists.currency.items()))
    given = ids(currency_ids).astype("string").fillna("?")
    return pd.DataFrame({
        "key": keys[unknown].fillna("?"),
        "code": "unknown_currency",
        "message": labels[unknown] + " is in NetSuite currency id " + given[unknown] + ", which is not in the "
        f"settings' netsuite.lists.currency ({known}); add it there with its ISO code",
    })


def add_currency(
    records: Sequence[dict[str, Any]], currency_ids: pd.Series, settings: IntegrationSettings
) -> None:
    """Set ``CurrencyIsoCode`` on each record (in a multi-currency org); ``currency_ids`` in record order."""
    if not settings.salesforce.multi_currency:
        return
    for record, code in zip(records, python_values(currency_codes(currency_ids, settings)), strict=True):
        record[f.Contract.CURRENCY] = code

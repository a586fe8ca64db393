"""The vocabulary of a reconciliation report (:mod:`crsync.reconcile`): the drift kinds, the columns of
the frames each check reads and of the rows it writes, and how values from both systems are normalised
before they are compared (ids, dates, numbers, text).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, TypeAlias

import pandas as pd

from crsync import fields as f
from crsync.ids import OPPORTUNITY_ID_PREFIX, to_18_char_id

# -------------------------------------------------------------------------------------------- kinds

OPPORTUNITY_ERROR: Final = "opportunity_error"
OPPORTUNITY_STUCK: Final = "opportunity_stuck"
SALES_ORDER_UNKNOWN_OPPORTUNITY: Final = "sales_order_unknown_opportunity"
SALES_ORDER_UNLINKED: Final = "sales_order_unlinked"
SALES_ORDER_LINK_MISMATCH: Final = "sales_order_link_mismatch"
SALES_ORDER_LINE_DIFFERENT: Final = "sales_order_line_different"
OPPORTUNITY_ORDER_MISSING: Final = "opportunity_order_missing"
CONTRACT_MISSING_IN_SALESFORCE: Final = "contract_missing_in_salesforce"
CONTRACT_DIFFERENT: Final = "contract_different"
CONTRACT_MISSING_IN_NETSUITE: Final = "contract_missing_in_netsuite"
CONTRACT_ITEM_MISSING_IN_SALESFORCE: Final = "contract_item_missing_in_salesforce"
CONTRACT_ITEM_DIFFERENT: Final = "contract_item_different"
CONTRACT_ITEM_MISSING_IN_NETSUITE: Final = "contract_item_missing_in_netsuite"

#: Every drift kind, in report order.
KINDS: Final = (
    OPPORTUNITY_ERROR,
    OPPORTUNITY_STUCK,
    SALES_ORDER_UNKNOWN_OPPORTUNITY,
    SALES_ORDER_UNLINKED,
    SALES_ORDER_LINK_MISMATCH,
    OPPORTUNITY_ORDER_MISSING,
    SALES_ORDER_LINE_DIFFERENT,
    CONTRACT_MISSING_IN_SALESFORCE,
    CONTRACT_DIFFERENT,
    CONTRACT_MISSING_IN_NETSUITE,
    CONTRACT_ITEM_MISSING_IN_SALESFORCE,
    CONTRACT_ITEM_DIFFERENT,
    CONTRACT_ITEM_MISSING_IN_NETSUITE,
)
#: Kinds that ``repair`` fixes by re-queueing the Opportunity (``Sync_Status__c = 'Processing'``).
REQUEUE_KINDS: Final = frozenset({OPPORTUNITY_ERROR, OPPORTUNITY_STUCK})

DRIFT_COLUMNS: Final = (
    "kind",
    "record",
    "netsuite_id",
    "salesforce_id",
    "name",
    "field",
    "netsuite_value",
    "salesforce_value",
    "message",
)

#: Characters of ``Sync_Error__c`` kept in a report row (the field holds up to 32,768).
MAX_ERROR_CHARS: Final = 1000
#: Two amounts or quantities closer than this are equal (Salesforce stores them with 2 decimals).
NUMBER_TOLERANCE: Final = 0.005
#: What the comparisons take from either side: a frame, or the rows of a query reply.
Rows: TypeAlias = pd.DataFrame | Iterable[Mapping[str, Any]]

# Column names of the NetSuite frames (SuiteQL, lower case) and the Salesforce frames (API names; parent
# fields flattened to dotted paths, e.g. ``Contract__r.NetSuite_Id__c``).
_O, _C, _CI, _NC, _NI, _NT = (
    f.Opportunity,
    f.Contract,
    f.ContractItem,
    f.NsContract,
    f.NsContractItem,
    f.NsTransaction,
)
LAST_MODIFIED_DATE: Final = "LastModifiedDate"
CONTRACT_ITEM_PARENT: Final = f"{_CI.CONTRACT_REF}.{_C.NETSUITE_ID}"

OPPORTUNITY_COLUMNS: Final = (
    _O.ID,
    _O.NAME,
    _O.SYNC_STATUS,
    _O.SYNC_ERROR,
    LAST_MODIFIED_DATE,
    _O.NETSUITE_ID,
)
SALES_ORDER_COLUMNS: Final = (_NT.ID, _NT.TRANID, _NT.EXTERNAL_ID)
_NL, _L = f.NsTransactionLine, f.OpportunityLineItem
NS_ORDER_LINE_COLUMNS: Final = (_NL.TRANSACTION, _NL.ITEM, _NL.QUANTITY, _NL.RATE)
OPPORTUNITY_LINE_ITEM: Final = f"{_L.PRODUCT}.{f.Product.NETSUITE_ID}"
SF_OPPORTUNITY_LINE_COLUMNS: Final = (_L.OPPORTUNITY_ID, OPPORTUNITY_LINE_ITEM, _L.QUANTITY, _L.UNIT_PRICE)
NS_CONTRACT_COLUMNS: Final = (_NC.ID, _NC.NAME, _NC.START_DATE, _NC.END_DATE, _NC.STATUS, _NC.VALUE)
SF_CONTRACT_COLUMNS: Final = (
    _C.ID,
    _C.NETSUITE_ID,
    _C.NETSUITE_NAME,
    _C.START_DATE,
    _C.END_DATE,
    _C.NETSUITE_STATUS,
    _C.CONTRACT_VALUE,
)
NS_CONTRACT_ITEM_COLUMNS: Final = (
    _NI.ID,
    _NI.NAME,
    _NI.CONTRACT,
    _NI.QUANTITY,
    _NI.START_DATE,
    _NI.END_DATE,
    _NI.STATE,
)
SF_CONTRACT_ITEM_COLUMNS: Final = (
    _CI.ID,
    _CI.NAME,
    _CI.NETSUITE_ID,
    CONTRACT_ITEM_PARENT,
    _CI.QUANTITY,
    _CI.START_DATE,
    _CI.END_DATE,
    _CI.STATUS,
)


# -------------------------------------------------------------------------------------------- values


def frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame | None, columns: Sequence[str]) -> pd.DataFrame:
    """A frame with exactly ``columns`` (object dtype; missing columns filled with None)."""
    if isinstance(rows, pd.DataFrame):
        data = rows
    else:
        data = pd.DataFrame(list(rows or []))
    out = pd.DataFrame({c: (data[c] if c in data.columns else None) for c in columns}, index=data.index)
    return out.astype(object).reset_index(drop=True)


def is_missing(value: Any) -> bool:
    """Whether a cell holds no value (None, NaN, NaT or blank text)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def norm_text(value: Any) -> str | None:
    """Trimmed text, or None when empty."""
    return None if is_missing(value) else str(value).strip()


_INT_TEXT = re.compile(r"^-?\d+(?:\.0*)?$")


def norm_id(value: Any) -> str | None:
    """A NetSuite internal id as text (``101``, ``"101"`` and ``101.0`` are all ``"101"``)."""
    text = norm_text(value)
    if text is None:
        return None
    return str(int(float(text))) if _INT_TEXT.match(text) else text


_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})")


def norm_date(value: Any) -> str | None:
    """``YYYY-MM-DD`` from an ISO date/datetime, NetSuite's ``M/D/YYYY``, or a date object."""
    if is_missing(value):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%Y-%m-%d")
    text = str(value).strip()
    if match := _ISO_DATE.match(text):
        return "-".join(match.groups())
    if match := _US_DATE.match(text):
        month, day, year = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return text


def norm_number(value: Any) -> float | None:
    if is_missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def parse_datetime(value: Any) -> dt.datetime | None:
    """An aware UTC datetime from Salesforce's ``2024-01-01T10:00:00.000+0000`` (or ISO forms)."""
    if is_missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    text = str(value).strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def opportunity_id(value: Any) -> str | None:
    """The 18-character Opportunity id an external id stands for, or None when it is not one."""
    text = norm_text(value)
    if text is None:
        return None
    try:
        full = to_18_char_id(text)
    except ValueError:
        return None
    return full if full.startswith(OPPORTUNITY_ID_PREFIX) else None


def display(value: Any) -> str | None:
    """A value as the report shows it (numbers without trailing zeros, NaN as empty)."""
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value == value else None
    return str(value)


def drift_rows(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Drift rows (dicts from :func:`drift_row`) as a frame with :data:`DRIFT_COLUMNS`."""
    return pd.DataFrame(records, columns=list(DRIFT_COLUMNS), dtype=object)


def drift_row(kind: str, record: str, **values: Any) -> dict[str, Any]:
    """One drift row; ``values`` not among :data:`DRIFT_COLUMNS` are dropped."""
    row = dict.fromkeys(DRIFT_COLUMNS)
    row.update(kind=kind, record=record)
    row.update({k: v for k, v in values.items() if k in row})
    return row


def empty() -> pd.DataFrame:
    """A drift frame with no rows."""
    return drift_rows([])

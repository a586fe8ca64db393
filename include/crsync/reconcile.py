"""Reconciliation: compare what Salesforce and NetSuite hold and list the drift, one row per finding.

Pure functions on pandas frames (no I/O, no Airflow): the reconciliation DAG
(:mod:`crsync.runtime.flows.reconciliation`) reads both systems into frames with the column names the
APIs use, calls the checks below and writes :func:`combine`'s result as the run's report.

Every check returns a frame with :data:`DRIFT_COLUMNS`:

- ``kind``: one of :data:`KINDS`;
- ``record``: ``Opportunity``, ``Sales Order``, ``Contract`` or ``Contract Item``;
- ``netsuite_id`` / ``salesforce_id``: the record on each side (empty when that side lacks it);
- ``name``: a readable name (Opportunity name, document number, contract or item name);
- ``field``, ``netsuite_value``, ``salesforce_value``: for ``*_different`` rows, one row per field that
  differs (the Salesforce field API name); empty otherwise;
- ``message``: what is wrong and what to do about it.

NetSuite is the source of truth for contracts and contract items (they flow NetSuite -> Salesforce);
Salesforce is the source for Opportunities and their sales orders.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

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


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def norm_text(value: Any) -> str | None:
    """Trimmed text, or None when empty."""
    return None if _missing(value) else str(value).strip()


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
    if _missing(value):
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
    if _missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def parse_datetime(value: Any) -> dt.datetime | None:
    """An aware UTC datetime from Salesforce's ``2024-01-01T10:00:00.000+0000`` (or ISO forms)."""
    if _missing(value):
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


def _display(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value == value else None
    return str(value)


def _rows(records: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(records, columns=list(DRIFT_COLUMNS), dtype=object)


def _row(kind: str, record: str, **values: Any) -> dict[str, Any]:
    row = dict.fromkeys(DRIFT_COLUMNS)
    row.update(kind=kind, record=record)
    row.update({k: v for k, v in values.items() if k in row})
    return row


def empty() -> pd.DataFrame:
    """A drift frame with no rows."""
    return _rows([])


# -------------------------------------------------------------------------------------------- Opportunities


def failed_or_stuck_opportunities(
    opportunities: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    now: dt.datetime,
    stuck_after: dt.timedelta,
) -> pd.DataFrame:
    """Opportunities in ``Error`` (with their message) or in ``Processing`` since before ``now - stuck_after``.

    :param opportunities: columns :data:`OPPORTUNITY_COLUMNS` (other statuses are ignored).
    :param now: the reference time (aware).
    :param stuck_after: how long ``Processing`` may last before it counts as stuck.
    """
    opps = frame(opportunities, OPPORTUNITY_COLUMNS)
    cutoff = now.astimezone(dt.UTC) - stuck_after
    hours = stuck_after.total_seconds() / 3600
    out: list[dict[str, Any]] = []
    for rec in opps.to_dict("records"):
        status = norm_text(rec[_O.SYNC_STATUS])
        common = {
            "salesforce_id": norm_text(rec[_O.ID]),
            "netsuite_id": norm_id(rec[_O.NETSUITE_ID]),
            "name": norm_text(rec[_O.NAME]),
        }
        if status == f.SyncStatus.ERROR:
            error = norm_text(rec[_O.SYNC_ERROR]) or "(no Sync_Error__c message)"
            if len(error) > MAX_ERROR_CHARS:
                error = error[: MAX_ERROR_CHARS - 3] + "..."
            out.append(
                _row(
                    OPPORTUNITY_ERROR,
                    "Opportunity",
                    **common,
                    field=_O.SYNC_ERROR,
                    salesforce_value=error,
                    message=f"Sync failed: {error} -- fix the cause, then click Create NetSuite Order again "
                    "(or run the reconciliation with repair=true to re-queue it).",
                )
            )
        elif status == f.SyncStatus.PROCESSING:
            modified = parse_datetime(rec[LAST_MODIFIED_DATE])
            if modified is None or modified >= cutoff:
                continue
            since = modified.strftime("%Y-%m-%d %H:%M UTC")
            out.append(
                _row(
                    OPPORTUNITY_STUCK,
                    "Opportunity",
                    **common,
                    field=LAST_MODIFIED_DATE,
                    salesforce_value=modified.isoformat(),
                    message=f"Processing since {since} (more than {hours:g} h): the hourly flow "
                    "sf_opportunity_to_ns_sales_order has not picked it up; check that DAG's recent runs "
                    "(repair=true re-queues it).",
                )
            )
    return _rows(out)


# -------------------------------------------------------------------------------------------- sales orders


def unlinked_sales_orders(
    sales_orders: pd.DataFrame | Iterable[Mapping[str, Any]],
    opportunities: pd.DataFrame | Iterable[Mapping[str, Any]],
) -> pd.DataFrame:
    """Sales orders created from an Opportunity (external id = Opportunity id) that Salesforce does not
    link back: the Opportunity is gone, has no ``NetSuite_Id__c``, or has a different one.

    :param sales_orders: columns :data:`SALES_ORDER_COLUMNS`; orders whose external id is not an
        Opportunity id are not the integration's and are ignored.
    :param opportunities: the Opportunities those external ids name (``Id``, ``Name``, ``NetSuite_Id__c``).
    """
    orders = frame(sales_orders, SALES_ORDER_COLUMNS)
    opps = frame(opportunities, OPPORTUNITY_COLUMNS)
    by_id = {opportunity_id(rec[_O.ID]): rec for rec in opps.to_dict("records") if opportunity_id(rec[_O.ID])}
    out: list[dict[str, Any]] = []
    for rec in orders.to_dict("records"):
        opp_id = opportunity_id(rec[_NT.EXTERNAL_ID])
        if opp_id is None:
            continue
        order_id = norm_id(rec[_NT.ID])
        tranid = norm_text(rec[_NT.TRANID]) or f"#{order_id}"
        opp = by_id.get(opp_id)
        common = {"netsuite_id": order_id, "salesforce_id": opp_id, "name": tranid}
        if opp is None:
            out.append(
                _row(
                    SALES_ORDER_UNKNOWN_OPPORTUNITY,
                    "Sales Order",
                    **common,
                    field=_NT.EXTERNAL_ID,
                    netsuite_value=opp_id,
                    message=f"Sales order {tranid} was created from Opportunity {opp_id}, which Salesforce "
                    "does not have (deleted, or from another org). Check the order in NetSuite.",
                )
            )
            continue
        linked = norm_id(opp[_O.NETSUITE_ID])
        name = norm_text(opp[_O.NAME])
        if linked is None:
            out.append(
                _row(
                    SALES_ORDER_UNLINKED,
                    "Sales Order",
                    **common,
                    field=_O.NETSUITE_ID,
                    netsuite_value=order_id,
                    message=f"Opportunity {name or opp_id} has no NetSuite_Id__c although sales order {tranid} "
                    "was created from it (the write-back did not happen). Click Create NetSuite Order on it: "
                    "the order is upserted by external id, never duplicated.",
                )
            )
        elif linked != order_id:
            out.append(
                _row(
                    SALES_ORDER_LINK_MISMATCH,
                    "Sales Order",
                    **common,
                    field=_O.NETSUITE_ID,
                    netsuite_value=order_id,
                    salesforce_value=linked,
                    message=f"Opportunity {name or opp_id} points at NetSuite order {linked}, but sales order "
                    f"{tranid} (id {order_id}) was created from it. Check which order is right in NetSuite.",
                )
            )
    return _rows(out)


def synced_order_pairs(
    sales_orders: pd.DataFrame | Iterable[Mapping[str, Any]],
    opportunities: pd.DataFrame | Iterable[Mapping[str, Any]],
) -> list[tuple[str, str, str]]:
    """(order id, document number, Opportunity id) of every sales order whose Opportunity is ``Synced``
    and links back to it: the pairs whose lines should agree (a queued one is about to be re-sent)."""
    orders = frame(sales_orders, SALES_ORDER_COLUMNS)
    opps = frame(opportunities, OPPORTUNITY_COLUMNS)
    synced = {
        opportunity_id(rec[_O.ID]): norm_id(rec[_O.NETSUITE_ID])
        for rec in opps.to_dict("records")
        if norm_text(rec[_O.SYNC_STATUS]) == f.SyncStatus.SYNCED and opportunity_id(rec[_O.ID])
    }
    pairs = []
    for rec in orders.to_dict("records"):
        opp_id, order_id = opportunity_id(rec[_NT.EXTERNAL_ID]), norm_id(rec[_NT.ID])
        if opp_id and order_id and synced.get(opp_id) == order_id:
            pairs.append((order_id, norm_text(rec[_NT.TRANID]) or f"#{order_id}", opp_id))
    return pairs


def _line_totals(rows: pd.DataFrame, key: str, item: str, quantity: str, rate: str) -> dict[tuple[str, str], Any]:
    """(parent, item) -> [total quantity, sorted distinct rates]; NetSuite's zero-quantity lines (dropped
    at renewal, the module's rule) are not products."""
    totals: dict[tuple[str, str], Any] = {}
    for rec in rows.to_dict("records"):
        parent, item_id = norm_id(rec[key]) or norm_text(rec[key]), norm_id(rec[item])
        amount, price = norm_number(rec[quantity]), norm_number(rec[rate])
        if parent is None or item_id is None or not amount:
            continue
        entry = totals.setdefault((parent, item_id), [0.0, set()])
        entry[0] += abs(amount)  # SuiteQL may sign sales quantities negative
        if price is not None:
            entry[1].add(round(price, 2))
    return {k: (v[0], sorted(v[1])) for k, v in totals.items()}


def order_line_drift(
    pairs: Iterable[tuple[str, str, str]],
    netsuite_lines: pd.DataFrame | Iterable[Mapping[str, Any]],
    salesforce_lines: pd.DataFrame | Iterable[Mapping[str, Any]],
) -> pd.DataFrame:
    """Lines of synced sales orders that differ from their Opportunity's products, per item: quantity
    (summed over the item's lines) and rate (its distinct sales prices), or an item on one side only.

    :param pairs: from :func:`synced_order_pairs`.
    :param netsuite_lines: columns :data:`NS_ORDER_LINE_COLUMNS` (item lines of those orders).
    :param salesforce_lines: columns :data:`SF_OPPORTUNITY_LINE_COLUMNS` (line items of those Opportunities).
    """
    ns = _line_totals(frame(netsuite_lines, NS_ORDER_LINE_COLUMNS), _NL.TRANSACTION, _NL.ITEM, _NL.QUANTITY, _NL.RATE)
    sf = _line_totals(
        frame(salesforce_lines, SF_OPPORTUNITY_LINE_COLUMNS),
        _L.OPPORTUNITY_ID, OPPORTUNITY_LINE_ITEM, _L.QUANTITY, _L.UNIT_PRICE,
    )  # fmt: skip
    fix = "click Create NetSuite Order on the Opportunity to re-send it (the order is updated, not duplicated)"
    out: list[dict[str, Any]] = []
    ns_by_parent: dict[str, set[str]] = {}
    sf_by_parent: dict[str, set[str]] = {}
    for by_parent, totals in ((ns_by_parent, ns), (sf_by_parent, sf)):
        for parent, item in totals:
            by_parent.setdefault(parent, set()).add(item)
    for order_id, tranid, opp_id in pairs:
        ns_items, sf_items = ns_by_parent.get(order_id, set()), sf_by_parent.get(opp_id, set())
        for item in sorted(ns_items | sf_items, key=lambda i: (len(i), i)):
            ns_qty, ns_rates = ns.get((order_id, item), (None, []))
            sf_qty, sf_rates = sf.get((opp_id, item), (None, []))
            common = {"netsuite_id": order_id, "salesforce_id": opp_id, "name": f"{tranid} item {item}"}
            if ns_qty is None or sf_qty is None or abs(ns_qty - sf_qty) >= NUMBER_TOLERANCE:
                shown_ns, shown_sf = _display(ns_qty), _display(sf_qty)
                out.append(_row(
                    SALES_ORDER_LINE_DIFFERENT, "Sales Order", **common, field=_L.QUANTITY,
                    netsuite_value=shown_ns, salesforce_value=shown_sf,
                    message=f"Item {item}: quantity {shown_sf or 'none (not on the Opportunity)'} in Salesforce "
                    f"but {shown_ns or 'none (not on the order)'} on sales order {tranid}; {fix}.",
                ))  # fmt: skip
            elif ns_rates != sf_rates:
                shown_ns = ", ".join(_display(r) or "" for r in ns_rates)
                shown_sf = ", ".join(_display(r) or "" for r in sf_rates)
                out.append(_row(
                    SALES_ORDER_LINE_DIFFERENT, "Sales Order", **common, field=_L.UNIT_PRICE,
                    netsuite_value=shown_ns, salesforce_value=shown_sf,
                    message=f"Item {item}: sales price {shown_sf} in Salesforce but rate {shown_ns} on sales "
                    f"order {tranid}; {fix}.",
                ))  # fmt: skip
    return _rows(out)


# -------------------------------------------------------------------------------------------- contracts


@dataclass(frozen=True)
class FieldCheck:
    """One compared field: NetSuite column, Salesforce field, and how values are normalised."""

    label: str  # reported in ``field`` (the Salesforce field API name)
    netsuite: str
    salesforce: str
    normalise: Callable[[Any], Any]
    numeric: bool = False

    def same(self, ns_value: Any, sf_value: Any) -> bool:
        if self.numeric and ns_value is not None and sf_value is not None:
            return abs(ns_value - sf_value) < NUMBER_TOLERANCE
        return ns_value == sf_value


def _label(labels: Mapping[int, str]) -> Callable[[Any], str | None]:
    def convert(value: Any) -> str | None:
        key = norm_id(value)
        if key is None:
            return None
        try:
            return labels.get(int(key), f"unknown id {key}")
        except ValueError:
            return key

    return convert


def contract_checks(status_labels: Mapping[int, str]) -> tuple[FieldCheck, ...]:
    """Contract fields compared (status ids become labels through the settings' list)."""
    return (
        FieldCheck(_C.START_DATE, _NC.START_DATE, _C.START_DATE, norm_date),
        FieldCheck(_C.END_DATE, _NC.END_DATE, _C.END_DATE, norm_date),
        FieldCheck(_C.NETSUITE_STATUS, _NC.STATUS, _C.NETSUITE_STATUS, _label(status_labels)),
        FieldCheck(_C.CONTRACT_VALUE, _NC.VALUE, _C.CONTRACT_VALUE, norm_number, numeric=True),
    )


def contract_item_checks(state_labels: Mapping[int, str]) -> tuple[FieldCheck, ...]:
    """Contract item fields compared (the item state id becomes the ``Status__c`` label)."""
    return (
        FieldCheck("Contract__c", _NI.CONTRACT, CONTRACT_ITEM_PARENT, norm_id),
        FieldCheck(_CI.QUANTITY, _NI.QUANTITY, _CI.QUANTITY, norm_number, numeric=True),
        FieldCheck(_CI.START_DATE, _NI.START_DATE, _CI.START_DATE, norm_date),
        FieldCheck(_CI.END_DATE, _NI.END_DATE, _CI.END_DATE, norm_date),
        FieldCheck(_CI.STATUS, _NI.STATE, _CI.STATUS, _label(state_labels)),
    )


@dataclass(frozen=True)
class _Kinds:
    record: str
    missing_in_salesforce: str
    different: str
    missing_in_netsuite: str
    flow: str
    ns_name: str
    sf_name: str
    ns_parent: str | None = None


_CONTRACT = _Kinds(
    "Contract",
    CONTRACT_MISSING_IN_SALESFORCE,
    CONTRACT_DIFFERENT,
    CONTRACT_MISSING_IN_NETSUITE,
    "ns_contract_to_sf_contract",
    _NC.NAME,
    _C.NETSUITE_NAME,
)
_ITEM = _Kinds(
    "Contract Item",
    CONTRACT_ITEM_MISSING_IN_SALESFORCE,
    CONTRACT_ITEM_DIFFERENT,
    CONTRACT_ITEM_MISSING_IN_NETSUITE,
    "ns_contract_item_to_sf_contract_item",
    _NI.NAME,
    _CI.NAME,
    ns_parent=_NI.CONTRACT,
)


def _normalised(series: pd.Series, normalise: Callable[[Any], Any]) -> pd.Series:
    """``normalise`` applied once per distinct value (dates and statuses repeat a lot), object dtype."""
    cache: dict[Any, Any] = {}
    out = []
    for value in series.tolist():
        key = None if _missing(value) else value
        if key not in cache:
            cache[key] = normalise(key)
        out.append(cache[key])
    return pd.Series(out, index=series.index, dtype=object)


def _compare(
    netsuite: pd.DataFrame,
    salesforce: pd.DataFrame,
    *,
    ns_key: str,
    sf_key: str,
    sf_id: str,
    checks: Sequence[FieldCheck],
    kinds: _Kinds,
) -> pd.DataFrame:
    ns = netsuite.copy()
    sf = salesforce.copy()
    ns["_key"] = _normalised(ns[ns_key], norm_id)
    sf["_key"] = _normalised(sf[sf_key], norm_id)
    ns = ns[ns["_key"].notna()]
    sf = sf[sf["_key"].notna()]
    for check in checks:
        ns[f"_ns_{check.label}"] = _normalised(ns[check.netsuite], check.normalise)
        sf[f"_sf_{check.label}"] = _normalised(sf[check.salesforce], check.normalise)
    ns_part = ns[["_key", kinds.ns_name, *[f"_ns_{c.label}" for c in checks]]].rename(
        columns={kinds.ns_name: "_ns_name"}
    )
    sf_part = sf[["_key", sf_id, kinds.sf_name, *[f"_sf_{c.label}" for c in checks]]].rename(
        columns={sf_id: "_sf_id", kinds.sf_name: "_sf_name"}
    )
    merged = ns_part.merge(sf_part, on="_key", how="outer", indicator=True, sort=False)
    merged = merged.astype(object).where(merged.notna(), None)
    merged["_keysort"] = merged["_key"].map(lambda k: (0, int(k)) if str(k).isdigit() else (1, str(k)))
    merged = merged.sort_values(["_keysort", "_sf_id"], key=None, na_position="last")
    what, flow = kinds.record.lower(), kinds.flow
    out: list[dict[str, Any]] = []
    for rec in merged.to_dict("records"):
        key, where = rec["_key"], rec["_merge"]
        name = norm_text(rec["_ns_name"]) or norm_text(rec["_sf_name"])
        if where == "left_only":
            parent = ""
            if kinds.ns_parent:
                parent_id = rec.get(f"_ns_{checks[0].label}")
                parent = f" (contract {parent_id})" if parent_id else ""
            out.append(
                _row(
                    kinds.missing_in_salesforce,
                    kinds.record,
                    netsuite_id=key,
                    name=name,
                    message=f"NetSuite {what} {key}{parent} is not in Salesforce: run {flow} with "
                    f"netsuite_ids [{key}] (or full_resync).",
                )
            )
        elif where == "right_only":
            out.append(
                _row(
                    kinds.missing_in_netsuite,
                    kinds.record,
                    netsuite_id=key,
                    salesforce_id=rec["_sf_id"],
                    name=name,
                    message=f"Salesforce {what} {rec['_sf_id']} carries NetSuite id {key}, which NetSuite "
                    "does not have (deleted there, or from another account): check it and clear "
                    "NetSuite_Id__c or delete the record by hand.",
                )
            )
        else:
            for check in checks:
                ns_value, sf_value = rec[f"_ns_{check.label}"], rec[f"_sf_{check.label}"]
                if check.same(ns_value, sf_value):
                    continue
                shown_ns, shown_sf = _display(ns_value), _display(sf_value)
                out.append(
                    _row(
                        kinds.different,
                        kinds.record,
                        netsuite_id=key,
                        salesforce_id=rec["_sf_id"],
                        name=name,
                        field=check.label,
                        netsuite_value=shown_ns,
                        salesforce_value=shown_sf,
                        message=f"{check.label} is {shown_sf or 'empty'} in Salesforce but "
                        f"{shown_ns or 'empty'} in NetSuite (the source): run {flow} with netsuite_ids [{key}].",
                    )
                )
    return _rows(out)


def contract_drift(
    netsuite: pd.DataFrame | Iterable[Mapping[str, Any]],
    salesforce: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    status_labels: Mapping[int, str],
) -> pd.DataFrame:
    """NetSuite contracts missing in Salesforce or different there, and Salesforce Contracts whose
    ``NetSuite_Id__c`` NetSuite does not have (Contracts without one are not the integration's).

    :param netsuite: ``customrecord_contracts`` rows, columns :data:`NS_CONTRACT_COLUMNS`.
    :param salesforce: Contracts, columns :data:`SF_CONTRACT_COLUMNS`.
    :param status_labels: contract status id -> label (settings ``netsuite.lists.contract_status``).
    """
    return _compare(
        frame(netsuite, NS_CONTRACT_COLUMNS),
        frame(salesforce, SF_CONTRACT_COLUMNS),
        ns_key=_NC.ID,
        sf_key=_C.NETSUITE_ID,
        sf_id=_C.ID,
        checks=contract_checks(status_labels),
        kinds=_CONTRACT,
    )


def contract_item_drift(
    netsuite: pd.DataFrame | Iterable[Mapping[str, Any]],
    salesforce: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    state_labels: Mapping[int, str],
) -> pd.DataFrame:
    """Like :func:`contract_drift` for ``customrecord_contract_item`` and ``Contract_Item__c``: parent
    contract, quantity, dates and status (the item state label).

    :param netsuite: columns :data:`NS_CONTRACT_ITEM_COLUMNS`.
    :param salesforce: columns :data:`SF_CONTRACT_ITEM_COLUMNS`.
    :param state_labels: item state id -> label (settings ``netsuite.lists.contract_item_state``).
    """
    return _compare(
        frame(netsuite, NS_CONTRACT_ITEM_COLUMNS),
        frame(salesforce, SF_CONTRACT_ITEM_COLUMNS),
        ns_key=_NI.ID,
        sf_key=_CI.NETSUITE_ID,
        sf_id=_CI.ID,
        checks=contract_item_checks(state_labels),
        kinds=_ITEM,
    )


# -------------------------------------------------------------------------------------------- report


def combine(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """All drift rows, ordered by :data:`KINDS` (stable within a kind)."""
    frames = [p for p in parts if len(p)]
    if not frames:
        return empty()
    drift = pd.concat(frames, ignore_index=True)
    order = {kind: n for n, kind in enumerate(KINDS)}
    drift["_order"] = drift["kind"].map(order)
    drift = drift.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    return drift.astype(object).where(drift.notna(), None)


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(drift: pd.DataFrame) -> pd.DataFrame:
    """The drift rows with every text cell that a spreadsheet would run as a formula prefixed with ``'``
    (names, messages and values come from both systems and may be typed by anyone)."""

    def neutralise(value: Any) -> Any:
        return "'" + value if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) else value

    return drift.apply(lambda column: column.map(neutralise)) if len(drift) else drift


def counts(drift: pd.DataFrame) -> dict[str, int]:
    """Rows per kind, every kind listed (0 when none)."""
    found = drift["kind"].value_counts().to_dict() if len(drift) else {}
    return {kind: int(found.get(kind, 0)) for kind in KINDS}


def requeue_ids(drift: pd.DataFrame) -> list[str]:
    """Opportunity ids that ``repair`` re-queues (Error and stuck), in report order, de-duplicated."""
    if not len(drift):
        return []
    ids = drift.loc[drift["kind"].isin(REQUEUE_KINDS), "salesforce_id"]
    return list(dict.fromkeys(i for i in ids if i))


def _line(row: Mapping[str, Any]) -> str:
    ids = " / ".join(
        f"{side} {row[col]}"
        for side, col in (("NetSuite", "netsuite_id"), ("Salesforce", "salesforce_id"))
        if row[col]
    )
    name = f' "{row["name"]}"' if row.get("name") else ""
    return f"{row['record']} {ids}{name}: {row['message']}"


def render_text(
    drift: pd.DataFrame, *, title: str, compared: Mapping[str, int] | None = None, shown: int = 5
) -> str:
    """The report for the task log: counts per kind, then the first ``shown`` rows of each kind."""
    total = len(drift)
    lines = [f"{title}: {'no drift' if not total else f'{total} drift row(s)'}"]
    if compared:
        lines.append("  compared: " + ", ".join(f"{k} {v}" for k, v in compared.items()))
    per_kind = counts(drift)
    lines += [f"  {kind}: {n}" for kind, n in per_kind.items()]
    for kind, n in per_kind.items():
        if not n:
            continue
        rows = drift[drift["kind"] == kind].head(shown)
        lines.append(f"{kind} (first {len(rows)} of {n}):")
        lines += [f"  - {_line(r)}" for r in rows.to_dict("records")]
    return "\n".join(lines)


def render_html(
    drift: pd.DataFrame,
    *,
    title: str,
    csv_name: str,
    compared: Mapping[str, int] | None = None,
    shown: int = 50,
    generated_at: dt.datetime | None = None,
) -> str:
    """A small self-contained HTML page: counts per kind and the first ``shown`` rows of each kind."""
    esc = html.escape
    when = (generated_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    per_kind = counts(drift)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top;font-size:13px}"
        "th{background:#f3f3f3}.zero{color:#999}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>Generated {esc(when)}. {len(drift)} drift row(s). All rows: <a href='{esc(csv_name)}'>"
        f"{esc(csv_name)}</a>.</p>",
    ]
    if compared:
        items = "".join(f"<li>{esc(k)}: {v}</li>" for k, v in compared.items())
        parts.append(f"<p>Compared:</p><ul>{items}</ul>")
    parts.append("<table><tr><th>drift kind</th><th>rows</th></tr>")
    parts += [
        f"<tr{'' if n else ' class=zero'}><td><a href='#{k}'>{esc(k)}</a></td><td>{n}</td></tr>"
        for k, n in per_kind.items()
    ]
    parts.append("</table>")
    for kind, n in per_kind.items():
        if not n:
            continue
        rows = drift[drift["kind"] == kind].head(shown).drop(columns="kind")
        parts.append(f"<h2 id='{kind}'>{esc(kind)} ({len(rows)} of {n} shown)</h2>")
        parts.append(rows.to_html(index=False, na_rep="", escape=True, border=0))
    parts.append("</body></html>")
    return "\n".join(parts)

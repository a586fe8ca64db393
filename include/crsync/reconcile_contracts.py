"""Contract and Contract Item drift (NetSuite is the source of truth; they flow NetSuite -> Salesforce):
records missing on either side and, per field, values that differ (:class:`FieldCheck`).

Part of :mod:`crsync.reconcile`, which re-exports every public name here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from crsync import fields as f
from crsync.reconcile_frames import (
    CONTRACT_DIFFERENT,
    CONTRACT_ITEM_DIFFERENT,
    CONTRACT_ITEM_MISSING_IN_NETSUITE,
    CONTRACT_ITEM_MISSING_IN_SALESFORCE,
    CONTRACT_ITEM_PARENT,
    CONTRACT_MISSING_IN_NETSUITE,
    CONTRACT_MISSING_IN_SALESFORCE,
    NS_CONTRACT_COLUMNS,
    NS_CONTRACT_ITEM_COLUMNS,
    NUMBER_TOLERANCE,
    SF_CONTRACT_COLUMNS,
    SF_CONTRACT_ITEM_COLUMNS,
    Rows,
    display,
    drift_row,
    drift_rows,
    frame,
    is_missing,
    norm_date,
    norm_id,
    norm_number,
    norm_text,
)

_C, _CI, _NC, _NI = f.Contract, f.ContractItem, f.NsContract, f.NsContractItem


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
    """One compared record type: its drift kinds, flow, and the columns and keys of either side."""

    record: str
    missing_in_salesforce: str
    different: str
    missing_in_netsuite: str
    flow: str
    ns_name: str
    sf_name: str
    ns_columns: Sequence[str]
    sf_columns: Sequence[str]
    ns_key: str
    sf_key: str
    sf_id: str
    ns_parent: str | None = None


_CONTRACT = _Kinds(
    "Contract",
    CONTRACT_MISSING_IN_SALESFORCE,
    CONTRACT_DIFFERENT,
    CONTRACT_MISSING_IN_NETSUITE,
    "ns_contract_to_sf_contract",
    _NC.NAME,
    _C.NETSUITE_NAME,
    NS_CONTRACT_COLUMNS,
    SF_CONTRACT_COLUMNS,
    ns_key=_NC.ID,
    sf_key=_C.NETSUITE_ID,
    sf_id=_C.ID,
)
_ITEM = _Kinds(
    "Contract Item",
    CONTRACT_ITEM_MISSING_IN_SALESFORCE,
    CONTRACT_ITEM_DIFFERENT,
    CONTRACT_ITEM_MISSING_IN_NETSUITE,
    "ns_contract_item_to_sf_contract_item",
    _NI.NAME,
    _CI.NAME,
    NS_CONTRACT_ITEM_COLUMNS,
    SF_CONTRACT_ITEM_COLUMNS,
    ns_key=_NI.ID,
    sf_key=_CI.NETSUITE_ID,
    sf_id=_CI.ID,
    ns_parent=_NI.CONTRACT,
)


def _normalised(series: pd.Series, normalise: Callable[[Any], Any]) -> pd.Series:
    """``normalise`` applied once per distinct value (dates and statuses repeat a lot), object dtype."""
    cache: dict[Any, Any] = {}
    out = []
    for value in series.tolist():
        key = None if is_missing(value) else value
        if key not in cache:
            cache[key] = normalise(key)
        out.append(cache[key])
    return pd.Series(out, index=series.index, dtype=object)


def _compare(
    netsuite: Rows,
    salesforce: Rows,
    kinds: _Kinds,
    checks: Sequence[FieldCheck],
) -> pd.DataFrame:
    ns = frame(netsuite, kinds.ns_columns).copy()
    sf = frame(salesforce, kinds.sf_columns).copy()
    ns_key, sf_key, sf_id = kinds.ns_key, kinds.sf_key, kinds.sf_id
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
                drift_row(
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
                drift_row(
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
                shown_ns, shown_sf = display(ns_value), display(sf_value)
                out.append(
                    drift_row(
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
    return drift_rows(out)


def contract_drift(
    netsuite: Rows,
    salesforce: Rows,
    *,
    status_labels: Mapping[int, str],
) -> pd.DataFrame:
    """NetSuite contracts missing in Salesforce or different there, and Salesforce Contracts whose
    ``NetSuite_Id__c`` NetSuite does not have (Contracts without one are not the integration's).

    :param netsuite: ``customrecord_contracts`` rows, columns :data:`NS_CONTRACT_COLUMNS`.
    :param salesforce: Contracts, columns :data:`SF_CONTRACT_COLUMNS`.
    :param status_labels: contract status id -> label (settings ``netsuite.lists.contract_status``).
    """
    return _compare(netsuite, salesforce, _CONTRACT, contract_checks(status_labels))


def contract_item_drift(
    netsuite: Rows,
    salesforce: Rows,
    *,
    state_labels: Mapping[int, str],
) -> pd.DataFrame:
    """Like :func:`contract_drift` for ``customrecord_contract_item`` and ``Contract_Item__c``: parent
    contract, quantity, dates and status (the item state label).

    :param netsuite: columns :data:`NS_CONTRACT_ITEM_COLUMNS`.
    :param salesforce: columns :data:`SF_CONTRACT_ITEM_COLUMNS`.
    :param state_labels: item state id -> label (settings ``netsuite.lists.contract_item_state``).
    """
    return _compare(netsuite, salesforce, _ITEM, contract_item_checks(state_labels))

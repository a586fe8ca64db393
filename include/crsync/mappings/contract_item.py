"""NetSuite contract item (``customrecord_contract_item``) -> Salesforce ``Contract_Item__c`` (nightly flow).

Items are upserted by ``NetSuite_Id__c`` and parented through the Contract's external id. An item
whose contract is not in Salesforce yet is not lost: it is returned in ``waiting_for_contract`` so that
the DAG reports it and reads it again (:func:`crsync.queries.contract_items_of_contracts_query`) once
its parent exists.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from crsync import fields as f
from crsync.mappings.common import (
    Check,
    apply_extra_mappings,
    dates,
    failures_by_key,
    frame,
    ids,
    is_id,
    iso_dates,
    numbers,
    problem_table,
    python_numbers,
    python_values,
    term_months,
    texts,
)
from crsync.mappings.record_currency import add_currency, currency_problems
from crsync.records import RecordFailure, SalesforceUpsertBatch
from crsync.settings import FlowId, IntegrationSettings

_NI, _CI = f.NsContractItem, f.ContractItem

_COLUMNS = [
    _NI.ID, _NI.NAME, _NI.CONTRACT, _NI.ITEM, _NI.QUANTITY, _NI.START_DATE, _NI.END_DATE, _NI.TERM, _NI.STATUS,
    _NI.STATE, _NI.RENEW_WITH, _NI.ORIGINAL_LIST_RATE, _NI.CONTRACT_CURRENCY,
]  # fmt: skip


class ContractItemBatch(BaseModel):
    """Contract item upserts, refused items, and items waiting for their contract."""

    items: SalesforceUpsertBatch
    failures: list[RecordFailure] = Field(default_factory=list)
    waiting_for_contract: list[RecordFailure] = Field(default_factory=list)

    #: NetSuite ids of the contracts the waiting items need (re-read their items once these exist).
    waiting_contract_ids: list[str] = Field(default_factory=list)


def contract_items_to_salesforce(
    rows: Sequence[Mapping[str, Any]],
    settings: IntegrationSettings,
    *,
    known_contract_ids: Collection[str] | None = None,
) -> ContractItemBatch:
    """Map contract item rows to ``Contract_Item__c`` upserts.

    :param rows: SuiteQL rows of :func:`crsync.queries.contract_items_query`.
    :param settings: item state / contract status labels and the flow's extra field mappings.
    :param known_contract_ids: NetSuite contract ids that exist in Salesforce; when given, items of
        other contracts go to ``waiting_for_contract`` instead of failing at load.
    """
    extra = settings.field_mappings.for_flow(FlowId.CONTRACT_ITEM_TO_CONTRACT_ITEM)
    raw = frame(rows, _COLUMNS + list(extra))
    lists = settings.netsuite.lists
    states = {str(k): v for k, v in lists.contract_item_state.items()}
    statuses = {str(k): v for k, v in lists.contract_status.items()}
    i = pd.DataFrame(
        {
            "id": ids(raw[_NI.ID]),
            "name": texts(raw[_NI.NAME]),
            "contract": ids(raw[_NI.CONTRACT]),
            "item": ids(raw[_NI.ITEM]),
            "renew_with": ids(raw[_NI.RENEW_WITH]),
            "quantity": numbers(raw[_NI.QUANTITY]),
            "start": dates(raw[_NI.START_DATE]),
            "end": dates(raw[_NI.END_DATE]),
            "term": numbers(raw[_NI.TERM]),
            "rate": numbers(raw[_NI.ORIGINAL_LIST_RATE]),
            # Status__c shows the item's state (Future / Active / Expired); the status list is the fallback.
            "status": ids(raw[_NI.STATE]).map(states).fillna(ids(raw[_NI.STATUS]).map(statuses)),
        }
    )
    i["term"] = i["term"].fillna(term_months(i["start"], i["end"]))
    label = "Contract item " + i["name"].fillna("?") + " (NetSuite id " + i["id"].fillna("?") + ")"
    checks: list[Check] = [
        (~is_id(i["id"]), i["id"], "invalid_id", label + " has no valid NetSuite id"),
        (i["contract"].isna(), i["id"], "missing_contract", label + " has no contract in NetSuite"),
        (i["item"].isna(), i["id"], "missing_item", label + " has no item in NetSuite"),
    ]
    currency = currency_problems(i["id"], raw[_NI.CONTRACT_CURRENCY], label, settings)
    problems = pd.concat([problem_table(checks), currency])
    failed = set(problems["key"])
    waiting = pd.Series(False, index=i.index)
    if known_contract_ids is not None:
        known = {str(c) for c in known_contract_ids}
        waiting = ~i["id"].isin(failed) & i["contract"].notna() & ~i["contract"].isin(list(known))
    good = ~i["id"].isin(failed) & ~waiting
    waiting_failures = [
        RecordFailure(
            key=item_id,
            code="contract_not_synced",
            message=f"Contract {contract} of contract item {name} is not in Salesforce yet; the item will be "
            "loaded by a later run once its contract is",
        )
        for item_id, contract, name in zip(
            i.loc[waiting, "id"], i.loc[waiting, "contract"], i.loc[waiting, "name"].fillna("?"), strict=True
        )
    ]
    waiting_contracts = i.loc[waiting, "contract"].tolist()
    i, raw = i[good], raw[good]
    records = [
        {
            _CI.NETSUITE_ID: netsuite_id,
            _CI.CONTRACT_REF: {f.Contract.NETSUITE_ID: contract},
            _CI.PRODUCT_REF: {f.Product.NETSUITE_ID: item},
            _CI.NAME: name,
            _CI.QUANTITY: quantity,
            _CI.START_DATE: start,
            _CI.END_DATE: end,
            _CI.TERM_MONTHS: term,
            _CI.STATUS: status,
            # A Product2 lookup: by the product's NetSuite id, or cleared when NetSuite has none.
            **(
                {_CI.RENEW_WITH_REF: {f.Product.NETSUITE_ID: renew_with}}
                if renew_with is not None
                else {_CI.RENEW_WITH: None}
            ),
            _CI.LIST_RATE: rate,
        }
        for netsuite_id, contract, item, name, quantity, start, end, term, status, renew_with, rate in zip(
            i["id"].tolist(),
            i["contract"].tolist(),
            i["item"].tolist(),
            python_values(i["name"]),
            python_numbers(i["quantity"]),
            iso_dates(i["start"]),
            iso_dates(i["end"]),
            python_numbers(i["term"]),
            python_values(i["status"]),
            python_values(i["renew_with"]),
            python_numbers(i["rate"]),
            strict=True,
        )  # fmt: skip
    ]
    add_currency(records, raw[_NI.CONTRACT_CURRENCY], settings)  # multi-currency orgs: the contract's currency
    apply_extra_mappings(records, raw, extra)
    return ContractItemBatch(
        items=SalesforceUpsertBatch(sobject=_CI.SOBJECT, external_id_field=_CI.NETSUITE_ID, records=records),
        failures=failures_by_key(problems["key"], problems["code"], problems["message"]),
        waiting_for_contract=waiting_failures,
        waiting_contract_ids=sorted(set(waiting_contracts), key=int),
    )

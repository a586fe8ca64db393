"""NetSuite contract (``customrecord_contracts``) -> Salesforce Contract (nightly flow).

:func:`contracts_to_salesforce` maps SuiteQL rows from :func:`crsync.queries.contracts_query` to
Contract upserts by ``NetSuite_Id__c``; :func:`contract_opportunity_links` maps the rows of
:func:`crsync.queries.contract_orders_query` to the Opportunity ``ContractId`` updates (a sales order's
external id is the Opportunity it came from).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from crsync import fields as f
from crsync.ids import OPPORTUNITY_ID_PREFIX, to_18_char_id
from crsync.mappings.common import (
    Check,
    apply_extra_mappings,
    dates,
    end_before_start,
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

_NC, _C = f.NsContract, f.Contract


class ContractBatch(BaseModel):
    """Contract upserts and the contracts refused."""

    contracts: SalesforceUpsertBatch
    failures: list[RecordFailure] = Field(default_factory=list)


_COLUMNS = [
    _NC.ID, _NC.NAME, _NC.START_DATE, _NC.END_DATE, _NC.BILL_TO, _NC.STATUS, _NC.VALUE, _NC.TARGET_RENEWAL_DATE,
    _NC.CURRENCY,
]  # fmt: skip


def _label(contracts: pd.DataFrame) -> pd.Series:
    return "Contract " + contracts["name"].fillna("?") + " (NetSuite id " + contracts["id"].fillna("?") + ")"


def contracts_to_salesforce(
    rows: Sequence[Mapping[str, Any]],
    settings: IntegrationSettings,
    *,
    known_account_ids: Collection[str] | None = None,
) -> ContractBatch:
    """Map contract rows to Salesforce Contract upserts.

    :param rows: SuiteQL rows (lower-case columns, dates ``YYYY-MM-DD``).
    :param settings: contract status labels and the flow's extra field mappings.
    :param known_account_ids: NetSuite customer ids that have a Salesforce Account; when given, a
        contract whose bill-to customer is not among them fails alone with a message that says so.
    """
    extra = settings.field_mappings.for_flow(FlowId.CONTRACT_TO_CONTRACT)
    raw = frame(rows, _COLUMNS + list(extra))
    c = pd.DataFrame(
        {
            "id": ids(raw[_NC.ID]),
            "name": texts(raw[_NC.NAME]),
            "bill_to": ids(raw[_NC.BILL_TO]),
            "status": ids(raw[_NC.STATUS]),
            "start": dates(raw[_NC.START_DATE]),
            "end": dates(raw[_NC.END_DATE]),
            "target": dates(raw[_NC.TARGET_RENEWAL_DATE]),
            "value": numbers(raw[_NC.VALUE]),
        }
    )
    labels = {str(k): v for k, v in settings.netsuite.lists.contract_status.items()}
    c["status_label"] = c["status"].map(labels)
    problems = _problems(c, labels, known_account_ids)
    problems = pd.concat([problems, currency_problems(c["id"], raw[_NC.CURRENCY], _label(c), settings)])
    failed = set(problems["key"])
    good = ~c["id"].isin(failed)
    c, raw = c[good], raw[good]

    months = term_months(c["start"], c["end"]).round().clip(lower=1)
    records = [
        {
            _C.NETSUITE_ID: netsuite_id,
            _C.ACCOUNT: {f.Account.NETSUITE_ID: bill_to},
            _C.START_DATE: start,
            _C.CONTRACT_TERM: term,
            _C.END_DATE: end,
            _C.NETSUITE_NAME: name,
            _C.NETSUITE_STATUS: status,
            _C.CONTRACT_VALUE: value,
            _C.TARGET_RENEWAL_DATE: target,
        }
        for netsuite_id, bill_to, start, term, end, name, status, value, target in zip(
            c["id"].tolist(),
            c["bill_to"].tolist(),
            iso_dates(c["start"]),
            python_numbers(months),
            iso_dates(c["end"]),
            python_values(c["name"]),
            python_values(c["status_label"]),
            python_numbers(c["value"]),
            iso_dates(c["target"]),
            strict=True,
        )  # fmt: skip
    ]
    add_currency(records, raw[_NC.CURRENCY], settings)  # multi-currency orgs (crsync.mappings.record_currency)
    apply_extra_mappings(records, raw, extra)
    failures = failures_by_key(problems["key"], problems["code"], problems["message"], order=c["id"].tolist())
    return ContractBatch(
        contracts=SalesforceUpsertBatch(
            sobject=_C.SOBJECT, external_id_field=_C.NETSUITE_ID, records=records
        ),
        failures=failures,
    )


def _problems(
    c: pd.DataFrame, labels: Mapping[str, str], known_account_ids: Collection[str] | None
) -> pd.DataFrame:
    label = _label(c)
    keys = c["id"]
    checks: list[Check] = [(~is_id(c["id"]), keys, "invalid_id", label + " has no valid NetSuite id")]
    no_bill_to = c["bill_to"].isna()
    checks.append(
        (no_bill_to, keys, "missing_customer", label + " has no bill-to customer in NetSuite; set it there")
    )
    if known_account_ids is not None:
        known = {str(i) for i in known_account_ids}
        no_account = ~no_bill_to & ~c["bill_to"].isin(list(known))
        checks.append(
            (
                no_account,
                keys,
                "missing_account",
                label + ": NetSuite customer " + c["bill_to"].fillna("?") + " has no Salesforce Account (no "
                "Account with NetSuite_Id__c = "
                + c["bill_to"].fillna("?")
                + "); create or link the Account, "
                "then re-run",
            )
        )
    no_dates = c["start"].isna() | c["end"].isna()
    checks.append((no_dates, keys, "missing_dates", label + " has no start or end date in NetSuite"))
    backwards, backwards_message = end_before_start(label, c["start"], c["end"])
    checks.append((backwards, keys, "end_before_start", backwards_message))
    unknown_status = c["status"].notna() & c["status_label"].isna()
    checks.append(
        (
            unknown_status,
            keys,
            "unknown_status",
            label + ": status id " + c["status"].fillna("?") + f" is not in the settings' "
            f"netsuite.lists.contract_status (known: {', '.join(labels)}); add it there",
        )
    )
    return problem_table(checks)


def _opportunity_of(row: Mapping[str, Any]) -> str | None:
    """The Opportunity id an order came from (its external id), or None for orders made elsewhere."""
    try:
        opportunity_id = to_18_char_id(str(row.get(f.NsTransaction.EXTERNAL_ID)))
    except ValueError:
        return None
    return opportunity_id if opportunity_id.startswith(OPPORTUNITY_ID_PREFIX) else None


def _contract_of(row: Mapping[str, Any]) -> str | None:
    contract = row.get(f.NsTransaction.CONTRACT_NAME)
    return None if contract in (None, "") else str(contract).removesuffix(".0")


def _is_renewal_order(row: Mapping[str, Any]) -> bool:
    """A renewal order names the contract it renews; its Opportunity keeps that contract as ``ContractId``."""
    return row.get(f.NsTransaction.FROM_CONTRACT) not in (None, "")


def contract_opportunity_links(order_rows: Sequence[Mapping[str, Any]]) -> SalesforceUpsertBatch:
    """Opportunity updates (by ``Id``) linking each Opportunity to the contract its order produced.

    A renewal order's Opportunity is left alone: its ``ContractId`` stays the contract it renews (the
    renewal flow sets it), and the renewal contract points back to it instead
    (:func:`contract_origin_links`), so the chain can be walked both ways.

    :param order_rows: rows of :func:`crsync.queries.contract_orders_query` (``externalid``,
        ``custbody_contract_name`` and ``custbody_swe_from_contract``). Orders whose external id is not an
        Opportunity id (created outside the integration) are ignored.
    """
    records: dict[str, dict[str, Any]] = {}
    for row in order_rows:
        opportunity_id, contract = _opportunity_of(row), _contract_of(row)
        if opportunity_id is None or contract is None or _is_renewal_order(row):
            continue
        records[opportunity_id] = {
            f.Opportunity.ID: opportunity_id,
            f.Opportunity.CONTRACT: {_C.NETSUITE_ID: contract},
        }
    return SalesforceUpsertBatch(
        sobject=f.Opportunity.SOBJECT, external_id_field=f.Opportunity.ID, records=list(records.values())
    )


def contract_origin_links(
    order_rows: Sequence[Mapping[str, Any]], adding_order_type_ids: Collection[str]
) -> SalesforceUpsertBatch:
    """Contract upserts (by ``NetSuite_Id__c``) recording the Opportunity whose order made each contract.

    The order that made a contract is its first order (lowest id) that does not add to an existing
    contract: not an upsell or downsell (``adding_order_type_ids``, the settings' ids of those order
    types). A contract made by an order from outside Salesforce gets no origin.

    :param order_rows: rows of :func:`crsync.queries.contract_orders_query`, in id order.
    """
    adding = {str(i) for i in adding_order_type_ids}
    origins: dict[str, str | None] = {}
    for row in order_rows:
        contract = _contract_of(row)
        order_type = str(row.get(f.NsTransaction.ORDER_TYPE) or "").removesuffix(".0")
        if contract is None or contract in origins or order_type in adding:
            continue
        origins[contract] = _opportunity_of(row)
    return SalesforceUpsertBatch(
        sobject=_C.SOBJECT,
        external_id_field=_C.NETSUITE_ID,
        records=[
            {_C.NETSUITE_ID: contract, _C.ORIGINATING_OPPORTUNITY: opportunity}
            for contract, opportunity in origins.items()
            if opportunity is not None
        ],
    )

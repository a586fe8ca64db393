"""After the customer load, and the write-back of the Opportunity -> sales order flow: the orders' new
customers (:func:`resolve_new_customers`), currency refusals explained, the guards that leave alone an
Opportunity edited during the run, and the Salesforce updates built from the write results.

Split from :mod:`crsync.mappings.opportunity_to_sales_order` (which re-exports every public name here).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from crsync import fields as f
from crsync.ids import OPPORTUNITY_ID_PREFIX, to_18_char_id
from crsync.records import (
    NetSuiteWrite,
    RecordFailure,
    SalesforceUpsertBatch,
    WriteResult,
    load_all,
)
from crsync.settings import IntegrationSettings

_O, _L, _A, _B = f.Opportunity, f.OpportunityLineItem, f.Account, f.NsBody


def as_18_char_id(value: Any) -> Any:
    """The 18-character form of a Salesforce id; other values unchanged (validation reports them)."""
    if isinstance(value, str) and len(value) == 18 and value.isalnum():
        return value  # Salesforce itself returns 18-character ids; only user input needs the checksum
    try:
        return to_18_char_id(value) if value else value
    except ValueError:
        return value


def opportunity_key(record: Mapping[str, Any]) -> str:
    return str(as_18_char_id(record.get(_O.ID)) or "")

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


def explain_subsidiary_refusals(
    results: Iterable[WriteResult | Mapping[str, Any]],
    orders: Iterable[NetSuiteWrite | Mapping[str, Any]],
    settings: IntegrationSettings,
) -> list[WriteResult]:
    """Say what to fix when NetSuite refused an order's subsidiary (the customer belongs to another one).

    Only NetSuite knows a customer's subsidiary; it refuses an order naming another at the ``subsidiary``
    field. The error is kept and followed by the fix, for the Opportunity's Sync_Error__c.
    """
    sent = {o.key: o.body for o in load_all(NetSuiteWrite, orders)}
    field = settings.netsuite.subsidiary.account_field or "subsidiary field"
    explained: list[WriteResult] = []
    for result in load_all(WriteResult, results):
        error, body = result.error, sent.get(result.key) or {}
        if result.ok or error is None or (error.path or "").split(".")[0] != _B.SUBSIDIARY:
            explained.append(result)
            continue
        subsidiary = (body.get(_B.SUBSIDIARY) or {}).get("id", "?")
        customer = (body.get(_B.ENTITY) or {}).get("id", "?")
        message = (
            f"NetSuite customer {customer} does not belong to subsidiary {subsidiary}: set the Account's {field} to "
            "the customer's subsidiary (NetSuite: the customer record, Primary Subsidiary), or clear it to use the "
            f"customer's own; then click Create NetSuite Order again. NetSuite said: {error.message}"
        )
        fixed = error.model_copy(update={"code": "subsidiary_not_allowed", "message": message, "path": None})
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
            guards[opportunity_key(opp)] = opportunity_guard(opp)
    return guards


def changed_since_extract(guards: Mapping[str, str], current: Iterable[Mapping[str, Any]]) -> set[str]:
    """Guarded ids whose guard differs now (``current``: the Opportunities re-read with
    :func:`crsync.queries.opportunity_modstamps_soql`), or that are gone."""
    now = {opportunity_key(opp): opportunity_guard(opp) for opp in current}
    return {key for key, guard in guards.items() if now.get(key) != guard}


def opportunity_write_back(
    results: Iterable[WriteResult | Mapping[str, Any]],
    failures: Iterable[RecordFailure | Mapping[str, Any]] = (),
    *,
    order_numbers: Mapping[str, str] | None = None,
    synced_at: dt.datetime | None = None,
    writable: Collection[str] | None = None,
    link_only: Collection[str] = (),
) -> SalesforceUpsertBatch:
    """Opportunity updates (by ``Id``) recording every outcome.

    :param results: sales order write results (key = Opportunity id).
    :param failures: transform and customer failures (key = Opportunity id); other keys are ignored.
    :param order_numbers: Opportunity id -> NetSuite document number (``tranid``), when known.
    :param synced_at: the sync time (default now, UTC).
    :param writable: when given, only these Opportunity ids are written back (the others were not
        queued, or changed since they were extracted and stay ``Processing`` for the next run).
    :param link_only: Opportunity ids (changed since extract, not ``writable``) whose order was written:
        they get only the order's NetSuite id and number, never a status, so the link to an order that
        exists is not lost (e.g. a deal marked Closed Lost while its order was being created).
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
        allowed, linked = set(writable), {to_18_char_id(k) for k in link_only}
        records = {
            key: record if key in allowed else _link_fields(record)
            for key, record in records.items()
            if key in allowed or (key in linked and record.get(_O.NETSUITE_ID))
        }
    return SalesforceUpsertBatch(sobject=_O.SOBJECT, external_id_field=_O.ID, records=list(records.values()))


def _link_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """Only the Opportunity's link to its order: ``Id``, the NetSuite id and, when known, the order number."""
    link = (_O.ID, _O.NETSUITE_ID, _O.NETSUITE_ORDER_NUMBER)
    return {name: record[name] for name in link if name in record}


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

"""Many NetSuite writes in one call: look up existing external ids, then one write per record.

:func:`write_many` runs write instructions (design.md "Interfaces") on the hook's concurrency limit,
returns one write result per instruction, in order, and turns per-record errors into ``failed`` results
(auth errors abort the call). :meth:`crsync_provider.hooks.netsuite.NetSuiteHook.write_many` calls it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import requests

from crsync_provider.hooks._http import HttpTimeoutError
from crsync_provider.hooks.netsuite_errors import (
    EXTERNAL_ID_RE,
    RETRYABLE_TRANSPORT,
    NetSuiteAuthError,
    NetSuiteError,
    NetSuiteNotFoundError,
    NetSuiteValidationError,
    validate_external_id,
)
from crsync_provider.hooks.suiteql import suiteql_literal

if TYPE_CHECKING:
    from crsync_provider.hooks.netsuite import NetSuiteHook

# NetSuite record type (REST) -> transaction type filter of the SuiteQL ``transaction`` table.
TRANSACTION_TYPES: dict[str, str] = {
    "salesorder": "SalesOrd",
    "estimate": "Estimate",
    "invoice": "CustInvc",
    "opportunity": "Opprtnty",
    "purchaseorder": "PurchOrd",
    "creditmemo": "CustCred",
    "cashsale": "CashSale",
    "returnauthorization": "RtnAuth",
    "customerpayment": "CustPymt",
    "journalentry": "Journal",
    "vendorbill": "VendBill",
}
#: Failure code of an ``update_only`` write whose record does not exist (``crsync.records.NOT_QUEUED``;
#: the provider does not import the integration package).
NOT_QUEUED = "not_queued"


def suiteql_source(record_type: str) -> tuple[str, str | None]:
    """SuiteQL table (and transaction type) holding records of a REST ``record_type``."""
    name = record_type.lower()
    if name in TRANSACTION_TYPES:
        return "transaction", TRANSACTION_TYPES[name]
    return name, None


def sublists(body: Mapping[str, Any]) -> list[str]:
    """Names of the sublists in a record body (values shaped ``{"items": [...]}``)."""
    return [k for k, v in body.items() if isinstance(v, Mapping) and isinstance(v.get("items"), list)]


def id_from_location(resp: requests.Response) -> str | None:
    """The internal id at the end of a reply's ``Location`` header (NetSuite names a new record there)."""
    location = resp.headers.get("Location")
    if not location:
        return None
    last = location.rstrip("/").rsplit("/", 1)[-1]
    return last or None


def existing_external_ids(
    hook: NetSuiteHook, record_type: str, external_ids: Iterable[str], *, chunk: int = 1000
) -> dict[str, str]:
    """Map each external id that exists for ``record_type`` to its internal id (1 query per 1,000)."""
    wanted = sorted({e for e in external_ids if e and EXTERNAL_ID_RE.fullmatch(e)})
    table, tran_type = suiteql_source(record_type)
    found: dict[str, str] = {}
    for start in range(0, len(wanted), chunk):
        part = wanted[start : start + chunk]
        in_list = ", ".join(suiteql_literal(e) for e in part)
        where = f"externalid IN ({in_list})"
        if tran_type:
            where += f" AND type = {suiteql_literal(tran_type)}"
        query = f"SELECT id, externalid FROM {table} WHERE {where} ORDER BY id"
        for row in hook.suiteql(query):
            if row.get("externalid") is not None:
                found[str(row["externalid"])] = str(row["id"])
    return found


def write_many(hook: NetSuiteHook, writes: Iterable[Mapping[str, Any] | Any]) -> list[dict[str, Any]]:
    """
    Run NetSuite write instructions concurrently; one write result per instruction, in order.

    A write instruction is ``{"key", "record_type", "external_id", "body", "transform_from"}``
    (design.md "Interfaces"). Existing external ids are looked up first (one SuiteQL query per
    1,000 records per record type), which decides ``created`` vs ``updated`` and whether a
    ``transform_from`` write transforms (new record, ``externalId`` in the body) or upserts.
    Each record then costs exactly one write request (plus retries of failed attempts).
    Per-record errors become ``failed`` results; auth errors abort the whole call.
    """
    items = [_as_dict(w) for w in writes]
    results: list[dict[str, Any] | None] = [None] * len(items)
    groups: dict[tuple[str, str], list[int]] = {}
    for index, write in enumerate(items):
        external_id = str(write.get("external_id") or "")
        key = str(write.get("key") if write.get("key") is not None else external_id)
        try:
            validate_external_id(external_id)
            if not write.get("record_type"):
                raise NetSuiteValidationError(0, "MISSING_RECORD_TYPE", "record_type is required")
        except NetSuiteError as exc:
            results[index] = _write_result(key, external_id, "failed", error=exc.as_error())
            continue
        groups.setdefault((str(write["record_type"]), external_id), []).append(index)

    existing: dict[tuple[str, str], str] = {}
    by_type: dict[str, list[str]] = {}
    for record_type, external_id in groups:
        by_type.setdefault(record_type, []).append(external_id)
    for record_type, external_ids in by_type.items():
        for ext, internal in existing_external_ids(hook, record_type, external_ids).items():
            existing[(record_type, ext)] = internal

    # One slow record fails alone (its write may or may not have landed: a later upsert by external id
    # settles it); NetSuite answering nothing at all fails the call once this many requests timed out,
    # rather than waiting out every record's timeout (the task then fails and the alert says so).
    timeouts: list[HttpTimeoutError] = []
    timeout_budget = 2 * hook.concurrency_limit

    def run_group(group: tuple[tuple[str, str], list[int]]) -> None:
        (record_type, external_id), indexes = group
        for index in indexes:  # same record: one after the other, in input order
            write = items[index]
            key = str(write.get("key") if write.get("key") is not None else external_id)
            if len(timeouts) >= timeout_budget:
                raise timeouts[-1]
            try:
                status, record_id = _write_one(hook, write, existing.get((record_type, external_id)))
            except NetSuiteAuthError:
                raise
            except HttpTimeoutError as exc:
                timeouts.append(exc)
                error = {"code": "TIMEOUT", "message": str(exc), "path": None}
                results[index] = _write_result(key, external_id, "failed", error=error)
                continue
            except NetSuiteError as exc:
                results[index] = _write_result(key, external_id, "failed", error=exc.as_error())
                continue
            except RETRYABLE_TRANSPORT as exc:
                error = {"code": "CONNECTION_ERROR", "message": str(exc), "path": None}
                results[index] = _write_result(key, external_id, "failed", error=error)
                continue
            if status == "created" and record_id:
                existing[(record_type, external_id)] = record_id
            elif status == "created":
                existing[(record_type, external_id)] = ""
            results[index] = _write_result(key, external_id, status, record_id=record_id)

    # A few threads beyond the limit keep a signed request waiting for each slot that frees.
    spare = max(1, hook.concurrency_limit // 2)
    hook.map_concurrently(run_group, list(groups.items()), max_workers=hook.concurrency_limit + spare)

    missing: dict[str, list[str]] = {}
    for result, write in zip(results, items, strict=True):
        if result and result["status"] != "failed" and not result["id"]:
            missing.setdefault(str(write["record_type"]), []).append(result["external_id"])
    for record_type, external_ids in missing.items():
        ids = existing_external_ids(hook, record_type, external_ids)
        for result, write in zip(results, items, strict=True):
            if result and str(write["record_type"]) == record_type and not result["id"]:
                result["id"] = ids.get(result["external_id"])
    return [r for r in results if r is not None]


def _write_one(
    hook: NetSuiteHook, write: Mapping[str, Any], existing_id: str | None
) -> tuple[str, str | None]:
    record_type = str(write["record_type"])
    external_id = str(write["external_id"])
    body = dict(write.get("body") or {})
    source = write.get("transform_from")
    # The body's sublists are the record's whole line set (an order's lines are the Opportunity's
    # lines, without NetSuite line keys): every write replaces them (?replace=item). Without it NetSuite
    # would add the sent lines to the saved ones (section_1545295601).
    replace = sublists(body)
    if existing_id is not None:
        for name in write.get("create_only_fields") or ():
            body.pop(name, None)  # set when the record was created; NetSuite's users own it since
    if write.get("create_only") and existing_id is not None:
        # Found by its external id (created by an earlier run whose link was lost): NetSuite's users own it
        # now, so nothing is sent (an upsert would replace its currencies, name and subsidiary).
        return "unchanged", existing_id or None
    if write.get("update_only"):
        # A re-send may update what was sent before; it never creates (or transforms) a record, so it
        # is a PATCH of the record found (an upsert would create one deleted since the lookup).
        gone = NetSuiteValidationError(
            0,
            NOT_QUEUED,
            f"No NetSuite {record_type} has external id {external_id} and this re-send may only update "
            "one; nothing was written. Click Create NetSuite Order to send it as a new order",
        )
        if not existing_id:
            raise gone
        body.pop("externalId", None)
        try:
            hook.update_record(record_type, existing_id, body, replace=replace)
        except NetSuiteNotFoundError:
            raise gone from None
        return "updated", existing_id
    if source and existing_id is None:
        body["externalId"] = external_id
        new_id = hook.transform_record(
            str(source["record_type"]), str(source["id"]), record_type, body, replace=replace
        )
        return "created", new_id
    body.pop("externalId", None)
    record_id = hook.upsert_record(record_type, external_id, body, replace=replace)
    if existing_id is None:
        return "created", record_id
    return "updated", record_id or existing_id or None


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    raise TypeError(f"write instruction must be a mapping or a pydantic model, got {type(value).__name__}")


def _write_result(
    key: str,
    external_id: str,
    status: str,
    *,
    record_id: str | None = None,
    error: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "external_id": external_id,
        "status": status,
        "id": record_id,
        "error": dict(error) if error else None,
    }


__all__ = [
    "NOT_QUEUED",
    "TRANSACTION_TYPES",
    "existing_external_ids",
    "id_from_location",
    "sublists",
    "suiteql_source",
    "write_many",
]

"""Per-record results: Salesforce's (collections, Bulk 2.0 CSV) and design.md write results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def to_write_results(
    records: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    *,
    external_id_field: str,
    key_field: str | None = None,
) -> list[dict[str, Any]]:
    """Salesforce per-record results as design.md write results, in input order."""
    out = []
    for record, result in zip(records, results, strict=True):
        external_id = str(record.get(external_id_field, ""))
        key = str(record.get(key_field)) if key_field and record.get(key_field) is not None else external_id
        if result.get("success"):
            out.append(
                {
                    "key": key,
                    "external_id": external_id,
                    "status": "created" if result.get("created") else "updated",
                    "id": result.get("id"),
                    "error": None,
                }
            )
            continue
        errors = result.get("errors") or [{}]
        first = errors[0]
        fields = first.get("fields") or []
        message = "; ".join(str(e.get("message")) for e in errors if e.get("message")) or "failed"
        out.append(
            {
                "key": key,
                "external_id": external_id,
                "status": "failed",
                "id": result.get("id"),
                "error": {
                    "code": str(first.get("statusCode") or "UNKNOWN_ERROR"),
                    "message": message,
                    "path": ",".join(fields) if fields else None,
                },
            }
        )
    return out


def with_type(sobject: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A collections record: the fields plus ``attributes.type``."""
    body = dict(record)
    body["attributes"] = {"type": sobject}
    return body


def parse_bulk_error(text: str) -> tuple[str, str, list[str]]:
    """``CODE:message:field1,field2`` (Bulk 2.0 ``sf__Error``) -> (code, message, fields)."""
    if not text:
        return "UNKNOWN_ERROR", "failed", []
    code, _, rest = text.partition(":")
    message, fields = rest, []
    if rest.endswith("--"):
        message = rest[:-2].rstrip(":")
    elif ":" in rest:
        head, _, tail = rest.rpartition(":")
        if tail and " " not in tail:
            message, fields = head, [f for f in tail.split(",") if f]
    return code.strip() or "UNKNOWN_ERROR", message.strip() or code, fields


def bulk_success(row: Mapping[str, str]) -> dict[str, Any]:
    """A ``successfulResults`` CSV row as a per-record result."""
    created = str(row.get("sf__Created", "")).lower() == "true"
    return {"id": row.get("sf__Id") or None, "success": True, "created": created, "errors": []}


def bulk_failure(row: Mapping[str, str]) -> dict[str, Any]:
    """A ``failedResults`` CSV row as a per-record result."""
    code, message, fields = parse_bulk_error(row.get("sf__Error", ""))
    return {
        "id": row.get("sf__Id") or None,
        "success": False,
        "created": False,
        "errors": [{"statusCode": code, "message": message, "fields": fields}],
    }


def unprocessed() -> dict[str, Any]:
    """The result of a record the Bulk 2.0 job did not process."""
    return {
        "id": None,
        "success": False,
        "created": False,
        "errors": [
            {"statusCode": "UNPROCESSED", "message": "the Bulk 2.0 job did not process it", "fields": []}
        ],
    }

"""Salesforce error shapes: request-level errors (HTTP status + ``[{"message","errorCode"}]``) and
per-record errors (``{"statusCode","message","fields"}`` inside collection / bulk results)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordError:
    """One per-record failure, as listed in a SaveResult's ``errors``."""

    status_code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def as_result(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": list(self.fields)}

    def as_rest(self) -> dict[str, Any]:
        return {"message": self.message, "errorCode": self.status_code, "fields": list(self.fields)}

    def as_bulk(self) -> str:
        """The ``sf__Error`` cell of a Bulk API 2.0 failed-results row."""
        return f"{self.status_code}:{self.message}:{','.join(self.fields)} --"


class RecordFailure(Exception):
    """Raised inside record processing; carries the :class:`RecordError` for the result list."""

    def __init__(self, status_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{status_code}: {message}")
        self.error = RecordError(status_code, message, list(fields or []))


class ApiError(Exception):
    """A whole-request error answered as ``status`` with body ``[{"message","errorCode",...}]``."""

    def __init__(self, status: int, error_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]


def not_found(message: str = "The requested resource does not exist") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def malformed_query(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_QUERY", message)

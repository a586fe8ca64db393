"""Salesforce's save rules for Opportunities and their products that the flows can run into (issue 17).

- An Opportunity with products keeps its price book: changing ``Pricebook2Id`` is refused with
  ``FIELD_INTEGRITY_EXCEPTION`` "... (cannot change pricebook on opportunity with line items)". The text is the
  one Salesforce returns (quoted by integrations that handle it); the Opportunity Product help says to delete
  the products before choosing another price book.
- An opportunity product's quantity may not be zero. Guessed text, in the form of Salesforce's other
  ``field integrity exception: <Field> (<reason>)`` refusals; the Object Reference documents Quantity as the
  number of units sold and the UI refuses 0.

docs/netsuite-sandbox.md, "Real-account readiness (issue 17)", lists the sources.
"""

from __future__ import annotations

from typing import Any

from cr_sandbox.salesforce.errors import RecordFailure

Record = dict[str, Any]


def check_opportunity_update(record: Record, old: Record | None) -> None:
    """Refuse a price book change on an Opportunity that has products."""
    if old is None or not old.get("HasOpportunityLineItem"):
        return
    if old.get("Pricebook2Id") and record.get("Pricebook2Id") != old.get("Pricebook2Id"):
        raise RecordFailure(
            "FIELD_INTEGRITY_EXCEPTION",
            "field integrity exception: unknown (cannot change pricebook on opportunity with line items)",
            ["Pricebook2Id"],
        )


def check_line_quantity(object_name: str, record: Record) -> None:
    """Refuse an opportunity (or quote) product whose quantity is zero."""
    quantity = record.get("Quantity")
    if quantity is not None and float(quantity) == 0.0:
        raise RecordFailure(
            "FIELD_INTEGRITY_EXCEPTION",
            "field integrity exception: Quantity (quantity must be non-zero)",
            ["Quantity"],
        )

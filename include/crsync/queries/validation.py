"""Validation of the ids a query may carry, and chunking of id lists for ``IN (...)`` lookups.

No value is spliced into a query without being validated first: Salesforce ids must match the 15/18
character id format, NetSuite ids must be integers, external ids must be NetSuite-safe. Anything else
raises ``ValueError`` with a message saying what was wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from crsync.ids import (
    NETSUITE_EXTERNAL_ID,
    NETSUITE_INTERNAL_ID,
    OPPORTUNITY_ID_PREFIX,
    SOQL_IDS_PER_GET,
    to_18_char_id,
)

__all__ = [
    "MAX_IDS_PER_QUERY",
    "OPPORTUNITY_ID_PREFIX",
    "chunked",
    "in_list",
    "to_18_char_id",
    "validate_external_ids",
    "validate_netsuite_ids",
    "validate_salesforce_ids",
]

#: Ids per explicit-id query and per run: keeps a SOQL GET under Salesforce's URI limit (crsync.ids).
MAX_IDS_PER_QUERY = SOQL_IDS_PER_GET


def validate_salesforce_ids(values: Iterable[str], *, prefix: str | None = None) -> list[str]:
    """Validate ids given by a user, in order, de-duplicated, as 18-character ids.

    :param values: 15- or 18-character ids.
    :param prefix: required key prefix (``006`` for Opportunities), if any.
    :raises ValueError: listing every value that is not an acceptable id.
    """
    ids: list[str] = []
    problems: list[str] = []
    for value in values:
        try:
            full = to_18_char_id(value)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if prefix and not full.startswith(prefix):
            problems.append(f"{value!r} is not an id of the expected object (ids start with {prefix!r})")
        elif full not in ids:
            ids.append(full)
    if problems:
        raise ValueError("; ".join(problems))
    if not ids:
        raise ValueError("no Salesforce ids given")
    if len(ids) > MAX_IDS_PER_QUERY:
        raise ValueError(f"{len(ids)} ids given; at most {MAX_IDS_PER_QUERY} per run")
    return ids


def validate_netsuite_ids(values: Iterable[int | str]) -> list[int]:
    """Validate NetSuite internal ids (positive integers), in order, de-duplicated.

    Text must be ASCII digits only: no whitespace or newline, no digits of other scripts.

    :raises ValueError: listing every value that is not a positive integer.
    """
    ids: list[int] = []
    problems: list[str] = []
    for value in values:
        text = str(value) if isinstance(value, int) else value
        if (
            isinstance(value, bool)
            or not isinstance(text, str)
            or not NETSUITE_INTERNAL_ID.fullmatch(text)
            or int(text) <= 0
        ):
            problems.append(f"{value!r} is not a NetSuite internal id (a positive integer)")
        elif int(text) not in ids:
            ids.append(int(text))
    if problems:
        raise ValueError("; ".join(problems))
    if not ids:
        raise ValueError("no NetSuite ids given")
    return ids


def validate_external_ids(values: Iterable[str]) -> list[str]:
    """Validate NetSuite external ids (letters, digits, ``_``, ``-``), in order, de-duplicated."""
    ids: list[str] = []
    for value in values:
        if not isinstance(value, str) or not NETSUITE_EXTERNAL_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not a NetSuite external id (letters, digits, '_' and '-')")
        if value not in ids:
            ids.append(value)
    if not ids:
        raise ValueError("no external ids given")
    return ids


def in_list(values: Sequence[str]) -> str:
    """``(a, b, c)``: the parenthesised list of an ``IN`` condition (values already literals)."""
    return "(" + ", ".join(values) + ")"


def chunked(values: Sequence[object], size: int) -> list[list[object]]:
    """Split ``values`` into lists of at most ``size`` (for ``IN (...)`` lookups)."""
    return [list(values[i : i + size]) for i in range(0, len(values), size)]

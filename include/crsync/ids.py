"""Identifier rules, in one place: what a Salesforce id, a NetSuite internal or external id, a write
result's status and the Airflow connection ids look like, and how many ids one run may name.

Airflow-free and pure (no I/O), so the trigger form (:mod:`crsync.runtime.params`), the query builders
(:mod:`crsync.queries`), the settings and the sync health page all check ids the same way. The standalone
provider (``crsync_provider``) must not import ``crsync``: it keeps its own copy of the external id rule
and of the write-result shape, and ``tests/crsync/test_ids.py`` pins the two together.

Every pattern is used with ``fullmatch`` (``match`` with ``$`` accepts a trailing newline) and names
ASCII classes only (``str.isdigit`` and ``\\w`` also accept other scripts' digits and letters).
"""

from __future__ import annotations

import re
from typing import Literal

# --------------------------------------------------------------------------------------------------
# Salesforce ids
# --------------------------------------------------------------------------------------------------

#: The shape of a Salesforce record id: 15 case-sensitive letters and digits, or those plus the
#: 3-character case-insensitive suffix (checked by :func:`to_18_char_id`).
SALESFORCE_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
#: The same shape as a JSON-schema ``pattern`` (the trigger form). ``(?!\n)`` after ``$``: Python's
#: jsonschema (``re.search``) lets ``$`` match before a trailing newline; the look-ahead refuses it there
#: and is a no-op for the browser's ECMAScript regex.
SALESFORCE_ID_FORM_PATTERN = rf"^{SALESFORCE_ID.pattern}$(?!\n)"
#: Key prefix of Opportunity ids.
OPPORTUNITY_ID_PREFIX = "006"
#: Most Salesforce ids one SOQL ``Id IN (...)`` may carry: the query is sent as the URI of a GET, and
#: Salesforce caps URI plus headers at 16,384 bytes (help.salesforce.com article 000386264): 500
#: URL-encoded 18-character ids take about 13,500 bytes; 2,000 would fit SOQL's 100,000-character
#: statement limit but not the URI. Every id lookup chunks by this.
SOQL_IDS_PER_GET = 500
#: Most Salesforce ids one run may name (the trigger form, the sync health page's Retry): a run's named
#: ids are read in one explicit-id query, so at most what one GET carries.
MAX_IDS_PER_RUN = SOQL_IDS_PER_GET

_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def is_salesforce_id(value: object) -> bool:
    """Whether ``value`` has the shape of a 15- or 18-character Salesforce id (no checksum check)."""
    return isinstance(value, str) and SALESFORCE_ID.fullmatch(value) is not None


def salesforce_id_checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character id case-insensitively unique."""
    suffix = ""
    for block in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, char in enumerate(block) if char.isupper())
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def to_18_char_id(value: str) -> str:
    """Validate a Salesforce id and return its 18-character form.

    :param value: a 15- or 18-character Salesforce id.
    :raises ValueError: not an id (surrounding whitespace, e.g. a pasted trailing newline, included),
        or an 18-character id whose checksum does not match.
    """
    suffix_ok = isinstance(value, str) and all(char in _CHECKSUM_ALPHABET for char in value[15:])
    if not is_salesforce_id(value) or not suffix_ok:
        raise ValueError(f"{value!r} is not a Salesforce id (15 or 18 letters and digits)")
    full = value[:15] + salesforce_id_checksum(value[:15])
    if len(value) == 18 and value != full:
        raise ValueError(f"{value!r} is not a valid 18-character Salesforce id (checksum should be {full[15:]})")
    return full


# --------------------------------------------------------------------------------------------------
# NetSuite ids
# --------------------------------------------------------------------------------------------------

#: A NetSuite internal id as text: ASCII digits only.
NETSUITE_INTERNAL_ID = re.compile(r"[0-9]+")
#: NetSuite accepts only letters, digits, ``_`` and ``-`` in an external id used in a URL
#: (``record/v1/<type>/eid:<external id>``), at most 255 characters.
NETSUITE_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")


def is_netsuite_internal_id(value: object) -> bool:
    """Whether ``value`` is a positive NetSuite internal id (an int, or ASCII digits)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value > 0
    return isinstance(value, str) and NETSUITE_INTERNAL_ID.fullmatch(value) is not None and int(value) > 0


def is_netsuite_external_id(value: object) -> bool:
    """Whether ``value`` is an external id NetSuite accepts in a record URL."""
    return isinstance(value, str) and NETSUITE_EXTERNAL_ID.fullmatch(value) is not None


# --------------------------------------------------------------------------------------------------
# Write results and connections
# --------------------------------------------------------------------------------------------------

#: What happened to one written record (``crsync.records.WriteResult.status``; the hooks' result dicts).
#: ``unchanged``: a create-only write (:class:`crsync.records.NetSuiteWrite`) whose record already existed:
#: nothing was sent, the existing record's id is the result.
WriteStatus = Literal["created", "updated", "unchanged", "failed"]
WRITE_STATUSES: tuple[WriteStatus, ...] = ("created", "updated", "unchanged", "failed")
#: The keys of a write result as the load operators return it (design.md, "Interfaces").
WRITE_RESULT_KEYS = ("key", "external_id", "status", "id", "error")

#: The Airflow connections the flows use.
NETSUITE_CONN_ID = "netsuite_default"
SALESFORCE_CONN_ID = "salesforce_default"

"""Settle a ``!transform`` that NetSuite refused after an attempt whose outcome is unknown.

A transform (e.g. ``POST record/v1/estimate/<id>/!transform/salesOrder``) is not idempotent: once the
estimate is processed, a second transform is refused (4xx, "already processed"). When the reply to the
first attempt is lost (the connection dropped after NetSuite made the order) and the hook's follow-up
lookup by external id does not see the new order yet (SuiteQL reads an index that may lag behind the
record service), the retry is sent and refused although the order exists. Before such a 4xx becomes a
failure, :func:`settle_refused_transform` looks for the record again, by external id and by
``createdfrom`` (the source record), waiting a bounded time for the index to catch up:

- a record with our external id (made by our earlier attempt): the write succeeded, with that id;
- a record from the same source with another or no external id: the source was transformed by someone
  else (a user in the UI, another integration). That record is *not* claimed: giving it our external id
  would tie it to the Salesforce record, and the next sync would replace its lines with ours. The write
  fails with a message naming the record and how to link it by hand when it is the right one;
- nothing visible after the wait: NetSuite's own error, with what was checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crsync_provider.hooks.netsuite_errors import NetSuiteValidationError
from crsync_provider.hooks.suiteql import suiteql_literal

if TYPE_CHECKING:
    from crsync_provider.hooks.netsuite import NetSuiteHook

#: SuiteQL ``transaction`` column linking a transformed transaction to its source.
CREATED_FROM = "createdfrom"
#: Error code of a transform refused because another record was already made from the source.
SOURCE_ALREADY_TRANSFORMED = "SOURCE_ALREADY_TRANSFORMED"
_FIRST_POLL = 0.5
_MAX_POLL = 4.0


@dataclass(frozen=True)
class TransformedRecord:
    """A record found from a transform's source: its internal id and external id (None when unset)."""

    id: str
    external_id: str | None


def find_transformed(
    hook: NetSuiteHook, from_id: str | int, to_type: str, external_id: str
) -> list[TransformedRecord]:
    """Records of ``to_type`` with ``external_id``, or (transactions) made from ``from_id``; one SuiteQL query."""
    table, tran_type = hook.suiteql_source(to_type)
    match = f"externalid = {suiteql_literal(external_id)}"
    if table == "transaction" and str(from_id).isascii() and str(from_id).isdigit():
        match = f"({match} OR {CREATED_FROM} = {int(from_id)})"
    where = match + (f" AND type = {suiteql_literal(tran_type)}" if tran_type else "")
    rows = hook.suiteql(f"SELECT id, externalid FROM {table} WHERE {where} ORDER BY id")
    return [
        TransformedRecord(str(r["id"]), str(r["externalid"]) if r.get("externalid") is not None else None)
        for r in rows
    ]


def our_record(found: list[TransformedRecord], external_id: str) -> str | None:
    """The id of the record carrying ``external_id`` among ``found``, if any."""
    return next((r.id for r in found if r.external_id == external_id), None)


def settle_refused_transform(
    hook: NetSuiteHook,
    error: NetSuiteValidationError,
    *,
    from_type: str,
    from_id: str | int,
    to_type: str,
    external_id: str,
    ambiguous: bool,
    wait_seconds: float,
) -> str:
    """Return the id of the record our transform made, or raise the error the user should see.

    :param error: NetSuite's 4xx refusal of the transform.
    :param ambiguous: an earlier attempt may have been processed (its reply was lost or a 5xx): then
        the lookup is repeated for up to ``wait_seconds`` while the index catches up; otherwise one
        lookup only.
    :raises NetSuiteValidationError: the source was transformed into another record (code
        ``SOURCE_ALREADY_TRANSFORMED``), or nothing was found (NetSuite's error, with what was checked).
    """
    deadline = time.monotonic() + (max(0.0, wait_seconds) if ambiguous else 0.0)
    pause = _FIRST_POLL
    while True:
        found = find_transformed(hook, from_id, to_type, external_id)
        record_id = our_record(found, external_id)
        if record_id is not None:
            hook.log.warning(
                "NetSuite refused the %s of %s %s (%s) but %s %s with external id %s exists: an earlier "
                "attempt made it; counting the write as done",
                to_type, from_type, from_id, error.code, to_type, record_id, external_id,
            )  # fmt: skip
            return record_id
        if found:
            other = found[0]
            raise NetSuiteValidationError(
                error.status,
                SOURCE_ALREADY_TRANSFORMED,
                f"{from_type} {from_id} was already turned into {to_type} {other.id} "
                f"(external id {other.external_id or 'none'}), not by this sync, so it is not linked to "
                f"{external_id}. If that {to_type} is the right one, set its External ID to {external_id} in "
                f"NetSuite and send the record again; otherwise reopen the {from_type} or remove the "
                f"{to_type}. NetSuite said: {error.detail}",
                path=error.path,
                method=error.method,
                url=error.url,
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, _MAX_POLL)
    if not ambiguous:
        raise error
    raise NetSuiteValidationError(
        error.status,
        error.code,
        f"{error.detail} An earlier attempt's reply was lost, but no {to_type} from {from_type} {from_id} "
        f"or with external id {external_id} was visible after {wait_seconds:.0f} s; check the {from_type} "
        "in NetSuite before sending it again",
        path=error.path,
        method=error.method,
        url=error.url,
    )

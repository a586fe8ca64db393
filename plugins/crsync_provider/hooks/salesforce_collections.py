"""sObject Collections writes (200 records a call, ``allOrNone=false``) for the Salesforce hook."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from crsync_provider.hooks._http import backoff_delay
from crsync_provider.hooks.salesforce_errors import LOCK_ERROR, error_code, unexpected_count
from crsync_provider.hooks.salesforce_results import with_type

COLLECTION_LIMIT = 200


def _chunks(items: Sequence[Any], chunk_size: int) -> Iterable[Sequence[Any]]:
    if not 1 <= chunk_size <= COLLECTION_LIMIT:
        raise ValueError(f"chunk_size must be 1..{COLLECTION_LIMIT}")
    for start in range(0, len(items), chunk_size):
        yield items[start : start + chunk_size]


class CollectionsMixin:
    """Upsert, update and delete through sObject Collections with per-record results in input order."""

    log: logging.Logger
    lock_retry_attempts: int
    backoff_base: float
    backoff_max: float

    # Provided by the hook.
    restful: Callable[..., Any]

    def _collection_call(self, path: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        results = self.restful(path, method="PATCH", json={"allOrNone": False, "records": list(records)})
        if not isinstance(results, list) or len(results) != len(records):
            raise unexpected_count(len(records), results)
        return results

    def _collections(
        self, path: str, records: Sequence[dict[str, Any]], *, chunk_size: int
    ) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for part in _chunks(records, chunk_size):
            results.extend(self._collection_call(path, part))
        pending = [i for i, r in enumerate(results) if error_code(r) == LOCK_ERROR]
        for round_no in range(1, self.lock_retry_attempts + 1):
            if not pending:
                break
            delay = backoff_delay(self.backoff_base, self.backoff_max, round_no + 1)
            self.log.info("Retrying %s record(s) after %s in %.2fs", len(pending), LOCK_ERROR, delay)
            time.sleep(delay)
            for indexes in _chunks(pending, chunk_size):
                for index, result in zip(
                    indexes, self._collection_call(path, [records[i] for i in indexes]), strict=True
                ):
                    results[index] = result
            pending = [i for i in pending if error_code(results[i]) == LOCK_ERROR]
        return results

    def upsert_collection(
        self,
        sobject: str,
        external_id_field: str,
        records: Iterable[Mapping[str, Any]],
        *,
        chunk_size: int = COLLECTION_LIMIT,
    ) -> list[dict[str, Any]]:
        """
        Upsert by external id through sObject Collections, 200 records per call, ``allOrNone=false``.

        Returns Salesforce's per-record results in input order (``id``, ``success``, ``created``,
        ``errors``). Records that failed with ``UNABLE_TO_LOCK_ROW`` are re-sent (only those).
        """
        prepared = [with_type(sobject, r) for r in records]
        return self._collections(
            f"composite/sobjects/{sobject}/{external_id_field}", prepared, chunk_size=chunk_size
        )

    def update_collection(
        self,
        sobject: str,
        records: Iterable[Mapping[str, Any]],
        *,
        chunk_size: int = COLLECTION_LIMIT,
    ) -> list[dict[str, Any]]:
        """Update records by ``Id`` through sObject Collections (like :meth:`upsert_collection`)."""
        prepared = [with_type(sobject, r) for r in records]
        missing = [i for i, r in enumerate(prepared) if not r.get("Id")]
        if missing:
            raise ValueError(f"update_collection needs an Id in every record; missing at {missing[:10]}")
        return self._collections("composite/sobjects", prepared, chunk_size=chunk_size)

    def delete_collection(
        self,
        ids: Iterable[str],
        *,
        chunk_size: int = COLLECTION_LIMIT,
    ) -> list[dict[str, Any]]:
        """Delete records by id through sObject Collections (``DELETE composite/sobjects?ids=...``).

        Up to 200 ids per call, ``allOrNone=false``; returns Salesforce's per-record results in input
        order (``id``, ``success``, ``errors``). A record already deleted fails with ``ENTITY_IS_DELETED``.
        """
        results: list[dict[str, Any]] = []
        for part in _chunks([str(i) for i in ids], chunk_size):
            reply = self.restful(
                "composite/sobjects", method="DELETE", params={"ids": ",".join(part), "allOrNone": "false"}
            )
            if not isinstance(reply, list) or len(reply) != len(part):
                raise unexpected_count(len(part), reply)
            results.extend(reply)
        return results

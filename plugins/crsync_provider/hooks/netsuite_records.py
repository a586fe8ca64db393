"""Record operations of :class:`~crsync_provider.hooks.netsuite.NetSuiteHook` (``record/v1``).

Get, create, update (PATCH), upsert by external id (PUT ``eid:``), delete, transform, and many writes
in one call (:mod:`~crsync_provider.hooks.netsuite_writes`). Creates and transforms are not idempotent:
a retry after an ambiguous failure first checks whether the record was made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from crsync_provider.hooks import netsuite_writes
from crsync_provider.hooks.netsuite_errors import NetSuiteValidationError, validate_external_id
from crsync_provider.hooks.netsuite_writes import id_from_location, sublists

R = TypeVar("R")


class NetSuiteRecordsMixin:
    """Record CRUD and many writes over the hook's :meth:`request` and :meth:`suiteql`."""

    transform_lookup_wait: float
    concurrency_limit: int

    if TYPE_CHECKING:  # provided by the hook
        request: Callable[..., Any]
        suiteql: Callable[..., Iterator[dict[str, Any]]]

    # ------------------------------------------------------------------ records

    def get_record(
        self,
        record_type: str,
        record_id: str | int,
        *,
        expand_sub_resources: bool = False,
        fields: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """GET ``record/v1/<type>/<id>`` (``record_id`` may be ``eid:<external id>``)."""
        params: dict[str, Any] = {}
        if expand_sub_resources:
            params["expandSubResources"] = "true"
        if fields:
            params["fields"] = ",".join(fields)
        resp = self.request("GET", f"record/v1/{record_type}/{record_id}", params=params or None)
        body = resp.json()  # type: ignore[union-attr]
        body.pop("links", None)
        return body

    def _lookup_external_id(self, record_type: str, external_id: str) -> str | None:
        return self.existing_external_ids(record_type, [external_id]).get(external_id)

    def create_record(self, record_type: str, body: Mapping[str, Any]) -> str | None:
        """POST ``record/v1/<type>``; returns the new internal id (from the ``Location`` header).

        With ``externalId`` in the body, a retry after an ambiguous failure first checks whether
        the record was created, so it is never created twice.
        """
        external_id = body.get("externalId")
        check = (lambda: self._lookup_external_id(record_type, external_id)) if external_id else None
        resp = self.request(
            "POST", f"record/v1/{record_type}", json=dict(body), idempotent=False, already_done=check
        )
        return resp if isinstance(resp, str) else id_from_location(resp)  # type: ignore[arg-type]

    def update_record(
        self,
        record_type: str,
        record_id: str | int,
        body: Mapping[str, Any],
        *,
        replace: Sequence[str] | None = None,
    ) -> None:
        """PATCH ``record/v1/<type>/<id>``.

        NetSuite applies a sublist in the body by line key: lines naming an existing ``line`` update it,
        the others are added, and lines not sent stay (section_1545295601). A sublist named in
        ``?replace=`` becomes what was sent: matched keys are updated, the other lines removed
        (section_1545297048).

        :param replace: sublists to replace; default: every sublist present in ``body``. Pass ``[]`` to
            add or update single lines by their ``line`` key.
        """
        replace = sublists(body) if replace is None else list(replace)
        params = {"replace": ",".join(replace)} if replace else None
        self.request("PATCH", f"record/v1/{record_type}/{record_id}", params=params, json=dict(body))

    def upsert_record(
        self,
        record_type: str,
        external_id: str,
        body: Mapping[str, Any],
        *,
        replace: Sequence[str] | None = None,
    ) -> str | None:
        """PUT ``record/v1/<type>/eid:<external id>`` (create or update); returns the id if NetSuite says.

        An update applies sublists as :meth:`update_record` does (by line key unless ``?replace=``;
        section_156335203191).

        :param replace: sublists to replace; default: every sublist present in ``body``.
        """
        validate_external_id(external_id)
        replace = sublists(body) if replace is None else list(replace)
        params = {"replace": ",".join(replace)} if replace else None
        resp = self.request(
            "PUT", f"record/v1/{record_type}/eid:{external_id}", params=params, json=dict(body)
        )
        return id_from_location(resp)  # type: ignore[arg-type]

    def delete_record(self, record_type: str, record_id: str | int) -> None:
        """DELETE ``record/v1/<type>/<id>``."""
        self.request("DELETE", f"record/v1/{record_type}/{record_id}")

    def transform_record(
        self,
        from_type: str,
        from_id: str | int,
        to_type: str,
        body: Mapping[str, Any] | None = None,
        *,
        replace: Sequence[str] | None = None,
    ) -> str | None:
        """POST ``record/v1/<from>/<id>/!transform/<to>`` (e.g. estimate to salesOrder); returns the new id.

        Sublists in ``body`` replace the ones copied from the source (``?replace=...``), as in
        :meth:`upsert_record`, so a transform and a later upsert of the same body give the same lines.
        With ``externalId`` in the body, a retry after an ambiguous failure first checks whether
        the record was created, so it is never created twice; a 4xx refusal (e.g. "already processed")
        is settled by :mod:`crsync_provider.hooks.netsuite_transform` (the record our lost attempt made
        counts as written, waiting up to ``transform_lookup_wait`` seconds for SuiteQL to show it).

        :param replace: sublists to replace; default: every sublist present in ``body``.
        """
        from crsync_provider.hooks import netsuite_transform as settle

        body = dict(body or {})
        external_id = body.get("externalId")
        if external_id:
            validate_external_id(external_id)
        replace = sublists(body) if replace is None else list(replace)
        ambiguous = [False]  # set when an attempt may have been processed (already_done is then asked)

        def check() -> str | None:
            ambiguous[0] = True
            return settle.our_record(
                settle.find_transformed(self, from_id, to_type, external_id), external_id
            )

        try:
            resp = self.request(
                "POST",
                f"record/v1/{from_type}/{from_id}/!transform/{to_type}",
                params={"replace": ",".join(replace)} if replace else None,
                json=body,
                idempotent=False,
                already_done=check if external_id else None,
            )
        except NetSuiteValidationError as exc:
            if not external_id:
                raise
            # "Already processed" may mean our lost attempt made the record: look again before failing.
            return settle.settle_refused_transform(
                self, exc, from_type=from_type, from_id=from_id, to_type=to_type, external_id=external_id,
                ambiguous=ambiguous[0], wait_seconds=self.transform_lookup_wait,
            )  # fmt: skip
        return resp if isinstance(resp, str) else id_from_location(resp)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ many writes

    @staticmethod
    def suiteql_source(record_type: str) -> tuple[str, str | None]:
        """SuiteQL table (and transaction type) holding records of a REST ``record_type``."""
        return netsuite_writes.suiteql_source(record_type)

    def existing_external_ids(
        self, record_type: str, external_ids: Iterable[str], *, chunk: int = 1000
    ) -> dict[str, str]:
        """Map each external id that exists for ``record_type`` to its internal id (1 query per 1,000)."""
        return netsuite_writes.existing_external_ids(self, record_type, external_ids, chunk=chunk)

    def write_many(self, writes: Iterable[Mapping[str, Any] | Any]) -> list[dict[str, Any]]:
        """Run NetSuite write instructions concurrently; one write result per instruction, in order.

        See :func:`crsync_provider.hooks.netsuite_netsuite_writes.write_many`.
        """
        return netsuite_writes.write_many(self, writes)


__all__ = ["NetSuiteRecordsMixin"]

"""Small in-memory stand-ins for the NetSuite and Salesforce hooks, passed to the flow helpers.

They implement only the public hook methods the helpers call, with the hooks' reply shapes (Salesforce's
per-record results; NetSuite's SuiteQL pages), and record every call so a test can assert what was sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest


class FakeSalesforce:
    """Salesforce: refuses the records whose external id (or Id) is in ``refuse`` with ``error``."""

    instance_url = "https://example.my.salesforce.com"

    def __init__(self, refuse: Mapping[str, dict[str, Any]] | None = None, existing: Sequence[str] = ()):
        self.refuse = dict(refuse or {})
        self.existing = set(existing)
        self.calls: list[tuple[str, Any]] = []
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def _result(self, key: str) -> dict[str, Any]:
        if key in self.refuse:
            return {"id": None, "success": False, "errors": [self.refuse[key]]}
        created = key not in self.existing
        self.existing.add(key)
        return {"id": f"a0X{key:0>15}", "success": True, "created": created, "errors": []}

    def upsert_collection(self, sobject, external_id_field, records, *, chunk_size=200):
        self.calls.append(("upsert_collection", (sobject, chunk_size, len(records))))
        return [self._result(str(r[external_id_field])) for r in records]

    def upsert_bulk(self, sobject, external_id_field, records):
        self.calls.append(("upsert_bulk", (sobject, len(records))))
        return [self._result(str(r[external_id_field])) for r in records]

    def update_collection(self, sobject, records, *, chunk_size=200):
        self.calls.append(("update_collection", (sobject, len(records))))
        return [self._result(str(r["Id"])) for r in records]

    def delete_collection(self, ids):
        self.calls.append(("delete_collection", list(ids)))
        return [self._result(str(i)) for i in ids]

    def query(self, soql, *, strip_attributes=False, flatten_children=False):
        self.calls.append(("query", soql))
        return list(self.rows.get(soql, []))


class FakeNetSuite:
    """NetSuite SuiteQL: ``pages`` answer the queries in turn (``{"items": [...]}`` each)."""

    def __init__(self, pages: Sequence[dict[str, Any]] = ()):
        self.pages = list(pages)
        self.queries: list[str] = []

    def suiteql(self, query: str, *, page_size: int = 1000) -> list[dict[str, Any]]:
        self.queries.append(query)
        page = self.pages.pop(0) if self.pages else {"items": []}
        return list(page["items"])


@pytest.fixture
def fake_salesforce():
    return FakeSalesforce


@pytest.fixture
def fake_netsuite():
    return FakeNetSuite

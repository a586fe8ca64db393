"""The one SuiteQL keyset pager and literal home (crsync_provider.hooks.suiteql), without a server.

The pager takes the function that fetches one page; these tests give it a list of canned NetSuite
replies and record the SuiteQL it sent. The same pager runs over HTTPS in test_provider_netsuite_hook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from crsync.queries import ChangeScope, KeysetQuery, contracts_query
from crsync_provider.hooks.suiteql import (
    KeysetTemplate,
    keyset_page_query,
    keyset_rows,
    offset_rows,
    suiteql_literal,
    suiteql_timestamp,
)


class Pages:
    """Canned replies, one per request, and the requests made."""

    def __init__(self, *pages: Mapping[str, Any]) -> None:
        self.pages = list(pages)
        self.sent: list[tuple[str, int, int]] = []

    def __call__(self, query: str, limit: int, offset: int) -> Mapping[str, Any]:
        self.sent.append((query, limit, offset))
        return self.pages.pop(0)


def page(ids: list[Any], has_more: bool) -> dict[str, Any]:
    return {"items": [{"id": i, "links": []} for i in ids], "hasMore": has_more}


TEMPLATE = KeysetTemplate(
    "SELECT t.id FROM transaction t WHERE t.type = 'SalesOrd' AND {key_filter} ORDER BY t.id", "t.id"
)


def test_keyset_reads_several_pages_each_after_the_last_key():
    fetch = Pages(page([1, 2], True), page(["3", "4"], True), page([5], False))
    rows = list(keyset_rows(fetch, TEMPLATE, page_size=2))
    assert [r["id"] for r in rows] == [1, 2, "3", "4", 5]
    assert all("links" not in r for r in rows)
    assert [q.split("AND ", 1)[1] for q, _, _ in fetch.sent] == [
        "1 = 1 ORDER BY t.id",
        "t.id > 2 ORDER BY t.id",
        "t.id > 4 ORDER BY t.id",  # a key returned as text is compared as a number
    ]
    assert {(limit, offset) for _, limit, offset in fetch.sent} == {(2, 0)}


def test_keyset_empty_result_is_one_request_and_no_rows():
    fetch = Pages(page([], False))
    assert list(keyset_rows(fetch, TEMPLATE)) == []
    assert len(fetch.sent) == 1


def test_keyset_stops_on_a_short_last_page_without_has_more():
    fetch = Pages(page([7], False))
    assert [r["id"] for r in keyset_rows(fetch, TEMPLATE, start_after=6)] == [7]
    assert fetch.sent[0][0].endswith("t.id > 6 ORDER BY t.id")


@pytest.mark.parametrize("second", [[2], [1]], ids=["same-key", "key-went-back"])
def test_keyset_without_progress_fails_instead_of_looping(second):
    fetch = Pages(page([1, 2], True), page(second, True))
    with pytest.raises(ValueError, match="no progress"):
        list(keyset_rows(fetch, TEMPLATE))


def test_keyset_pages_a_text_key_in_the_database_order_and_takes_a_numeric_text_start():
    # Text keys are ordered by the database's collation, not Python's: "cherry" then "Date" is progress.
    fetch = Pages(page(["apple", "cherry"], True), page(["Date"], True), page([], False))
    assert [r["id"] for r in keyset_rows(fetch, TEMPLATE)] == ["apple", "cherry", "Date"]
    assert fetch.sent[1][0].endswith("t.id > 'cherry' ORDER BY t.id")
    fetch = Pages(page([4], False))
    assert [r["id"] for r in keyset_rows(fetch, TEMPLATE, start_after="3")] == [4]
    assert fetch.sent[0][0].endswith("t.id > 3 ORDER BY t.id")


def test_keyset_refuses_a_template_without_key_filter_and_rows_without_the_key():
    with pytest.raises(ValueError, match="key_filter"):
        list(keyset_rows(Pages(), KeysetTemplate("SELECT id FROM item ORDER BY id")))
    fetch = Pages({"items": [{"name": "x"}], "hasMore": True})
    with pytest.raises(ValueError, match="missing"):
        list(keyset_rows(fetch, TEMPLATE))


def test_crsync_keyset_query_is_what_the_pager_reads():
    """crsync's query object carries its key: no placeholder conversion between the two packages."""
    query = contracts_query(ChangeScope.full())
    assert isinstance(query, KeysetQuery)
    assert query.key == "c.id" and query.key_column == "id"
    fetch = Pages(page([10, 11], True), page([], False))
    assert [r["id"] for r in keyset_rows(fetch, query, page_size=2)] == [10, 11]
    assert fetch.sent[1][0] == keyset_page_query(query, 11) == query.render(11)
    with pytest.raises(ValueError, match="key_filter"):
        KeysetQuery(template="SELECT id FROM item WHERE id > {last_id} ORDER BY id")


def test_offset_pages_until_has_more_is_false_and_stops_at_the_cap():
    fetch = Pages(page([1, 2], True), page([3], False))
    assert [
        r["id"] for r in offset_rows(fetch, "SELECT id FROM item", page_size=2, too_many=RuntimeError)
    ] == [1, 2, 3]
    assert [offset for _, _, offset in fetch.sent] == [0, 2]
    endless = Pages(*[page([1], True)] * 3)
    with pytest.raises(OverflowError):
        list(offset_rows(endless, "q", page_size=50_000, too_many=OverflowError))


def test_literals_have_one_home_and_convert_to_the_account_time_zone():
    assert suiteql_literal("O'Brien") == "'O''Brien'"
    assert suiteql_literal(None) == "NULL" and suiteql_literal(True) == "'T'" and suiteql_literal(3) == "3"
    moment = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert suiteql_timestamp(moment) == "TO_TIMESTAMP('2025-03-01 12:00:00', 'YYYY-MM-DD HH24:MI:SS')"
    assert suiteql_timestamp(moment, "America/New_York") == (
        "TO_TIMESTAMP('2025-03-01 07:00:00', 'YYYY-MM-DD HH24:MI:SS')"
    )
    naive = dt.datetime(2025, 3, 1, 12, 0)  # taken to be in the account's zone already
    assert suiteql_timestamp(naive, "America/New_York") == suiteql_timestamp(naive)

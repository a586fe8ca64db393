"""SuiteQL text and paging: the one home of SuiteQL literals and of the keyset pager.

SuiteQL over REST has no bind parameters, so every value is written as a literal by
:func:`suiteql_literal` (``crsync.queries`` uses these functions too). Two ways to read many rows:

- :func:`offset_rows`: ``limit``/``offset`` pages, capped by NetSuite at 100,000 rows;
- :func:`keyset_rows`: a :class:`KeysetPaged` query (a template holding ``{key_filter}`` and the unique
  key it is ordered by), one request per page with ``<key> > <last key seen>``, any size.

This module imports neither Airflow nor requests: the pagers take the function that fetches one page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from crsync_provider.hooks.query_parameters import bind_parameters

#: Most rows NetSuite returns per SuiteQL request.
SUITEQL_MAX_PAGE = 1000
#: Most rows NetSuite returns to one query paged by offset.
SUITEQL_ROW_CAP = 100_000
#: Where a keyset template takes the key condition (``1 = 1`` for the first page).
KEY_FILTER = "{key_filter}"

#: Fetch one page: ``(query, limit, offset) -> NetSuite's reply`` (``items``, ``hasMore``...).
PageFetcher = Callable[[str, int, int], Mapping[str, Any]]


# --------------------------------------------------------------------------------------------- literals


def suiteql_literal(value: Any) -> str:
    """A SuiteQL literal: numbers as is, strings quoted (``'`` doubled), datetimes as TO_TIMESTAMP."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "'T'" if value else "'F'"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return suiteql_timestamp(value)
    return suiteql_string(str(value))


def suiteql_string(value: str) -> str:
    """A quoted SuiteQL (Oracle) string literal with quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def suiteql_timestamp(value: datetime | date | str, timezone: str | None = None) -> str:
    """``TO_TIMESTAMP('YYYY-MM-DD HH24:MI:SS', 'YYYY-MM-DD HH24:MI:SS')`` for a datetime or ISO string.

    NetSuite compares in the account's time zone.

    :param timezone: the account's time zone: an aware datetime is converted to it, a naive one is taken
        to be in it already. None writes an aware datetime's own wall time.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if timezone is not None and value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(timezone))
    stamp = value.strftime("%Y-%m-%d %H:%M:%S")
    return f"TO_TIMESTAMP('{stamp}', 'YYYY-MM-DD HH24:MI:SS')"


def bind_suiteql(query: str, parameters: Mapping[str, Any] | None) -> str:
    """Replace ``:name`` placeholders with :func:`suiteql_literal` values (SuiteQL REST has no binds)."""
    return bind_parameters(query, parameters, suiteql_literal)


# --------------------------------------------------------------------------------------------- paging


class KeysetPaged(Protocol):
    """A query the keyset pager can read (``crsync.queries.KeysetQuery`` is one).

    ``template`` holds :data:`KEY_FILTER` where the key condition goes and ``ORDER BY``\\ s ``key``
    ascending, e.g. ``SELECT id FROM transaction WHERE type = 'SalesOrd' AND {key_filter} ORDER BY id``.
    """

    @property
    def template(self) -> str: ...

    @property
    def key(self) -> str: ...


@dataclass(frozen=True)
class KeysetTemplate:
    """A plain :class:`KeysetPaged` query: a template and its key expression (``id``, ``t.id``...)."""

    template: str
    key: str = "id"


def key_filter(key: str, after: Any) -> str:
    """The key condition of the page after ``after`` (``1 = 1`` for the first page)."""
    return "1 = 1" if after is None else f"{key} > {suiteql_literal(after)}"


def keyset_page_query(query: KeysetPaged, after: Any = None) -> str:
    """The SuiteQL of the page after key value ``after``."""
    return query.template.replace(KEY_FILTER, key_filter(query.key, after))


def page_rows(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of a reply, without NetSuite's ``links``."""
    return [{k: v for k, v in item.items() if k != "links"} for item in page.get("items") or []]


def keyset_rows(
    fetch: PageFetcher, query: KeysetPaged, *, page_size: int = SUITEQL_MAX_PAGE, start_after: Any = None
) -> Iterator[dict[str, Any]]:
    """Yield every row of ``query``, one request per page (``<key> > <last key>``, offset 0), any size.

    :param fetch: fetches one page (see :data:`PageFetcher`).
    :param start_after: begin after this key value (None: from the start).
    :raises ValueError: the template has no ``{key_filter}``, the rows lack the key column, or a page did
        not move the key forward (the query does not ``ORDER BY`` the key ascending).
    """
    if KEY_FILTER not in query.template:
        raise ValueError("a keyset query template must contain {key_filter}")
    column = query.key.rsplit(".", 1)[-1].lower()
    last = _comparable_key(start_after)
    while True:
        page = fetch(keyset_page_query(query, last), page_size, 0)
        rows = page_rows(page)
        yield from rows
        if not rows or not page.get("hasMore"):
            return
        new_last = rows[-1].get(column)
        if new_last is None:
            raise ValueError(f"keyset column {column!r} is missing from the rows")
        new_last = _comparable_key(new_last)
        if last is not None and not _moved_forward(last, new_last):
            raise ValueError(
                f"keyset paging made no progress on {query.key!r} (last key {last!r}); ORDER BY the key ascending"
            )
        last = new_last


def _comparable_key(value: Any) -> Any:
    """SuiteQL may return numbers as strings: an integer key is compared as an integer."""
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value


def _moved_forward(last: Any, new_last: Any) -> bool:
    """Whether a page's last key is past the previous page's: ``>`` for integer keys; for text keys only
    "not the same key", since the database's collation (not Python's) orders text."""
    if isinstance(last, int) and isinstance(new_last, int):
        return new_last > last
    return new_last != last


def offset_rows(
    fetch: PageFetcher, query: str, *, page_size: int = SUITEQL_MAX_PAGE, too_many: Callable[[], Exception]
) -> Iterator[dict[str, Any]]:
    """Yield every row of ``query`` by ``limit``/``offset`` pages (``ORDER BY`` a unique key for stable pages).

    :param too_many: the error raised when the query returns more than :data:`SUITEQL_ROW_CAP` rows.
    """
    offset = 0
    while True:
        page = fetch(query, page_size, offset)
        yield from page_rows(page)
        if not page.get("hasMore"):
            return
        offset += page_size
        if offset >= SUITEQL_ROW_CAP:
            raise too_many()


__all__ = [
    "KEY_FILTER",
    "SUITEQL_MAX_PAGE",
    "SUITEQL_ROW_CAP",
    "KeysetPaged",
    "KeysetTemplate",
    "PageFetcher",
    "bind_suiteql",
    "key_filter",
    "keyset_page_query",
    "keyset_rows",
    "offset_rows",
    "page_rows",
    "suiteql_literal",
    "suiteql_string",
    "suiteql_timestamp",
]

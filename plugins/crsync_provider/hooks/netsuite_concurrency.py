"""The NetSuite account concurrency limit inside one process.

Every HTTP attempt holds a slot of its account's :class:`AccountSlots` (shared by all hooks of the
process that talk to the same account), released while a retry backs off. A hook asking for a stricter
limit also holds a semaphore of its own (:class:`Slots` holds both, in order). :func:`map_concurrently`
runs work on that many threads, so a task uses the whole limit and never exceeds it. Across workers the
Airflow pool ``netsuite_api`` (sized to the same limit) does the same job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


class AccountSlots:
    """The slots of one account in this process: a bounded semaphore and the limit it was sized by.

    :param limit: requests the account may have in flight at once.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.semaphore = threading.BoundedSemaphore(limit)


class AccountRegistry:
    """The :class:`AccountSlots` of every account this process talks to, keyed by (account, base URL)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[tuple[str, str], AccountSlots] = {}

    def slots_for(self, key: tuple[str, str], limit: int) -> AccountSlots:
        """The account's slots, sized by the first limit seen for it in this process."""
        with self._lock:
            slots = self._accounts.get(key)
            if slots is None:
                slots = self._accounts[key] = AccountSlots(limit)
            return slots


#: The process-wide registry (tests replace it to start from no accounts, as a new task process does).
ACCOUNTS = AccountRegistry()


class Slots:
    """Hold a slot of every semaphore in order (the account's, then a stricter per-hook one)."""

    def __init__(self, semaphores: Sequence[threading.BoundedSemaphore]) -> None:
        self.semaphores = semaphores

    def __enter__(self) -> None:
        for sem in self.semaphores:
            sem.acquire()

    def __exit__(self, *exc: object) -> None:
        for sem in reversed(self.semaphores):
            sem.release()


def hook_slots(account_id: str, base_url: str, limit: int) -> Slots:
    """The slots a hook with ``limit`` holds for every request to the account.

    The account's semaphore is sized by the first limit seen for the account in this process; a hook
    asking for a smaller limit also holds a semaphore of its own, so neither is exceeded.
    """
    account = ACCOUNTS.slots_for((account_id, base_url), limit)
    if account.limit == limit:
        return Slots([account.semaphore])
    if account.limit < limit:
        log.warning(
            "NetSuite account %s already runs at concurrency %s in this process; this hook asked for %s",
            account_id,
            account.limit,
            limit,
        )
        return Slots([account.semaphore])
    return Slots([threading.BoundedSemaphore(limit), account.semaphore])


def map_concurrently(fn: Callable[[T], R], items: Iterable[T], *, workers: int) -> list[R]:
    """Apply ``fn`` to every item on up to ``workers`` threads; results in input order.

    The first exception raised by ``fn`` propagates (after the running calls finish).
    """
    items = list(items)
    workers = min(workers, max(1, len(items)))
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="netsuite") as pool:
        return list(pool.map(fn, items))


__all__ = ["ACCOUNTS", "AccountRegistry", "AccountSlots", "Slots", "hook_slots", "map_concurrently"]

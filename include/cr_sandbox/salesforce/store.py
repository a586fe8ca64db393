"""Persistent record store of the Salesforce stand-in.

Records live in memory (per object, in creation order) for fast SOQL evaluation, with indexes on
external-id / unique fields and on every reference field (for child subqueries, cascades and roll-ups).
Every write goes through to ``<state_dir>/salesforce.sqlite3`` so the data survives restarts. The
sandbox clock (real time shifted by an offset) also lives here, persisted, because every write stamps
``CreatedDate`` / ``LastModifiedDate`` / ``SystemModstamp`` from it.
"""

from __future__ import annotations

import calendar
import json
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from cr_sandbox.salesforce.ids import make_id
from cr_sandbox.salesforce.schema import ObjectDef, Schema

Record = dict[str, Any]

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    sobject TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def format_datetime(moment: datetime) -> str:
    """Salesforce's REST datetime format: ``2024-01-31T10:20:30.000+0000`` (always UTC)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def index_key(value: Any) -> str:
    """External ids and unique text fields match case-insensitively."""
    return str(value).lower()


class Store:
    """In-memory records with write-through SQLite persistence. Guard multi-step work with :attr:`lock`."""

    def __init__(self, db_path: Path, schema: Schema) -> None:
        self.schema = schema
        self.db_path = db_path
        self.lock = threading.RLock()
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA_SQL)
        self._load()

    # ------------------------------------------------------------------ loading / reset

    def _empty(self) -> None:
        self.records: dict[str, dict[str, Record]] = {name: {} for name in self.schema.objects}
        # (object, field) -> lower-cased value -> ids of live records holding it
        self.value_index: dict[tuple[str, str], dict[str, set[str]]] = {}
        # (object, reference field) -> parent id -> ids of live child records
        self.child_index: dict[tuple[str, str], dict[str, set[str]]] = {}
        for obj in self.schema.objects.values():
            for f in obj.fields.values():
                if f.external_id or f.unique:
                    self.value_index[(obj.name, f.name)] = defaultdict(set)
                if f.type == "reference":
                    self.child_index[(obj.name, f.name)] = defaultdict(set)
        # Per object, so that a write only touches its own object's indexes.
        self._value_indexes: dict[str, list[tuple[str, dict[str, set[str]]]]] = defaultdict(list)
        self._child_indexes: dict[str, list[tuple[str, dict[str, set[str]]]]] = defaultdict(list)
        for (obj_name, field_name), index in self.value_index.items():
            self._value_indexes[obj_name].append((field_name, index))
        for (obj_name, field_name), index in self.child_index.items():
            self._child_indexes[obj_name].append((field_name, index))
        self.meta: dict[str, Any] = {"sequence": 0, "clock_offset_seconds": 0.0, "autonumbers": {}}

    def _load(self) -> None:
        with self.lock:
            self._empty()
            for key, value in self._db.execute("SELECT key, value FROM meta"):
                self.meta[key] = json.loads(value)
            # Fixed-width base-62 sequences sort in creation order as plain ASCII.
            rows = self._db.execute("SELECT sobject, data FROM records ORDER BY substr(id, 6, 10)")
            for sobject, data in rows:
                if sobject in self.records:
                    record = json.loads(data)
                    self.records[sobject][record["Id"]] = record
                    self._index(sobject, None, record)

    def reset(self) -> None:
        """Forget every record and the clock offset."""
        with self.lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM records")
            self._db.execute("DELETE FROM meta")
            self._db.execute("COMMIT")
            self._empty()

    # ------------------------------------------------------------------ clock

    @property
    def clock_offset(self) -> timedelta:
        return timedelta(seconds=float(self.meta.get("clock_offset_seconds", 0.0)))

    def now(self) -> datetime:
        """The sandbox's current time: real UTC time shifted by the clock offset."""
        return datetime.now(UTC) + self.clock_offset

    def today(self) -> date:
        return self.now().date()

    def set_clock_offset(self, offset: timedelta) -> None:
        with self.lock:
            self.meta["clock_offset_seconds"] = offset.total_seconds()
            self._save_meta("clock_offset_seconds")

    def _save_meta(self, key: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(self.meta[key])))

    # ------------------------------------------------------------------ ids and counters

    def new_id(self, obj: ObjectDef) -> str:
        with self.lock:
            self.meta["sequence"] = int(self.meta["sequence"]) + 1
            return make_id(obj.key_prefix, int(self.meta["sequence"]))

    def next_autonumber(self, name: str) -> int:
        with self.lock:
            counters = self.meta.setdefault("autonumbers", {})
            counters[name] = int(counters.get(name, 0)) + 1
            return counters[name]

    # ------------------------------------------------------------------ reads

    def get(self, object_name: str, record_id: str, include_deleted: bool = False) -> Record | None:
        record = self.records.get(object_name, {}).get(record_id)
        if record is None or (record.get("IsDeleted") and not include_deleted):
            return None
        return record

    def find(self, record_id: str, include_deleted: bool = False) -> tuple[ObjectDef, Record] | None:
        """The record with 18-character id ``record_id`` whatever its object."""
        obj = self.schema.by_prefix(record_id)
        if obj is None:
            return None
        record = self.get(obj.name, record_id, include_deleted)
        return (obj, record) if record is not None else None

    def ids_by_value(self, object_name: str, field_name: str, value: Any) -> set[str]:
        """Live records whose indexed (external id / unique) field equals ``value`` (case-insensitive)."""
        index = self.value_index.get((object_name, field_name))
        if index is None:
            return {r["Id"] for r in self.live(object_name) if r.get(field_name) is not None
                    and index_key(r[field_name]) == index_key(value)}
        return set(index.get(index_key(value), ()))

    def child_ids(self, object_name: str, field_name: str, parent_id: str) -> set[str]:
        return set(self.child_index[(object_name, field_name)].get(parent_id, ()))

    def live(self, object_name: str) -> Iterator[Record]:
        return (r for r in self.records[object_name].values() if not r.get("IsDeleted"))

    def all_rows(self, object_name: str, include_deleted: bool) -> Iterable[Record]:
        rows = self.records[object_name].values()
        return rows if include_deleted else (r for r in rows if not r.get("IsDeleted"))

    def count(self, object_name: str) -> int:
        return sum(1 for _ in self.live(object_name))

    # ------------------------------------------------------------------ writes

    def _index(self, object_name: str, old: Record | None, new: Record | None) -> None:
        for field_name, index in self._value_indexes[object_name]:
            self._move(index, old, new, field_name)
        for field_name, index in self._child_indexes[object_name]:
            self._move(index, old, new, field_name, lower=False)

    @staticmethod
    def _move(index: dict[str, set[str]], old: Record | None, new: Record | None, field_name: str,
              lower: bool = True) -> None:
        def key_of(record: Record | None) -> str | None:
            if record is None or record.get("IsDeleted") or record.get(field_name) is None:
                return None
            return index_key(record[field_name]) if lower else record[field_name]

        old_key, new_key = key_of(old), key_of(new)
        if old_key == new_key and old is not None and new is not None:
            return
        if old_key is not None:
            ids = index.get(old_key)
            if ids is not None:
                ids.discard(old["Id"])  # type: ignore[index]
                if not ids:
                    del index[old_key]
        if new_key is not None:
            index[new_key].add(new["Id"])  # type: ignore[index]

    def save_many(self, changes: list[tuple[str, Record]]) -> None:
        """Store new versions of records (inserts, updates and soft deletes) and persist them at once."""
        if not changes:
            return
        with self.lock:
            for object_name, record in changes:
                old = self.records[object_name].get(record["Id"])
                self.records[object_name][record["Id"]] = record
                self._index(object_name, old, record)
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO records(id, sobject, data) VALUES (?, ?, ?)",
                [(r["Id"], name, json.dumps(r, separators=(",", ":"))) for name, r in changes],
            )
            for key in ("sequence", "autonumbers"):
                self._save_meta(key)
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self._db.close()


def parse_datetime(value: str) -> datetime:
    """ISO-8601 datetime with ``Z``, ``+hh:mm``, ``+hhmm`` or no zone (UTC) -> aware UTC datetime."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit() and "T" in text:
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text)
    if "T" not in value and " " not in value:
        raise ValueError("a date is not a datetime")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@lru_cache(maxsize=4096)
def normalize_datetime_text(text: str) -> str:
    """Any accepted datetime spelling in the stored REST format (cached: bulk files repeat timestamps)."""
    return format_datetime(parse_datetime(text))


def add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))

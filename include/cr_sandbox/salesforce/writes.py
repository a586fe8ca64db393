"""DML of the stand-in: validation and per-record results for every write path (what Salesforce derives
and checks per object on save is in :mod:`cr_sandbox.salesforce.save_rules`).

Single-record REST, sObject Collections and Bulk API 2.0 all go through :meth:`Writer.execute`, so a
record fails the same way whichever API wrote it. Each record gets a result in order; with
``all_or_none`` nothing is saved when any record fails, and the valid records report
``ALL_OR_NONE_OPERATION_ROLLED_BACK``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from cr_sandbox.salesforce import ids
from cr_sandbox.salesforce.errors import RecordError, RecordFailure
from cr_sandbox.salesforce.save_rules import SaveRules
from cr_sandbox.salesforce.schema import NUMBER_TYPES, FieldDef, ObjectDef, Schema
from cr_sandbox.salesforce.store import (
    Record,
    Store,
    format_datetime,
    index_key,
    normalize_datetime_text,
)

SANDBOX_USER_USERNAME = "integration@sandbox.example.com"

ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)

OpKind = Literal["create", "update", "upsert", "delete"]


@dataclass
class WriteOp:
    """One record to write. ``payload`` keys are field names or parent relationship names."""

    kind: OpKind
    object_name: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    record_id: str | None = None
    external_id_field: str | None = None


@dataclass
class SaveResult:
    id: str | None
    errors: list[RecordError] = field(default_factory=list)
    created: bool | None = None

    @property
    def success(self) -> bool:
        return not self.errors

    def as_dict(self, with_created: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.id is not None:
            out["id"] = self.id
        out["success"] = self.success
        out["errors"] = [e.as_result() for e in self.errors]
        if with_created:
            out["created"] = bool(self.created) if self.success else False
        return out


@dataclass
class _Prepared:
    object_name: str
    record: Record
    old: Record | None
    created: bool
    extra_changes: list[tuple[str, Record]] = field(default_factory=list)


class Writer(SaveRules):
    """Applies :class:`WriteOp` batches to a :class:`Store`."""

    def __init__(self, store: Store, schema: Schema) -> None:
        self.store = store
        self.schema = schema
        # Per object, computed once: what every create needs (bulk jobs create tens of thousands).
        self._defaults = {
            o.name: {f.name: f.default_value for f in o.fields.values()
                     if f.defaulted_on_create and f.default_value is not None}
            for o in schema.objects.values()
        }
        self._required = {o.name: [f.name for f in o.fields.values() if f.required_on_create]
                          for o in schema.objects.values()}
        self._unique = {o.name: [f for f in o.fields.values() if f.unique] for o in schema.objects.values()}
        self._parent_cache: dict[tuple[str, str, str], str] = {}

    # ------------------------------------------------------------------ public entry point

    def execute(
        self,
        ops: list[WriteOp],
        *,
        all_or_none: bool = False,
        lock_row_rate: float = 0.0,
        rng: random.Random | None = None,
        on_locked: Callable[[], None] | None = None,
    ) -> list[SaveResult]:
        """Validate and apply ``ops``; one :class:`SaveResult` per op, in order."""
        with self.store.lock:
            self._now = format_datetime(self.store.now())
            self._staged: dict[str, Record] = {}
            self._claims: dict[tuple[str, str, str], str] = {}
            self._parent_cache = {}
            self._user_id = self.sandbox_user_id()
            results: list[SaveResult] = []
            prepared: list[_Prepared | None] = []
            upsert_keys = self._duplicate_upsert_keys(ops)
            for index, op in enumerate(ops):
                try:
                    if lock_row_rate and (rng or random).random() < lock_row_rate:
                        if on_locked:
                            on_locked()
                        raise RecordFailure(
                            "UNABLE_TO_LOCK_ROW",
                            f"unable to obtain exclusive access to this record or 1 records: {op.record_id or ''}",
                        )
                    if index in upsert_keys:
                        raise RecordFailure("DUPLICATE_EXTERNAL_ID",
                                            f"Duplicate external id specified: {upsert_keys[index]}",
                                            [op.external_id_field or ""])
                    item = self._prepare(op)
                    prepared.append(item)
                    created = item.created if op.kind == "upsert" else None
                    results.append(SaveResult(item.record["Id"], [], created))
                except RecordFailure as failure:
                    prepared.append(None)
                    known_id = op.record_id if op.kind in ("update", "delete") else None
                    results.append(SaveResult(known_id, [failure.error], False if op.kind == "upsert" else None))
            if all_or_none and any(not r.success for r in results):
                for result, item in zip(results, prepared, strict=True):
                    if item is not None:
                        result.errors = [ROLLED_BACK]
                        if item.created:
                            result.id = None
                return results
            changes: list[tuple[str, Record]] = []
            for item in prepared:
                if item is not None:
                    changes.append((item.object_name, item.record))
                    changes.extend(item.extra_changes)
            changes = self._dedupe(changes)
            self.store.save_many(changes)
            self.store.save_many(self._rollups(changes))
            return results

    @staticmethod
    def _dedupe(changes: list[tuple[str, Record]]) -> list[tuple[str, Record]]:
        """Keep the last version of each record (a batch may touch a record twice)."""
        last: dict[str, tuple[str, Record]] = {}
        for name, record in changes:
            last.pop(record["Id"], None)
            last[record["Id"]] = (name, record)
        return list(last.values())

    def _duplicate_upsert_keys(self, ops: list[WriteOp]) -> dict[int, str]:
        """Indexes of upsert ops whose external id value appears more than once in the batch."""
        seen: dict[str, list[int]] = {}
        for index, op in enumerate(ops):
            if op.kind != "upsert" or not op.external_id_field or op.external_id_field.lower() == "id":
                continue
            value = _get_ci(op.payload, op.external_id_field)
            if value not in (None, ""):
                seen.setdefault(index_key(value), []).append(index)
        return {i: key for key, indexes in seen.items() if len(indexes) > 1 for i in indexes}

    # ------------------------------------------------------------------ per-op preparation

    def _prepare(self, op: WriteOp) -> _Prepared:
        if op.kind == "delete":
            return self._prepare_delete(op)
        if op.kind == "create":
            obj = self._object_for(op)
            if _get_ci(op.payload, "Id") not in (None, ""):
                raise RecordFailure("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"])
            return self._create(obj, op.payload)
        if op.kind == "update":
            raw_id = op.record_id or _get_ci(op.payload, "Id")
            if raw_id in (None, ""):
                raise RecordFailure("MISSING_ARGUMENT", "Id not specified in an update call", [])
            obj, old = self._existing(str(raw_id), op.object_name)
            return self._update(obj, old, op.payload)
        return self._upsert(op)

    def _object_for(self, op: WriteOp) -> ObjectDef:
        name = op.object_name
        attributes = op.payload.get("attributes") if isinstance(op.payload, dict) else None
        if isinstance(attributes, dict) and attributes.get("type"):
            name = attributes["type"]
        if not name:
            raise RecordFailure("INVALID_TYPE", "Must send a concrete entity type.", [])
        obj = self.schema.get(name)
        if obj is None:
            raise RecordFailure("INVALID_TYPE", f"sObject type '{name}' is not supported.", [])
        return obj

    def _existing(self, raw_id: str, expected: str | None) -> tuple[ObjectDef, Record]:
        record_id = ids.normalize(raw_id)
        if record_id is None:
            raise RecordFailure("MALFORMED_ID", f"malformed id {raw_id}", ["Id"])
        obj = self.schema.by_prefix(record_id)
        if obj is None or (expected and obj.name.lower() != expected.lower()):
            raise RecordFailure("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["Id"])
        record = self._staged.get(record_id) or self.store.get(obj.name, record_id, include_deleted=True)
        if record is None:
            raise RecordFailure("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["Id"])
        if record.get("IsDeleted"):
            raise RecordFailure("ENTITY_IS_DELETED", "entity is deleted", [])
        return obj, record

    def _upsert(self, op: WriteOp) -> _Prepared:
        obj = self._object_for(op)
        ext = obj.field(op.external_id_field or "")
        if ext is None:
            raise RecordFailure("INVALID_FIELD", f"No such column '{op.external_id_field}' on entity '{obj.name}'",
                                [op.external_id_field or ""])
        value = _get_ci(op.payload, ext.name)
        if ext.name == "Id":
            if value in (None, ""):
                return self._create(obj, {k: v for k, v in op.payload.items() if k.lower() != "id"})
            found_obj, old = self._existing(str(value), obj.name)
            return self._update(found_obj, old, op.payload)
        if value in (None, ""):
            raise RecordFailure("MISSING_ARGUMENT", f"{ext.name} not specified", [ext.name])
        matches = self.store.ids_by_value(obj.name, ext.name, value)
        if len(matches) > 1:
            raise RecordFailure("DUPLICATE_EXTERNAL_ID",
                                f"{ext.label}: more than one record found for external id field: "
                                f"{sorted(matches)}", [ext.name])
        if matches:
            record_id = next(iter(matches))
            old = self._staged.get(record_id) or self.store.get(obj.name, record_id)
            assert old is not None
            return self._update(obj, old, op.payload)
        return self._create(obj, op.payload)

    def _create(self, obj: ObjectDef, payload: dict[str, Any]) -> _Prepared:
        values = self._apply_payload(obj, payload, creating=True)
        record: Record = {}
        record_id = self.store.new_id(obj)
        record["Id"] = record_id
        record.update(self._defaults[obj.name])
        user_id = self._user_id
        if obj.field("OwnerId") is not None:
            record["OwnerId"] = user_id
        record.update(values)
        record.update({"IsDeleted": False, "CreatedById": user_id, "LastModifiedById": user_id,
                       "CreatedDate": self._now, "LastModifiedDate": self._now, "SystemModstamp": self._now})
        extra = self._derive(obj, record, None)
        missing = [name for name in self._required[obj.name] if record.get(name) in (None, "")]
        if missing:
            raise RecordFailure("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                                missing)
        if obj.field("Name") is not None and obj.custom and not record.get("Name"):
            record["Name"] = record_id  # custom objects show the id when the text name is left empty
        self._check_unique(obj, record)
        self._staged[record_id] = record
        return _Prepared(obj.name, record, None, True, extra)

    def _update(self, obj: ObjectDef, old: Record, payload: dict[str, Any]) -> _Prepared:
        values = self._apply_payload(obj, payload, creating=False)
        record = dict(old)
        record.update(values)
        record.update({"LastModifiedById": self._user_id, "LastModifiedDate": self._now,
                       "SystemModstamp": self._now})
        extra = self._derive(obj, record, old)
        nulled = [n for n in values if values[n] in (None, "") and not obj.fields[n].nillable]
        if nulled:
            raise RecordFailure("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(nulled)}]",
                                nulled)
        self._check_unique(obj, record)
        self._staged[record["Id"]] = record
        return _Prepared(obj.name, record, old, False, extra)

    def _prepare_delete(self, op: WriteOp) -> _Prepared:
        obj, old = self._existing(str(op.record_id or _get_ci(op.payload, "Id") or ""), op.object_name)
        record = dict(old)
        record.update({"IsDeleted": True, "LastModifiedDate": self._now, "SystemModstamp": self._now})
        extra: list[tuple[str, Record]] = []
        for rel in obj.children.values():
            child_ids = self.store.child_ids(rel.child_object, rel.field, old["Id"])
            if not child_ids:
                continue
            child_field = self.schema.objects[rel.child_object].fields[rel.field]
            if rel.cascade_delete:
                for child_id in child_ids:
                    child = self.store.get(rel.child_object, child_id)
                    if child is not None:
                        extra.append((rel.child_object, {**child, "IsDeleted": True, "SystemModstamp": self._now,
                                                         "LastModifiedDate": self._now}))
            elif not child_field.nillable:
                raise RecordFailure(
                    "DELETE_FAILED",
                    f"Your attempt to delete {old.get('Name') or old['Id']} could not be completed because it is "
                    f"associated with the following {rel.relationship_name}: {len(child_ids)} records",
                    [],
                )
        self._staged[old["Id"]] = record
        return _Prepared(obj.name, record, old, False, extra)

    # ------------------------------------------------------------------ field handling

    def _apply_payload(self, obj: ObjectDef, payload: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise RecordFailure("JSON_PARSER_ERROR", "Expected a JSON object for the record", [])
        values: dict[str, Any] = {}
        for key, raw in payload.items():
            if key == "attributes" or key.lower() == "id":
                continue
            f = obj.field(key)
            if f is None:
                rel_field = obj.relationship(key)
                if rel_field is not None and isinstance(raw, dict):
                    # A parent named by external id sets the reference field itself, so the field's own
                    # create/update access applies (Quote.OpportunityId, a line's parent: create only).
                    _check_writable(rel_field, creating=creating)
                    values[rel_field.name] = self._resolve_parent(rel_field, raw)
                    continue
                raise RecordFailure("INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", [key])
            if creating or not f.external_id or raw is None:  # an update by upsert may repeat its external id
                _check_writable(f, creating=creating)
            values[f.name] = self.coerce(f, raw)
        return values

    def coerce(self, f: FieldDef, raw: Any) -> Any:
        """``raw`` converted to how ``f`` stores it, or a :class:`RecordFailure` with Salesforce's code."""
        if raw is None or raw == "":
            # Salesforce stores an empty string as null.
            if f.type == "boolean":
                return False
            return None
        kind = f.type
        try:
            if kind in ("string", "textarea", "email", "phone", "url"):
                text = raw if isinstance(raw, str) else _scalar_text(raw)
                if f.length and len(text) > f.length:
                    raise RecordFailure("STRING_TOO_LONG",
                                        f"{f.label}: data value too large: {text[:40]} (max length={f.length})",
                                        [f.name])
                return text
            if kind == "picklist":
                text = raw if isinstance(raw, str) else _scalar_text(raw)
                if f.restricted_picklist:
                    canonical = next((v for v in f.picklist_values if v.lower() == text.lower()), None)
                    if canonical is None:
                        raise RecordFailure("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                            f"{f.label}: bad value for restricted picklist field: {text}", [f.name])
                    return canonical
                return text
            if kind == "boolean":
                if isinstance(raw, bool):
                    return raw
                if str(raw).lower() in ("true", "1"):
                    return True
                if str(raw).lower() in ("false", "0"):
                    return False
                raise ValueError(raw)
            if kind in NUMBER_TYPES:
                if isinstance(raw, bool):
                    raise ValueError(raw)
                number = float(raw)
                if number != number or number in (float("inf"), float("-inf")):
                    raise ValueError(raw)
                if kind == "int":
                    if number != int(number):
                        raise ValueError(raw)
                    return int(number)
                return round(number, f.scale) if f.scale else number
            if kind == "date":
                return date.fromisoformat(str(raw)[:10]).isoformat() if len(str(raw)) == 10 else _bad(raw)
            if kind == "datetime":
                return normalize_datetime_text(str(raw))
            if kind == "reference":
                return self._reference(f, str(raw))
        except (ValueError, TypeError) as exc:
            raise RecordFailure("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{f.label}: value not of required type: {raw}",
                                [f.name]) from exc
        return raw

    def _reference(self, f: FieldDef, raw: str) -> str:
        record_id = ids.normalize(raw)
        if record_id is None:
            raise RecordFailure("MALFORMED_ID", f"{f.label}: id value of incorrect type: {raw}", [f.name])
        target = self.schema.by_prefix(record_id)
        if target is None or target.name not in f.reference_to:
            raise RecordFailure("FIELD_INTEGRITY_EXCEPTION", f"{f.label}: id value of incorrect type: {raw}", [f.name])
        if self._staged.get(record_id) is None and self.store.get(target.name, record_id) is None:
            raise RecordFailure("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {raw}", [f.name])
        return record_id

    def _resolve_parent(self, rel_field: FieldDef, spec: dict[str, Any]) -> str:
        """The id of the parent named by ``{"<ExtIdField>": value}`` (``"Account": {"NetSuite_Id__c": "1"}``)."""
        target_name = (spec.get("attributes") or {}).get("type") or rel_field.reference_to[0]
        target = self.schema.get(target_name)
        keys = [k for k in spec if k != "attributes"]
        if target is None or len(keys) != 1:
            raise RecordFailure("INVALID_FIELD", f"Invalid relationship reference for {rel_field.relationship_name}",
                                [rel_field.name])
        ext = target.field(keys[0])
        value = spec[keys[0]]
        if ext is None or not (ext.external_id or ext.name == "Id"):
            raise RecordFailure("INVALID_FIELD", f"Field {keys[0]} is not an External ID or indexed field for "
                                f"{target.name}", [rel_field.name])
        if ext.name == "Id":
            return self._reference(rel_field, str(value))
        cache_key = (target.name, ext.name, index_key(value))
        cached = self._parent_cache.get(cache_key)
        if cached is not None:
            return cached
        matches = self.store.ids_by_value(target.name, ext.name, value)
        if not matches:
            raise RecordFailure("INVALID_FIELD", f"Foreign key external ID: {value} not found for field {ext.name} "
                                f"in entity {target.name}", [rel_field.name])
        if len(matches) > 1:
            raise RecordFailure("DUPLICATE_EXTERNAL_ID", f"Foreign key external ID: {value} matches more than one "
                                f"{target.name} record by {ext.name}", [rel_field.name])
        found = self._parent_cache[cache_key] = next(iter(matches))
        return found

    def _check_unique(self, obj: ObjectDef, record: Record) -> None:
        for f in self._unique[obj.name]:
            if record.get(f.name) in (None, ""):
                continue
            key = index_key(record[f.name])
            others = self.store.ids_by_value(obj.name, f.name, record[f.name]) - {record["Id"]}
            claim = self._claims.get((obj.name, f.name, key))
            if claim is not None and claim != record["Id"]:
                others.add(claim)
            if others:
                raise RecordFailure(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {f.name} duplicates value on record with id: {sorted(others)[0]}",
                    [f.name],
                )
            self._claims[(obj.name, f.name, key)] = record["Id"]

    # ------------------------------------------------------------------ org basics

    def sandbox_user_id(self) -> str:
        found = self.store.ids_by_value("User", "Username", SANDBOX_USER_USERNAME)
        return min(found) if found else ""


def _get_ci(payload: dict[str, Any], name: str) -> Any:
    """``payload[name]`` with a case-insensitive key match."""
    if name in payload:
        return payload[name]
    lower = name.lower()
    for key, value in payload.items():
        if key.lower() == lower:
            return value
    return None


def _check_writable(f: FieldDef, *, creating: bool) -> None:
    """Refuse a value for a field the call may not set: not createable on insert, not updateable on update."""
    if creating and not f.createable or not creating and not f.updateable:
        raise RecordFailure(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {f.name}. Please check the security settings of this "
            "field and verify that it is read/write for your profile or permission set.",
            [f.name],
        )


def _scalar_text(raw: Any) -> str:
    if isinstance(raw, dict | list):
        raise ValueError(raw)
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _bad(raw: Any) -> Any:
    raise ValueError(raw)

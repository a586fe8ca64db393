"""The REST record service: validation, reads and writes (the typed field specs per record type are in
:mod:`cr_sandbox.netsuite.record_types`)."""

from __future__ import annotations

import sqlite3
from typing import Any

from cr_sandbox.netsuite import (
    approval,
    billing,
    contract_scripts,
    currencies,
    downsell,
    itemprices,
    module,
    subsidiaries,
)
from cr_sandbox.netsuite import sublists as item_sublist
from cr_sandbox.netsuite.db import Store
from cr_sandbox.netsuite.errors import NetSuiteError, invalid_content, invalid_field_value, not_found
from cr_sandbox.netsuite.record_types import (
    DEFAULT_STATUS,
    EXTERNAL_ID_PATTERN,
    FINISHED_SOURCE_STATUSES,
    MAX_LINES_WEB_SERVICES,
    STATUS_NAMES,
    TRANSACTION_PREFIX,
    TRANSFORMED_SOURCE_STATUS,
    RecordType,
    convert_in,
    convert_out,
    record_type,
)


# -- the service ---------------------------------------------------------------------------------
class RecordService:
    """CRUD, upsert and transform over the stand-in's tables, with the module hooked into saves."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _resolve_id(self, conn: sqlite3.Connection, rt: RecordType, key: str) -> int | None:
        if key.startswith("eid:"):
            eid = key[4:]
            where, params = "externalid=?", [eid]
        else:
            try:
                where, params = "id=?", [int(key)]
            except ValueError as exc:
                raise NetSuiteError(400, "INVALID_ID", f"Invalid record id '{key}'.") from exc
        if rt.type_column:
            where += f" AND {rt.type_column}=?"
            params.append(rt.discriminator)
        row = conn.execute(f'SELECT id FROM "{rt.table}" WHERE {where}', params).fetchone()
        return row[0] if row else None

    def _require_id(self, conn: sqlite3.Connection, rt: RecordType, key: str) -> int:
        record_id = self._resolve_id(conn, rt, key)
        if record_id is None:
            raise not_found(rt.name, key)
        return record_id

    # reads
    def get(self, type_name: str, key: str, base_url: str, expand: bool) -> dict[str, Any]:
        rt = record_type(type_name)
        with self.store.lock:
            conn = self.store.conn
            record_id = self._require_id(conn, rt, key)
            row = conn.execute(f'SELECT * FROM "{rt.table}" WHERE id=?', (record_id,)).fetchone()
            self_href = f"{base_url}/services/rest/record/v1/{type_name}/{record_id}"
            out: dict[str, Any] = {"links": [{"rel": "self", "href": self_href}], "id": str(record_id)}
            for spec in rt.fields:
                value = row[spec.column]
                if value is not None:
                    out[spec.name] = convert_out(conn, spec, value, base_url, row)
            for sublist, specs in rt.sublists.items():
                links = [{"rel": "self", "href": f"{self_href}/{sublist}"}]
                if not expand:
                    out[sublist] = {"links": links}
                    continue
                if rt.table == "customer":
                    spec = specs[0]
                    items = [{spec.name: convert_out(conn, spec, c, base_url, row)}
                             for c in currencies.read(conn, record_id)]
                    out[sublist] = {"links": links, "items": items, "totalResults": len(items)}
                    continue
                lines = conn.execute(
                    "SELECT * FROM transactionline WHERE \"transaction\"=? AND mainline='F' ORDER BY id",
                    (record_id,),
                ).fetchall()
                items = []
                for line in lines:
                    entry: dict[str, Any] = {"links": [{"rel": "self", "href": f"{self_href}/{sublist}/{line['id']}"}]}
                    for spec in specs:
                        value = line[spec.column]
                        if value is not None:
                            entry[spec.name] = convert_out(conn, spec, value, base_url, line)
                    items.append(entry)
                out[sublist] = {"links": links, "items": items, "totalResults": len(items)}
            return out

    # writes
    def _body_values(
        self, conn: sqlite3.Connection, rt: RecordType, body: Any, *, creating: bool
    ) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        if not isinstance(body, dict):
            raise invalid_content("The request body must be a JSON object.")
        fields = rt.field_map()
        values: dict[str, Any] = {}
        sublists: dict[str, list[dict[str, Any]]] = {}
        for key, value in body.items():
            if key in ("links", "id"):
                continue
            if key in rt.sublists:
                sublists[key] = self._sublist_values(conn, rt, key, value)
                continue
            spec = fields.get(key.lower())
            if spec is None:
                raise invalid_content(
                    f"Invalid field '{key}' in the request body: the field does not exist on record type "
                    f"{rt.name}, or it is not exposed to REST web services.",
                    key,
                )
            if spec.readonly:
                continue
            converted = convert_in(conn, spec, value, key)
            if spec.column == "externalid" and converted is not None and not EXTERNAL_ID_PATTERN.match(converted):
                raise invalid_content(
                    f"Invalid value for field externalId: '{converted}'. An external ID may contain only "
                    "letters, digits, underscores (_) and hyphens (-).",
                    key,
                )
            values[spec.column] = converted
        if creating:
            for spec in rt.fields:
                if spec.required and values.get(spec.column) is None:
                    raise invalid_content(
                        f"Please enter value(s) for: {spec.name}. The field {spec.name} is mandatory.", spec.name
                    )
        return values, sublists

    def _sublist_values(self, conn: sqlite3.Connection, rt: RecordType, name: str, value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, dict) or not isinstance(value.get("items"), list):
            raise invalid_content(f"Invalid value for sublist {name}: expected {{\"items\": [...]}}.", name)
        if len(value["items"]) > MAX_LINES_WEB_SERVICES:
            raise invalid_content(
                f"The {name} sublist has more than {MAX_LINES_WEB_SERVICES} lines, the web services limit.", name
            )
        specs = {f.name.lower(): f for f in rt.sublists[name]}
        lines = []
        for index, line in enumerate(value["items"]):
            path = f"{name}.items[{index}]"
            if not isinstance(line, dict):
                raise invalid_content(f"Invalid line in sublist {name}: expected an object.", path)
            converted: dict[str, Any] = {}
            for key, raw in line.items():
                if key == "links":
                    continue
                spec = specs.get(key.lower())
                if spec is None:
                    raise invalid_content(
                        f"Invalid field '{key}' in sublist {name}: the field does not exist on the sublist.",
                        f"{path}.{key}",
                    )
                if spec.column == "id":
                    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
                        raise invalid_field_value("line", raw, f"{path}.line")
                    converted["id"] = int(raw)
                    continue
                converted[spec.column] = convert_in(conn, spec, raw, f"{path}.{key}")
            converted["_path"] = path
            lines.append(converted)
        return lines

    def _check_external_id_free(self, conn: sqlite3.Connection, rt: RecordType, eid: str, own_id: int | None) -> None:
        sql = f'SELECT id FROM "{rt.table}" WHERE externalid=?'
        params: list[Any] = [eid]
        if rt.table == "transaction":
            sql += " AND type=?"
            params.append(rt.discriminator)
        row = conn.execute(sql, params).fetchone()
        if row is not None and row[0] != own_id:
            raise NetSuiteError(
                400, "DUP_RCRD",
                f"A {rt.name} record with external ID '{eid}' already exists (internal id {row[0]}). "
                f"Use PUT record/v1/{rt.name}/eid:{eid} to update it.",
                "externalId",
            )

    def _insert(self, conn: sqlite3.Connection, rt: RecordType, values: dict[str, Any]) -> int:
        now = self.store.now_text()
        values = dict(values)
        subsidiaries.before_insert(conn, self.store, rt.table, values)
        if rt.type_column:
            values[rt.type_column] = rt.discriminator
        if rt.table == "customer":
            values.setdefault("datecreated", now)
            values.setdefault("currency", 1)
            values["entityid"] = values.get("entityid") or values.get("companyname")
        elif rt.table in ("item", "transaction"):
            values.setdefault("createddate", now)
        else:
            values.setdefault("created", now)
        if rt.table == "transaction":
            approval.defaults_on_create(self.store, rt.discriminator, values)
            values.setdefault("trandate", self.store.today().isoformat())
            values.setdefault("status", DEFAULT_STATUS[rt.discriminator or "SalesOrd"])
            if values.get("currency") is None:
                row = conn.execute("SELECT currency FROM customer WHERE id=?", (values["entity"],)).fetchone()
                values["currency"] = row[0] if row else 1
            currencies.check_transaction(conn, int(values["entity"]), int(values["currency"]))
        values["lastmodified" if rt.table.startswith("customrecord") else "lastmodifieddate"] = now
        if rt.table.startswith("customrecord") and not values.get("name"):
            values["name"] = None
        cols = list(values)
        cursor = conn.execute(
            f'INSERT INTO "{rt.table}" ({", ".join(f"{c!r}".replace(chr(39), chr(34)) for c in cols)}) '
            f"VALUES ({', '.join('?' for _ in cols)})",
            [values[c] for c in cols],
        )
        new_id = int(cursor.lastrowid)
        if rt.table == "transaction" and not values.get("tranid"):
            conn.execute('UPDATE "transaction" SET tranid=? WHERE id=?',
                         (f"{TRANSACTION_PREFIX[rt.discriminator or 'SalesOrd']}{new_id}", new_id))
        if rt.table == "customrecord_contract_item" and not values.get("name"):
            conn.execute("UPDATE customrecord_contract_item SET name=? WHERE id=?", (f"{new_id:08d}", new_id))
        if rt.table == "customrecord_contracts" and not values.get("name"):
            conn.execute("UPDATE customrecord_contracts SET name=? WHERE id=?", (str(new_id), new_id))
        return new_id

    def _update(self, conn: sqlite3.Connection, rt: RecordType, record_id: int, values: dict[str, Any]) -> None:
        values = dict(values)
        subsidiaries.before_update(conn, self.store, rt.table, record_id, values)
        if rt.table == "transaction" and "currency" in values:
            saved = conn.execute('SELECT currency FROM "transaction" WHERE id=?', (record_id,)).fetchone()
            currencies.check_unchanged(saved[0] if saved else None, values["currency"])
        values["lastmodified" if rt.table.startswith("customrecord") else "lastmodifieddate"] = self.store.now_text()
        assignments = ", ".join(f'"{c}"=?' for c in values)
        conn.execute(f'UPDATE "{rt.table}" SET {assignments} WHERE id=?', [*values.values(), record_id])

    def write_lines(
        self, conn: sqlite3.Connection, tran_id: int, lines: list[dict[str, Any]], *, replace: bool
    ) -> None:
        """Apply item lines by Oracle's keyed-sublist rules (:mod:`cr_sandbox.netsuite.sublists`)."""
        item_sublist.apply_item_lines(
            conn, tran_id, lines, replace=replace,
            fill_line=lambda c, line: self._fill_line(c, line, tran_id),  # priced in the transaction's currency
        )
        self.refresh_total(conn, tran_id)

    def write_sublist(
        self, conn: sqlite3.Connection, rt: RecordType, record_id: int, name: str, lines: list[dict[str, Any]],
        *, replace: bool,
    ) -> None:
        """Apply one sublist: a customer's currencies, or a transaction's item lines."""
        if rt.table == "customer":
            currencies.write(conn, record_id, lines, replace=replace)
        else:
            self.write_lines(conn, record_id, lines, replace=replace)

    @staticmethod
    def _fill_line(conn: sqlite3.Connection, line: dict[str, Any], tran_id: int) -> None:
        item = conn.execute("SELECT custitem_item_category, baseprice FROM item WHERE id=?", (line["item"],)).fetchone()
        quantity = line.get("quantity")
        if quantity is None:
            quantity = line["quantity"] = 1.0
        if line.get("rate") is None:
            if line.get("amount") is not None and quantity:
                line["rate"] = line["amount"] / quantity
            else:
                # The item's price at the line's level in the transaction's currency (itemprices).
                price = itemprices.unit_price(conn, tran_id, line)
                line["rate"] = price if price is not None else (item["baseprice"] if item else 0.0)
        if line.get("amount") is None:
            line["amount"] = round(quantity * (line["rate"] or 0.0), 2)
        if line.get("custcol_item_category") is None and item is not None:
            line["custcol_item_category"] = item["custitem_item_category"]
        if line.get("custcol_list_rate") is None and item is not None:
            line["custcol_list_rate"] = item["baseprice"]

    @staticmethod
    def refresh_total(conn: sqlite3.Connection, tran_id: int) -> None:
        total = conn.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM transactionline WHERE \"transaction\"=? AND mainline='F'", (tran_id,)
        ).fetchone()[0]
        conn.execute('UPDATE "transaction" SET foreigntotal=? WHERE id=?', (total, tran_id))
        # NetSuite's transactionline also holds the header as the mainline row (id 0).
        conn.execute(
            "INSERT INTO transactionline (\"transaction\", id, linesequencenumber, mainline, amount, quantity) "
            "VALUES (?, 0, 0, 'T', ?, NULL) ON CONFLICT (\"transaction\", id) DO UPDATE SET amount=excluded.amount",
            (tran_id, total),
        )

    @staticmethod
    def _check_order_change(
        conn: sqlite3.Connection, rt: RecordType, record_id: int, values: dict[str, Any], sublists: dict[str, Any]
    ) -> None:
        """What an approved or billed sales order refuses (approval.py, billing.py)."""
        if rt.discriminator == "SalesOrd":
            approval.check_update(conn, record_id, values)
            billing.refuse_billed_line_changes(conn, record_id, sublists)

    def _after_save(self, conn: sqlite3.Connection, rt: RecordType, record_id: int) -> None:
        if rt.discriminator == "SalesOrd":
            module.on_sales_order_saved(conn, self.store, record_id)
        elif rt.discriminator == downsell.RETURN_TYPE:
            downsell.on_return_saved(conn, record_id)

    def create(self, type_name: str, body: Any) -> int:
        rt = record_type(type_name)
        with self.store.transaction() as conn:
            values, sublists = self._body_values(conn, rt, body, creating=True)
            if values.get("externalid"):
                self._check_external_id_free(conn, rt, values["externalid"], None)
            record_id = self._insert(conn, rt, values)
            if rt.table == "transaction":
                self.write_lines(conn, record_id, sublists.get("item", []), replace=True)
            else:
                for name, lines in sublists.items():
                    self.write_sublist(conn, rt, record_id, name, lines, replace=True)
            self._after_save(conn, rt, record_id)
            return record_id

    def update(self, type_name: str, key: str, body: Any, replace: set[str]) -> int:
        rt = record_type(type_name)
        with self.store.transaction() as conn:
            record_id = self._require_id(conn, rt, key)
            values, sublists = self._body_values(conn, rt, body, creating=False)
            if values.get("externalid"):
                self._check_external_id_free(conn, rt, values["externalid"], record_id)
            self._check_order_change(conn, rt, record_id, values, sublists)
            self._update(conn, rt, record_id, values)
            for name, lines in sublists.items():
                self.write_sublist(conn, rt, record_id, name, lines, replace=name in replace)
            self._after_save(conn, rt, record_id)
            return record_id

    def upsert(self, type_name: str, key: str, body: Any, replace: set[str] | None = None) -> tuple[int, bool]:
        """PUT ``eid:<externalId>``: update the record with that external id or create it.

        An update applies sublists as PATCH does: by line key, unless ``replace`` names the sublist
        (section_156335203191: an upsert of an existing record is an update)."""
        rt = record_type(type_name)
        if not key.startswith("eid:"):
            raise NetSuiteError(
                405, "INVALID_REQUEST",
                "PUT is supported only for upsert by external ID: PUT record/v1/<type>/eid:<externalId>.",
            )
        eid = key[4:]
        if not EXTERNAL_ID_PATTERN.match(eid):
            raise NetSuiteError(
                400, "INVALID_ID",
                f"Invalid external ID '{eid}'. An external ID may contain only letters, digits, underscores (_) "
                "and hyphens (-).",
            )
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k.lower() != "externalid"}
        with self.store.transaction() as conn:
            record_id = self._resolve_id(conn, rt, key)
            if record_id is None:
                values, sublists = self._body_values(conn, rt, body, creating=True)
                values["externalid"] = eid
                record_id = self._insert(conn, rt, values)
                created = True
                if rt.table == "transaction":
                    self.write_lines(conn, record_id, sublists.get("item", []), replace=True)
                else:
                    for name, lines in sublists.items():
                        self.write_sublist(conn, rt, record_id, name, lines, replace=True)
            else:
                values, sublists = self._body_values(conn, rt, body, creating=False)
                self._check_order_change(conn, rt, record_id, values, sublists)
                self._update(conn, rt, record_id, values)
                created = False
                for name, lines in sublists.items():
                    self.write_sublist(conn, rt, record_id, name, lines, replace=name in (replace or set()))
            self._after_save(conn, rt, record_id)
            return record_id, created

    def delete(self, type_name: str, key: str) -> None:
        rt = record_type(type_name)
        with self.store.transaction() as conn:
            record_id = self._require_id(conn, rt, key)
            if rt.table == "transaction":
                conn.execute('DELETE FROM transactionline WHERE "transaction"=?', (record_id,))
                conn.execute('DELETE FROM module_processed WHERE "transaction"=?', (record_id,))
                contract_scripts.forget_order(conn, record_id)
            if rt.table == "customrecord_contracts":
                children = conn.execute(
                    "SELECT COUNT(*) FROM customrecord_contract_item WHERE custrecord_ci_contract_id=?", (record_id,)
                ).fetchone()[0]
                if children:
                    raise NetSuiteError(
                        400, "THIS_RECORD_CANNOT_BE_DELETED_BECAUSE_IT_HAS_DEPENDENT_RECORDS",
                        "This record cannot be deleted because it has dependent records (contract items).",
                    )
            conn.execute(f'DELETE FROM "{rt.table}" WHERE id=?', (record_id,))

    def transform(self, source_type: str, key: str, target_type: str, body: Any, replace: set[str]) -> int:
        """``POST record/v1/estimate/<id>/!transform/salesOrder``: copy the estimate into a new order
        (``createdFrom`` keeps the link), then apply the body as overrides."""
        source = record_type(source_type)
        target = record_type(target_type)
        if source.discriminator == "SalesOrd" and target.discriminator == billing.INVOICE:
            with self.store.transaction() as conn:
                return billing.bill(self, conn, self._require_id(conn, source, key), target, body)
        if source.discriminator not in ("Estimate", "Opprtnty") or target.discriminator != "SalesOrd":
            raise NetSuiteError(
                400, "INVALID_REQUEST", f"Transformation from {source.name} to {target.name} is not supported."
            )
        with self.store.transaction() as conn:
            source_id = self._require_id(conn, source, key)
            head = dict(conn.execute('SELECT * FROM "transaction" WHERE id=?', (source_id,)).fetchone())
            if head["status"] in FINISHED_SOURCE_STATUSES[source.discriminator]:
                state = STATUS_NAMES.get((source.discriminator, head["status"]), head["status"])
                raise NetSuiteError(
                    400, "USER_ERROR",
                    f"The {source.name} {head['tranid']} is {state} and can no longer be transformed: it has "
                    "already been processed into an order, or it was closed.",
                )
            values, sublists = self._body_values(conn, target, body or {}, creating=False)
            copied = {
                k: v for k, v in head.items()
                if k not in ("id", "tranid", "type", "externalid", "status", "createddate", "lastmodifieddate",
                             "foreigntotal", "trandate", "createdfrom")
            }
            # The order keeps the estimate's currency (bridgehead_N1398658); a different one is refused.
            currencies.check_unchanged(head["currency"], values.get("currency"))
            copied.update(values)
            copied["createdfrom"] = source_id
            if copied.get("externalid"):
                self._check_external_id_free(conn, target, copied["externalid"], None)
            new_id = self._insert(conn, target, copied)
            item_sublist.copy_lines(conn, source_id, new_id)
            for name, lines in sublists.items():
                self.write_lines(conn, new_id, lines, replace=name in replace)
            self.refresh_total(conn, new_id)
            conn.execute(
                'UPDATE "transaction" SET status=?, lastmodifieddate=? WHERE id=?',
                (TRANSFORMED_SOURCE_STATUS[source.discriminator], self.store.now_text(), source_id),
            )
            self._after_save(conn, target, new_id)
            return new_id

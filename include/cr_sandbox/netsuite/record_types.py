"""The record types of the NetSuite stand-in's REST record service: their typed field specs, status
codes and transaction prefixes, and the conversion of field values between REST JSON and the tables."""

from __future__ import annotations

import datetime as dt
import math
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from cr_sandbox.netsuite import (
    approval,
    billing,
    currencies,
)
from cr_sandbox.netsuite.db import LISTS
from cr_sandbox.netsuite.errors import NetSuiteError, invalid_content, invalid_field_value

EXTERNAL_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_LINES_WEB_SERVICES = 5000
#: Largest line quantity accepted. Guessed: NetSuite documents no limit on ``quantity``; a bound keeps
#: quantity x rate exact to the cent in a double (the integration refuses the same, crsync.fields).
MAX_LINE_QUANTITY = 1_000_000_000


@dataclass(frozen=True)
class Field:
    """One REST field: its column and kind (text, int, float, date, datetime, bool, ref:<table>,
    list:<list name>, or id/links for read-only system fields)."""

    name: str
    column: str
    kind: str = "text"
    readonly: bool = False
    required: bool = False


def _f(name: str, kind: str = "text", column: str | None = None, **kw: Any) -> Field:
    return Field(name=name, column=column or name.lower(), kind=kind, **kw)


TRANSACTION_FIELDS = [
    _f("tranId"), _f("entity", "ref:customer", required=True), _f("tranDate", "date"), _f("startDate", "date"),
    _f("endDate", "date"), _f("currency", "ref:currency"), _f("memo"), _f("externalId"),
    _f("status", "status", readonly=True), _f("total", "float", column="foreigntotal", readonly=True),
    _f("createdFrom", "ref:transaction", readonly=True),
    _f("createdDate", "datetime", readonly=True), _f("lastModifiedDate", "datetime", readonly=True),
    _f("custbody_order_type", "list:customlist_order_type"),
    _f("custbody_contract_name", "ref:customrecord_contracts"),
    _f("custbody_swe_contract_start_date", "date"), _f("custbody_swe_contract_end_date", "date"),
    _f("custbody_tran_term_in_months", "float"),
    _f("custbody_swe_from_contract", "ref:customrecord_contracts"),
    _f("custbody_end_user", "ref:customer"),
    _f("custbody_bill_to_tier", "list:customlist_channel_tier"),
    _f("custbody_ship_to_tier", "list:customlist_channel_tier"),
    _f("custbody_reseller", "ref:customer"), _f("custbody_distributor", "ref:customer"),
    _f("subsidiary", "ref:subsidiary"),
]
#: Sales orders also carry their approval status (``orderStatus``, the ``status`` column) and their form.
SALES_ORDER_FIELDS = TRANSACTION_FIELDS + [
    _f("orderStatus", "orderstatus", column="status"), _f("customForm", "ref:customform"),
]
LINE_FIELDS = [
    _f("line", "int", column="id", readonly=True), _f("item", "ref:item", required=True),
    _f("quantity", "float"), _f("rate", "float"), _f("amount", "float"), _f("description", column="memo"),
    _f("custcol_swe_contract_start_date", "date"), _f("custcol_swe_contract_end_date", "date"),
    _f("custcol_swe_contract_item_term_months", "float"),
    _f("custcol_item_category", "list:customlist_item_category"), _f("custcol_list_rate", "float"),
    _f("price", "list:pricelevel"),
]
CUSTOMER_CURRENCY_FIELDS = [_f("currency", "ref:currency", required=True)]
CUSTOMER_FIELDS = [
    _f("entityId"), _f("companyName", required=True), _f("externalId"), _f("email"), _f("currency", "ref:currency"),
    _f("isInactive", "bool"), _f("custentity_channel_tier", "list:customlist_channel_tier"),
    _f("dateCreated", "datetime", readonly=True), _f("lastModifiedDate", "datetime", readonly=True),
    _f("subsidiary", "ref:subsidiary"),
]
ITEM_FIELDS = [
    _f("itemId", required=True), _f("displayName"), _f("description"), _f("externalId"),
    _f("custitem_item_category", "list:customlist_item_category"), _f("basePrice", "float"),
    _f("isInactive", "bool"), _f("itemType", column="itemtype", readonly=True),
    _f("createdDate", "datetime", readonly=True), _f("lastModifiedDate", "datetime", readonly=True),
]
CUSTOM_RECORD_COMMON = [
    _f("name"), _f("externalId"), _f("isInactive", "bool"),
    _f("created", "datetime", readonly=True), _f("lastModified", "datetime", readonly=True),
]
CONTRACT_FIELDS = CUSTOM_RECORD_COMMON + [
    _f("custrecord_contracts_start_date", "date"), _f("custrecord_contracts_end_date", "date"),
    _f("custrecord_contracts_bill_to_customer", "ref:customer"), _f("custrecord_contracts_end_user", "ref:customer"),
    _f("custrecord_swe_contract_type", "list:customlist_contract_type"),
    _f("custrecord_contract_status", "list:customlist_contract_status"),
    _f("custrecord_swe_contract_value", "float"), _f("custrecord_swe_annual_contract_val_net", "float"),
    _f("custrecord_swe_target_renewal_date", "date"), _f("custrecord_contract_renewal_tran", "ref:transaction"),
    _f("custrecord_swe_original_contract", "ref:customrecord_contracts"),
    _f("custrecord_contract_date_renewed", "date"), _f("custrecord_swe_contract_currency", "ref:currency"),
]
CONTRACT_ITEM_FIELDS = CUSTOM_RECORD_COMMON + [
    _f("custrecord_ci_contract_id", "ref:customrecord_contracts", required=True),
    _f("custrecord_ci_item", "ref:item"), _f("custrecord_ci_quantity", "float"),
    _f("custrecord_ci_startdate", "date"), _f("custrecord_ci_enddate", "date"), _f("custrecord_ci_term", "float"),
    _f("custrecord_ci_renew_with", "ref:item"), _f("custrecord_ci_bill_to_customer", "ref:customer"),
    _f("custrecord_ci_original_transaction", "ref:transaction"), _f("custrecord_ci_original_so_lineno", "int"),
    _f("custrecord_ci_original_list_rate", "float"),
    _f("custrecord_ci_status", "list:customlist_contract_status"), _f("custrecord_ci_state", "list:customlist_ci_state"),
]


@dataclass(frozen=True)
class RecordType:
    """A REST record type backed by a table (``discriminator`` = value of its type column)."""

    name: str
    table: str
    fields: list[Field]
    type_column: str | None = None
    discriminator: str | None = None
    sublists: dict[str, list[Field]] = field(default_factory=dict)

    def field_map(self) -> dict[str, Field]:
        return {f.name.lower(): f for f in self.fields}


RECORD_TYPES: dict[str, RecordType] = {
    rt.name.lower(): rt
    for rt in (
        RecordType("customer", "customer", CUSTOMER_FIELDS, sublists={currencies.SUBLIST: CUSTOMER_CURRENCY_FIELDS}),
        RecordType("nonInventorySaleItem", "item", ITEM_FIELDS, "itemtype", "NonInvtPart"),
        RecordType("noninventoryitem", "item", ITEM_FIELDS, "itemtype", "NonInvtPart"),
        RecordType("inventoryItem", "item", ITEM_FIELDS, "itemtype", "InvtPart"),
        RecordType("serviceSaleItem", "item", ITEM_FIELDS, "itemtype", "Service"),
        RecordType("salesOrder", "transaction", SALES_ORDER_FIELDS, "type", "SalesOrd", {"item": LINE_FIELDS}),
        RecordType("invoice", "transaction", TRANSACTION_FIELDS, "type", billing.INVOICE, {"item": LINE_FIELDS}),
        RecordType("estimate", "transaction", TRANSACTION_FIELDS, "type", "Estimate", {"item": LINE_FIELDS}),
        RecordType("opportunity", "transaction", TRANSACTION_FIELDS, "type", "Opprtnty", {"item": LINE_FIELDS}),
        # A contract downsell (cr_sandbox.netsuite.downsell); orderStatus A or B as the request sets it.
        RecordType("returnAuthorization", "transaction", TRANSACTION_FIELDS + [_f("orderStatus", column="status")],
                   "type", "RtnAuth", {"item": LINE_FIELDS}),
        RecordType("customrecord_contracts", "customrecord_contracts", CONTRACT_FIELDS),
        RecordType("customrecord_contract_item", "customrecord_contract_item", CONTRACT_ITEM_FIELDS),
    )
}
TRANSACTION_PREFIX = {"SalesOrd": "SO", "Estimate": "EST", "Opprtnty": "OPP", "RtnAuth": "RMA", billing.INVOICE: "INV"}
DEFAULT_STATUS = {"SalesOrd": "B", "Estimate": "A", "Opprtnty": "A", "RtnAuth": "A", billing.INVOICE: "A"}
STATUS_NAMES = {
    ("SalesOrd", "A"): "Pending Approval", ("SalesOrd", "B"): "Pending Fulfillment", ("SalesOrd", "G"): "Billed",
    ("SalesOrd", "F"): "Pending Billing", ("SalesOrd", "H"): "Closed", (billing.INVOICE, "A"): "Open",
    # SuiteAnswers 23874 (Transaction Statuses for SuiteScript Search Filters).
    ("Estimate", "A"): "Open", ("Estimate", "B"): "Processed", ("Estimate", "C"): "Closed",
    ("Estimate", "V"): "Voided", ("Estimate", "X"): "Expired",
    ("Opprtnty", "A"): "In Progress", ("Opprtnty", "B"): "Issued Estimate", ("Opprtnty", "C"): "Closed - Won",
    ("Opprtnty", "D"): "Closed - Lost",
    ("RtnAuth", "A"): "Pending Approval", ("RtnAuth", "B"): "Pending Receipt",
}
#: What a transform into a sales order leaves its source as: an estimate Processed (B), an opportunity
#: Closed - Won (C) (SuiteAnswers 23874 letters).
TRANSFORMED_SOURCE_STATUS = {"Estimate": "B", "Opprtnty": "C"}
#: Source statuses a transform refuses: processed, closed, voided or expired estimates; won or lost
#: opportunities.
FINISHED_SOURCE_STATUSES = {"Estimate": frozenset("BCVX"), "Opprtnty": frozenset("CD")}
REF_LABEL = {
    "customer": "companyname", "item": "itemid", "currency": "name", "transaction": "tranid",
    "customrecord_contracts": "name", "customrecord_contract_item": "name", "customform": "name",
    "subsidiary": "name",
}
TYPE_OF_TRANSACTION = {
    "SalesOrd": "salesOrder", "Estimate": "estimate", "Opprtnty": "opportunity", "RtnAuth": "returnAuthorization",
    billing.INVOICE: "invoice",
}


def record_type(name: str) -> RecordType:
    rt = RECORD_TYPES.get(name.lower())
    if rt is None:
        raise NetSuiteError(
            404, "NONEXISTENT_ID",
            f"Record type '{name}' does not exist or is not supported by REST web services.",
        )
    return rt


# -- value conversion ---------------------------------------------------------------------------
def _parse_date(value: Any, name: str, path: str) -> str:
    if not isinstance(value, str):
        raise invalid_field_value(name, value, path)
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError as exc:
        raise invalid_field_value(name, value, path) from exc


def convert_in(conn: sqlite3.Connection, spec: Field, value: Any, path: str) -> Any:
    """Validate a JSON value for ``spec`` and return what is stored in its column."""
    name = spec.name
    if value is None:
        return None
    kind = spec.kind
    if kind == "text":
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise invalid_field_value(name, value, path)
        return str(value)
    if kind in ("int", "float"):
        # JSON has no NaN or Infinity; NetSuite's parser refuses them (the stand-in's json.loads would not).
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise invalid_field_value(name, value, path)
        if name == "quantity" and abs(value) > MAX_LINE_QUANTITY:
            raise invalid_field_value(name, value, path)
        return int(value) if kind == "int" else float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise invalid_field_value(name, value, path)
        return "T" if value else "F"
    if kind == "date":
        return _parse_date(value, name, path)
    if kind == "orderstatus":
        return approval.convert_order_status(value, name, path)
    if kind.startswith(("ref:", "list:")):
        if not isinstance(value, dict) or "id" not in value:
            raise invalid_content(
                f"Invalid value for field {name}: a reference must be an object such as {{\"id\": \"1\"}}.",
                path,
            )
        raw = value["id"]
        try:
            ref_id = int(str(raw))
        except ValueError as exc:
            raise invalid_field_value(name, raw, f"{path}.id") from exc
        if kind.startswith("list:"):
            if ref_id not in LISTS[kind[5:]]:
                raise invalid_field_value(name, raw, path)
            return ref_id
        table = kind[4:]
        if conn.execute(f'SELECT 1 FROM "{table}" WHERE id=?', (ref_id,)).fetchone() is None:
            raise invalid_field_value(name, raw, path)
        return ref_id
    raise invalid_field_value(name, value, path)


def convert_out(conn: sqlite3.Connection, spec: Field, value: Any, base_url: str, row: sqlite3.Row) -> Any:
    kind = spec.kind
    if kind == "bool":
        return value == "T"
    if kind == "datetime":
        return str(value).replace(" ", "T") + "Z"
    if kind in ("status", "orderstatus"):
        return {"id": value, "refName": STATUS_NAMES.get((row["type"], value), value)}
    if kind.startswith("list:"):
        return {"id": str(value), "refName": LISTS[kind[5:]].get(int(value), str(value))}
    if kind.startswith("ref:"):
        table = kind[4:]
        label_row = conn.execute(
            f'SELECT {REF_LABEL[table]}{", type" if table == "transaction" else ""} FROM "{table}" WHERE id=?',
            (value,),
        ).fetchone()
        ref: dict[str, Any] = {"id": str(value)}
        if table not in ("currency", "customform"):
            ref_type = table
            if table == "transaction" and label_row is not None:
                ref_type = TYPE_OF_TRANSACTION.get(label_row[1], "transaction")
            elif table == "item":
                ref_type = "noninventoryitem"
            ref["links"] = [{"rel": "self", "href": f"{base_url}/services/rest/record/v1/{ref_type}/{value}"}]
        if label_row is not None and label_row[0] is not None:
            ref["refName"] = str(label_row[0])
        return ref
    if kind == "float" and isinstance(value, float) and value.is_integer():
        return value
    return value

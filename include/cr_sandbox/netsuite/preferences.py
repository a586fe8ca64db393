"""The account preferences that decide a sales order's lifecycle, each at Oracle's documented default.

| preference (key) | Oracle's name and page | default |
|---|---|---|
| ``default_sales_order_status`` | Accounting Preferences > Order Management > "Default Sales Order Status" (section_N1388149); a new order's ``orderStatus`` is ``A`` unless the request sets it (section_159795516182) | ``A`` Pending Approval |
| ``preferred_sales_order_form`` | the preferred sales order form ("Setting Preferred Forms for Contract Renewals"); NetSuite's own standard form until an administrator changes it | the standard form |
| ``sales_order_status_to_create_contract`` | Contract Renewals Preferences > "Sales Order Status to Create Contract" (bridgehead_3722173055) | ``A`` Sales Order: Pending Approval (contract on save) |
| ``transaction_status_to_process`` | Contract Renewals Preferences > "Transaction Status to Process" (procedure_N1321905); contract items once the order is fully billed by default (section_N1325604) | ``G`` Billed |

They are read and set through ``GET/POST /__sandbox/preferences`` next to the module's other preferences;
values are sales order status letters (``A`` Pending Approval, ``B`` Pending Fulfillment, ``G`` Billed) or
a form id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cr_sandbox.netsuite.db import Store

PENDING_APPROVAL, PENDING_FULFILLMENT, BILLED = "A", "B", "G"
#: Custom form ids the stand-in's account has (guessed ids: form ids are per account).
STANDARD_SALES_ORDER_FORM = 68
CONTRACT_RENEWALS_FORM = 129
CONTRACT_RENEWALS_FORM_COPY = 130

DEFAULTS: dict[str, Any] = {
    "default_sales_order_status": PENDING_APPROVAL,
    "preferred_sales_order_form": STANDARD_SALES_ORDER_FORM,
    "sales_order_status_to_create_contract": PENDING_APPROVAL,
    "transaction_status_to_process": BILLED,
}
_ALLOWED: dict[str, tuple[Any, ...]] = {
    "default_sales_order_status": (PENDING_APPROVAL, PENDING_FULFILLMENT),
    "preferred_sales_order_form": (STANDARD_SALES_ORDER_FORM, CONTRACT_RENEWALS_FORM, CONTRACT_RENEWALS_FORM_COPY),
    "sales_order_status_to_create_contract": (PENDING_APPROVAL, PENDING_FULFILLMENT),
    "transaction_status_to_process": (PENDING_FULFILLMENT, BILLED),
}


def read(store: Store) -> dict[str, Any]:
    """The lifecycle preferences now (defaults for the ones never set)."""
    out: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        raw = store.get_meta(f"pref.{key}")
        out[key] = default if raw is None else type(default)(raw)
    return out


def take(store: Store, values: dict[str, Any]) -> dict[str, Any]:
    """Set the lifecycle preferences found in ``values``; return the other keys (the module's own).

    :raises ValueError: a value Oracle's preference does not offer (the control answers 400).
    """
    rest = {}
    for key, value in values.items():
        if key not in DEFAULTS:
            rest[key] = value
            continue
        converted = type(DEFAULTS[key])(value)
        if converted not in _ALLOWED[key]:
            raise ValueError(f"{key} must be one of {list(_ALLOWED[key])}")
        store.set_meta(f"pref.{key}", converted)
    return rest

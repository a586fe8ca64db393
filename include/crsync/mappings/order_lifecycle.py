"""The sales order fields that decide its lifecycle in NetSuite: the form, the approval status, the
Contract Renewals form's required fields (Oracle Help section_4539453728).

Kept beside :mod:`crsync.mappings.opportunity_to_sales_order`, which adds them to every sales order body
(a downsell's return authorization takes the required fields but not the form or approval status).
"""

from __future__ import annotations

from typing import Any

from crsync import fields as f
from crsync.settings import IntegrationSettings, NewOrderStatus

_B = f.NsBody
#: ``orderStatus`` of an approved sales order (Pending Fulfillment).
APPROVED_ORDER_STATUS = "B"


def lifecycle_fields(settings: IntegrationSettings) -> dict[str, Any]:
    """``customForm`` (when set) and ``orderStatus`` B (when orders are created approved).

    Pending approval sends no ``orderStatus``: a new order takes the account's default status, and a
    re-sent order keeps the approval a NetSuite user gave it (sending ``A`` would reset it).
    """
    out: dict[str, Any] = {}
    if settings.netsuite.sales_order_form_id is not None:
        out[_B.CUSTOM_FORM] = {"id": str(settings.netsuite.sales_order_form_id)}
    if settings.netsuite.new_order_status is NewOrderStatus.APPROVED:
        out[_B.ORDER_STATUS] = APPROVED_ORDER_STATUS
    return out


def as_return_authorization(body: dict[str, Any]) -> dict[str, Any]:
    """A downsell's body without what only a sales order takes: its form and its approval status.

    ``customForm`` names a *sales order* form (return authorizations have forms of their own, Oracle Help
    "Return Authorization Import", section_N425745), and ``new_order_status`` is the approval of new sales
    orders (section_159795516182): a return is approved by a NetSuite user, after which the module offsets
    the contract (article_1230053124). The Contract Renewals fields (order type 13, the contract, the end
    user, the dates of the part returned) stay.
    """
    for name in (_B.CUSTOM_FORM, _B.ORDER_STATUS):
        body.pop(name, None)
    return body


def complete_required(body: dict[str, Any], close_date: str | None) -> None:
    """The Contract Renewals form's required ``startdate`` when a body lacks it.

    ``startdate`` is the Opportunity's close date when no line carries a term (e.g. perpetual licences
    only); NetSuite then computes ``enddate`` from the 12-month default term. The other required field the
    flow fills, ``custbody_end_user``, has its own setting and home (:mod:`crsync.mappings.order_parties`).
    """
    if _B.START_DATE not in body and close_date:
        body[_B.START_DATE] = close_date

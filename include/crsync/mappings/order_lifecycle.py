"""The sales order fields that decide its lifecycle in NetSuite: the form, the approval status, the
Contract Renewals form's required fields (Oracle Help section_4539453728).

Kept beside :mod:`crsync.mappings.opportunity_to_sales_order`, which adds them to every order body.
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


def complete_required(body: dict[str, Any], close_date: str | None) -> None:
    """The Contract Renewals form's required fields a body may lack.

    - ``custbody_end_user``: the bill-to customer (``entity``) when the flow has no other end user: the
      module's own default when the Bill To Tier is End User.
    - ``startdate``: the Opportunity's close date when no line carries a term (e.g. perpetual licences
      only); NetSuite then computes ``enddate`` from the 12-month default term.
    """
    body.setdefault(_B.END_USER, body[_B.ENTITY])
    if _B.START_DATE not in body and close_date:
        body[_B.START_DATE] = close_date

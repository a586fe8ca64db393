"""The default data set both stand-ins seed from, so their ids agree.

NetSuite internal ids are fixed here; Salesforce records carry them in ``NetSuite_Id__c``.
The generator in each stand-in extends this catalog deterministically when asked for more rows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogCustomer:
    ns_id: int
    name: str
    currency: str = "USD"
    channel_tier: str = "End User"  # Salesforce Account.Channel_Tier__c; NetSuite custbody_bill_to_tier 1


@dataclass(frozen=True)
class CatalogItem:
    ns_id: int
    itemid: str  # NetSuite item name/number; Salesforce Product2.ProductCode
    display_name: str
    category: int  # custitem_item_category (1..12); categories 2-6 renew
    rate: float  # list price, also the Salesforce standard PricebookEntry.UnitPrice
    ns_type: str = "noninventoryitem"


CUSTOMERS: tuple[CatalogCustomer, ...] = (
    CatalogCustomer(1001, "Acme Analytics Inc."),
    CatalogCustomer(1002, "Globex Software Ltd."),
    CatalogCustomer(1003, "Initech Systems"),
    CatalogCustomer(1004, "Umbrella Data Corp."),
    CatalogCustomer(1005, "Stark Cloud Services"),
    CatalogCustomer(1006, "Wayne Enterprise IT"),
    CatalogCustomer(1007, "Tyrell Compute"),
    CatalogCustomer(1008, "Cyberdyne Licensing"),
)

ITEMS: tuple[CatalogItem, ...] = (
    CatalogItem(501, "LIC-TERM-PRO", "Pro Edition Term License", 2, 1200.0),
    CatalogItem(502, "LIC-PERP-ENT", "Enterprise Perpetual License", 1, 25000.0),
    CatalogItem(503, "MAINT-NEW", "Maintenance (new)", 3, 4500.0),
    CatalogItem(504, "MAINT-REN", "Maintenance (renewal)", 4, 4500.0),
    CatalogItem(505, "SUP-GOLD", "Gold Support", 5, 3000.0),
    CatalogItem(506, "SUP-GOLD-REN", "Gold Support (renewal)", 6, 3000.0),
    CatalogItem(507, "SVC-ONBOARD", "Onboarding Services", 7, 8000.0),
    CatalogItem(508, "TRAIN-ADMIN", "Admin Training", 8, 1500.0),
    CatalogItem(509, "LIC-TERM-SEAT", "Additional Seat (term)", 2, 300.0),
)

# Contract Renewals list values chosen by the sandbox (domain.md marks the numeric ids unconfirmed).
# The integration reads them from its settings file, never from here.
CONTRACT_STATUS = {
    1: "Pending",
    2: "Active",
    3: "Renewal Generated",
    4: "Renewal Processed",
    5: "Renewal Rejected",
    6: "Canceled",
    7: "Closed",
}
CONTRACT_ITEM_STATE = {1: "Future", 2: "Active", 3: "Expired"}
ORDER_TYPE = {1: "Contract - New", 2: "Contract - Renewal", 3: "Contract - Upsell", 6: "Contract - Renewal-Manual", 13: "Contract - Downsell"}
RENEWABLE_CATEGORIES = frozenset({2, 3, 4, 5, 6})

"""Settings of who an order is for in NetSuite: its subsidiary (OneWorld) and its end user.

Imported by :mod:`crsync.settings` (``netsuite.subsidiary`` and ``netsuite.end_user``); kept apart so that
module stays small. docs/settings.md documents both sections. The currency map is
``netsuite.lists.currency`` (NetSuite currency id -> ISO code), validated in :mod:`crsync.settings`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_SF_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*(?:__c)?$")

Loc = tuple[str | int, ...]


def _account_field(value: str) -> str:
    if not _SF_FIELD.fullmatch(value):
        raise ValueError(f"{value!r} is not a Salesforce field API name (e.g. NetSuite_Subsidiary_Id__c)")
    return value


def _lookup_field(value: str) -> str:
    if not _SF_FIELD.fullmatch(value) or not (value.endswith("__c") or value.endswith("Id")):
        raise ValueError(
            f"{value!r} is not an Account lookup field API name; name the lookup itself (e.g. End_User__c), "
            "not its relationship (End_User__r)"
        )
    return value


def relationship_name(lookup: str) -> str:
    """The relationship a lookup field is read through in SOQL (``End_User__c`` -> ``End_User__r``,
    ``ParentId`` -> ``Parent``)."""
    return lookup[:-3] + "__r" if lookup.endswith("__c") else lookup[:-2]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubsidiarySettings(_Strict):
    """``netsuite.subsidiary``: the subsidiary of customers the flow creates and of orders (OneWorld)."""

    #: Whether the NetSuite account is OneWorld: customers and orders then carry a subsidiary.
    oneworld: bool = True
    #: Salesforce Account field holding the NetSuite subsidiary internal id (per Account); null: none.
    account_field: Annotated[str, AfterValidator(_account_field)] | None = "NetSuite_Subsidiary_Id__c"
    #: Subsidiary internal id used when the Account field is empty; null: such Accounts are refused.
    default_id: Annotated[int, Field(gt=0)] | None = 1

    @property
    def account_path(self) -> str | None:
        """The SOQL path of the Account field from an Opportunity (``Account.<field>``)."""
        return f"Account.{self.account_field}" if self.oneworld and self.account_field else None


class EndUserSource(StrEnum):
    """Where an order's end user (``custbody_end_user``) comes from."""

    #: The customer billed, i.e. the Opportunity's Account (a direct sale).
    BILL_TO = "bill_to"
    #: An Account lookup on the Opportunity's Account (``field``), e.g. a reseller's end customer.
    ACCOUNT_FIELD = "account_field"
    #: An Account lookup on the Opportunity (``field``), e.g. End_User__c.
    OPPORTUNITY_FIELD = "opportunity_field"


class EndUserSettings(_Strict):
    """``netsuite.end_user``: the end user sent on every order (``custbody_end_user``)."""

    source: EndUserSource = EndUserSource.BILL_TO
    #: The Account lookup field for ``account_field`` / ``opportunity_field``; an empty lookup falls back to
    #: the bill-to.
    field: Annotated[str, AfterValidator(_lookup_field)] | None = None

    @property
    def lookup_path(self) -> str | None:
        """SOQL path, from an Opportunity, of the end-user lookup's Account id; None for ``bill_to``."""
        if self.field is None or self.source == EndUserSource.BILL_TO:
            return None
        return self.field if self.source == EndUserSource.OPPORTUNITY_FIELD else f"Account.{self.field}"

    @property
    def netsuite_id_path(self) -> str | None:
        """SOQL path, from an Opportunity, of the end user's ``NetSuite_Id__c``; None for ``bill_to``."""
        if self.field is None or self.source == EndUserSource.BILL_TO:
            return None
        relationship = relationship_name(self.field) + ".NetSuite_Id__c"
        return relationship if self.source == EndUserSource.OPPORTUNITY_FIELD else f"Account.{relationship}"


def party_source_paths(netsuite: Any) -> list[str]:
    """Opportunity field paths the hourly query selects for ``netsuite.subsidiary`` and ``netsuite.end_user``."""
    paths = [netsuite.subsidiary.account_path, netsuite.end_user.lookup_path, netsuite.end_user.netsuite_id_path]
    return [p for p in paths if p]


def party_checks(netsuite: Any) -> Iterator[tuple[Loc, str]]:
    """Cross-checks of ``netsuite.subsidiary`` and ``netsuite.end_user`` (location, reason with the fix)."""
    subsidiary: SubsidiarySettings = netsuite.subsidiary
    if not subsidiary.oneworld:
        for name in ("account_field", "default_id"):
            if getattr(subsidiary, name) is not None:
                yield (
                    ("netsuite", "subsidiary", name),
                    "only a OneWorld account has subsidiaries; set it to null, or set netsuite.subsidiary.oneworld "
                    "to true if your NetSuite account is OneWorld",
                )
    end_user: EndUserSettings = netsuite.end_user
    if end_user.source == EndUserSource.BILL_TO and end_user.field is not None:
        yield (
            ("netsuite", "end_user", "field"),
            "the end user is the bill-to (source: bill_to), so no lookup field is read; set it to null, or set "
            "source to account_field or opportunity_field",
        )
    if end_user.source != EndUserSource.BILL_TO and end_user.field is None:
        yield (
            ("netsuite", "end_user", "field"),
            f"source {end_user.source.value} reads the end user from an Account lookup field; name it here "
            "(e.g. End_User__c), or set source to bill_to",
        )

"""The stand-in's schema: standard objects and fields defined here, custom ones loaded from the DX source.

The custom fields, objects and picklists come from ``include/salesforce/force-app`` (the same metadata an
admin deploys to a real org), so the stand-in and the deployable schema cannot drift. Field and object
names are case-insensitive, as in Salesforce; the canonical spelling is kept for replies.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from cr_sandbox.salesforce.errors import ApiError

DX_SOURCE_DIR = Path(__file__).resolve().parents[2] / "salesforce" / "force-app" / "main" / "default"
_MD = "{http://soap.sforce.com/2006/04/metadata}"

CUSTOM_OBJECT_PREFIXES = ("a0X", "a0Y", "a0Z", "a10", "a11")
"""Key prefixes handed to custom objects in load order (``Contract_Item__c`` gets ``a0X``)."""

_DX_TYPES = {
    "Text": "string",
    "LongTextArea": "textarea",
    "TextArea": "textarea",
    "Picklist": "picklist",
    "Lookup": "reference",
    "MasterDetail": "reference",
    "Date": "date",
    "DateTime": "datetime",
    "Number": "double",
    "Currency": "currency",
    "Percent": "percent",
    "Checkbox": "boolean",
    "Email": "email",
    "Phone": "phone",
    "Url": "url",
}
_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "string": "xsd:string",
    "textarea": "xsd:string",
    "picklist": "xsd:string",
    "email": "xsd:string",
    "phone": "xsd:string",
    "url": "xsd:string",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "boolean": "xsd:boolean",
}
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
TEXT_TYPES = frozenset({"string", "textarea", "picklist", "email", "phone", "url"})


@dataclass
class FieldDef:
    """One field as ``describe`` reports it, plus what the write path needs."""

    name: str
    label: str
    type: str
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    default_value: Any = None
    external_id: bool = False
    unique: bool = False
    picklist_values: tuple[str, ...] = ()
    restricted_picklist: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    child_relationship_name: str | None = None
    cascade_delete: bool = False
    custom: bool = False
    calculated: bool = False
    auto_number: bool = False
    name_field: bool = False

    @property
    def required_on_create(self) -> bool:
        """Salesforce's "required": not nillable, createable, and not filled in by the platform."""
        return not self.nillable and self.createable and not self.defaulted_on_create and self.type != "boolean"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "byteLength": self.length * 3,
            "precision": self.precision,
            "scale": self.scale,
            "digits": 9 if self.type == "int" else 0,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.defaulted_on_create,
            "defaultValue": self.default_value,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.external_id or self.type == "id" or self.name_field,
            "nameField": self.name_field,
            "custom": self.custom,
            "calculated": self.calculated,
            "autoNumber": self.auto_number,
            "filterable": True,
            "sortable": self.type != "textarea",
            "groupable": self.type not in ("textarea", "double", "currency", "percent"),
            "picklistValues": [
                {"active": True, "defaultValue": value == self.default_value, "label": value, "validFor": None,
                 "value": value}
                for value in self.picklist_values
            ],
            "restrictedPicklist": self.restricted_picklist,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "cascadeDelete": self.cascade_delete,
        }


@dataclass
class ChildRelationship:
    relationship_name: str
    child_object: str
    field: str
    cascade_delete: bool


@dataclass
class ObjectDef:
    """One sObject type: its fields (case-insensitive), parent relationships and child relationships."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    custom: bool = False
    fields: dict[str, FieldDef] = field(default_factory=dict)
    children: dict[str, ChildRelationship] = field(default_factory=dict)  # lower-case name -> relationship
    _by_lower: dict[str, FieldDef] = field(default_factory=dict)
    _by_relationship: dict[str, FieldDef] = field(default_factory=dict)

    def add(self, field_def: FieldDef) -> None:
        self.fields[field_def.name] = field_def
        self._by_lower[field_def.name.lower()] = field_def
        if field_def.relationship_name:
            self._by_relationship[field_def.relationship_name.lower()] = field_def

    def field(self, name: str) -> FieldDef | None:
        """The field called ``name`` (any case), or ``None``."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field behind parent relationship ``name`` (``Account``, ``Contract__r``)."""
        return self._by_relationship.get(name.lower())

    def child(self, name: str) -> ChildRelationship | None:
        return self.children.get(name.lower())

    @property
    def external_id_fields(self) -> list[FieldDef]:
        return [f for f in self.fields.values() if f.external_id]

    def describe(self, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            **self.describe_global(version),
            "fields": [f.describe() for f in self.fields.values()],
            "childRelationships": [
                {"childSObject": rel.child_object, "field": rel.field, "relationshipName": rel.relationship_name,
                 "cascadeDelete": rel.cascade_delete, "deprecatedAndHidden": False, "restrictedDelete": False}
                for rel in self.children.values()
            ],
            "recordTypeInfos": [],
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }

    def describe_global(self, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": self.custom,
            "createable": True,
            "updateable": True,
            "deletable": True,
            "queryable": True,
            "retrieveable": True,
            "searchable": True,
            "layoutable": True,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }


class Schema:
    """All objects the stand-in serves."""

    def __init__(self, objects: list[ObjectDef]) -> None:
        self.objects: dict[str, ObjectDef] = {o.name: o for o in objects}
        self._by_lower = {o.name.lower(): o for o in objects}
        self._by_prefix = {o.key_prefix: o for o in objects}
        self._link_children()

    def get(self, name: str) -> ObjectDef | None:
        return self._by_lower.get(name.lower())

    def require(self, name: str) -> ObjectDef:
        """The object ``name`` or a 404 ``NOT_FOUND`` as the sObject resources answer."""
        obj = self.get(name)
        if obj is None:
            raise ApiError(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{name}'")
        return obj

    def by_prefix(self, record_id: str) -> ObjectDef | None:
        return self._by_prefix.get(record_id[:3])

    def _link_children(self) -> None:
        for obj in self.objects.values():
            for f in obj.fields.values():
                if f.type != "reference" or not f.child_relationship_name:
                    continue
                for target in f.reference_to:
                    parent = self.objects.get(target)
                    if parent is not None:
                        parent.children[f.child_relationship_name.lower()] = ChildRelationship(
                            f.child_relationship_name, obj.name, f.name, f.cascade_delete
                        )


# --------------------------------------------------------------------------- standard objects


def _text(name: str, label: str | None = None, length: int = 255, **kw: Any) -> FieldDef:
    return FieldDef(name, label or name, "string", length=length, **kw)


def _ref(name: str, target: str, relationship: str, child: str | None, label: str | None = None,
         **kw: Any) -> FieldDef:
    return FieldDef(name, label or relationship, "reference", length=18, reference_to=(target,),
                    relationship_name=relationship, child_relationship_name=child, **kw)


def _readonly(f: FieldDef) -> FieldDef:
    f.createable = False
    f.updateable = False
    f.calculated = True
    return f


def _required(f: FieldDef) -> FieldDef:
    f.nillable = False
    return f


def _system_fields(obj: ObjectDef, owned: bool) -> None:
    obj.add(FieldDef("Id", f"{obj.label} ID", "id", length=18, nillable=False, createable=False,
                     updateable=False, defaulted_on_create=True))
    if owned:
        obj.add(_ref("OwnerId", "User", "Owner", None, "Owner ID", nillable=False, defaulted_on_create=True))


def _audit_fields(obj: ObjectDef) -> None:
    obj.add(FieldDef("IsDeleted", "Deleted", "boolean", nillable=False, createable=False, updateable=False,
                     defaulted_on_create=True, default_value=False))
    for name, label in (("CreatedById", "Created By ID"), ("LastModifiedById", "Last Modified By ID")):
        obj.add(_ref(name, "User", name[:-2], None, label, nillable=False, createable=False, updateable=False,
                     defaulted_on_create=True))
    for name, label in (("CreatedDate", "Created Date"), ("LastModifiedDate", "Last Modified Date"),
                        ("SystemModstamp", "System Modstamp")):
        obj.add(FieldDef(name, label, "datetime", nillable=False, createable=False, updateable=False,
                         defaulted_on_create=True))


def _currency(name: str, label: str | None = None, **kw: Any) -> FieldDef:
    return FieldDef(name, label or name, "currency", precision=18, scale=2, **kw)


def _picklist(name: str, values: tuple[str, ...], label: str | None = None, **kw: Any) -> FieldDef:
    return FieldDef(name, label or name, "picklist", length=255, picklist_values=values, **kw)


#: Active currencies of the stand-in org (multi-currency on unless ``SANDBOX_SF_MULTI_CURRENCY=0``); the
#: corporate currency first. JPY is active in Salesforce but deliberately unknown to the NetSuite stand-in.
ORG_CURRENCIES = ("USD", "EUR", "GBP", "CAD", "JPY")


def multi_currency_enabled() -> bool:
    """Whether the stand-in org has multiple currencies enabled (env ``SANDBOX_SF_MULTI_CURRENCY``, default on)."""
    return os.environ.get("SANDBOX_SF_MULTI_CURRENCY", "1").strip().lower() not in ("0", "false", "no")


def _currency_iso_code(**kw: Any) -> FieldDef:
    """``CurrencyIsoCode``: in a multi-currency org every currency-bearing record has it, a restricted picklist
    of the active currencies defaulting to the corporate currency (Salesforce Object Reference, "Currency
    fields" / CurrencyType)."""
    return _picklist("CurrencyIsoCode", ORG_CURRENCIES, "Currency ISO Code", restricted_picklist=True,
                     default_value=ORG_CURRENCIES[0], defaulted_on_create=True, **kw)


STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
          "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost")


def standard_objects() -> list[ObjectDef]:
    """The standard objects and fields the flows use (a subset of a real org's)."""
    objects = []

    user = ObjectDef("User", "User", "Users", "005")
    _system_fields(user, owned=False)
    user.add(_text("FirstName", "First Name", 40))
    user.add(_required(_text("LastName", "Last Name", 80)))
    user.add(_readonly(_text("Name", "Full Name", 121, name_field=True)))
    user.add(_required(_text("Username", "Username", 80, unique=True)))
    user.add(_required(FieldDef("Email", "Email", "email", length=128)))
    user.add(_required(_text("Alias", "Alias", 8)))
    user.add(FieldDef("IsActive", "Active", "boolean", nillable=False, defaulted_on_create=True, default_value=True))
    objects.append(user)

    account = ObjectDef("Account", "Account", "Accounts", "001")
    _system_fields(account, owned=True)
    account.add(_required(_text("Name", "Account Name", 255, name_field=True)))
    account.add(_text("AccountNumber", "Account Number", 40))
    account.add(_picklist("Type", ("Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller",
                                   "Installation Partner", "Technology Partner", "Other"), "Account Type"))
    account.add(_picklist("Industry", ("Technology", "Finance", "Manufacturing", "Other")))
    for part in ("Street", "City", "State", "PostalCode", "Country"):
        account.add(_text(f"Billing{part}", f"Billing {part}", 255 if part == "Street" else 80))
    account.add(FieldDef("Phone", "Account Phone", "phone", length=40))
    account.add(FieldDef("Website", "Website", "url", length=255))
    account.add(FieldDef("Description", "Account Description", "textarea", length=32000))
    account.add(_ref("ParentId", "Account", "Parent", "ChildAccounts", "Parent Account ID"))
    if multi_currency_enabled():
        account.add(_currency_iso_code())
    objects.append(account)

    product = ObjectDef("Product2", "Product", "Products", "01t")
    _system_fields(product, owned=False)
    product.add(_required(_text("Name", "Product Name", 255, name_field=True)))
    product.add(_text("ProductCode", "Product Code", 255))
    product.add(FieldDef("Description", "Product Description", "textarea", length=4000))
    product.add(FieldDef("IsActive", "Active", "boolean", nillable=False, defaulted_on_create=True, default_value=False))
    product.add(_picklist("Family", ("None", "Software", "Services", "Support"), "Product Family"))
    objects.append(product)

    pricebook = ObjectDef("Pricebook2", "Price Book", "Price Books", "01s")
    _system_fields(pricebook, owned=False)
    pricebook.add(_required(_text("Name", "Price Book Name", 255, name_field=True)))
    pricebook.add(FieldDef("IsActive", "Active", "boolean", nillable=False, defaulted_on_create=True, default_value=False))
    pricebook.add(_readonly(FieldDef("IsStandard", "Is Standard Price Book", "boolean", nillable=False,
                                     defaulted_on_create=True, default_value=False)))
    pricebook.add(_text("Description", "Description", 255))
    objects.append(pricebook)

    entry = ObjectDef("PricebookEntry", "Price Book Entry", "Price Book Entries", "01u")
    _system_fields(entry, owned=False)
    entry.add(_readonly(_text("Name", "Product Name", 255, name_field=True)))
    entry.add(_required(_ref("Pricebook2Id", "Pricebook2", "Pricebook2", "PricebookEntries", "Price Book ID",
                             updateable=False)))
    entry.add(_required(_ref("Product2Id", "Product2", "Product2", "PricebookEntries", "Product ID", updateable=False)))
    entry.add(_required(_currency("UnitPrice", "List Price")))
    entry.add(FieldDef("IsActive", "Active", "boolean", nillable=False, defaulted_on_create=True, default_value=False))
    entry.add(FieldDef("UseStandardPrice", "Use Standard Price", "boolean", nillable=False, defaulted_on_create=True,
                       default_value=False))
    entry.add(_readonly(_text("ProductCode", "Product Code", 255)))
    if multi_currency_enabled():
        entry.add(_currency_iso_code(updateable=False))
    objects.append(entry)

    contract = ObjectDef("Contract", "Contract", "Contracts", "800")
    _system_fields(contract, owned=True)
    contract.add(_required(_ref("AccountId", "Account", "Account", "Contracts", "Account ID")))
    contract.add(_text("Name", "Contract Name", 80, name_field=False))
    contract.add(FieldDef("StartDate", "Contract Start Date", "date"))
    contract.add(FieldDef("ContractTerm", "Contract Term (months)", "int", precision=4))
    contract.add(_readonly(FieldDef("EndDate", "Contract End Date", "date")))
    contract.add(_required(_picklist("Status", ("Draft", "In Approval Process", "Activated"), "Status",
                                     restricted_picklist=True, default_value="Draft", defaulted_on_create=True)))
    contract.add(_readonly(_picklist("StatusCode", ("Draft", "InApproval", "Activated"), "Status Category")))
    f_number = _readonly(_text("ContractNumber", "Contract Number", 30, name_field=True))
    f_number.auto_number = True
    contract.add(f_number)
    contract.add(_ref("Pricebook2Id", "Pricebook2", "Pricebook2", None, "Price Book ID"))
    contract.add(FieldDef("Description", "Description", "textarea", length=32000))
    contract.add(_readonly(FieldDef("ActivatedDate", "Activated Date", "datetime")))
    if multi_currency_enabled():
        contract.add(_currency_iso_code())
    objects.append(contract)

    opportunity = ObjectDef("Opportunity", "Opportunity", "Opportunities", "006")
    _system_fields(opportunity, owned=True)
    opportunity.add(_required(_text("Name", "Name", 120, name_field=True)))
    opportunity.add(_ref("AccountId", "Account", "Account", "Opportunities", "Account ID"))
    opportunity.add(_ref("ContractId", "Contract", "Contract", "Opportunities", "Contract ID"))
    opportunity.add(_required(_picklist("StageName", STAGES, "Stage")))
    opportunity.add(_required(FieldDef("CloseDate", "Close Date", "date")))
    opportunity.add(_currency("Amount", "Amount"))
    opportunity.add(FieldDef("Probability", "Probability (%)", "percent", precision=3, scale=0))
    opportunity.add(_picklist("Type", ("Existing Business", "New Business"), "Opportunity Type"))
    opportunity.add(_picklist("LeadSource", ("Web", "Phone Inquiry", "Partner Referral", "Other"), "Lead Source"))
    opportunity.add(_text("NextStep", "Next Step", 255))
    opportunity.add(FieldDef("Description", "Description", "textarea", length=32000))
    opportunity.add(_ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Opportunities", "Price Book ID"))
    for name, label in (("IsClosed", "Closed"), ("IsWon", "Won"), ("HasOpportunityLineItem", "Has Line Item")):
        opportunity.add(_readonly(FieldDef(name, label, "boolean", nillable=False, defaulted_on_create=True,
                                           default_value=False)))
    if multi_currency_enabled():
        opportunity.add(_currency_iso_code())
    objects.append(opportunity)

    line = ObjectDef("OpportunityLineItem", "Opportunity Product", "Opportunity Product", "00k")
    _system_fields(line, owned=False)
    line.add(_required(_ref("OpportunityId", "Opportunity", "Opportunity", "OpportunityLineItems", "Opportunity ID",
                            updateable=False, cascade_delete=True)))
    line.add(_ref("PricebookEntryId", "PricebookEntry", "PricebookEntry", "OpportunityLineItems", "Price Book Entry ID",
                  updateable=False))
    line.add(_ref("Product2Id", "Product2", "Product2", None, "Product ID", updateable=False))
    line.add(_readonly(_text("Name", "Opportunity Product Name", 376, name_field=True)))
    line.add(_readonly(_text("ProductCode", "Product Code", 255)))
    line.add(_required(FieldDef("Quantity", "Quantity", "double", precision=12, scale=2)))
    line.add(_currency("UnitPrice", "Sales Price"))
    line.add(_readonly(_currency("ListPrice", "List Price")))
    line.add(_currency("TotalPrice", "Total Price"))
    line.add(FieldDef("Discount", "Discount", "percent", precision=5, scale=2))
    line.add(FieldDef("ServiceDate", "Date", "date"))
    line.add(_text("Description", "Line Description", 255))
    line.add(FieldDef("SortOrder", "Sort Order", "int", precision=9))
    if multi_currency_enabled():
        line.add(_readonly(_currency_iso_code()))  # the Opportunity's, set on save
    objects.append(line)

    quote = ObjectDef("Quote", "Quote", "Quotes", "0Q0")
    _system_fields(quote, owned=False)
    quote.add(_required(_text("Name", "Quote Name", 255, name_field=True)))
    quote.add(_required(_ref("OpportunityId", "Opportunity", "Opportunity", "Quotes", "Opportunity ID",
                             updateable=False, cascade_delete=True)))
    quote.add(_readonly(_ref("AccountId", "Account", "Account", "Quotes", "Account ID")))
    if multi_currency_enabled():
        quote.add(_readonly(_currency_iso_code()))  # the Opportunity's, set on save
    quote.add(_ref("ContractId", "Contract", "Contract", "Quotes", "Contract ID"))
    quote.add(_ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Quotes", "Price Book ID"))
    quote.add(_picklist("Status", ("Draft", "Needs Review", "In Review", "Approved", "Rejected", "Presented",
                                   "Accepted", "Denied"), "Status", default_value="Draft", defaulted_on_create=True))
    quote.add(FieldDef("ExpirationDate", "Expiration Date", "date"))
    quote.add(FieldDef("Description", "Description", "textarea", length=32000))
    q_number = _readonly(_text("QuoteNumber", "Quote Number", 30))
    q_number.auto_number = True
    quote.add(q_number)
    quote.add(_readonly(_currency("Subtotal", "Subtotal")))
    quote.add(_readonly(_currency("TotalPrice", "Total Price")))
    objects.append(quote)

    qline = ObjectDef("QuoteLineItem", "Quote Line Item", "Quote Line Items", "0QL")
    _system_fields(qline, owned=False)
    qline.add(_required(_ref("QuoteId", "Quote", "Quote", "QuoteLineItems", "Quote ID", updateable=False,
                             cascade_delete=True)))
    qline.add(_ref("PricebookEntryId", "PricebookEntry", "PricebookEntry", "QuoteLineItems", "Price Book Entry ID",
                   updateable=False))
    qline.add(_ref("Product2Id", "Product2", "Product2", None, "Product ID", updateable=False))
    ln = _readonly(_text("LineNumber", "Line Item Number", 255, name_field=True))
    ln.auto_number = True
    qline.add(ln)
    qline.add(_required(FieldDef("Quantity", "Quantity", "double", precision=12, scale=2)))
    qline.add(_currency("UnitPrice", "Sales Price"))
    qline.add(_readonly(_currency("ListPrice", "List Price")))
    qline.add(_readonly(_currency("TotalPrice", "Total Price")))
    qline.add(FieldDef("Discount", "Discount", "percent", precision=5, scale=2))
    qline.add(FieldDef("ServiceDate", "Date", "date"))
    qline.add(_text("Description", "Line Item Description", 255))
    qline.add(FieldDef("SortOrder", "Sort Order", "int", precision=9))
    objects.append(qline)
    return objects


# --------------------------------------------------------------------------- DX metadata


def _text_of(element: ET.Element, tag: str, default: str | None = None) -> str | None:
    child = element.find(f"{_MD}{tag}")
    return child.text.strip() if child is not None and child.text else default


def field_from_dx(path: Path) -> FieldDef:
    """A :class:`FieldDef` from one ``*.field-meta.xml`` (``CustomField``) file."""
    root = ET.parse(path).getroot()
    name = _text_of(root, "fullName") or path.name.split(".")[0]
    dx_type = _text_of(root, "type", "Text") or "Text"
    sf_type = _DX_TYPES.get(dx_type)
    if sf_type is None:
        raise ValueError(f"{path}: field type {dx_type} is not supported by the stand-in")
    required = _text_of(root, "required") == "true" or dx_type == "MasterDetail"
    f = FieldDef(
        name=name,
        label=_text_of(root, "label", name) or name,
        type=sf_type,
        length=int(_text_of(root, "length", "0") or 0),
        precision=int(_text_of(root, "precision", "0") or 0),
        scale=int(_text_of(root, "scale", "0") or 0),
        nillable=not required and sf_type != "boolean",
        external_id=_text_of(root, "externalId") == "true",
        unique=_text_of(root, "unique") == "true",
        custom=True,
    )
    if sf_type == "reference":
        f.length = 18
        f.reference_to = (_text_of(root, "referenceTo", "") or "",)
        f.relationship_name = name[:-3] + "__r"
        rel = _text_of(root, "relationshipName")
        f.child_relationship_name = f"{rel}__r" if rel else None
        f.cascade_delete = dx_type == "MasterDetail"
        f.updateable = dx_type != "MasterDetail" or _text_of(root, "reparentableMasterDetail") == "true"
    if sf_type == "picklist":
        values = []
        default = None
        for value in root.iter(f"{_MD}value"):
            full_name = _text_of(value, "fullName")
            if full_name is None:
                continue
            values.append(full_name)
            if _text_of(value, "default") == "true":
                default = full_name
        f.picklist_values = tuple(values)
        restricted = root.find(f"{_MD}valueSet/{_MD}restricted")
        f.restricted_picklist = restricted is not None and restricted.text == "true"
        f.length = 255
        if default is not None:
            f.default_value = default
            f.defaulted_on_create = True
    if sf_type == "boolean":
        f.default_value = _text_of(root, "defaultValue", "false") == "true"
        f.defaulted_on_create = True
    return f


def custom_object_from_dx(folder: Path, key_prefix: str) -> ObjectDef:
    """An :class:`ObjectDef` for a custom object folder holding ``<Name>.object-meta.xml``."""
    meta = ET.parse(folder / f"{folder.name}.object-meta.xml").getroot()
    obj = ObjectDef(folder.name, _text_of(meta, "label", folder.name) or folder.name,
                    _text_of(meta, "pluralLabel", folder.name) or folder.name, key_prefix, custom=True)
    _system_fields(obj, owned=(_text_of(meta, "sharingModel") != "ControlledByParent"))
    name_field = meta.find(f"{_MD}nameField")
    name_label = _text_of(name_field, "label", "Name") if name_field is not None else "Name"
    auto = name_field is not None and _text_of(name_field, "type") == "AutoNumber"
    name_def = FieldDef("Name", name_label or "Name", "string", length=80, nillable=auto, name_field=True,
                        auto_number=auto, createable=not auto, updateable=not auto, defaulted_on_create=True)
    # A Text name field is optional on create: Salesforce fills it with the record id when left empty.
    obj.add(name_def)
    return obj


def load_dx_fields(source_dir: Path = DX_SOURCE_DIR) -> dict[str, list[FieldDef]]:
    """Every custom field of the DX source, by object name (in file order)."""
    result: dict[str, list[FieldDef]] = {}
    for object_dir in sorted(p for p in (source_dir / "objects").iterdir() if p.is_dir()):
        result[object_dir.name] = [field_from_dx(p) for p in sorted(object_dir.glob("fields/*.field-meta.xml"))]
    return result


def build_schema(source_dir: Path = DX_SOURCE_DIR) -> Schema:
    """Standard objects plus everything the DX source adds."""
    objects = {o.name: o for o in standard_objects()}
    prefixes = iter(CUSTOM_OBJECT_PREFIXES)
    custom_dirs = sorted(p for p in (source_dir / "objects").iterdir() if (p / f"{p.name}.object-meta.xml").exists())
    for folder in custom_dirs:
        objects[folder.name] = custom_object_from_dx(folder, next(prefixes))
        if multi_currency_enabled():
            # Every object of a multi-currency org has CurrencyIsoCode, custom objects included.
            objects[folder.name].add(_currency_iso_code())
    for object_name, fields in load_dx_fields(source_dir).items():
        obj = objects.get(object_name)
        if obj is None:
            raise ValueError(f"DX source adds fields to {object_name}, which the stand-in does not define")
        for f in fields:
            obj.add(f)
    for obj in objects.values():
        _audit_fields(obj)
    return Schema(list(objects.values()))


@cache
def default_schema() -> Schema:
    """The schema built from the repository's DX source (built once per process)."""
    return build_schema()

"""What Salesforce computes and checks on save, object by object: Opportunity stage flags and update
rules, Contract numbers, status codes and end dates, price book entry rules, line items (price book entry,
currency, prices, totals), Quote numbers, and the parents' roll-up totals. A mixin of
:class:`cr_sandbox.salesforce.writes.Writer`, which stages the records of one save in ``_staged``."""

from __future__ import annotations

from datetime import date, timedelta

from cr_sandbox.salesforce import opportunity_rules
from cr_sandbox.salesforce.errors import RecordFailure
from cr_sandbox.salesforce.schema import ObjectDef
from cr_sandbox.salesforce.store import Record, Store, add_months


class SaveRules:
    """Derived fields and object rules; needs the writer's ``store``, ``_staged`` and ``_now``."""

    store: Store
    _staged: dict[str, Record]
    _now: str

    def _get(self, object_name: str, record_id: str | None) -> Record | None:
        if not record_id:
            return None
        return self._staged.get(record_id) or self.store.get(object_name, record_id)

    def _derive(self, obj: ObjectDef, record: Record, old: Record | None) -> list[tuple[str, Record]]:
        """Fields Salesforce computes on save; returns extra records the save changes (e.g. a parent)."""
        name = obj.name
        if name == "Opportunity":
            opportunity_rules.check_opportunity_update(record, old)
            if old is not None and old.get("HasOpportunityLineItem") \
                    and record.get("CurrencyIsoCode") != old.get("CurrencyIsoCode"):
                # Guessed text: Salesforce refuses a currency change on an Opportunity with products.
                raise RecordFailure("FIELD_INTEGRITY_EXCEPTION", "field integrity exception: CurrencyIsoCode (cannot "
                                    "change the currency of an opportunity with products)", ["CurrencyIsoCode"])
            stage = record.get("StageName") or ""
            record["IsClosed"] = stage in ("Closed Won", "Closed Lost")
            record["IsWon"] = stage == "Closed Won"
        elif name == "Contract":
            if old is None:
                record["ContractNumber"] = f"{self.store.next_autonumber('Contract'):08d}"
            status = record.get("Status") or "Draft"
            record["StatusCode"] = {"In Approval Process": "InApproval"}.get(status, status)
            if status == "Activated" and not record.get("ActivatedDate"):
                record["ActivatedDate"] = self._now
            start, term = record.get("StartDate"), record.get("ContractTerm")
            record["EndDate"] = (
                (add_months(date.fromisoformat(start), int(term)) - timedelta(days=1)).isoformat()
                if start and term else None
            )
        elif name == "PricebookEntry":
            return self._derive_pricebook_entry(record, old)
        elif name in ("OpportunityLineItem", "QuoteLineItem"):
            opportunity_rules.check_line_quantity(name, record)
            return self._derive_line(obj, record, old)
        elif name == "Quote":
            if old is None:
                record["QuoteNumber"] = f"{self.store.next_autonumber('Quote'):08d}"
            opportunity = self._get("Opportunity", record.get("OpportunityId"))
            record["AccountId"] = opportunity.get("AccountId") if opportunity else None
            if obj.field("CurrencyIsoCode") is not None:
                record["CurrencyIsoCode"] = opportunity.get("CurrencyIsoCode") if opportunity else None
        return []

    def _derive_pricebook_entry(self, record: Record, old: Record | None) -> list[tuple[str, Record]]:
        product = self._get("Product2", record.get("Product2Id"))
        if product is not None:
            record["Name"] = product.get("Name")
            record["ProductCode"] = product.get("ProductCode")
        if old is None and record.get("Pricebook2Id") and record.get("Product2Id"):
            for other_id in self.store.child_ids("PricebookEntry", "Product2Id", record["Product2Id"]):
                other = self.store.get("PricebookEntry", other_id)
                if other and other.get("Pricebook2Id") == record["Pricebook2Id"] \
                        and other.get("CurrencyIsoCode") == record.get("CurrencyIsoCode"):
                    raise RecordFailure("DUPLICATE_VALUE", "This price definition already exists in this price book",
                                        [])
            book = self._get("Pricebook2", record["Pricebook2Id"])
            if book is not None and not book.get("IsStandard"):
                standard = self.standard_pricebook_id()
                has_standard = any(
                    (e := self.store.get("PricebookEntry", i)) is not None and e.get("Pricebook2Id") == standard
                    and e.get("CurrencyIsoCode") == record.get("CurrencyIsoCode")
                    for i in self.store.child_ids("PricebookEntry", "Product2Id", record["Product2Id"])
                )
                if not has_standard:
                    raise RecordFailure("STANDARD_PRICE_NOT_DEFINED",
                                        "No standard price defined for this product", [])
        return []

    def _derive_line(self, obj: ObjectDef, record: Record, old: Record | None) -> list[tuple[str, Record]]:
        parent_field, parent_object = (
            ("OpportunityId", "Opportunity") if obj.name == "OpportunityLineItem" else ("QuoteId", "Quote")
        )
        parent = self._get(parent_object, record.get(parent_field))
        extra: list[tuple[str, Record]] = []
        if old is None:
            entry = self._get("PricebookEntry", record.get("PricebookEntryId"))
            if entry is None and record.get("Product2Id"):
                book_id = (parent or {}).get("Pricebook2Id") or self.standard_pricebook_id()
                entry = next(
                    (e for i in self.store.child_ids("PricebookEntry", "Product2Id", record["Product2Id"])
                     if (e := self.store.get("PricebookEntry", i)) is not None and e.get("Pricebook2Id") == book_id
                     and e.get("CurrencyIsoCode") == (parent or {}).get("CurrencyIsoCode")),
                    None,
                )
                if entry is None:
                    raise RecordFailure("FIELD_INTEGRITY_EXCEPTION",
                                        "field integrity exception: PricebookEntryId (no price book entry for this "
                                        "product in the price book of the parent)", ["PricebookEntryId"])
            if entry is None:
                raise RecordFailure("REQUIRED_FIELD_MISSING", "Required fields are missing: [PricebookEntryId]",
                                    ["PricebookEntryId"])
            if record.get("Product2Id") and record["Product2Id"] != entry.get("Product2Id"):
                raise RecordFailure("FIELD_INTEGRITY_EXCEPTION",
                                    "field integrity exception: Product2Id (does not match the price book entry)",
                                    ["Product2Id"])
            if parent is not None:
                if parent.get("Pricebook2Id") and parent["Pricebook2Id"] != entry.get("Pricebook2Id"):
                    raise RecordFailure(
                        "FIELD_INTEGRITY_EXCEPTION",
                        f"field integrity exception: PricebookEntryId (pricebook entry is in a different pricebook "
                        f"than the one assigned to the {parent_object.lower()})", ["PricebookEntryId"])
                if parent.get("CurrencyIsoCode") != entry.get("CurrencyIsoCode"):
                    raise RecordFailure(
                        "FIELD_INTEGRITY_EXCEPTION",
                        f"field integrity exception: PricebookEntryId (pricebook entry currency code does not match "
                        f"{parent_object.lower()} currency code)", ["PricebookEntryId"])
                if not parent.get("Pricebook2Id"):
                    # Salesforce assigns the entry's price book to the parent on its first line.
                    updated_parent = {**parent, "Pricebook2Id": entry.get("Pricebook2Id"), "SystemModstamp": self._now,
                                      "LastModifiedDate": self._now}
                    self._staged[parent["Id"]] = updated_parent
                    extra.append((parent_object, updated_parent))
            record["PricebookEntryId"] = entry["Id"]
            if obj.field("CurrencyIsoCode") is not None:
                record["CurrencyIsoCode"] = (parent or {}).get("CurrencyIsoCode")
            record["Product2Id"] = entry.get("Product2Id")
            record["ListPrice"] = entry.get("UnitPrice")
            product = self._get("Product2", entry.get("Product2Id")) or {}
            record["ProductCode"] = product.get("ProductCode")
            if obj.name == "OpportunityLineItem":
                record["Name"] = f"{(parent or {}).get('Name', '')} {product.get('Name', '')}".strip()
            else:
                record["LineNumber"] = f"{self.store.next_autonumber('QuoteLineItem'):08d}"
            if record.get("UnitPrice") is not None and record.get("TotalPrice") is not None \
                    and obj.name == "OpportunityLineItem":
                raise RecordFailure("FIELD_INTEGRITY_EXCEPTION", "field integrity exception: TotalPrice (only one of "
                                    "unit price or total price may be specified)", ["TotalPrice"])
        quantity = record.get("Quantity")
        if record.get("UnitPrice") is None:
            if record.get("TotalPrice") is not None and quantity:
                record["UnitPrice"] = round(record["TotalPrice"] / quantity, 2)
            else:
                record["UnitPrice"] = record.get("ListPrice")
        if quantity is not None and record.get("UnitPrice") is not None:
            discount = (record.get("Discount") or 0.0) / 100.0
            record["TotalPrice"] = round(quantity * record["UnitPrice"] * (1 - discount), 2)
        return extra

    def _rollups(self, changes: list[tuple[str, Record]]) -> list[tuple[str, Record]]:
        """Parent totals Salesforce keeps: Opportunity.Amount / HasOpportunityLineItem, Quote totals."""
        touched: dict[tuple[str, str, str], set[str]] = {}
        for name, record in changes:
            if name == "OpportunityLineItem" and record.get("OpportunityId"):
                touched.setdefault(("Opportunity", "OpportunityLineItem", "OpportunityId"), set()).add(
                    record["OpportunityId"])
            elif name == "QuoteLineItem" and record.get("QuoteId"):
                touched.setdefault(("Quote", "QuoteLineItem", "QuoteId"), set()).add(record["QuoteId"])
        updates: list[tuple[str, Record]] = []
        for (parent_name, child_name, child_field), parent_ids in touched.items():
            for parent_id in parent_ids:
                parent = self.store.get(parent_name, parent_id)
                if parent is None:
                    continue
                lines = [self.store.get(child_name, i) for i in self.store.child_ids(child_name, child_field, parent_id)]
                total = round(sum((line or {}).get("TotalPrice") or 0.0 for line in lines), 2)
                updated = dict(parent)
                if parent_name == "Opportunity":
                    updated["HasOpportunityLineItem"] = bool(lines)
                    if lines:
                        updated["Amount"] = total
                else:
                    updated["Subtotal"] = total
                    updated["TotalPrice"] = total
                if updated != parent:
                    updated["SystemModstamp"] = self._now
                    updates.append((parent_name, updated))
        return updates

    def standard_pricebook_id(self) -> str | None:
        for record in self.store.live("Pricebook2"):
            if record.get("IsStandard"):
                return record["Id"]
        return None


"""NetSuite renewal estimate (or the module's other renewal transaction type) -> Salesforce renewal
Opportunity, or Opportunity + Quote (nightly flow).

:func:`renewals_to_salesforce` takes the rows of :func:`crsync.queries.renewal_transactions_query` and
:func:`crsync.queries.renewal_lines_query` plus what the DAG looked up in Salesforce, and returns the
upserts in load order, the Salesforce line ids to delete, failures and skips:

- the Opportunity is upserted by ``NetSuite_Renewal_Estimate_Id__c``; its stage and name are set only
  when it is created (sales owns them afterwards); a closed Opportunity is left alone;
- lines are upserted by ``NetSuite_Line_Id__c`` = ``<transaction id>_<line id>`` (a line id is unique
  only within its transaction), so a changed estimate updates lines instead of adding duplicates;
- a line dropped in NetSuite, or set to quantity 0 (the module's way to drop an item at renewal), is
  deleted in Salesforce (Salesforce line items cannot have quantity 0);
- with ``renewal.target: quote`` the lines go on a Quote (upserted by ``NetSuite_Estimate_Id__c``)
  of that Opportunity instead.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from crsync import fields as f
from crsync.mappings.common import (
    Check,
    apply_extra_mappings,
    dates,
    end_before_start,
    failures_by_key,
    frame,
    ids,
    iso_dates,
    numbers,
    problem_table,
    python_numbers,
    python_values,
    term_months,
    texts,
)
from crsync.queries import CONTRACT_NAME, CUSTOMER_NAME, ITEM_DISPLAY_NAME, ITEM_NAME
from crsync.records import RecordFailure, SalesforceUpsertBatch
from crsync.settings import NAME_MAX_LENGTH, FlowId, IntegrationSettings

_NT, _NL, _O, _L, _Q = f.NsTransaction, f.NsTransactionLine, f.Opportunity, f.OpportunityLineItem, f.Quote

PricebookKey = tuple[str, str]


class RenewalBatch(BaseModel):
    """What one renewal transform produces."""

    #: In load order: Accounts, Opportunities, then OpportunityLineItems or Quotes and QuoteLineItems.
    upserts: list[SalesforceUpsertBatch] = Field(default_factory=list)
    #: ``sobject`` of the line items below (OpportunityLineItem or QuoteLineItem).
    line_sobject: str = _L.SOBJECT
    #: Salesforce ids of line items to delete (dropped in NetSuite, or quantity 0).
    stale_line_ids: list[str] = Field(default_factory=list)
    failures: list[RecordFailure] = Field(default_factory=list)
    #: Renewal transaction id -> reason it was not sent (e.g. already ordered).
    skipped: dict[str, str] = Field(default_factory=dict)


class ExistingRenewal(BaseModel):
    """A renewal Opportunity already in Salesforce."""

    id: str
    is_closed: bool = False


def existing_renewals(records: Iterable[Mapping[str, Any]]) -> dict[str, ExistingRenewal]:
    """Renewal transaction id -> existing Opportunity, from :func:`crsync.queries.renewal_opportunities_soql`."""
    return {
        str(r[_O.NETSUITE_RENEWAL_ESTIMATE_ID]): ExistingRenewal(
            id=r[_O.ID], is_closed=bool(r.get(_O.IS_CLOSED))
        )
        for r in records
        if r.get(_O.NETSUITE_RENEWAL_ESTIMATE_ID)
    }


def existing_line_ids(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``NetSuite_Line_Id__c`` -> Salesforce line id, from :func:`crsync.queries.renewal_line_items_soql`."""
    return {str(r[_L.NETSUITE_LINE_ID]): r["Id"] for r in records if r.get(_L.NETSUITE_LINE_ID)}


def existing_quote_ids(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """Renewal transaction ids that already have their Quote, from :func:`crsync.queries.renewal_quotes_soql`."""
    return {str(r[_Q.NETSUITE_ESTIMATE_ID]) for r in records if r.get(_Q.NETSUITE_ESTIMATE_ID)}


def pricebook_entry_map(
    records: Iterable[Mapping[str, Any]], settings: IntegrationSettings
) -> dict[PricebookKey, str]:
    """(NetSuite item id, currency) -> PricebookEntry id, from :func:`crsync.queries.pricebook_entries_soql`."""
    default = settings.salesforce.default_currency
    entries: dict[PricebookKey, str] = {}
    for r in records:
        item = (r.get(f.Product.SOBJECT) or {}).get(f.Product.NETSUITE_ID)
        if item not in (None, ""):
            entries[(str(item), str(r.get(f.PricebookEntry.CURRENCY) or default))] = r[f.PricebookEntry.ID]
    return entries


_HEADER_COLUMNS = [
    _NT.ID, _NT.TRANID, _NT.TYPE, _NT.ENTITY, _NT.TRANDATE, _NT.STARTDATE, _NT.ENDDATE, _NT.STATUS, _NT.CURRENCY,
    _NT.FROM_CONTRACT, CUSTOMER_NAME, CONTRACT_NAME,
]  # fmt: skip
_LINE_COLUMNS = [
    _NL.TRANSACTION, _NL.ID, _NL.SEQUENCE, _NL.ITEM, _NL.QUANTITY, _NL.RATE, _NL.CONTRACT_START_DATE,
    _NL.CONTRACT_END_DATE, _NL.TERM_MONTHS, ITEM_NAME, ITEM_DISPLAY_NAME,
]  # fmt: skip


def renewals_to_salesforce(
    headers: Sequence[Mapping[str, Any]],
    lines: Sequence[Mapping[str, Any]],
    settings: IntegrationSettings,
    *,
    pricebook_id: str,
    pricebook_entries: Mapping[PricebookKey, str],
    existing: Mapping[str, ExistingRenewal] | None = None,
    existing_lines: Mapping[str, str] | None = None,
    existing_quotes: Collection[str] | None = None,
    known_account_ids: Collection[str] | None = None,
) -> RenewalBatch:
    """Map renewal transactions and their lines to Salesforce upserts.

    :param headers: rows of the renewal transactions query.
    :param lines: rows of the renewal lines query for those transactions.
    :param settings: renewal target, stage, close-date rule, name template, currencies, extra mappings.
    :param pricebook_id: the price book of the renewals (the standard one unless the settings name one).
    :param pricebook_entries: see :func:`pricebook_entry_map`.
    :param existing: see :func:`existing_renewals` (renewals already in Salesforce).
    :param existing_lines: see :func:`existing_line_ids` (their current lines).
    :param existing_quotes: see :func:`existing_quote_ids` (renewals whose Quote exists).
    :param known_account_ids: NetSuite customer ids that have an Account; when given, an Account is
        created (upserted by ``NetSuite_Id__c``) for every other customer.
    """
    existing = existing or {}
    existing_lines = existing_lines or {}
    existing_quotes = {str(q) for q in existing_quotes or ()}
    extra = settings.field_mappings.for_flow(FlowId.RENEWAL_ESTIMATE_TO_OPPORTUNITY)
    raw = frame(headers, _HEADER_COLUMNS + list(extra))
    h = _prepare_headers(raw, settings)
    ln = _prepare_lines(frame(lines, _LINE_COLUMNS), h, settings, pricebook_entries)

    skipped = _skips(h, existing, settings.renewal.transaction_type.suiteql_type.value)
    problems = _problems(h, ln, settings)
    failed = set(problems["key"])
    keep = ~h["id"].isin(failed) & ~h["id"].isin(list(skipped))
    h, raw = h[keep], raw[keep]
    kept_ids = set(h["id"])
    live = ln[ln["transaction"].isin(kept_ids) & (ln["qty"] > 0)]

    opportunities = _opportunity_records(h, settings, pricebook_id, existing)
    apply_extra_mappings(opportunities, raw, extra)
    quote = settings.renewal.target == "quote"
    line_records = _line_records(live, quote, existing_lines)
    upserts = []
    accounts = _account_records(h, known_account_ids)
    if accounts:
        upserts.append(SalesforceUpsertBatch(sobject=f.Account.SOBJECT, external_id_field=f.Account.NETSUITE_ID,
                                             records=accounts))  # fmt: skip
    upserts.append(
        SalesforceUpsertBatch(
            sobject=_O.SOBJECT, external_id_field=_O.NETSUITE_RENEWAL_ESTIMATE_ID, records=opportunities
        )
    )
    if quote:
        upserts.append(SalesforceUpsertBatch(sobject=_Q.SOBJECT, external_id_field=_Q.NETSUITE_ESTIMATE_ID,
                                             records=_quote_records(h, pricebook_id, existing_quotes)))  # fmt: skip
    line_sobject = _Q.LINE_SOBJECT if quote else _L.SOBJECT
    line_field = _Q.LINE_NETSUITE_LINE_ID if quote else _L.NETSUITE_LINE_ID
    upserts.append(
        SalesforceUpsertBatch(sobject=line_sobject, external_id_field=line_field, records=line_records)
    )

    current = {r[line_field] for r in line_records}
    stale = [
        sf_id
        for ns_line, sf_id in existing_lines.items()
        if ns_line.split("_", 1)[0] in kept_ids and ns_line not in current
    ]
    return RenewalBatch(
        upserts=upserts,
        line_sobject=line_sobject,
        stale_line_ids=sorted(stale),
        failures=failures_by_key(problems["key"], problems["code"], problems["message"]),
        skipped=skipped,
    )


def _prepare_headers(raw: pd.DataFrame, settings: IntegrationSettings) -> pd.DataFrame:
    currencies = {str(k): v for k, v in settings.netsuite.lists.currency.items()}
    h = pd.DataFrame(
        {
            "id": ids(raw[_NT.ID]),
            "tranid": texts(raw[_NT.TRANID]),
            "entity": ids(raw[_NT.ENTITY]),
            "status": texts(raw[_NT.STATUS]),
            "type": texts(raw[_NT.TYPE]),
            "currency_id": ids(raw[_NT.CURRENCY]),
            "contract": ids(raw[_NT.FROM_CONTRACT]),
            "customer": texts(raw[CUSTOMER_NAME]),
            "contract_name": texts(raw[CONTRACT_NAME]),
            "trandate": dates(raw[_NT.TRANDATE]),
            "start": dates(raw[_NT.STARTDATE]),
            "end": dates(raw[_NT.ENDDATE]),
        },
        index=raw.index,
    )
    h["currency"] = h["currency_id"].map(currencies)
    h.loc[h["currency_id"].isna(), "currency"] = settings.salesforce.default_currency
    rule = settings.renewal.close_date_rule
    if rule == "estimate_date":
        h["close"] = h["trandate"]
    elif rule == "renewal_start":
        h["close"] = h["start"].fillna(h["trandate"])
    else:  # contract_end: the old contract's last day, i.e. the day before the renewal term starts
        h["close"] = (h["start"] - pd.Timedelta(days=1)).fillna(h["trandate"])
    return h


def _prepare_lines(
    ln: pd.DataFrame, h: pd.DataFrame, settings: IntegrationSettings, entries: Mapping[PricebookKey, str]
) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "transaction": ids(ln[_NL.TRANSACTION]),
            "line": ids(ln[_NL.ID]),
            "sequence": numbers(ln[_NL.SEQUENCE]),
            "item": ids(ln[_NL.ITEM]),
            # SuiteQL reports sales quantities with the posting sign (negative); Salesforce wants them positive.
            "qty": numbers(ln[_NL.QUANTITY]).abs(),
            "rate": numbers(ln[_NL.RATE]),
            "start": dates(ln[_NL.CONTRACT_START_DATE]),
            "end": dates(ln[_NL.CONTRACT_END_DATE]),
            "term": numbers(ln[_NL.TERM_MONTHS]),
            "item_label": texts(ln[ITEM_DISPLAY_NAME]).fillna(texts(ln[ITEM_NAME])),
        }
    )
    currency = h.drop_duplicates("id").set_index("id")["currency"]
    if not settings.salesforce.multi_currency:
        currency = currency.map(lambda _: settings.salesforce.default_currency)
    out["currency"] = out["transaction"].map(currency)
    out["entry"] = [entries.get((str(i), str(c))) for i, c in zip(out["item"], out["currency"], strict=True)]
    out["term"] = out["term"].fillna(term_months(out["start"], out["end"]))
    out["external_id"] = out["transaction"].fillna("?") + "_" + out["line"].fillna("?")
    return out.sort_values(["transaction", "sequence", "line"], kind="stable")


def _skips(h: pd.DataFrame, existing: Mapping[str, ExistingRenewal], default_type: str) -> dict[str, str]:
    """Renewals not to send: ordered or dead in NetSuite (by their type's status letters), or closed in
    Salesforce. ``default_type`` is the settings' renewal transaction type, for rows without a type."""
    skipped: dict[str, str] = {}
    for tran, status, tran_type in zip(h["id"], h["status"], h["type"].fillna(default_type), strict=True):
        if status in f.CLOSED_RENEWAL_STATUSES.get(str(tran_type), frozenset()):
            skipped[tran] = "renewal_already_ordered_or_closed"
        elif tran in existing and existing[tran].is_closed:
            skipped[tran] = "opportunity_closed_in_salesforce"
    return skipped


def _problems(h: pd.DataFrame, ln: pd.DataFrame, settings: IntegrationSettings) -> pd.DataFrame:
    label = "Renewal " + h["tranid"].fillna("?") + " (NetSuite id " + h["id"].fillna("?") + ")"
    line_counts = h["id"].map(ln.groupby("transaction").size()).fillna(0)
    checks: list[Check] = [
        (h["entity"].isna(), h["id"], "missing_customer", label + " has no customer"),
        (h["contract"].isna(), h["id"], "missing_contract",
         label + " does not say which contract it renews (custbody_swe_from_contract); set it in NetSuite"),
        (h["currency"].isna(), h["id"], "unknown_currency",
         label + ": currency id " + h["currency_id"].fillna("?") + " is not in the settings' netsuite.lists.currency"),
        (line_counts == 0, h["id"], "no_line_items", label + " has no item lines"),
    ]  # fmt: skip
    priced = ln["qty"] > 0
    no_item = priced & ln["item"].isna()
    no_entry = priced & ln["item"].notna() & ln["entry"].isna()
    pricebook = settings.salesforce.pricebook
    line_label = "Renewal line " + ln["external_id"]
    checks += [
        (no_item, ln["transaction"], "missing_item", line_label + " has no item"),
        (
            no_entry,
            ln["transaction"],
            "missing_pricebook_entry",
            "Item " + ln["item_label"].fillna("?") + " (NetSuite id " + ln["item"].fillna("?") + ") has no active "
            f"PricebookEntry in the {pricebook} price book in " + ln["currency"].fillna("?") + "; add the product "
            "(Product2.NetSuite_Id__c = " + ln["item"].fillna("?") + ") to the price book",
        ),
    ]  # fmt: skip
    backwards, backwards_message = end_before_start(line_label, ln["start"], ln["end"])
    checks.append((backwards, ln["transaction"], "end_before_start", backwards_message))
    return problem_table(checks)


def _names(h: pd.DataFrame, template: str) -> list[str]:
    names = []
    for customer, contract, contract_id, tranid, start, end in zip(
        h["customer"].fillna(""), h["contract_name"], h["contract"].fillna(""), h["tranid"].fillna(""),
        iso_dates(h["start"]), iso_dates(h["end"]), strict=True,
    ):  # fmt: skip
        name = template.format(
            customer=customer, contract=contract if isinstance(contract, str) else contract_id, tranid=tranid,
            start_date=start or "", end_date=end or "",
        )  # fmt: skip
        names.append(name[:NAME_MAX_LENGTH])
    return names


def _opportunity_records(
    h: pd.DataFrame, settings: IntegrationSettings, pricebook_id: str, existing: Mapping[str, ExistingRenewal]
) -> list[dict[str, Any]]:
    records = []
    for tran, name, close, contract, entity, currency in zip(
        h["id"], _names(h, settings.renewal.name_template), iso_dates(h["close"]), h["contract"], h["entity"],
        h["currency"], strict=True,
    ):  # fmt: skip
        record: dict[str, Any] = {
            _O.NETSUITE_RENEWAL_ESTIMATE_ID: tran,
            _O.ORDER_TYPE: f.OrderType.RENEWAL.value,
            _O.CLOSE_DATE: close,
            _O.CONTRACT: {f.Contract.NETSUITE_ID: contract},
            _O.ACCOUNT: {f.Account.NETSUITE_ID: entity},
            _O.PRICEBOOK_ID: pricebook_id,
        }
        if tran not in existing:  # stage and name belong to sales once the Opportunity exists
            record[_O.NAME] = name
            record[_O.STAGE_NAME] = settings.renewal.stage_name
        if settings.salesforce.multi_currency:
            record[_O.CURRENCY] = currency
        records.append(record)
    return records


def _quote_records(h: pd.DataFrame, pricebook_id: str, existing_quotes: Collection[str]) -> list[dict[str, Any]]:
    records = []
    for tran, tranid in zip(h["id"], h["tranid"].fillna(h["id"]), strict=True):
        record: dict[str, Any] = {
            _Q.NETSUITE_ESTIMATE_ID: tran,
            _Q.NAME: f"Renewal quote {tranid}"[:NAME_MAX_LENGTH],
            _Q.PRICEBOOK_ID: pricebook_id,
        }
        if str(tran) not in existing_quotes:  # a Quote's Opportunity is set on create only (not updateable)
            record[_Q.OPPORTUNITY] = {_O.NETSUITE_RENEWAL_ESTIMATE_ID: tran}
        records.append(record)
    return records


def _line_records(live: pd.DataFrame, quote: bool, existing_lines: Mapping[str, str]) -> list[dict[str, Any]]:
    line_field = _Q.LINE_NETSUITE_LINE_ID if quote else _L.NETSUITE_LINE_ID
    records = []
    for external_id, tran, entry, qty, rate, start, end, term in zip(
        live["external_id"], live["transaction"], live["entry"], python_numbers(live["qty"]),
        python_numbers(live["rate"]), iso_dates(live["start"]), iso_dates(live["end"]), python_numbers(live["term"]),
        strict=True,
    ):  # fmt: skip
        record: dict[str, Any] = {line_field: external_id}
        if external_id not in existing_lines:  # parent and PricebookEntry can only be set on insert
            if quote:
                record[_Q.LINE_QUOTE] = {_Q.NETSUITE_ESTIMATE_ID: tran}
            else:
                record[_L.OPPORTUNITY] = {_O.NETSUITE_RENEWAL_ESTIMATE_ID: tran}
            record[_L.PRICEBOOK_ENTRY_ID] = entry
        record.update(
            {
                _L.QUANTITY: qty,
                _L.UNIT_PRICE: rate,
                _L.START_DATE: start,
                _L.END_DATE: end,
                _L.TERM_MONTHS: term,
            }
        )
        records.append(record)
    return records


def _account_records(h: pd.DataFrame, known_account_ids: Collection[str] | None) -> list[dict[str, Any]]:
    if known_account_ids is None:
        return []
    known = {str(a) for a in known_account_ids}
    new = h[~h["entity"].isin(list(known))].drop_duplicates("entity")
    return [
        {f.Account.NETSUITE_ID: entity, f.Account.NAME: name}
        for entity, name in zip(
            new["entity"], python_values(new["customer"].fillna(new["entity"])), strict=True
        )
    ]

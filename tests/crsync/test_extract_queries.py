"""crsync.queries: ids validated, values never spliced, SuiteQL parses as Oracle."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlglot
from sqlglot import exp

from crsync.queries import (
    ChangeScope,
    KeysetQuery,
    accounts_by_netsuite_ids_soql,
    contract_items_of_contracts_query,
    contract_items_query,
    contract_orders_query,
    contracts_query,
    opportunities_soql,
    pricebook_entries_soql,
    renewal_line_items_soql,
    renewal_lines_query,
    renewal_quotes_soql,
    renewal_transactions_query,
    sales_orders_by_external_ids_query,
    soql_datetime,
    soql_string,
    to_18_char_id,
    validate_netsuite_ids,
    validate_salesforce_ids,
)
from crsync.settings import IntegrationSettings, RenewalTransactionType

START = dt.datetime(2025, 3, 1, 0, 0, tzinfo=dt.UTC)
END = dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC)


# -- Salesforce ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("id15", "id18"),
    [
        ("0065g00000AbCdE", "0065g00000AbCdEAAV"),
        ("001000000000001", "001000000000001AAA"),
        ("006ABCDEABCDEAB", "006ABCDEABCDEABY55"),
    ],
)
def test_15_to_18_char_conversion(id15: str, id18: str) -> None:
    assert to_18_char_id(id15) == id18
    assert to_18_char_id(id18) == id18


def test_18_char_id_with_wrong_checksum_is_refused() -> None:
    with pytest.raises(ValueError, match="checksum should be AAV"):
        to_18_char_id("0065g00000AbCdEAAA")


@pytest.mark.parametrize(
    "attempt",
    [
        "0065g00000AbCdE' OR Name LIKE '%",
        "0065g00000AbCdE'",
        "0065g00000AbCd",
        "0065g00000AbCdEAAVX",
        "0065g00000AbCd;",
        "",
        "0065g00000 AbCdE",
    ],
)
def test_injection_attempts_and_malformed_ids_are_refused(attempt: str) -> None:
    with pytest.raises(ValueError, match="is not a Salesforce id"):
        opportunities_soql("ids", ids=[attempt])


def test_ids_are_deduplicated_and_prefix_checked() -> None:
    assert validate_salesforce_ids(["0065g00000AbCdE", "0065g00000AbCdEAAV"]) == ["0065g00000AbCdEAAV"]
    with pytest.raises(ValueError, match="start with '006'"):
        validate_salesforce_ids(["001000000000001"], prefix="006")
    with pytest.raises(ValueError, match="no Salesforce ids"):
        validate_salesforce_ids([])


@pytest.mark.parametrize("bad", ["12 OR 1=1", "-1", "0", "1.5", "", True])
def test_netsuite_ids_must_be_positive_integers(bad: object) -> None:
    with pytest.raises(ValueError, match="not a NetSuite internal id"):
        validate_netsuite_ids([bad])  # type: ignore[list-item]
    assert validate_netsuite_ids(["7", 7, 8]) == [7, 8]


def test_literals() -> None:
    assert soql_string("O'Brien \\ x") == "'O\\'Brien \\\\ x'"
    assert soql_datetime(dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == (
        "2025-03-01T00:00:00Z"
    )
    assert soql_datetime(dt.datetime(2025, 3, 1)) == "2025-03-01T00:00:00Z"


# -- SOQL -------------------------------------------------------------------------------------------


def test_queued_opportunities_soql() -> None:
    soql = opportunities_soql("queued", window_end=END)
    assert "WHERE Sync_Status__c = 'Processing' AND SystemModstamp < 2025-03-01T01:00:00Z ORDER BY Id" in soql
    assert (
        "(SELECT Id, Quantity, UnitPrice, ListPrice, Start_Date__c, End_Date__c, Term_Months__c, "
        "NetSuite_Line_Id__c, Product2Id, Product2.Name, Product2.NetSuite_Id__c, Product2.Item_Category__c, "
        "SystemModstamp FROM OpportunityLineItems ORDER BY Id)"
    ) in soql
    for field in (
        "Account.NetSuite_Id__c",
        "Account.Channel_Tier__c",
        "Contract.NetSuite_Id__c",
        "Contract.StartDate",
        "Contract.End_Date__c",
        "NetSuite_Renewal_Estimate_Id__c",
        "CloseDate",
        "StageName",
        "IsClosed",
        "IsWon",
    ):
        assert field in soql
    assert "CurrencyIsoCode" not in soql


def test_window_opportunities_soql_reads_only_queued_or_sent_ones_with_an_order_type() -> None:
    soql = opportunities_soql("window", window_start=START, window_end=END)
    assert (
        "WHERE SystemModstamp >= 2025-03-01T00:00:00Z AND SystemModstamp < 2025-03-01T01:00:00Z "
        "AND Order_Type__c != null AND (Sync_Status__c = 'Processing' OR NetSuite_Id__c != null) ORDER BY Id"
    ) in soql
    with pytest.raises(ValueError, match="window start"):
        opportunities_soql("window", window_start=END, window_end=START)
    with pytest.raises(ValueError, match="window end"):
        opportunities_soql("queued")


def test_opportunities_by_ids_soql_uses_18_char_ids() -> None:
    soql = opportunities_soql("ids", ids=["0065g00000AbCdE", "006ABCDEABCDEAB"])
    assert "WHERE Id IN ('0065g00000AbCdEAAV', '006ABCDEABCDEABY55') ORDER BY Id" in soql


def test_extra_mapping_sources_are_selected(settings: IntegrationSettings) -> None:
    custom = settings.model_copy(
        update={
            "field_mappings": settings.field_mappings.model_copy(
                update={"sf_opportunity_to_ns_sales_order": {"Description": "memo"}}
            )
        }
    )
    assert ", Description, (SELECT" in opportunities_soql("queued", window_end=END, settings=custom)


def test_lookup_soql() -> None:
    assert accounts_by_netsuite_ids_soql([1001, "1002"]) == (
        "SELECT Id, NetSuite_Id__c FROM Account WHERE NetSuite_Id__c IN ('1001', '1002')"
    )
    soql = pricebook_entries_soql("01s000000000001", [501], multi_currency=True)
    assert "Pricebook2Id = '01s000000000001AAA'" in soql and "CurrencyIsoCode" in soql
    assert "FROM QuoteLineItem WHERE Quote.NetSuite_Estimate_Id__c IN ('9')" in renewal_line_items_soql(
        [9], "quote"
    )
    assert "Opportunity.NetSuite_Renewal_Estimate_Id__c IN ('9')" in renewal_line_items_soql(
        [9], "opportunity"
    )
    assert renewal_quotes_soql([9, "10"]) == (
        "SELECT Id, NetSuite_Estimate_Id__c FROM Quote WHERE NetSuite_Estimate_Id__c IN ('9', '10')"
    )


# -- SuiteQL ----------------------------------------------------------------------------------------


def parse_oracle(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="oracle")


def test_contracts_window_query(settings: IntegrationSettings) -> None:
    query = contracts_query(ChangeScope.window(START, END), settings)
    sql = query.render(0)
    assert (
        "WHERE c.lastmodified >= TO_TIMESTAMP('2025-03-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS') "
        "AND c.lastmodified < TO_TIMESTAMP('2025-03-01 01:00:00', 'YYYY-MM-DD HH24:MI:SS') "
        "AND c.id > 0 ORDER BY c.id"
    ) in sql
    assert (
        "TO_CHAR(c.custrecord_contracts_start_date, 'YYYY-MM-DD') AS custrecord_contracts_start_date" in sql
    )
    parsed = parse_oracle(sql)
    assert parsed.find(exp.Order) is not None
    assert {c.name for c in parsed.find(exp.From).find_all(exp.Table)} == {"customrecord_contracts"}
    assert query.render(1234).endswith("AND c.id > 1234 ORDER BY c.id")


def test_keyset_render_refuses_non_integers() -> None:
    query = KeysetQuery(template="SELECT id FROM item WHERE {key_filter} ORDER BY id")
    with pytest.raises(ValueError):
        query.render("0 OR 1=1")  # type: ignore[arg-type]


def test_full_and_id_scopes(settings: IntegrationSettings) -> None:
    full = contract_items_query(ChangeScope.full(), settings).render()
    assert ("FROM customrecord_contract_item ci LEFT JOIN customrecord_contracts cc ON cc.id = "
            "ci.custrecord_ci_contract_id WHERE ci.id > 0 ORDER BY ci.id") in full  # the contract's currency
    by_ids = contract_items_query(ChangeScope.by_ids(["5", 6]), settings).render()
    assert "WHERE ci.id IN (5, 6) AND ci.id > 0" in by_ids
    with pytest.raises(ValueError):
        ChangeScope.by_ids(["5; DELETE"])
    for sql in (full, by_ids, contract_items_of_contracts_query([1, 2]).render()):
        parse_oracle(sql)


def test_renewal_transactions_query_follows_the_settings(settings: IntegrationSettings) -> None:
    sql = renewal_transactions_query(ChangeScope.window(START, END), settings).render()
    assert "t.type = 'Estimate' AND t.custbody_order_type = 2 AND t.lastmodifieddate >= TO_TIMESTAMP(" in sql
    assert "LEFT JOIN customrecord_contracts c ON c.id = t.custbody_swe_from_contract" in sql
    parse_oracle(sql)
    as_opportunity = settings.model_copy(
        update={
            "renewal": settings.renewal.model_copy(
                update={"transaction_type": RenewalTransactionType.OPPORTUNITY}
            )
        }
    )
    assert "t.type = 'Opprtnty'" in renewal_transactions_query(ChangeScope.full(), as_opportunity).render()


def test_other_suiteql_parses() -> None:
    for sql in (
        renewal_lines_query([10, 11]),
        contract_orders_query([3]).render(),
        sales_orders_by_external_ids_query(["0065g00000AbCdEAAV"]),
    ):
        parse_oracle(sql)
    assert "tl.mainline = 'F'" in renewal_lines_query([10])
    with pytest.raises(ValueError, match="not a NetSuite external id"):
        sales_orders_by_external_ids_query(["x' OR '1'='1"])


def test_extra_columns_are_validated(settings: IntegrationSettings) -> None:
    sql = contracts_query(
        ChangeScope.full(), settings, extra_columns=["custrecord_swe_annual_contract_val_net"]
    )
    assert (
        "c.custrecord_swe_annual_contract_val_net AS custrecord_swe_annual_contract_val_net" in sql.render()
    )
    with pytest.raises(ValueError, match="not a NetSuite SuiteQL column"):
        contracts_query(ChangeScope.full(), settings, extra_columns=["id FROM x --"])

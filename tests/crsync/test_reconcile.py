"""The pure reconciliation checks (crsync.reconcile) on small frames."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crsync import reconcile as rc
from crsync.queries import to_18_char_id

NOW = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)
STATUS = {1: "Pending", 2: "Active", 3: "Renewal Generated", 7: "Closed"}
STATE = {1: "Future", 2: "Active", 3: "Expired"}
OPP_A = to_18_char_id("006000000000001")
OPP_B = to_18_char_id("006000000000002")
OPP_C = to_18_char_id("006000000000003")
OPP_GONE = to_18_char_id("006000000000009")
OPP_DOWNSELL = to_18_char_id("006000000000010")


def _kinds(drift: pd.DataFrame) -> list[tuple]:
    return [(r["kind"], r["netsuite_id"], r["salesforce_id"], r["field"]) for r in drift.to_dict("records")]


# ------------------------------------------------------------------------------- Opportunities


def test_error_and_stuck_opportunities():
    opps = [
        {
            "Id": OPP_A,
            "Name": "A",
            "Sync_Status__c": "Error",
            "Sync_Error__c": "Line 1: no NetSuite item",
            "LastModifiedDate": "2026-03-01T03:59:00.000+0000",
        },
        {
            "Id": OPP_B,
            "Name": "B",
            "Sync_Status__c": "Processing",
            "LastModifiedDate": "2026-03-01T01:00:00.000+0000",
        },  # 3 h: stuck
        {
            "Id": OPP_C,
            "Name": "C",
            "Sync_Status__c": "Processing",
            "LastModifiedDate": "2026-03-01T02:30:00.000+0000",
        },  # 1.5 h: not yet
        {
            "Id": OPP_GONE,
            "Name": "D",
            "Sync_Status__c": "Synced",
            "LastModifiedDate": "2025-01-01T00:00:00.000+0000",
        },
    ]
    drift = rc.failed_or_stuck_opportunities(opps, now=NOW, stuck_after=dt.timedelta(hours=2))
    assert list(drift.columns) == list(rc.DRIFT_COLUMNS)
    assert _kinds(drift) == [
        ("opportunity_error", None, OPP_A, "Sync_Error__c"),
        ("opportunity_stuck", None, OPP_B, "LastModifiedDate"),
    ]
    assert "Line 1: no NetSuite item" in drift.loc[0, "message"]
    assert drift.loc[0, "salesforce_value"] == "Line 1: no NetSuite item"
    assert "2026-03-01 01:00 UTC" in drift.loc[1, "message"]
    assert rc.requeue_ids(drift) == [OPP_A, OPP_B]


def test_error_without_message_and_long_messages_are_readable():
    opps = [
        {"Id": OPP_A, "Sync_Status__c": "Error", "Sync_Error__c": None},
        {"Id": OPP_B, "Sync_Status__c": "Error", "Sync_Error__c": "x" * 5000},
    ]
    drift = rc.failed_or_stuck_opportunities(opps, now=NOW, stuck_after=dt.timedelta(hours=2))
    assert drift.loc[0, "salesforce_value"] == "(no Sync_Error__c message)"
    assert len(drift.loc[1, "salesforce_value"]) == rc.MAX_ERROR_CHARS


def test_zero_hours_makes_every_processing_opportunity_stuck():
    opps = [{"Id": OPP_C, "Sync_Status__c": "Processing", "LastModifiedDate": "2026-03-01T03:59:59Z"}]
    assert len(rc.failed_or_stuck_opportunities(opps, now=NOW, stuck_after=dt.timedelta(0))) == 1


# ------------------------------------------------------------------------------- sales orders


def test_sales_orders_without_a_salesforce_link():
    orders = [
        {"id": "3001", "tranid": "SO3001", "externalid": OPP_A},  # linked correctly
        {"id": "3002", "tranid": "SO3002", "externalid": OPP_B},  # Opportunity has no NetSuite_Id__c
        {"id": "3003", "tranid": "SO3003", "externalid": OPP_C},  # Opportunity points elsewhere
        {"id": "3004", "tranid": "SO3004", "externalid": OPP_GONE},  # Opportunity unknown
        {"id": "3005", "tranid": "SO3005", "externalid": "LEGACY-42"},  # not from Salesforce: ignored
        {"id": "3006", "tranid": "SO3006", "externalid": OPP_A[:15]},  # 15-char form of OPP_A, other order
    ]
    opps = [
        {"Id": OPP_A, "Name": "A", "NetSuite_Id__c": "3001"},
        {"Id": OPP_B, "Name": "B", "NetSuite_Id__c": None},
        {"Id": OPP_C, "Name": "C", "NetSuite_Id__c": "9999"},
    ]
    drift = rc.unlinked_sales_orders(orders, opps)
    assert _kinds(drift) == [
        ("sales_order_unlinked", "3002", OPP_B, "NetSuite_Id__c"),
        ("sales_order_link_mismatch", "3003", OPP_C, "NetSuite_Id__c"),
        ("sales_order_unknown_opportunity", "3004", OPP_GONE, "externalid"),
        ("sales_order_link_mismatch", "3006", OPP_A, "NetSuite_Id__c"),
    ]
    mismatch = drift.iloc[1]
    assert (mismatch["netsuite_value"], mismatch["salesforce_value"]) == ("3003", "9999")
    assert rc.requeue_ids(drift) == []


def test_opportunities_pointing_at_an_order_netsuite_does_not_have():
    orders = [
        {"id": "3001", "tranid": "SO3001", "externalid": OPP_A},
        {"id": "3002", "tranid": "SO3002", "externalid": OPP_GONE},  # another Opportunity's order: exists
    ]
    opps = [
        {"Id": OPP_A, "Name": "A", "NetSuite_Id__c": "3001"},  # in step
        {"Id": OPP_B, "Name": "B", "NetSuite_Id__c": "3002"},  # exists (the mismatch is the order's row)
        {"Id": OPP_C, "Name": "C", "NetSuite_Id__c": "9999"},  # deleted, or made by hand: no such order
        {"Id": OPP_GONE, "Name": "D", "NetSuite_Id__c": None},
        {"Id": OPP_DOWNSELL, "Name": "E", "NetSuite_Id__c": "4001"},  # a downsell: its return
    ]
    returns = [{"id": "4001", "tranid": "RMA4001", "externalid": OPP_DOWNSELL}]
    drift = rc.opportunities_linked_to_missing_orders(orders, opps, returns)
    assert _kinds(drift) == [("opportunity_order_missing", "9999", OPP_C, "NetSuite_Id__c")]
    assert "points at NetSuite order 9999" in drift.iloc[0]["message"]
    # Without the return authorizations, the downsell's link would read as a deleted order.
    assert len(rc.opportunities_linked_to_missing_orders(orders, opps)) == 2
    assert drift.iloc[0]["salesforce_value"] == "9999"
    assert rc.requeue_ids(drift) == []  # reported, never re-queued by repair
    assert rc.opportunities_linked_to_missing_orders([], []).empty


def test_opportunity_id_recognition():
    assert rc.opportunity_id(OPP_A[:15]) == OPP_A
    assert rc.opportunity_id(OPP_A) == OPP_A
    assert rc.opportunity_id("001000000000001") is None  # an Account id
    assert rc.opportunity_id("3001") is None
    assert rc.opportunity_id(None) is None


# ------------------------------------------------------------------------------- contracts


def _ns_contract(cid, **over):
    row = {
        "id": str(cid),
        "name": f"{cid}_2026-01-01_2026-12-31",
        "custrecord_contracts_start_date": "2026-01-01",
        "custrecord_contracts_end_date": "2026-12-31",
        "custrecord_contract_status": "2",
        "custrecord_swe_contract_value": "1200.5",
    }
    row.update(over)
    return row


def _sf_contract(cid, **over):
    row = {
        "Id": f"800{cid:012d}",
        "NetSuite_Id__c": str(cid),
        "NetSuite_Name__c": f"{cid}_2026-01-01_2026-12-31",
        "StartDate": "2026-01-01",
        "End_Date__c": "2026-12-31",
        "NetSuite_Status__c": "Active",
        "Contract_Value__c": 1200.50,
    }
    row.update(over)
    return row


def test_contracts_in_step_give_no_drift():
    drift = rc.contract_drift([_ns_contract(101)], [_sf_contract(101)], status_labels=STATUS)
    assert drift.empty
    assert list(drift.columns) == list(rc.DRIFT_COLUMNS)


def test_contract_drift_on_either_side_and_per_field():
    ns = [
        _ns_contract(101),
        _ns_contract(102, custrecord_contracts_end_date="2027-06-30", custrecord_contract_status="3"),
        _ns_contract(103),  # not in Salesforce
        _ns_contract(104, custrecord_swe_contract_value="1200.504"),  # within a cent: same
        _ns_contract(105, custrecord_contract_status="42"),  # id missing from the settings list
    ]
    sf = [
        _sf_contract(101),
        _sf_contract(102),
        _sf_contract(104),
        _sf_contract(105),
        _sf_contract(999),  # NetSuite has no contract 999
        {"Id": "800000000000777", "NetSuite_Id__c": None},  # not the integration's: ignored
    ]
    drift = rc.contract_drift(ns, sf, status_labels=STATUS)
    assert _kinds(drift) == [
        ("contract_different", "102", "800000000000102", "End_Date__c"),
        ("contract_different", "102", "800000000000102", "NetSuite_Status__c"),
        ("contract_missing_in_salesforce", "103", None, None),
        ("contract_different", "105", "800000000000105", "NetSuite_Status__c"),
        ("contract_missing_in_netsuite", "999", "800000000000999", None),
    ]
    end = drift.iloc[0]
    assert (end["netsuite_value"], end["salesforce_value"]) == ("2027-06-30", "2026-12-31")
    assert "ns_contract_to_sf_contract" in end["message"] and "[102]" in end["message"]
    assert drift.iloc[1]["netsuite_value"] == "Renewal Generated"
    assert drift.iloc[3]["netsuite_value"] == "unknown id 42"
    assert drift.iloc[2]["name"] == "103_2026-01-01_2026-12-31"


def test_contract_values_and_dates_are_normalised():
    ns = [_ns_contract(101, custrecord_contracts_start_date="1/1/2026", custrecord_swe_contract_value=None)]
    sf = [_sf_contract(101, Contract_Value__c=None, NetSuite_Id__c="101.0")]
    assert rc.contract_drift(ns, sf, status_labels=STATUS).empty
    sf = [_sf_contract(101, Contract_Value__c=10.0)]
    drift = rc.contract_drift(ns, sf, status_labels=STATUS)
    assert _kinds(drift) == [("contract_different", "101", "800000000000101", "Contract_Value__c")]
    assert drift.iloc[0]["netsuite_value"] is None and drift.iloc[0]["salesforce_value"] == "10"


# ------------------------------------------------------------------------------- contract items


def _ns_item(iid, contract=101, **over):
    row = {
        "id": str(iid),
        "name": f"{iid:08d}",
        "custrecord_ci_contract_id": str(contract),
        "custrecord_ci_quantity": "3",
        "custrecord_ci_startdate": "2026-01-01",
        "custrecord_ci_enddate": "2026-12-31",
        "custrecord_ci_state": "2",
    }
    row.update(over)
    return row


def _sf_item(iid, contract=101, **over):
    row = {
        "Id": f"a00{iid:012d}",
        "Name": f"{iid:08d}",
        "NetSuite_Id__c": str(iid),
        "Contract__r.NetSuite_Id__c": str(contract),
        "Quantity__c": 3.0,
        "Start_Date__c": "2026-01-01",
        "End_Date__c": "2026-12-31",
        "Status__c": "Active",
    }
    row.update(over)
    return row


def test_contract_item_drift():
    ns = [_ns_item(1), _ns_item(2), _ns_item(3), _ns_item(4, custrecord_ci_state="3")]
    sf = [
        _sf_item(1),
        _sf_item(2, Quantity__c=5.0, contract=102),
        _sf_item(4, Status__c="Expired"),
        _sf_item(8),
    ]
    drift = rc.contract_item_drift(ns, sf, state_labels=STATE)
    assert _kinds(drift) == [
        ("contract_item_different", "2", "a00000000000002", "Contract__c"),
        ("contract_item_different", "2", "a00000000000002", "Quantity__c"),
        ("contract_item_missing_in_salesforce", "3", None, None),
        ("contract_item_missing_in_netsuite", "8", "a00000000000008", None),
    ]
    assert drift.iloc[1][["netsuite_value", "salesforce_value"]].tolist() == ["3", "5"]
    assert "(contract 101)" in drift.iloc[2]["message"]
    assert "ns_contract_item_to_sf_contract_item" in drift.iloc[2]["message"]


def test_empty_inputs():
    assert rc.contract_item_drift([], [], state_labels=STATE).empty
    assert rc.contract_drift(pd.DataFrame(), None, status_labels=STATUS).empty
    assert rc.unlinked_sales_orders([], []).empty


# ------------------------------------------------------------------------------- report


@pytest.fixture
def drift() -> pd.DataFrame:
    return rc.combine(
        [
            rc.contract_drift([_ns_contract(103)], [], status_labels=STATUS),
            rc.failed_or_stuck_opportunities(
                [
                    {
                        "Id": OPP_A,
                        "Name": "<b>A</b>",
                        "Sync_Status__c": "Error",
                        "Sync_Error__c": "bad & worse",
                    }
                ],
                now=NOW,
                stuck_after=dt.timedelta(hours=2),
            ),
            rc.empty(),
        ]
    )


def test_combine_orders_by_kind_and_counts_every_kind(drift):
    assert drift["kind"].tolist() == ["opportunity_error", "contract_missing_in_salesforce"]
    counts = rc.counts(drift)
    assert list(counts) == list(rc.KINDS)
    assert counts["opportunity_error"] == 1 and counts["contract_missing_in_salesforce"] == 1
    assert sum(counts.values()) == 2
    assert rc.combine([]).empty and rc.counts(rc.empty())["contract_different"] == 0


def test_text_report_lists_counts_and_first_rows(drift):
    text = rc.render_text(drift, title="Reconciliation r1", compared={"NetSuite contracts": 1})
    assert text.splitlines()[0] == "Reconciliation r1: 2 drift row(s)"
    assert "  opportunity_error: 1" in text and "  contract_different: 0" in text
    assert "bad & worse" in text and "NetSuite 103" in text
    assert rc.render_text(rc.empty(), title="t").startswith("t: no drift")


def test_html_report_escapes_values(drift):
    page = rc.render_html(drift, title="Reconciliation <r1>", csv_name="drift.csv", generated_at=NOW)
    assert "<title>Reconciliation &lt;r1&gt;</title>" in page
    assert "&lt;b&gt;A&lt;/b&gt;" in page and "<b>A</b>" not in page
    assert "href='drift.csv'" in page and "2026-03-01 04:00:00 UTC" in page


def test_html_report_shows_empty_cells_blank_and_escapes_attributes(drift):
    """Rendered with Jinja2 (autoescape): an empty cell is blank (never the text "None"), and a report name
    with a quote cannot leave the link's attribute."""
    page = rc.render_html(drift, title="t", csv_name="x'><script>.csv", generated_at=NOW)
    assert "<td>None</td>" not in page and "<td></td>" in page
    assert "<script>" not in page

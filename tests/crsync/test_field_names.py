"""crsync.fields: the names the flows share."""

from __future__ import annotations

from crsync import fields as f


def test_sync_status_values_match_the_picklist() -> None:
    assert [s.value for s in f.SyncStatus] == ["Not Synced", "Processing", "Synced", "Error"]


def test_order_type_values_match_the_picklist() -> None:
    assert [t.value for t in f.OrderType] == ["Contract New", "Contract Upsell", "Contract Renewal",
                                            "Contract Downsell"]


def test_salesforce_custom_fields_use_the_custom_suffix() -> None:
    for name in (
        f.Opportunity.SYNC_STATUS,
        f.Contract.NETSUITE_ID,
        f.ContractItem.SOBJECT,
        f.Quote.NETSUITE_ESTIMATE_ID,
    ):
        assert name.endswith("__c")


def test_netsuite_columns_are_lower_case() -> None:
    for table in (
        f.NsTransaction,
        f.NsTransactionLine,
        f.NsCustomer,
        f.NsItem,
        f.NsContract,
        f.NsContractItem,
    ):
        for name, value in vars(table).items():
            if name.isupper():
                assert value == value.lower(), (table.__name__, name)

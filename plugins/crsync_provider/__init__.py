"""Airflow provider for the contract renewal sync: the NetSuite connection type, hooks and operators."""

from __future__ import annotations

__version__ = "0.1.0"


def get_provider_info() -> dict:
    # Connection form declared here (Airflow 3.2+ reads it without importing the hook).
    from crsync_provider.connection_fields import NETSUITE_CONN_FIELDS, NETSUITE_UI_FIELD_BEHAVIOUR

    return {
        "package-name": "contract-renewal-sync",
        "name": "Contract Renewal Sync (NetSuite)",
        "description": "NetSuite SuiteTalk REST hook and operators, Salesforce collections/Bulk 2.0 hook, task decorators.",
        "versions": [__version__],
        "integrations": [
            {"integration-name": "NetSuite", "external-doc-url": "https://docs.oracle.com/en/cloud/saas/netsuite/"},
            {"integration-name": "Salesforce", "external-doc-url": "https://developer.salesforce.com/docs/apis"},
        ],
        "hooks": [
            {"integration-name": "NetSuite", "python-modules": ["crsync_provider.hooks.netsuite"]},
            {"integration-name": "Salesforce", "python-modules": ["crsync_provider.hooks.salesforce"]},
        ],
        "operators": [
            {"integration-name": "NetSuite", "python-modules": ["crsync_provider.operators.netsuite"]},
        ],
        "task-decorators": [
            {"name": "netsuite_extract", "class-name": "crsync_provider.decorators.netsuite_extract_task"},
            {"name": "netsuite_write", "class-name": "crsync_provider.decorators.netsuite_write_task"},
            {"name": "salesforce_write", "class-name": "crsync_provider.decorators.salesforce_write_task"},
        ],
        "connection-types": [
            {
                "connection-type": "netsuite",
                "hook-class-name": "crsync_provider.hooks.netsuite.NetSuiteHook",
                "hook-name": "NetSuite",
                "conn-fields": NETSUITE_CONN_FIELDS,
                "ui-field-behaviour": NETSUITE_UI_FIELD_BEHAVIOUR,
            }
        ],
        "extra-links": [
            "crsync_provider.links.NetSuiteRecordLink",
            "crsync_provider.links.SalesforceRecordLink",
        ],
    }

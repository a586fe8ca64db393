"""Airflow provider for the contract renewal sync: the NetSuite connection type, hooks and operators."""

from __future__ import annotations

__version__ = "0.1.0"


def get_provider_info() -> dict:
    return {
        "package-name": "contract-renewal-sync",
        "name": "Contract Renewal Sync (NetSuite)",
        "description": "NetSuite SuiteTalk REST hook and operators, Salesforce collections/Bulk 2.0 operators.",
        "versions": [__version__],
        "connection-types": [
            {"connection-type": "netsuite", "hook-class-name": "crsync_provider.hooks.netsuite.NetSuiteHook"}
        ],
    }

"""Builders for every extract and lookup query (SOQL and SuiteQL): the one home of query text.

- :mod:`crsync.queries.validation`: the ids a query may carry, validated; id lists chunked;
- :mod:`crsync.queries.soql`: Salesforce queries and SOQL literals;
- :mod:`crsync.queries.suiteql`: NetSuite queries; keyset extracts are :class:`KeysetQuery` objects
  (a template with ``{key_filter}`` and its key) that ``NetSuiteHook.suiteql_keyset`` pages. SuiteQL
  literals come from :mod:`crsync_provider.hooks.suiteql`.

No value is spliced into a query without being validated first: Salesforce ids must match the 15/18
character id format, NetSuite ids must be integers, external ids must be NetSuite-safe, field names
come from :mod:`crsync.fields` or are validated like settings field names, and datetimes are formatted
from ``datetime`` objects. Anything else raises ``ValueError`` with a message saying what was wrong.
"""

from __future__ import annotations

from crsync.queries.soql import (
    LINE_ITEM_FIELDS,
    OPPORTUNITY_FIELDS,
    OpportunityMode,
    accounts_by_netsuite_ids_soql,
    contract_origins_soql,
    contracts_by_netsuite_ids_soql,
    linked_opportunities_soql,
    opportunities_by_ids_soql,
    opportunities_soql,
    opportunities_to_check_soql,
    opportunity_contracts_soql,
    opportunity_lines_soql,
    opportunity_modstamps_soql,
    pricebook_entries_soql,
    renewal_line_items_soql,
    renewal_opportunities_soql,
    renewal_quotes_soql,
    salesforce_contract_items_soql,
    salesforce_contracts_soql,
    soql_datetime,
    soql_string,
    standard_pricebook_soql,
)
from crsync.queries.suiteql import (
    CONTRACT_NAME,
    CUSTOMER_EXTERNAL_ID,
    CUSTOMER_NAME,
    ITEM_DISPLAY_NAME,
    ITEM_NAME,
    ChangeScope,
    KeysetQuery,
    billed_sales_orders_query,
    contract_items_of_contracts_query,
    contract_items_query,
    contract_orders_query,
    contracts_query,
    downsell_returns_query,
    reconciliation_contract_items_query,
    reconciliation_contracts_query,
    renewal_lines_query,
    renewal_transactions_query,
    sales_order_lines_query,
    sales_orders_by_external_ids_query,
    suiteql_string,
    suiteql_timestamp,
    synced_sales_orders_query,
)
from crsync.queries.validation import (
    MAX_IDS_PER_QUERY,
    OPPORTUNITY_ID_PREFIX,
    chunked,
    to_18_char_id,
    validate_external_ids,
    validate_netsuite_ids,
    validate_salesforce_ids,
)

__all__ = [
    "CONTRACT_NAME",
    "CUSTOMER_EXTERNAL_ID",
    "CUSTOMER_NAME",
    "ITEM_DISPLAY_NAME",
    "ITEM_NAME",
    "LINE_ITEM_FIELDS",
    "MAX_IDS_PER_QUERY",
    "OPPORTUNITY_FIELDS",
    "OPPORTUNITY_ID_PREFIX",
    "ChangeScope",
    "KeysetQuery",
    "OpportunityMode",
    "accounts_by_netsuite_ids_soql",
    "billed_sales_orders_query",
    "chunked",
    "contract_items_of_contracts_query",
    "contract_items_query",
    "contract_orders_query",
    "contract_origins_soql",
    "contracts_by_netsuite_ids_soql",
    "contracts_query",
    "linked_opportunities_soql",
    "opportunities_by_ids_soql",
    "opportunities_soql",
    "opportunities_to_check_soql",
    "opportunity_contracts_soql",
    "opportunity_lines_soql",
    "opportunity_modstamps_soql",
    "pricebook_entries_soql",
    "reconciliation_contract_items_query",
    "reconciliation_contracts_query",
    "renewal_line_items_soql",
    "renewal_quotes_soql",
    "renewal_lines_query",
    "renewal_opportunities_soql",
    "renewal_transactions_query",
    "salesforce_contract_items_soql",
    "salesforce_contracts_soql",
    "sales_order_lines_query",
    "sales_orders_by_external_ids_query",
    "soql_datetime",
    "soql_string",
    "standard_pricebook_soql",
    "suiteql_string",
    "suiteql_timestamp",
    "downsell_returns_query",
    "synced_sales_orders_query",
    "to_18_char_id",
    "validate_external_ids",
    "validate_netsuite_ids",
    "validate_salesforce_ids",
]

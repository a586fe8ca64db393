"""Every field and column name the flows use, defined once.

Salesforce API names follow domain.md section 3 (the DX metadata in ``include/salesforce/`` is the
other half of this contract). NetSuite names follow domain.md sections 2 and 4: SuiteQL columns (lower
case, as NetSuite's analytics data source spells them) and REST record body fields.

Nothing here depends on the integration settings: values that users may change (list ids, the order
type map, labels) live in ``settings.yaml``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

# --------------------------------------------------------------------------------------------------
# Salesforce
# --------------------------------------------------------------------------------------------------


class SyncStatus(StrEnum):
    """Values of the ``Opportunity.Sync_Status__c`` picklist."""

    NOT_SYNCED = "Not Synced"
    PROCESSING = "Processing"
    SYNCED = "Synced"
    ERROR = "Error"


class OrderType(StrEnum):
    """Values of the ``Opportunity.Order_Type__c`` picklist (our Salesforce schema, fixed labels)."""

    NEW = "Contract New"
    UPSELL = "Contract Upsell"
    RENEWAL = "Contract Renewal"
    #: A return authorization tied to the contract (NetSuite order type 13 Contract-Downsell).
    DOWNSELL = "Contract Downsell"


class Opportunity:
    """``Opportunity`` fields."""

    SOBJECT: Final = "Opportunity"
    ID: Final = "Id"
    NAME: Final = "Name"
    ORDER_TYPE: Final = "Order_Type__c"
    SYNC_STATUS: Final = "Sync_Status__c"
    SYNC_ERROR: Final = "Sync_Error__c"
    NETSUITE_ID: Final = "NetSuite_Id__c"
    NETSUITE_ORDER_NUMBER: Final = "NetSuite_Order_Number__c"
    NETSUITE_RENEWAL_ESTIMATE_ID: Final = "NetSuite_Renewal_Estimate_Id__c"
    LAST_SYNCED: Final = "Last_Synced__c"
    CLOSE_DATE: Final = "CloseDate"
    STAGE_NAME: Final = "StageName"
    IS_CLOSED: Final = "IsClosed"
    IS_WON: Final = "IsWon"
    CONTRACT_ID: Final = "ContractId"
    ACCOUNT_ID: Final = "AccountId"
    #: Optional Account lookup naming the end user (settings ``netsuite.end_user``, source opportunity_field).
    END_USER: Final = "End_User__c"
    PRICEBOOK_ID: Final = "Pricebook2Id"
    CURRENCY: Final = "CurrencyIsoCode"
    SYSTEM_MODSTAMP: Final = "SystemModstamp"
    # Relationship names (parent lookups and the child subquery).
    ACCOUNT: Final = "Account"
    CONTRACT: Final = "Contract"
    LINE_ITEMS: Final = "OpportunityLineItems"


#: ``Sync_Error__c`` is a long text area; 32,768 is Salesforce's default (and maximum kept) length.
SYNC_ERROR_MAX_LENGTH: Final = 32_768


class OpportunityLineItem:
    """``OpportunityLineItem`` fields."""

    SOBJECT: Final = "OpportunityLineItem"
    ID: Final = "Id"
    OPPORTUNITY_ID: Final = "OpportunityId"
    OPPORTUNITY: Final = "Opportunity"
    QUANTITY: Final = "Quantity"
    UNIT_PRICE: Final = "UnitPrice"
    LIST_PRICE: Final = "ListPrice"
    START_DATE: Final = "Start_Date__c"
    END_DATE: Final = "End_Date__c"
    TERM_MONTHS: Final = "Term_Months__c"
    NETSUITE_LINE_ID: Final = "NetSuite_Line_Id__c"
    PRODUCT_ID: Final = "Product2Id"
    PRODUCT: Final = "Product2"
    PRICEBOOK_ENTRY_ID: Final = "PricebookEntryId"
    SYSTEM_MODSTAMP: Final = "SystemModstamp"


class Account:
    """``Account`` fields."""

    SOBJECT: Final = "Account"
    ID: Final = "Id"
    NAME: Final = "Name"
    NETSUITE_ID: Final = "NetSuite_Id__c"
    CHANNEL_TIER: Final = "Channel_Tier__c"
    #: The NetSuite subsidiary internal id of the Account's customer (OneWorld; settings
    #: ``netsuite.subsidiary.account_field`` names it, this is the shipped default).
    NETSUITE_SUBSIDIARY_ID: Final = "NetSuite_Subsidiary_Id__c"


class Product:
    """``Product2`` fields."""

    SOBJECT: Final = "Product2"
    ID: Final = "Id"
    NAME: Final = "Name"
    NETSUITE_ID: Final = "NetSuite_Id__c"
    ITEM_CATEGORY: Final = "Item_Category__c"


class PricebookEntry:
    """``PricebookEntry`` and ``Pricebook2`` fields."""

    SOBJECT: Final = "PricebookEntry"
    ID: Final = "Id"
    PRICEBOOK_ID: Final = "Pricebook2Id"
    PRODUCT_ID: Final = "Product2Id"
    CURRENCY: Final = "CurrencyIsoCode"
    IS_ACTIVE: Final = "IsActive"
    PRODUCT_NETSUITE_ID: Final = "Product2.NetSuite_Id__c"
    PRICEBOOK_SOBJECT: Final = "Pricebook2"
    PRICEBOOK_IS_STANDARD: Final = "IsStandard"


class Contract:
    """Standard ``Contract`` plus our custom fields."""

    SOBJECT: Final = "Contract"
    ID: Final = "Id"
    NETSUITE_ID: Final = "NetSuite_Id__c"
    NETSUITE_NAME: Final = "NetSuite_Name__c"
    NETSUITE_STATUS: Final = "NetSuite_Status__c"
    START_DATE: Final = "StartDate"
    END_DATE: Final = "End_Date__c"
    CONTRACT_TERM: Final = "ContractTerm"
    CONTRACT_VALUE: Final = "Contract_Value__c"
    TARGET_RENEWAL_DATE: Final = "Target_Renewal_Date__c"
    #: Lookup to the Opportunity whose order made the contract (lineage; the renewal Opportunity for a
    #: renewal contract). With ``Opportunity.ContractId`` the renewal chain can be walked both ways.
    ORIGINATING_OPPORTUNITY: Final = "Opportunity__c"
    ORIGINATING_OPPORTUNITY_REF: Final = "Opportunity__r"
    ACCOUNT: Final = "Account"
    #: Multi-currency orgs only (settings ``salesforce.multi_currency``).
    CURRENCY: Final = "CurrencyIsoCode"


class ContractItem:
    """Custom ``Contract_Item__c`` (child of Contract)."""

    SOBJECT: Final = "Contract_Item__c"
    ID: Final = "Id"
    NAME: Final = "Name"
    NETSUITE_ID: Final = "NetSuite_Id__c"
    CONTRACT_REF: Final = "Contract__r"
    PRODUCT_REF: Final = "Product__r"
    QUANTITY: Final = "Quantity__c"
    START_DATE: Final = "Start_Date__c"
    END_DATE: Final = "End_Date__c"
    TERM_MONTHS: Final = "Term_Months__c"
    STATUS: Final = "Status__c"
    RENEW_WITH: Final = "Renew_With__c"
    #: ``Renew_With__c`` is a lookup to Product2: set it through the product's external id.
    RENEW_WITH_REF: Final = "Renew_With__r"
    LIST_RATE: Final = "List_Rate__c"
    #: Multi-currency orgs only: the item is in its contract's currency.
    CURRENCY: Final = "CurrencyIsoCode"


class Quote:
    """Standard ``Quote`` and ``QuoteLineItem`` (renewals created as quotes)."""

    SOBJECT: Final = "Quote"
    NAME: Final = "Name"
    NETSUITE_ESTIMATE_ID: Final = "NetSuite_Estimate_Id__c"
    OPPORTUNITY: Final = "Opportunity"
    PRICEBOOK_ID: Final = "Pricebook2Id"
    EXPIRATION_DATE: Final = "ExpirationDate"
    LINE_SOBJECT: Final = "QuoteLineItem"
    LINE_QUOTE: Final = "Quote"
    #: Assumption: QuoteLineItem carries the same line external id field as OpportunityLineItem.
    LINE_NETSUITE_LINE_ID: Final = "NetSuite_Line_Id__c"


#: Key of the metadata dict that the REST API (and simple-salesforce) adds to every record.
SALESFORCE_ATTRIBUTES_KEY: Final = "attributes"

# --------------------------------------------------------------------------------------------------
# NetSuite: SuiteQL tables and columns (analytics data source names, lower case)
# --------------------------------------------------------------------------------------------------


class NsTransaction:
    """SuiteQL ``transaction`` columns."""

    TABLE: Final = "transaction"
    ID: Final = "id"
    TRANID: Final = "tranid"
    TYPE: Final = "type"
    ENTITY: Final = "entity"
    EXTERNAL_ID: Final = "externalid"
    TRANDATE: Final = "trandate"
    STARTDATE: Final = "startdate"
    ENDDATE: Final = "enddate"
    STATUS: Final = "status"
    CURRENCY: Final = "currency"
    FOREIGN_TOTAL: Final = "foreigntotal"
    LAST_MODIFIED: Final = "lastmodifieddate"
    ORDER_TYPE: Final = "custbody_order_type"
    CONTRACT_NAME: Final = "custbody_contract_name"
    FROM_CONTRACT: Final = "custbody_swe_from_contract"
    CONTRACT_START_DATE: Final = "custbody_swe_contract_start_date"
    CONTRACT_END_DATE: Final = "custbody_swe_contract_end_date"
    TERM_MONTHS: Final = "custbody_tran_term_in_months"
    END_USER: Final = "custbody_end_user"
    BILL_TO_TIER: Final = "custbody_bill_to_tier"
    #: The transaction a transformed one was made from (an invoice's sales order).
    CREATED_FROM: Final = "createdfrom"


#: ``transaction.type`` of an invoice (what billing a sales order makes).
NS_INVOICE_TYPE: Final = "CustInvc"


class NsTransactionType(StrEnum):
    """SuiteQL ``transaction.type`` codes."""

    SALES_ORDER = "SalesOrd"
    ESTIMATE = "Estimate"
    OPPORTUNITY = "Opprtnty"
    RETURN_AUTHORIZATION = "RtnAuth"


#: Renewal transaction statuses, per transaction type, that mean "already ordered or dead": such renewals
#: are not re-sent to Salesforce, so a won renewal Opportunity is never rewritten by its own processed
#: estimate. Letters from SuiteAnswers 23874 (Transaction Statuses for SuiteScript Search Filters):
#: Estimate B Processed, C Closed, V Voided, X Expired (A Open is live); Opportunity C Closed - Won,
#: D Closed - Lost; Sales Order C Cancelled, H Closed.
CLOSED_RENEWAL_STATUSES: Final[dict[str, frozenset[str]]] = {
    NsTransactionType.ESTIMATE.value: frozenset({"B", "C", "V", "X"}),
    NsTransactionType.OPPORTUNITY.value: frozenset({"C", "D"}),
    NsTransactionType.SALES_ORDER.value: frozenset({"C", "H"}),
}


class NsTransactionLine:
    """SuiteQL ``transactionline`` columns.

    SuiteQL shows lines with their posting sign: a sales item line's ``quantity``, ``foreignamount`` and
    ``netamount`` are negative (a credit to income), ``rate`` is positive; a return authorization's item
    lines are positive. Readers take the absolute quantity. There is no ``amount`` column on this table.
    """

    TABLE: Final = "transactionline"
    TRANSACTION: Final = "transaction"
    ID: Final = "id"
    SEQUENCE: Final = "linesequencenumber"
    ITEM: Final = "item"
    QUANTITY: Final = "quantity"
    RATE: Final = "rate"
    #: Line amount in the transaction currency (posting sign).
    FOREIGN_AMOUNT: Final = "foreignamount"
    #: Line amount, net (posting sign).
    NET_AMOUNT: Final = "netamount"
    MAINLINE: Final = "mainline"
    CONTRACT_START_DATE: Final = "custcol_swe_contract_start_date"
    CONTRACT_END_DATE: Final = "custcol_swe_contract_end_date"
    TERM_MONTHS: Final = "custcol_swe_contract_item_term_months"


class NsCustomer:
    """SuiteQL ``customer`` columns."""

    TABLE: Final = "customer"
    ID: Final = "id"
    ENTITY_ID: Final = "entityid"
    COMPANY_NAME: Final = "companyname"
    EXTERNAL_ID: Final = "externalid"


class NsItem:
    """SuiteQL ``item`` columns."""

    TABLE: Final = "item"
    ID: Final = "id"
    ITEM_ID: Final = "itemid"
    DISPLAY_NAME: Final = "displayname"
    CATEGORY: Final = "custitem_item_category"


class NsContract:
    """SuiteQL ``customrecord_contracts`` columns."""

    TABLE: Final = "customrecord_contracts"
    ID: Final = "id"
    NAME: Final = "name"
    EXTERNAL_ID: Final = "externalid"
    CREATED: Final = "created"
    LAST_MODIFIED: Final = "lastmodified"
    START_DATE: Final = "custrecord_contracts_start_date"
    END_DATE: Final = "custrecord_contracts_end_date"
    BILL_TO: Final = "custrecord_contracts_bill_to_customer"
    END_USER: Final = "custrecord_contracts_end_user"
    STATUS: Final = "custrecord_contract_status"
    VALUE: Final = "custrecord_swe_contract_value"
    TARGET_RENEWAL_DATE: Final = "custrecord_swe_target_renewal_date"
    RENEWAL_TRANSACTION: Final = "custrecord_contract_renewal_tran"
    ORIGINAL_CONTRACT: Final = "custrecord_swe_original_contract"
    CURRENCY: Final = "custrecord_swe_contract_currency"
    TYPE: Final = "custrecord_swe_contract_type"


class NsContractItem:
    """SuiteQL ``customrecord_contract_item`` columns."""

    TABLE: Final = "customrecord_contract_item"
    ID: Final = "id"
    NAME: Final = "name"
    CREATED: Final = "created"
    LAST_MODIFIED: Final = "lastmodified"
    CONTRACT: Final = "custrecord_ci_contract_id"
    ITEM: Final = "custrecord_ci_item"
    QUANTITY: Final = "custrecord_ci_quantity"
    START_DATE: Final = "custrecord_ci_startdate"
    END_DATE: Final = "custrecord_ci_enddate"
    TERM: Final = "custrecord_ci_term"
    STATUS: Final = "custrecord_ci_status"
    STATE: Final = "custrecord_ci_state"
    RENEW_WITH: Final = "custrecord_ci_renew_with"
    ORIGINAL_LIST_RATE: Final = "custrecord_ci_original_list_rate"
    ORIGINAL_TRANSACTION: Final = "custrecord_ci_original_transaction"
    BILL_TO: Final = "custrecord_ci_bill_to_customer"
    #: Not a contract item column: its contract's currency, selected through a join (contract_items_query).
    CONTRACT_CURRENCY: Final = "contract_currency"


# --------------------------------------------------------------------------------------------------
# NetSuite: REST record service (record types and body fields)
# --------------------------------------------------------------------------------------------------


class NsRecordType(StrEnum):
    """REST record type names (``record/v1/<type>``)."""

    SALES_ORDER = "salesOrder"
    ESTIMATE = "estimate"
    OPPORTUNITY = "opportunity"
    #: A contract downsell (order type Contract-Downsell) is a return authorization tied to the contract.
    RETURN_AUTHORIZATION = "returnAuthorization"
    CUSTOMER = "customer"


class NsBody:
    """REST body fields of the records the integration writes.

    Standard fields use the REST record service's names; the transaction term fields are spelled as
    domain.md section 2 lists them (``startdate``/``enddate``); custom fields use their script ids.
    """

    EXTERNAL_ID: Final = "externalId"
    ENTITY: Final = "entity"
    COMPANY_NAME: Final = "companyName"
    SUBSIDIARY: Final = "subsidiary"
    ORDER_TYPE: Final = NsTransaction.ORDER_TYPE
    CONTRACT_NAME: Final = NsTransaction.CONTRACT_NAME
    FROM_CONTRACT: Final = NsTransaction.FROM_CONTRACT
    CONTRACT_START_DATE: Final = NsTransaction.CONTRACT_START_DATE
    CONTRACT_END_DATE: Final = NsTransaction.CONTRACT_END_DATE
    START_DATE: Final = "startdate"
    END_DATE: Final = "enddate"
    TERM_MONTHS: Final = NsTransaction.TERM_MONTHS
    BILL_TO_TIER: Final = NsTransaction.BILL_TO_TIER
    END_USER: Final = NsTransaction.END_USER
    #: A customer's currencies sublist (its primary currency is ``currency``).
    CURRENCY_LIST: Final = "currencyList"
    #: Transaction currency, a reference to a currency record (``{"id": "4"}``).
    CURRENCY: Final = NsTransaction.CURRENCY
    ITEM_SUBLIST: Final = "item"
    SUBLIST_ITEMS: Final = "items"
    #: The order's custom form: the Contract Renewals module acts only on its form (or a copy).
    CUSTOM_FORM: Final = "customForm"
    #: Sales order approval status: ``A`` Pending Approval, ``B`` Pending Fulfillment (approved).
    ORDER_STATUS: Final = "orderStatus"
    END_USER: Final = NsTransaction.END_USER


class NsLine:
    """REST item sublist line fields."""

    ITEM: Final = "item"
    QUANTITY: Final = "quantity"
    RATE: Final = "rate"
    PRICE: Final = "price"
    CONTRACT_START_DATE: Final = NsTransactionLine.CONTRACT_START_DATE
    CONTRACT_END_DATE: Final = NsTransactionLine.CONTRACT_END_DATE
    TERM_MONTHS: Final = NsTransactionLine.TERM_MONTHS


#: NetSuite's limit on ``customer.companyName`` (characters).
NS_COMPANY_NAME_MAX_LENGTH: Final = 83
#: Lines per transaction accepted through web services (domain.md section 2, size limits).
NS_MAX_LINES_PER_TRANSACTION: Final = 5_000
#: Largest order line quantity the sync sends. NetSuite documents no limit on ``quantity``; this bound is
#: chosen so that quantity x rate stays exact to the cent in NetSuite's amount fields (a double holds
#: cents exactly up to about 9e13, so 1e9 units leave room for rates up to 90,000), and far above any
#: real contract line, so a larger value is a typo. The sandbox's NetSuite stand-in refuses the same.
NS_MAX_LINE_QUANTITY: Final = 1_000_000_000

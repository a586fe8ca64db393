"""The integration settings: one validated YAML file that users change without a deploy.

``load_settings()`` reads the file named by ``CRSYNC_SETTINGS_FILE`` (else the packaged
``settings.yaml``) and returns :class:`IntegrationSettings`. A bad file raises :class:`SettingsError`
whose message names the file, the line and the reason for every problem found, e.g.::

    settings.yaml line 12: order_type_map.'Contract Upsel': unknown Order_Type__c value; expected one of
    'Contract New', 'Contract Upsell', 'Contract Renewal', 'Contract Downsell'

Unknown keys, duplicate keys and wrong types are errors, never ignored. docs/settings.md documents
every setting. What one value may be lives in :mod:`crsync.settings_values`; how a problem is located
and worded in :mod:`crsync.settings_report`; the order-party settings in :mod:`crsync.order_party_settings`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from crsync import fields as f
from crsync.order_party_settings import EndUserSettings, SubsidiarySettings, party_checks
from crsync.settings_report import Loc, duplicate_keys, format_problem
from crsync.settings_report import reason as problem_reason
from crsync.settings_values import (
    NAME_MAX_LENGTH,
    NetSuiteBodyField,
    NetSuiteColumn,
    NewOrderStatus,
    NonEmptyText,
    OrderTypeLabel,
    PositiveId,
    SalesforceField,
    SalesforceFieldPath,
    check_name_template,
    check_new_order_status,
    check_pricebook,
    check_sales_order_form_id,
    check_time_zone,
    netsuite_body_field,
    netsuite_column,
    salesforce_field,
    salesforce_field_path,
)

SETTINGS_ENV_VAR = "CRSYNC_SETTINGS_FILE"
DEFAULT_SETTINGS_FILE = Path(__file__).with_name("settings.yaml")


class FlowId(StrEnum):
    """The four flows, named by their Airflow DAG ids."""

    OPPORTUNITY_TO_SALES_ORDER = "sf_opportunity_to_ns_sales_order"
    CONTRACT_TO_CONTRACT = "ns_contract_to_sf_contract"
    CONTRACT_ITEM_TO_CONTRACT_ITEM = "ns_contract_item_to_sf_contract_item"
    RENEWAL_ESTIMATE_TO_OPPORTUNITY = "ns_renewal_estimate_to_sf_opportunity"


class SettingsError(ValueError):
    """The settings file is unreadable or invalid; ``problems`` lists one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    """Every settings model refuses unknown keys and is immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class EnabledFlows(_Strict):
    sf_opportunity_to_ns_sales_order: bool
    ns_contract_to_sf_contract: bool
    ns_contract_item_to_sf_contract_item: bool
    ns_renewal_estimate_to_sf_opportunity: bool


class RenewalTransactionType(StrEnum):
    """The module's "Transaction Type to Create" preference, as the integration reads renewals."""

    ESTIMATE = "estimate"
    OPPORTUNITY = "opportunity"
    SALES_ORDER = "salesorder"

    @property
    def suiteql_type(self) -> f.NsTransactionType:
        """``transaction.type`` code of this transaction type."""
        return _RENEWAL_SUITEQL_TYPE[self]

    @property
    def record_type(self) -> f.NsRecordType:
        """REST record type (what an order is transformed from)."""
        return _RENEWAL_RECORD_TYPE[self]


_RENEWAL_SUITEQL_TYPE = {
    RenewalTransactionType.ESTIMATE: f.NsTransactionType.ESTIMATE,
    RenewalTransactionType.OPPORTUNITY: f.NsTransactionType.OPPORTUNITY,
    RenewalTransactionType.SALES_ORDER: f.NsTransactionType.SALES_ORDER,
}
_RENEWAL_RECORD_TYPE = {
    RenewalTransactionType.ESTIMATE: f.NsRecordType.ESTIMATE,
    RenewalTransactionType.OPPORTUNITY: f.NsRecordType.OPPORTUNITY,
    RenewalTransactionType.SALES_ORDER: f.NsRecordType.SALES_ORDER,
}


class RenewalSettings(_Strict):
    target: Literal["opportunity", "quote"] = "opportunity"
    stage_name: NonEmptyText = "Prospecting"
    close_date_rule: Literal["contract_end", "renewal_start", "estimate_date"] = "contract_end"
    transaction_type: RenewalTransactionType = RenewalTransactionType.ESTIMATE
    name_template: Annotated[str, Field(min_length=1, max_length=120), AfterValidator(check_name_template)] = (
        "Renewal {contract} ({tranid})"
    )


class FieldMappings(_Strict):
    """Extra mappings per flow: source field -> target field."""

    sf_opportunity_to_ns_sales_order: dict[SalesforceFieldPath, NetSuiteBodyField] = {}
    ns_contract_to_sf_contract: dict[NetSuiteColumn, SalesforceField] = {}
    ns_contract_item_to_sf_contract_item: dict[NetSuiteColumn, SalesforceField] = {}
    ns_renewal_estimate_to_sf_opportunity: dict[NetSuiteColumn, SalesforceField] = {}

    def for_flow(self, flow: FlowId | str) -> dict[str, str]:
        """The extra mappings of one flow (source -> target)."""
        return dict(getattr(self, FlowId(flow).value))


class BatchSizes(_Strict):
    suiteql_page: Annotated[int, Field(ge=1, le=1000)] = 1000
    salesforce_collection: Annotated[int, Field(ge=1, le=200)] = 200
    id_lookup: Annotated[int, Field(ge=1, le=1000)] = 200
    netsuite_writes_per_task: Annotated[int, Field(ge=1, le=10_000)] = 2000


class NetSuiteLists(_Strict):
    contract_status: dict[PositiveId, NonEmptyText]
    contract_item_state: dict[PositiveId, NonEmptyText]
    order_type: dict[PositiveId, NonEmptyText]
    bill_to_tier: dict[PositiveId, NonEmptyText]
    item_category: dict[PositiveId, NonEmptyText]
    currency: dict[PositiveId, Annotated[str, Field(pattern=r"^[A-Z]{3}$")]]


class NetSuiteSettings(_Strict):
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 5
    custom_price_level_id: Annotated[str, Field(pattern=r"^-?\d+$")] = "-1"
    #: The custom form every sales order is saved on: the Contract Renewals module makes a contract only
    #: for orders on its "Sales Order - Contract Renewals" form or a copy (null: the account's preferred form).
    sales_order_form_id: Annotated[int | None, BeforeValidator(check_sales_order_form_id)] = None
    #: The approval status new sales orders are created in (``approved`` sends ``orderStatus`` B).
    new_order_status: Annotated[NewOrderStatus, BeforeValidator(check_new_order_status)] = NewOrderStatus.PENDING_APPROVAL
    #: OneWorld: the subsidiary of created customers and of orders (crsync.order_party_settings).
    subsidiary: SubsidiarySettings = SubsidiarySettings()
    #: Where an order's end user comes from (crsync.order_party_settings).
    end_user: EndUserSettings = EndUserSettings()
    lists: NetSuiteLists
    renewing_item_categories: frozenset[PositiveId]
    #: Item categories sold in whole units: an order line of these with a fractional quantity is refused.
    whole_unit_item_categories: frozenset[PositiveId] = frozenset({1, 2, 3, 4, 5, 6, 10, 11})


class SalesforceSettings(_Strict):
    bulk_threshold: Annotated[int, Field(ge=1)] = 2000
    pricebook: Annotated[str, AfterValidator(check_pricebook)] = "standard"
    default_currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    multi_currency: bool = False


class NightlySettings(_Strict):
    """How the nightly NetSuite -> Salesforce flows read their windows and retry failed records."""

    #: Minutes read before each window's start: a record stamped just before the boundary but committed
    #: after the previous run read (a long NetSuite script, a late commit) is picked up. Upserts make
    #: the re-read harmless. At most a day (the window itself).
    read_overlap_minutes: Annotated[int, Field(ge=0, le=1440)] = 30
    #: Most NetSuite ids a flow remembers as failed for its next run (the Airflow Variable
    #: ``<dag id>.retry_ids``); failures beyond it are named in the run summary and not remembered.
    retry_max_ids: Annotated[int, Field(ge=1, le=10_000)] = 1000
    #: How far before its window's start a run reads at most to catch up with the flow's high-water mark
    #: (the Airflow Variable ``<dag id>.read_through``) after days that never ran (``catchup=False``).
    max_catch_up_days: Annotated[int, Field(ge=1, le=366)] = 31


class HttpSettings(_Strict):
    """How long to wait for NetSuite and Salesforce, per HTTP request (token fetches and polls included)."""

    #: Seconds to wait for a connection (TCP + TLS) to be set up.
    connect_timeout: Annotated[float, Field(gt=0, le=300)] = 10.0
    #: Seconds to wait for the server's next bytes once a request is sent (not for the whole reply).
    read_timeout: Annotated[float, Field(gt=0, le=3600)] = 120.0


class AlertSettings(_Strict):
    """Where failure alerts go besides the task log (Airflow connection ids, never credentials)."""

    slack_webhook_conn_id: Annotated[str, Field(min_length=1)] | None = None
    email_to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = []
    smtp_conn_id: Annotated[str, Field(min_length=1)] = "smtp_default"


class MaintenanceSettings(_Strict):
    """What the ``crsync_maintenance`` DAG and ``bin/clean-airflow-db`` keep (docs/operations.md)."""

    #: Days the XCom files (object storage) and the metadata DB rows of a finished run are kept.
    xcom_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30


class IntegrationSettings(_Strict):
    """The whole settings file."""

    enabled_flows: EnabledFlows
    order_type_map: dict[OrderTypeLabel, PositiveId]
    renewal: RenewalSettings = RenewalSettings()
    field_mappings: FieldMappings = FieldMappings()
    batch_sizes: BatchSizes = BatchSizes()
    netsuite: NetSuiteSettings
    salesforce: SalesforceSettings = SalesforceSettings()
    nightly: NightlySettings = NightlySettings()


    http: HttpSettings = HttpSettings()
    alerts: AlertSettings = AlertSettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()
    timezone: Annotated[str, AfterValidator(check_time_zone)] = "UTC"

    def order_type_id(self, order_type: f.OrderType | str) -> int:
        """NetSuite ``custbody_order_type`` id of a Salesforce ``Order_Type__c`` value."""
        return self.order_type_map[f.OrderType(order_type).value]

    @property
    def renewal_order_type_id(self) -> int:
        """``custbody_order_type`` id that marks renewal transactions."""
        return self.order_type_id(f.OrderType.RENEWAL)

    @property
    def renewing_category_labels(self) -> frozenset[str]:
        """Labels of the item categories that renew (as Salesforce ``Item_Category__c`` holds them)."""
        labels = self.netsuite.lists.item_category
        return frozenset(labels[c] for c in self.netsuite.renewing_item_categories if c in labels)

    @property
    def whole_unit_categories(self) -> frozenset[str]:
        """Item categories sold in whole units, as labels and as ids (``Item_Category__c`` may hold either)."""
        labels = self.netsuite.lists.item_category
        ids = self.netsuite.whole_unit_item_categories
        return frozenset(labels[c] for c in ids if c in labels) | {str(c) for c in ids}

    @property
    def currency_ids(self) -> dict[str, int]:
        """ISO currency code -> NetSuite currency internal id (``netsuite.lists.currency`` read backwards)."""
        return {code: ns_id for ns_id, code in self.netsuite.lists.currency.items()}


#: Target fields each flow sets itself; an extra mapping may not override them.
FLOW_OWNED_TARGETS: dict[FlowId, frozenset[str]] = {
    FlowId.OPPORTUNITY_TO_SALES_ORDER: frozenset(
        {
            f.NsBody.EXTERNAL_ID,
            f.NsBody.ENTITY,
            f.NsBody.ITEM_SUBLIST,
            f.NsBody.ORDER_TYPE,
            f.NsBody.CONTRACT_NAME,
            f.NsBody.FROM_CONTRACT,
            f.NsBody.START_DATE,
            f.NsBody.END_DATE,
            f.NsBody.TERM_MONTHS,
            f.NsBody.CONTRACT_START_DATE,
            f.NsBody.CONTRACT_END_DATE,
            f.NsBody.BILL_TO_TIER,
            f.NsBody.CURRENCY,
            f.NsBody.CUSTOM_FORM,
            f.NsBody.ORDER_STATUS,
            f.NsBody.SUBSIDIARY,
            f.NsBody.END_USER,
        }
    ),
    FlowId.CONTRACT_TO_CONTRACT: frozenset(
        {
            f.Contract.ID,
            f.Contract.NETSUITE_ID,
            f.Contract.ACCOUNT,
            "AccountId",
            f.Contract.START_DATE,
            f.Contract.CONTRACT_TERM,
            f.Contract.END_DATE,
            f.Contract.NETSUITE_NAME,
            f.Contract.NETSUITE_STATUS,
            f.Contract.CONTRACT_VALUE,
            f.Contract.TARGET_RENEWAL_DATE,
        }
    ),
    FlowId.CONTRACT_ITEM_TO_CONTRACT_ITEM: frozenset(
        {
            f.ContractItem.ID,
            f.ContractItem.NETSUITE_ID,
            f.ContractItem.NAME,
            f.ContractItem.CONTRACT_REF,
            "Contract__c",
            f.ContractItem.PRODUCT_REF,
            "Product__c",
            f.ContractItem.QUANTITY,
            f.ContractItem.START_DATE,
            f.ContractItem.END_DATE,
            f.ContractItem.TERM_MONTHS,
            f.ContractItem.STATUS,
            f.ContractItem.RENEW_WITH,
            f.ContractItem.RENEW_WITH_REF,
            f.ContractItem.LIST_RATE,
        }
    ),
    FlowId.RENEWAL_ESTIMATE_TO_OPPORTUNITY: frozenset(
        {
            f.Opportunity.ID,
            f.Opportunity.NAME,
            f.Opportunity.NETSUITE_RENEWAL_ESTIMATE_ID,
            f.Opportunity.ORDER_TYPE,
            f.Opportunity.STAGE_NAME,
            f.Opportunity.CLOSE_DATE,
            f.Opportunity.CONTRACT,
            f.Opportunity.CONTRACT_ID,
            f.Opportunity.ACCOUNT,
            f.Opportunity.ACCOUNT_ID,
            f.Opportunity.PRICEBOOK_ID,
            f.Opportunity.SYNC_STATUS,
            f.Quote.NETSUITE_ESTIMATE_ID,
            f.Quote.OPPORTUNITY,
        }
    ),
}

# --------------------------------------------------------------------------------------------------
# Loading and error reporting
# --------------------------------------------------------------------------------------------------

def load_settings(path: str | Path | None = None) -> IntegrationSettings:
    """Read and validate the integration settings file.

    :param path: the file; default ``$CRSYNC_SETTINGS_FILE``, else the packaged ``settings.yaml``.
    :returns: the validated settings.
    :raises SettingsError: the file is missing, not YAML, or invalid; the message names the file, the
        line and the reason for every problem.
    """
    resolved = Path(path or os.environ.get(SETTINGS_ENV_VAR) or DEFAULT_SETTINGS_FILE)
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError([f"{resolved}: cannot read the settings file: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        line = resolved.read_bytes()[: exc.start].count(b"\n") + 1
        raise SettingsError(
            [f"{resolved} line {line}: not UTF-8 text (byte {exc.object[exc.start]:#04x}); save the file as UTF-8"]
        ) from exc
    return _parse_once(text, str(resolved))


@lru_cache(maxsize=4)
def _parse_once(text: str, source: str) -> IntegrationSettings:
    """:func:`parse_settings`, once per file content: a task reads the settings several times (about 0.1-0.4 s
    of CPU each); the models are frozen, and an edited file is new text, so it is parsed again."""
    return parse_settings(text, source=source)


#: PyYAML's libyaml-backed safe loader where the wheel has it (about 11x faster here: the opportunity DAG reads
#: ``netsuite.concurrency`` at every parse), the pure-Python one otherwise; same nodes, marks and errors.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose_and_construct(text: str) -> tuple[yaml.Node | None, object]:
    """One parse: the node tree (its marks locate each problem) and the values built from it."""
    loader = _YAML_LOADER(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def parse_settings(text: str, source: str = "settings.yaml") -> IntegrationSettings:
    """Validate settings given as YAML text.

    :param text: the YAML document.
    :param source: the file name used in error messages.
    :raises SettingsError: as :func:`load_settings`.
    """
    try:
        root, data = _compose_and_construct(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}" if mark else ""
        raise SettingsError([f"{source}{line}: not valid YAML: {exc.problem or exc}"]) from exc
    except yaml.YAMLError as exc:  # e.g. a control character (yaml.ReaderError): not a MarkedYAMLError
        line = f" line {text[: exc.position].count(chr(10)) + 1}" if hasattr(exc, "position") else ""
        raise SettingsError([f"{source}{line}: not valid YAML: {exc}"]) from exc
    if root is None or not isinstance(data, dict):
        raise SettingsError([f"{source} line 1: expected a mapping of settings (see docs/settings.md)"])

    problems = [f"{source} line {line}: {message}" for line, message in duplicate_keys(root)]
    settings: IntegrationSettings | None = None
    try:
        settings = IntegrationSettings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            problems.append(format_problem(source, root, loc, problem_reason(error, loc, IntegrationSettings)))
    if settings is not None:
        for loc, reason in _cross_checks(settings):
            problems.append(format_problem(source, root, loc, reason))
    if problems:
        raise SettingsError(problems)
    assert settings is not None
    return settings


def _cross_checks(settings: IntegrationSettings) -> Iterator[tuple[Loc, str]]:
    """Rules that span several settings (located at the setting to change)."""
    order_types = settings.netsuite.lists.order_type
    for label, ns_id in settings.order_type_map.items():
        if ns_id not in order_types:
            yield (
                ("order_type_map", label),
                f"NetSuite order type id {ns_id} is not listed under netsuite.lists.order_type "
                f"(known: {sorted(order_types)})",
            )
    missing = [t.value for t in f.OrderType if t.value not in settings.order_type_map]
    if missing:
        lines = ", ".join(f"'{label}: {MODULE_ORDER_TYPE_IDS[label]}'" for label in missing)
        yield ("order_type_map",), (
            f"every Order_Type__c value must be mapped; missing {missing}: add {lines} (the Contract Renewals "
            "module's ids, Oracle Help section_4539453728; check yours in NetSuite) and list each id under "
            "netsuite.lists.order_type"
        )
    categories = settings.netsuite.lists.item_category
    for category in sorted(settings.netsuite.renewing_item_categories):
        if category not in categories:
            yield (
                ("netsuite", "renewing_item_categories"),
                f"item category {category} is not listed under netsuite.lists.item_category",
            )
    for category in sorted(settings.netsuite.whole_unit_item_categories):
        if category not in categories:
            yield (
                ("netsuite", "whole_unit_item_categories"),
                f"item category {category} is not listed under netsuite.lists.item_category",
            )
    yield from _currency_checks(settings)
    yield from party_checks(settings.netsuite)
    for flow in FlowId:
        owned = FLOW_OWNED_TARGETS[flow]
        for source, target in settings.field_mappings.for_flow(flow).items():
            if target in owned:
                yield (
                    ("field_mappings", flow.value, source),
                    f"target {target!r} is set by the flow itself; an extra mapping cannot override it",
                )


def _currency_checks(settings: IntegrationSettings) -> Iterator[tuple[Loc, str]]:
    """Orders are sent with the currency id listed for their ISO code, so each code has one id."""
    seen: dict[str, int] = {}
    for ns_id, code in settings.netsuite.lists.currency.items():
        if code in seen:
            yield (
                ("netsuite", "lists", "currency", ns_id),
                f"currency {code} is listed twice (ids {seen[code]} and {ns_id}); each ISO code needs one "
                "NetSuite currency id",
            )
        seen.setdefault(code, ns_id)
    default = settings.salesforce.default_currency
    if default not in seen:
        yield (
            ("salesforce", "default_currency"),
            f"{default} is not listed under netsuite.lists.currency (known: {sorted(seen)}); add its "
            "NetSuite currency id there",
        )


#: The Contract Renewals module's order type ids (Oracle Help section_4539453728), named in the fix when
#: order_type_map lacks a value (an account may have other ids: the map in the settings file decides).
MODULE_ORDER_TYPE_IDS: dict[str, int] = {
    f.OrderType.NEW.value: 1, f.OrderType.RENEWAL.value: 2, f.OrderType.UPSELL.value: 3, f.OrderType.DOWNSELL.value: 13,
}


#: The public names, including those re-exported from :mod:`crsync.settings_values` and
#: :mod:`crsync.settings_report` for importers of this module.
__all__ = [
    "DEFAULT_SETTINGS_FILE",
    "FLOW_OWNED_TARGETS",
    "MODULE_ORDER_TYPE_IDS",
    "NAME_MAX_LENGTH",
    "SETTINGS_ENV_VAR",
    "AlertSettings",
    "BatchSizes",
    "EnabledFlows",
    "FieldMappings",
    "FlowId",
    "HttpSettings",
    "IntegrationSettings",
    "Loc",
    "MaintenanceSettings",
    "NetSuiteLists",
    "NetSuiteSettings",
    "NewOrderStatus",
    "NightlySettings",
    "RenewalSettings",
    "RenewalTransactionType",
    "SalesforceSettings",
    "SettingsError",
    "load_settings",
    "netsuite_body_field",
    "netsuite_column",
    "parse_settings",
    "salesforce_field",
    "salesforce_field_path",
]

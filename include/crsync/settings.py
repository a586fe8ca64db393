"""The integration settings: one validated YAML file that users change without a deploy.

``load_settings()`` reads the file named by ``CRSYNC_SETTINGS_FILE`` (else the packaged
``settings.yaml``) and returns :class:`IntegrationSettings`. A bad file raises :class:`SettingsError`
whose message names the file, the line and the reason for every problem found, e.g.::

    settings.yaml line 12: order_type_map.'Contract Upsel': unknown Order_Type__c value; expected one of
    'Contract New', 'Contract Upsell', 'Contract Renewal', 'Contract Downsell'

Unknown keys, duplicate keys and wrong types are errors, never ignored. docs/settings.md documents
every setting.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from crsync import fields as f
from crsync.ids import is_netsuite_internal_id, is_salesforce_id
from crsync.order_party_settings import EndUserSettings, SubsidiarySettings, party_checks

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
# Field-name validators (extra mappings must name real-looking fields, never arbitrary text)
# --------------------------------------------------------------------------------------------------

_SF_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*(?:__c|__r)?$")
_NS_COLUMN = re.compile(r"^[a-z][a-z0-9_]*$")
_NS_BODY_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def salesforce_field(value: str) -> str:
    if not _SF_FIELD.fullmatch(value):
        raise ValueError(f"{value!r} is not a Salesforce field API name (letters, digits, single '_')")
    return value


def salesforce_field_path(value: str) -> str:
    parts = value.split(".")
    if len(parts) > 5 or not all(_SF_FIELD.fullmatch(p) for p in parts):
        raise ValueError(f"{value!r} is not a Salesforce field or relationship path (e.g. Account.Industry)")
    return value


def netsuite_column(value: str) -> str:
    if not _NS_COLUMN.fullmatch(value):
        raise ValueError(f"{value!r} is not a NetSuite SuiteQL column (lower-case letters, digits, '_')")
    return value


def netsuite_body_field(value: str) -> str:
    if not _NS_BODY_FIELD.fullmatch(value):
        raise ValueError(f"{value!r} is not a NetSuite record field id (letters, digits, '_')")
    return value


def _order_type_label(value: str) -> str:
    if value not in {t.value for t in f.OrderType}:
        expected = ", ".join(repr(t.value) for t in f.OrderType)
        raise ValueError(f"unknown Order_Type__c value; expected one of {expected}")
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. UTC, Europe/London)") from exc
    return value


def _pricebook(value: str) -> str:
    if value != "standard" and not is_salesforce_id(value):
        raise ValueError(f"{value!r} is neither 'standard' nor a Pricebook2 id")
    return value


_NAME_PLACEHOLDERS = frozenset({"customer", "contract", "tranid", "start_date", "end_date"})
#: Longest name Salesforce keeps (Opportunity.Name); also the widest field a template may pad to.
NAME_MAX_LENGTH = 120
#: A text format spec: optional fill and alignment, width, precision, type ``s`` (no sign, ``#``, ``0``, ``,``).
_TEXT_FORMAT_SPEC = re.compile(
    r"(?:(?P<fill>[^{}])?(?P<align>[<>^]))?(?P<width>\d+)?(?:\.(?P<precision>\d+))?s?"
)


def _name_template(value: str) -> str:
    """Only the documented placeholders, each plain or with a simple text format spec.

    The template is applied with :meth:`str.format` to every renewal, so anything else would fail at run
    time (``{contract:d}``), read Python internals (``{customer.__class__}``) or build absurd strings
    (``{contract:>999999999}``, a gigabyte per renewal before the name is cut).
    """
    try:
        parts = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid template: {exc}") from exc
    allowed = ", ".join("{" + n + "}" for n in sorted(_NAME_PLACEHOLDERS))
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        field = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if name == "" or name.isdigit():
            raise ValueError(f"{field}: positional placeholders are not allowed; use {allowed}")
        if "." in name or "[" in name:
            raise ValueError(f"{field}: attribute or index access is not allowed; use {allowed}")
        if name not in _NAME_PLACEHOLDERS:
            raise ValueError(f"unknown placeholder(s) {[name]}; use {allowed}")
        if conversion:
            raise ValueError(f"{field}: conversions (!r, !s, !a) are not allowed; the values are text")
        if spec and ("{" in spec or "}" in spec):
            raise ValueError(f"{field}: nested placeholders are not allowed in a format spec")
        match = _TEXT_FORMAT_SPEC.fullmatch(spec or "")
        if match is None:
            raise ValueError(
                f"{field}: {spec!r} is not a text format spec; use [[fill]align][width][.precision] "
                "(e.g. {customer:.40} or {contract:>10})"
            )
        for what in ("width", "precision"):
            number = match.group(what)
            if number is not None and int(number) > NAME_MAX_LENGTH:
                raise ValueError(
                    f"{field}: {what} {int(number)} is more than {NAME_MAX_LENGTH} (names are cut to "
                    f"{NAME_MAX_LENGTH} characters)"
                )
    value.format(**{name: "x" for name in _NAME_PLACEHOLDERS})  # anything left that str.format refuses
    return value


def _sales_order_form_id(value: Any) -> Any:
    """The internal id of the order's custom form (a positive whole number), or null."""
    if value is None:
        return None
    if not is_netsuite_internal_id(value):
        raise ValueError(
            f"{value!r} is not a form internal id; set the internal id of your 'Sales Order - Contract Renewals' "
            "form or your copy of it (NetSuite: Customization > Forms > Transaction Forms, column Internal ID), "
            "or null to use the account's preferred sales order form"
        )
    return int(value)


class NewOrderStatus(StrEnum):
    """The approval status the hourly flow creates sales orders in."""

    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"


def _new_order_status(value: Any) -> Any:
    if value not in {s.value for s in NewOrderStatus}:
        raise ValueError(
            f"{value!r} is not a sales order status the flow creates orders in; use pending_approval (orders wait "
            "for a NetSuite user to approve them) or approved (orders are sent with orderStatus B; the "
            "integration role needs the permission to approve sales orders)"
        )
    return value


SalesforceField = Annotated[str, AfterValidator(salesforce_field)]
SalesforceFieldPath = Annotated[str, AfterValidator(salesforce_field_path)]
NetSuiteColumn = Annotated[str, AfterValidator(netsuite_column)]
NetSuiteBodyField = Annotated[str, AfterValidator(netsuite_body_field)]
OrderTypeLabel = Annotated[str, AfterValidator(_order_type_label)]
NonEmptyText = Annotated[str, Field(min_length=1, max_length=120)]
PositiveId = Annotated[int, Field(gt=0)]

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
    name_template: Annotated[str, Field(min_length=1, max_length=120), AfterValidator(_name_template)] = (
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
    sales_order_form_id: Annotated[int | None, BeforeValidator(_sales_order_form_id)] = None
    #: The approval status new sales orders are created in (``approved`` sends ``orderStatus`` B).
    new_order_status: Annotated[NewOrderStatus, BeforeValidator(_new_order_status)] = NewOrderStatus.PENDING_APPROVAL
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
    pricebook: Annotated[str, AfterValidator(_pricebook)] = "standard"
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
    timezone: Annotated[str, AfterValidator(_time_zone)] = "UTC"

    def is_enabled(self, flow: FlowId | str) -> bool:
        """Whether the flow (a DAG id) is enabled."""
        return bool(getattr(self.enabled_flows, FlowId(flow).value))

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

Loc = tuple[str | int, ...]


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
    return parse_settings(text, source=str(resolved))


def parse_settings(text: str, source: str = "settings.yaml") -> IntegrationSettings:
    """Validate settings given as YAML text.

    :param text: the YAML document.
    :param source: the file name used in error messages.
    :raises SettingsError: as :func:`load_settings`.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}" if mark else ""
        raise SettingsError([f"{source}{line}: not valid YAML: {exc.problem or exc}"]) from exc
    except yaml.YAMLError as exc:  # e.g. a control character (yaml.ReaderError): not a MarkedYAMLError
        line = f" line {text[: exc.position].count(chr(10)) + 1}" if hasattr(exc, "position") else ""
        raise SettingsError([f"{source}{line}: not valid YAML: {exc}"]) from exc
    if root is None or not isinstance(data, dict):
        raise SettingsError([f"{source} line 1: expected a mapping of settings (see docs/settings.md)"])

    problems = [f"{source} line {line}: {message}" for line, message in _duplicate_keys(root)]
    settings: IntegrationSettings | None = None
    try:
        settings = IntegrationSettings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            problems.append(_format_problem(source, root, loc, _reason(error, loc)))
    if settings is not None:
        for loc, reason in _cross_checks(settings):
            problems.append(_format_problem(source, root, loc, reason))
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

#: Settings renamed by a release: the message names the new one, so an upgrade says what to change.
RENAMED_SETTINGS: dict[Loc, str] = {
    ("netsuite", "customer_subsidiary_id"): "netsuite.subsidiary.default_id (OneWorld: netsuite.subsidiary)",
}


def _reason(error: dict[str, Any], loc: Loc) -> str:
    """A readable reason for one pydantic error."""
    renamed = RENAMED_SETTINGS.get(tuple(str(part) for part in loc))
    if error["type"] == "extra_forbidden" and renamed:
        return f"this setting was renamed: move its value to {renamed} (docs/settings.md)"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = f"; expected one of {', '.join(allowed)}" if allowed else ""
        return f"unknown setting{hint}"
    if error["type"] == "missing":
        return "required setting is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _allowed_keys(loc: Loc) -> list[str]:
    """Field names of the settings model found at ``loc`` (empty when it is not a model)."""
    model: Any = IntegrationSettings
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = model.model_fields[str(part)].annotation
        if get_origin(model) is Annotated:
            model = get_args(model)[0]
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _format_problem(source: str, root: yaml.Node, loc: Loc, reason: str) -> str:
    line, path = _locate(root, loc)
    where = f"{path}: " if path else ""
    return f"{source} line {line}: {where}{reason}"


def _locate(root: yaml.Node, loc: Loc) -> tuple[int, str]:
    """The line of the deepest YAML node matching ``loc``, and ``loc`` as a readable path.

    Pydantic locations may contain markers that are not YAML keys (``[key]``, union branch names);
    those are skipped. A trailing key that is not in the file (a missing setting) keeps the line of
    its parent.
    """
    node: yaml.Node = root
    line = root.start_mark.line + 1
    shown: list[str] = []
    for index, part in enumerate(loc):
        if part == "[key]":
            continue
        child = _child(node, part)
        if child is None:
            if index == len(loc) - 1 or loc[index + 1] == "[key]":
                shown.append(_show(part))
            continue
        key_node, value_node = child
        line = (key_node or value_node).start_mark.line + 1
        shown.append(_show(part))
        node = value_node
    return line, ".".join(shown)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if str(key_node.value) == str(part):
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    return None


def _show(part: str | int) -> str:
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_]+", text) else f"'{text}'"


def _duplicate_keys(node: yaml.Node, path: str = "") -> Iterator[tuple[int, str]]:
    """Duplicate mapping keys (PyYAML would silently keep the last one)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            here = f"{path}.{_show(key)}" if path else _show(key)
            if key in seen:
                yield key_node.start_mark.line + 1, f"{here}: duplicate key; each setting may appear once"
            seen.add(key)
            yield from _duplicate_keys(value_node, here)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, f"{path}[{index}]")

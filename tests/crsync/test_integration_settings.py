"""crsync.settings: the default file is valid; bad files fail with the line and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from crsync.settings import (
    DEFAULT_SETTINGS_FILE,
    SETTINGS_ENV_VAR,
    FlowId,
    IntegrationSettings,
    RenewalTransactionType,
    SettingsError,
    load_settings,
    parse_settings,
)

DEFAULT_TEXT = DEFAULT_SETTINGS_FILE.read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    """1-based line number of the first line containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def problems_of(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    return caught.value.problems


def test_default_file_is_valid(settings: IntegrationSettings) -> None:
    assert all(getattr(settings.enabled_flows, flow.value) for flow in FlowId)
    assert settings.order_type_map == {
        "Contract New": 1, "Contract Upsell": 3, "Contract Renewal": 2, "Contract Downsell": 13}
    assert settings.renewal_order_type_id == 2
    assert settings.renewal.target == "opportunity"
    assert settings.renewal.stage_name == "Prospecting"
    assert settings.renewal.transaction_type is RenewalTransactionType.ESTIMATE
    assert settings.renewal.transaction_type.suiteql_type == "Estimate"
    assert settings.salesforce.bulk_threshold == 2000
    assert settings.salesforce.pricebook == "standard"
    assert settings.netsuite.custom_price_level_id == "-1"
    assert settings.netsuite.lists.contract_status[2] == "Active"
    assert settings.netsuite.renewing_item_categories == frozenset({2, 3, 4, 5, 6})
    assert settings.timezone == "UTC"


def test_env_var_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    custom = tmp_path / "mine.yaml"
    custom.write_text(DEFAULT_TEXT.replace("stage_name: Prospecting", "stage_name: Qualification"))
    monkeypatch.setenv(SETTINGS_ENV_VAR, str(custom))
    assert load_settings().renewal.stage_name == "Qualification"


def test_unknown_order_type_reports_file_line_and_reason(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace("  Contract Upsell: 3", "  Contract Upsel: 3")
    problems = problems_of(text, tmp_path)
    expected_line = line_of(text, "Contract Upsel:")
    assert any(
        p.startswith(
            f"{tmp_path / 'settings.yaml'} line {expected_line}: order_type_map.'Contract Upsel': "
            "unknown Order_Type__c value; expected one of"
        )
        for p in problems
    ), problems


def test_unknown_key_is_refused_with_its_line(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace("  stage_name: Prospecting", "  stage_name: Prospecting\n  stage: Closed Won")
    (problem,) = problems_of(text, tmp_path)
    assert f"line {line_of(text, 'stage: Closed Won')}: renewal.stage: unknown setting" in problem
    assert "stage_name" in problem  # says what is allowed


def test_a_renamed_setting_names_its_new_home(tmp_path: Path) -> None:
    """An upgraded deployment whose file still has the old key is told where its value goes now."""
    text = DEFAULT_TEXT.replace("  concurrency: 5", "  concurrency: 5\n  customer_subsidiary_id: 3")
    (problem,) = problems_of(text, tmp_path)
    assert f"line {line_of(text, 'customer_subsidiary_id: 3')}: netsuite.customer_subsidiary_id:" in problem
    assert "renamed" in problem and "netsuite.subsidiary.default_id" in problem


def test_unknown_top_level_key_is_refused(tmp_path: Path) -> None:
    (problem,) = problems_of(DEFAULT_TEXT + "\nbatch_size: 10\n", tmp_path)
    assert "batch_size: unknown setting" in problem


def test_wrong_type_and_range_are_reported(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace("concurrency: 5", "concurrency: five").replace(
        "salesforce_collection: 200", "salesforce_collection: 500"
    )
    problems = problems_of(text, tmp_path)
    assert any(f"line {line_of(text, 'concurrency: five')}: netsuite.concurrency:" in p for p in problems)
    assert any(
        f"line {line_of(text, 'salesforce_collection: 500')}: batch_sizes.salesforce_collection: "
        "Input should be less than or equal to 200" in p
        for p in problems
    )


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace("  target: opportunity", "  target: opportunity\n  target: quote")
    (problem,) = problems_of(text, tmp_path)
    assert f"line {line_of(text, 'target: quote')}: renewal.target: duplicate key" in problem


def test_order_type_must_exist_in_the_netsuite_list(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace("  Contract Renewal: 2", "  Contract Renewal: 99")
    (problem,) = problems_of(text, tmp_path)
    assert f"line {line_of(text, 'Contract Renewal: 99')}: order_type_map.'Contract Renewal': " in problem
    assert "99 is not listed under netsuite.lists.order_type" in problem


def test_every_order_type_must_be_mapped(tmp_path: Path) -> None:
    (problem,) = problems_of(DEFAULT_TEXT.replace("  Contract Renewal: 2\n", ""), tmp_path)
    assert "order_type_map: every Order_Type__c value must be mapped; missing ['Contract Renewal']" in problem
    assert "add 'Contract Renewal: 2'" in problem and "netsuite.lists.order_type" in problem


def test_extra_mapping_names_are_validated(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace(
        "  ns_contract_to_sf_contract: {}",
        "  ns_contract_to_sf_contract:\n    custrecord_swe_annual_contract_val_net: Annual_Value__c\n"
        '    "name; DROP": Description',
    )
    (problem,) = problems_of(text, tmp_path)
    assert (
        f"line {line_of(text, 'DROP')}: field_mappings.ns_contract_to_sf_contract.'name; DROP': " in problem
    )
    assert "is not a NetSuite SuiteQL column" in problem


def test_extra_mapping_cannot_override_a_flow_field(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace(
        "  ns_contract_to_sf_contract: {}",
        "  ns_contract_to_sf_contract:\n    custrecord_contracts_end_user: StartDate",
    )
    (problem,) = problems_of(text, tmp_path)
    assert f"line {line_of(text, ': StartDate')}:" in problem
    assert "'StartDate' is set by the flow itself" in problem


def test_valid_extra_mapping_is_loaded() -> None:
    text = DEFAULT_TEXT.replace(
        "  sf_opportunity_to_ns_sales_order: {}", "  sf_opportunity_to_ns_sales_order:\n    Description: memo"
    )
    settings = parse_settings(text)
    assert settings.field_mappings.for_flow(FlowId.OPPORTUNITY_TO_SALES_ORDER) == {"Description": "memo"}


def test_bad_template_and_time_zone(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace('"Renewal {contract} ({tranid})"', '"Renewal {owner}"').replace(
        "timezone: UTC", "timezone: Mars/Base"
    )
    problems = problems_of(text, tmp_path)
    assert any("renewal.name_template: unknown placeholder(s) ['owner']" in p for p in problems)
    assert any("timezone: 'Mars/Base' is not an IANA time zone" in p for p in problems)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace("  stage_name: Prospecting", "  stage_name: [Prospecting")
    (problem,) = problems_of(text, tmp_path)
    assert "not valid YAML" in problem and " line " in problem


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read the settings file"):
        load_settings(tmp_path / "nope.yaml")
    with pytest.raises(SettingsError, match="expected a mapping of settings"):
        parse_settings("")


def test_settings_are_immutable(settings: IntegrationSettings) -> None:
    with pytest.raises(ValueError):
        settings.renewal.stage_name = "x"  # type: ignore[misc]


def test_currency_list_is_usable_to_send_order_currencies(tmp_path: Path) -> None:
    """Issue 13, finding 5: orders are sent with the id listed for their ISO code, so each code has one id
    and the default currency is listed."""
    twice = DEFAULT_TEXT.replace("      3: CAD\n", "      3: EUR\n", 1)
    problems = problems_of(twice, tmp_path)
    assert any(
        f"line {line_of(twice, '      4: EUR')}: netsuite.lists.currency.4: currency EUR is listed twice (ids 3 and 4)"
        in p for p in problems
    ), problems
    no_default = DEFAULT_TEXT.replace("default_currency: USD", "default_currency: JPY", 1)
    problems = problems_of(no_default, tmp_path)
    assert any(
        f"line {line_of(no_default, 'default_currency: JPY')}: salesforce.default_currency: JPY is not listed under "
        "netsuite.lists.currency" in p for p in problems
    ), problems


def test_whole_unit_categories_must_be_listed(tmp_path: Path, settings: IntegrationSettings) -> None:
    assert "License-Term" in settings.whole_unit_categories and "Services" not in settings.whole_unit_categories
    text = DEFAULT_TEXT.replace("whole_unit_item_categories: [1, 2,", "whole_unit_item_categories: [99, 2,", 1)
    problems = problems_of(text, tmp_path)
    assert any("netsuite.whole_unit_item_categories: item category 99 is not listed" in p for p in problems), problems


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{contract:>999999999}", "width 999999999 is more than 120"),
        ("{contract:.5000}", "precision 5000 is more than 120"),
        ("{customer.__class__}", "attribute or index access is not allowed"),
        ("{customer[0]}", "attribute or index access is not allowed"),
        ("{contract!r}", "conversions (!r, !s, !a) are not allowed"),
        ("{contract:d}", "'d' is not a text format spec"),
        ("{contract:{tranid}}", "nested placeholders are not allowed"),
        ("{}", "positional placeholders are not allowed"),
        ("{0}", "positional placeholders are not allowed"),
        ("Renewal {contract", "is not a valid template"),
    ],
)
def test_name_template_refuses_odd_format_specs_at_load(tmp_path: Path, template: str, reason: str) -> None:
    text = DEFAULT_TEXT.replace('"Renewal {contract} ({tranid})"', f'"{template}"')
    (problem,) = problems_of(text, tmp_path)
    assert f"line {line_of(text, 'name_template:')}: renewal.name_template: " in problem
    assert reason in problem


@pytest.mark.parametrize(
    "template",
    ["Renewal {contract} ({tranid})", "{customer:.40} {contract:>10} {start_date}..{end_date}", "{tranid:*^20s}",
     "{{literal}} {contract:<}"],
)
def test_name_template_accepts_plain_and_simple_specs(template: str) -> None:
    settings = parse_settings(DEFAULT_TEXT.replace('"Renewal {contract} ({tranid})"', f'"{template}"'))
    assert settings.renewal.name_template == template


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("timezone: Europe/Zürich\n".encode("latin-1"), "line 1: not UTF-8 text"),
        (b"timezone: UTC\n\x07\n", "not valid YAML"),
    ],
    ids=["latin-1", "control-character"],
)
def test_a_file_that_is_not_utf8_yaml_is_a_settings_error(tmp_path: Path, raw: bytes, expected: str) -> None:
    """Review of issue 13: these raised UnicodeDecodeError / yaml.ReaderError, so tasks retried them and the
    hourly DAG (which reads netsuite.concurrency when parsed) became an import error with no alert."""
    from crsync.runtime.dag_defaults import DEFAULT_NETSUITE_TASK_SLOTS, _concurrency_setting

    path = tmp_path / "settings.yaml"
    path.write_bytes(raw)
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert expected in str(caught.value)
    assert _concurrency_setting(str(path), 1) == DEFAULT_NETSUITE_TASK_SLOTS


def test_an_edited_file_is_read_again_and_a_broken_edit_is_reported(tmp_path: Path) -> None:
    """load_settings keeps one parse per file content: an edit (new text) is never served from the cache,
    and a file broken after a good read fails instead of returning the old settings."""
    path = tmp_path / "settings.yaml"
    path.write_text(DEFAULT_TEXT, encoding="utf-8")
    assert load_settings(path).netsuite.concurrency == 5

    path.write_text(DEFAULT_TEXT.replace("  concurrency: 5\n", "  concurrency: 15\n", 1), encoding="utf-8")
    assert load_settings(path).netsuite.concurrency == 15

    path.write_text(DEFAULT_TEXT.replace("  concurrency: 5\n", "  concurrency: 0\n", 1), encoding="utf-8")
    with pytest.raises(SettingsError):
        load_settings(path)

"""Issue 13 finding 11: ids with a trailing newline or non-ASCII digits are refused everywhere.

Python's ``re.match(r"...$")`` accepts a trailing ``"\\n"`` and ``str.isdigit()`` accepts digits of any
script (``"٣".isdigit()`` and ``int("٣") == 3``), so such values used to pass as ids.
"""

from __future__ import annotations

import pytest
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict

from crsync.queries import (
    to_18_char_id,
    validate_external_ids,
    validate_netsuite_ids,
    validate_salesforce_ids,
)
from crsync.records import NetSuiteWrite, TransformFrom
from crsync.runtime.params import opportunity_params
from crsync_provider.hooks.netsuite import NetSuiteValidationError, validate_external_id

GOOD_ID18 = "0065g00000AbCdEAAV"
ARABIC_INDIC_THREE = "\u0663"  # '٣': str.isdigit() is True and int() reads it as 3
FULLWIDTH_SEVEN = "\uff17"  # '７'


@pytest.mark.parametrize("bad", ["12\n", f"1{ARABIC_INDIC_THREE}", ARABIC_INDIC_THREE, FULLWIDTH_SEVEN, "1\n2"])
def test_netsuite_internal_ids_must_be_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="not a NetSuite internal id"):
        validate_netsuite_ids([bad])


def test_netsuite_internal_ids_still_accept_ints_and_digit_strings() -> None:
    assert validate_netsuite_ids([7, "8", "0009"]) == [7, 8, 9]


@pytest.mark.parametrize("bad", ["ext-1\n", "ext\n1", f"ext{ARABIC_INDIC_THREE}", "é1", "ext 1"])
def test_external_ids_refuse_newlines_and_non_ascii(bad: str) -> None:
    with pytest.raises(ValueError, match="not a NetSuite external id"):
        validate_external_ids([bad])
    with pytest.raises(NetSuiteValidationError, match="may contain only"):
        validate_external_id(bad)
    with pytest.raises(ValueError, match="may contain only"):
        NetSuiteWrite(key="k", record_type="salesOrder", external_id=bad, body={})


def test_good_external_ids_pass() -> None:
    assert validate_external_ids(["0065g00000AbCdEAAV", "a_b-1"]) == ["0065g00000AbCdEAAV", "a_b-1"]
    assert validate_external_id("a_b-1") == "a_b-1"


@pytest.mark.parametrize("bad", [GOOD_ID18 + "\n", GOOD_ID18[:15] + "\n", " " + GOOD_ID18, GOOD_ID18 + "\t"])
def test_salesforce_ids_refuse_surrounding_whitespace(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Salesforce id"):
        to_18_char_id(bad)
    with pytest.raises(ValueError, match="not a Salesforce id"):
        validate_salesforce_ids([bad])


def test_salesforce_id_with_non_ascii_letters_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Salesforce id"):
        to_18_char_id("0065g00000AbCd" + ARABIC_INDIC_THREE)


@pytest.mark.parametrize("bad", [f"{ARABIC_INDIC_THREE}", "12\n"])
def test_transform_source_id_must_be_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="must be digits"):
        TransformFrom(record_type="estimate", id=bad)


def test_trigger_form_refuses_an_opportunity_id_with_a_trailing_newline() -> None:
    params = ParamsDict(opportunity_params())
    params["opportunity_ids"] = [GOOD_ID18]
    params.validate()
    bad = ParamsDict(opportunity_params())
    with pytest.raises(ValueError):
        bad["opportunity_ids"] = [GOOD_ID18 + "\n"]
        bad.validate()
    assert isinstance(opportunity_params()["opportunity_ids"], Param)

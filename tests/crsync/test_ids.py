"""Issue 18 item 5: one home for identifier rules (``crsync.ids``), and the run's id limit agrees everywhere.

The trigger form used to accept 2,000 Opportunity ids while the query validator refused more than 500, so
a manual run with 501-2,000 ids passed the form and failed in ``extract``.
"""

from __future__ import annotations

import urllib.parse

import pytest
from airflow.sdk.definitions.param import ParamsDict

from crsync import ids
from crsync.queries import opportunities_soql, to_18_char_id, validate_salesforce_ids
from crsync.runtime.params import opportunity_params

#: Salesforce: "In each REST call, the maximum length for the combined URI and headers is 16,384 bytes"
#: (help.salesforce.com article 000386264); the extract's SOQL travels in the URI of a GET.
SALESFORCE_URI_LIMIT = 16_384


def _opportunity_ids(n: int) -> list[str]:
    return [to_18_char_id(f"006{i:012d}") for i in range(n)]


def _form_error(values: list[str]) -> str | None:
    params = ParamsDict(opportunity_params())
    try:
        params["opportunity_ids"] = values
        params.validate()
    except ValueError as exc:
        return str(exc)
    return None


def test_the_form_refuses_one_id_more_than_a_run_takes_and_names_the_limit() -> None:
    too_many = _opportunity_ids(ids.MAX_IDS_PER_RUN + 1)
    with pytest.raises(ValueError, match=f"at most {ids.MAX_IDS_PER_RUN} per run"):
        validate_salesforce_ids(too_many, prefix=ids.OPPORTUNITY_ID_PREFIX)
    assert _form_error(too_many) is not None, "the form accepted ids the extract refuses"
    description = opportunity_params()["opportunity_ids"].description or ""
    assert f"at most {ids.MAX_IDS_PER_RUN:,}" in description


def test_whatever_the_form_accepts_the_extract_query_takes() -> None:
    most = _opportunity_ids(ids.MAX_IDS_PER_RUN)
    assert _form_error(most) is None
    soql = opportunities_soql("ids", ids=most)
    uri = "https://example.my.salesforce.com/services/data/v62.0/query?" + urllib.parse.urlencode({"q": soql})
    assert len(uri) < SALESFORCE_URI_LIMIT


def test_one_salesforce_id_shape_everywhere() -> None:
    good, bad = "0065g00000AbCdEAAV", "0065g00000AbCdEAAV\n"
    assert ids.is_salesforce_id(good) and ids.is_salesforce_id(good[:15])
    for value in (bad, " " + good, good[:14], good + "A", "0065g00000AbCd\u0663"):
        assert not ids.is_salesforce_id(value)
        assert _form_error([value]) is not None


def test_netsuite_external_id_rule() -> None:
    assert ids.is_netsuite_external_id("0065g00000AbCdEAAV") and ids.is_netsuite_external_id("a_b-1")
    for value in ("", "a b", "ext-1\n", "é1", "x" * 256):
        assert not ids.is_netsuite_external_id(value)


def test_the_provider_keeps_the_same_rules() -> None:
    """``crsync_provider`` is standalone (never imports ``crsync``): its copies must agree with these."""
    from crsync.records import WriteResult
    from crsync_provider.hooks.netsuite import validate_external_id
    from crsync_provider.hooks.salesforce import to_write_results

    for value in ("a_b-1", "0065g00000AbCdEAAV"):
        assert validate_external_id(value) == value
    records = [{"NetSuite_Id__c": "1"}, {"NetSuite_Id__c": "2"}]
    replies = [
        {"success": True, "created": True, "id": "001000000000001AAA"},
        {"success": False, "errors": [{"statusCode": "X", "message": "no"}]},
    ]
    for result in to_write_results(records, replies, external_id_field="NetSuite_Id__c"):
        assert tuple(result) == ids.WRITE_RESULT_KEYS and result["status"] in ids.WRITE_STATUSES
        WriteResult.model_validate(result)

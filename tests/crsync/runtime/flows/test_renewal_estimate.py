"""The renewal flow's transform, given extract's payload through JSON (no system needed)."""

from __future__ import annotations

import json

from crsync.records import RenewalExtract, RenewalPlan
from crsync.runtime.flows import renewal_estimate as flow


def test_nothing_read_is_an_empty_plan_that_keeps_the_retry_state(settings):
    retry = {"read_ids": [], "gone_ids": [41], "missing_ids": [], "read_through": None}
    extracted = RenewalExtract(dry_run=True, headers=[], retry=retry).to_xcom()

    plan = RenewalPlan.from_xcom(json.loads(json.dumps(flow.transform(json.loads(json.dumps(extracted))))))

    assert plan.dry_run is True and plan.read == 0
    assert plan.upserts == [] and plan.failures == [] and plan.stale_line_ids == []
    assert plan.retry == retry
    assert plan.bulk_threshold == settings.salesforce.bulk_threshold

"""Manual-run parameters (the trigger form in the Airflow UI), validated by JSON schema before any task runs.

Ids are validated by pattern here and again where queries are built (they are never spliced into a
query unchecked); both use the rules and the per-run limit of :mod:`crsync.ids`.
"""

from __future__ import annotations

from airflow.sdk import Param

from crsync.ids import MAX_IDS_PER_RUN, SALESFORCE_ID_FORM_PATTERN

#: The type of an optional list of ids. Airflow 3's trigger form marks a field required (and will not
#: submit it empty) unless its type is a list that includes "null"; an empty field is sent as null and
#: read as "no ids" (``run_scope``). A list that is given is still checked item by item.
OPTIONAL_ARRAY = ["array", "null"]


def dry_run_param() -> Param:
    """The ``dry_run`` parameter every flow's trigger form has (a new Param each time: forms do not share one)."""
    return Param(
        False,
        type="boolean",
        title="Dry run",
        description="Extract and transform, show what would be written and what would be refused (the "
        "run stays green), write nothing.",
    )


def opportunity_params() -> dict[str, Param]:
    return {
        "opportunity_ids": Param(
            [],
            type=OPTIONAL_ARRAY,
            items={"type": "string", "pattern": SALESFORCE_ID_FORM_PATTERN},
            uniqueItems=True,
            maxItems=MAX_IDS_PER_RUN,
            title="Opportunity ids",
            description=f"Send only these Opportunities (15- or 18-character ids, at most {MAX_IDS_PER_RUN:,} "
            "per run: trigger more runs for more). Each must be queued (Sync "
            "Status Processing) or already sent (has a NetSuite id): one never sent is updated, never created, "
            "unless queued; any other id, a Closed Lost one or one not in Salesforce is refused and the run "
            "fails. Leave empty to use the run's window.",
        ),
        "mode": Param(
            "queued",
            type="string",
            enum=["queued", "window"],
            title="Mode",
            description="queued: Opportunities whose Sync Status is Processing, queued before this run was "
            "triggered (whatever logical date is set). window: re-send the Opportunities modified inside the "
            "hour that ends at or before the logical date that are queued now or were already sent (backfills after a mapping fix); one that was sent is updated in NetSuite, never "
            "created again, and a renewal estimate is transformed only for a queued Opportunity. Closed Lost "
            "Opportunities are never ordered.",
        ),
        "dry_run": dry_run_param(),
    }


def netsuite_source_params(record_label: str) -> dict[str, Param]:
    return {
        "netsuite_ids": Param(
            [],
            type=OPTIONAL_ARRAY,
            items={"type": "integer", "minimum": 1},
            uniqueItems=True,
            maxItems=5000,
            title=f"NetSuite {record_label} ids",
            description=f"Sync only these NetSuite {record_label} internal ids. Leave empty to use the window.",
        ),
        "full_resync": Param(
            False,
            type="boolean",
            title="Full resync",
            description="Ignore the window and sync every record (upserts: nothing is duplicated).",
        ),
        "dry_run": dry_run_param(),
    }

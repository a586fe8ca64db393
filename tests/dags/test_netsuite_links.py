"""NetSuite tasks always show a working "Open in NetSuite" link (the UI would otherwise show an empty
"Extra Links" heading): the record written, or NetSuite's home page when a task wrote none. Against the
sandbox, whose connection names its own UI pages (extra ``ui_base_url``)."""

from __future__ import annotations

import requests

from tests.dags.conftest import task_links

DAG_ID = "sf_opportunity_to_ns_sales_order"
NETSUITE_TASKS = ("load_customers", "load_orders")
LINK_KEY = "_link_NetSuiteRecordLink"


def _run(flow_dags, **conf):
    return flow_dags[DAG_ID].test(
        run_conf={"opportunity_ids": [], "mode": "queued", "dry_run": False, **conf}, logical_date=None
    )


def _page(sandbox, url: str) -> requests.Response:
    return requests.get(url, verify=str(sandbox.ca_path), timeout=30)


def test_netsuite_tasks_link_to_the_sandbox_record_pages(fresh_sandbox, flow_dags, ns_sql):
    seeded = fresh_sandbox.control("salesforce", "seed", {"opportunities": 1, "lines_per_opportunity": 2})
    (opp_id,) = seeded["opportunity_ids"]

    run = _run(flow_dags)

    assert run.state == "success"
    (order,) = ns_sql(f"SELECT id FROM transaction WHERE type = 'SalesOrd' AND externalid = '{opp_id}'")
    order_link = task_links(run, "load_orders")[LINK_KEY]
    assert order_link == (
        f"{fresh_sandbox.netsuite_url}/app/accounting/transactions/transaction.nl?id={order['id']}"
    )
    page = _page(fresh_sandbox, order_link)
    assert page.status_code == 200, page.text[:500]
    assert f"<title>salesOrder {order['id']}</title>" in page.text and opp_id in page.text, page.text[:500]
    for task_id in NETSUITE_TASKS:
        link = task_links(run, task_id).get(LINK_KEY)
        assert link and _page(fresh_sandbox, link).status_code == 200, (task_id, link)


def test_a_dry_run_still_gives_netsuite_tasks_a_link(fresh_sandbox, flow_dags):
    fresh_sandbox.control("salesforce", "seed", {"opportunities": 1, "lines_per_opportunity": 1})

    run = _run(flow_dags, dry_run=True)

    assert run.state == "success"
    for task_id in NETSUITE_TASKS:
        link = task_links(run, task_id).get(LINK_KEY)
        assert link == f"{fresh_sandbox.netsuite_url}/app/center/card.nl", (task_id, link)
        assert _page(fresh_sandbox, link).status_code == 200

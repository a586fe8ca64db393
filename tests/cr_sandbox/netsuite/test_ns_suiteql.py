"""SuiteQL conformance: shape, functions, errors, paging rules, the 100,000-row cap and keyset paging."""

from __future__ import annotations

from tests.cr_sandbox.netsuite.conftest import SUITEQL_PATH


def _count(stats: dict, method: str, path: str, status: int) -> int:
    return sum(r["count"] for r in stats["requests"] if (r["method"], r["path"], r["status"]) == (method, path, status))


def test_response_shape_lower_case_keys_and_string_values(ns):
    resp = ns.suiteql("SELECT ID, CompanyName FROM customer WHERE id = 1001")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"links", "count", "hasMore", "items", "offset", "totalResults"}
    assert body["items"] == [{"links": [], "id": "1001", "companyname": "Acme Analytics Inc."}]
    assert body["count"] == 1 and body["hasMore"] is False and body["totalResults"] == 1


def test_dates_functions_and_builtin_df(ns):
    ns.control("clock", {"today": "2025-03-10"})
    so = ns.create("salesOrder", {
        "entity": {"id": "1002"}, "tranDate": "2025-03-01",
        "item": {"items": [{"item": {"id": "508"}, "quantity": 1, "rate": 10}]},
    })
    rows = ns.rows(
        "SELECT t.id, t.trandate, TO_CHAR(t.trandate, 'YYYY-MM-DD') AS iso, "
        "TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lm, BUILTIN.DF(t.entity) AS customer, "
        "BUILTIN.DF(t.status) AS status FROM transaction t "
        f"WHERE t.id = {so} AND t.lastmodifieddate >= TO_TIMESTAMP('2025-03-10 00:00:00', 'YYYY-MM-DD HH24:MI:SS') "
        "AND t.trandate > TO_DATE('2025-02-28', 'YYYY-MM-DD')"
    )
    assert len(rows) == 1
    row = rows[0]
    assert row["trandate"] == "3/1/2025"  # the user's date format, not ISO
    assert row["iso"] == "2025-03-01"
    assert row["lm"].startswith("2025-03-10 ")  # sandbox timestamps follow the sandbox clock
    assert row["customer"] == "Globex Software Ltd."
    assert row["status"] == "Sales Order : Pending Approval"  # the default status (issue 17)
    lines = ns.rows(f"SELECT tl.id, tl.mainline, BUILTIN.DF(tl.item) item FROM transactionline tl WHERE tl.transaction = {so} ORDER BY tl.id")
    assert [(r["id"], r["mainline"]) for r in lines] == [("0", "T"), ("1", "F")]
    assert lines[1]["item"] == "TRAIN-ADMIN"
    ns.control("clock", {"reset": True})


def test_bad_sql_is_400_invalid_parameter(ns):
    for query, needle in (
        ("SELECT nosuchcolumn FROM customer", "Unknown identifier 'nosuchcolumn'"),
        ("SELECT id FROM nosuchtable", "Record 'nosuchtable' was not found"),
        ("SELEC id FRM customer", "Invalid search query"),
        ("DELETE FROM customer", "Invalid search query"),
    ):
        resp = ns.suiteql(query)
        assert resp.status_code == 400, query
        detail = resp.json()["o:errorDetails"][0]
        assert detail["o:errorCode"] == "INVALID_PARAMETER"
        assert detail["detail"].startswith("Invalid search query.")
        assert needle in detail["detail"]


def test_paging_parameters_are_validated(ns):
    assert ns.suiteql("SELECT id FROM customer", limit=1001).status_code == 400
    assert ns.suiteql("SELECT id FROM customer", limit=3, offset=4).status_code == 400
    missing_prefer = ns.suiteql("SELECT id FROM customer", headers={})
    assert missing_prefer.status_code == 400


def test_paging_across_2500_rows(ns):
    ns.control("reset")
    ns.control("seed", {"customers": 2492})  # + 8 catalog customers = 2,500
    ns.control("stats/reset")
    ids: list[str] = []
    url_path, offset, pages = SUITEQL_PATH, 0, []
    while True:
        body = ns.suiteql("SELECT id FROM customer ORDER BY id", limit=1000, offset=offset).json()
        pages.append(body)
        ids += [row["id"] for row in body["items"]]
        if not body["hasMore"]:
            break
        nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
        offset = int(nxt.rsplit("offset=", 1)[1])
    assert len(ids) == len(set(ids)) == 2500
    assert [p["count"] for p in pages] == [1000, 1000, 500]
    assert all(p["totalResults"] == 2500 for p in pages)
    rels = [{link["rel"] for link in p["links"]} for p in pages]
    assert rels[0] == {"next", "last", "self"}
    assert rels[1] == {"previous", "first", "next", "last", "self"}
    assert rels[2] == {"previous", "first", "last", "self"}
    stats = ns.control("stats", method="GET")
    assert _count(stats, "POST", url_path, 200) == 3
    assert stats["total"] == 3


def test_100k_cap_and_keyset_paging(ns):
    ns.control("reset")
    seeded = ns.control("seed", {"contracts": 20_100, "items_per_contract": 5})
    assert seeded["contract_items"] == 100_500
    query = "SELECT id FROM customrecord_contract_item ORDER BY id"
    last_page = ns.suiteql(query, limit=1000, offset=99_000)
    assert last_page.status_code == 200
    body = last_page.json()
    assert body["totalResults"] == 100_500 and body["count"] == 1000 and body["hasMore"] is False
    refused = ns.suiteql(query, limit=1000, offset=100_000)
    assert refused.status_code == 400
    assert refused.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_PARAMETER"
    # Past the cap, page by key.
    last_id = int(body["items"][-1]["id"])
    rest: list[int] = []
    while True:
        page = ns.suiteql(
            f"SELECT id FROM customrecord_contract_item WHERE id > {last_id} ORDER BY id", limit=1000
        ).json()
        rest += [int(r["id"]) for r in page["items"]]
        if not page["items"] or not page["hasMore"] and page["count"] < 1000:
            break
        last_id = rest[-1]
    assert len(rest) == 500 and rest == sorted(rest)
    ns.control("reset", {"seed": True})

"""Re-sending billed orders (crsync.runtime.flows.billed_orders) against an in-memory NetSuite."""

from __future__ import annotations

from crsync.records import NetSuiteWrite
from crsync.runtime.flows.billed_orders import BILLED_LINES_CHANGED, without_billed_lines


def order(opportunity: str, *lines: tuple[str, int, float]) -> NetSuiteWrite:
    items = [{"item": {"id": item}, "quantity": quantity, "rate": rate} for item, quantity, rate in lines]
    return NetSuiteWrite(
        key=opportunity,
        record_type="salesOrder",
        external_id=opportunity,
        body={"memo": opportunity, "item": {"items": items}},
    )


def test_one_changed_billed_order_is_refused_alone(fake_netsuite):
    """Of three orders, one is not billed, one billed with the same lines (sent without its lines) and
    one billed with other lines (refused with what to do): the other two are still sent."""
    ns = fake_netsuite(
        [
            {"items": [{"externalid": "006B", "id": "71"}, {"externalid": "006C", "id": "72"}]},
            {
                "items": [
                    {"transaction": "71", "item": "5", "quantity": "-2", "rate": "10"},
                    {"transaction": "72", "item": "5", "quantity": "-1", "rate": "10"},
                ]
            },
        ]
    )
    orders = [order("006A", ("5", 1, 10.0)), order("006B", ("5", 2, 10.0)), order("006C", ("5", 3, 10.0))]

    ready, refused = without_billed_lines(ns, orders, id_lookup=100)

    assert [o.key for o in ready] == ["006A", "006B"]
    assert ready[0].body == orders[0].body
    assert ready[1].body == {"memo": "006B"}  # billed, lines unchanged: header only
    assert [(f.key, f.code) for f in refused] == [("006C", BILLED_LINES_CHANGED)]
    assert "NetSuite sales order 72 is billed" in refused[0].message
    assert "Credit the invoice in NetSuite" in refused[0].message
    assert len(ns.queries) == 2


def test_nothing_billed_sends_every_order_as_it_is(fake_netsuite):
    ns = fake_netsuite([{"items": []}])
    orders = [order("006A", ("5", 1, 10.0))]

    assert without_billed_lines(ns, orders, id_lookup=100) == (orders, [])


def test_contract_dates_and_term_are_compared_only_when_the_opportunity_sends_them(fake_netsuite):
    """A billed line's contract end date moved is a change (refused); an order whose lines carry no dates
    (NetSuite filled its own) is compared on item, quantity and price only (sent without lines)."""
    billed_line = {"item": "5", "quantity": "-1", "rate": "10", "custcol_swe_contract_start_date": "2026-01-01",
                   "custcol_swe_contract_end_date": "2026-12-31", "custcol_swe_contract_item_term_months": "12"}  # fmt: skip
    ns = fake_netsuite(
        [
            {"items": [{"externalid": "006D", "id": "81"}, {"externalid": "006E", "id": "82"}]},
            {"items": [{**billed_line, "transaction": "81"}, {**billed_line, "transaction": "82"}]},
        ]
    )
    moved, dateless = order("006D", ("5", 1, 10.0)), order("006E", ("5", 1, 10.0))
    moved.body["item"]["items"][0].update({"custcol_swe_contract_start_date": "2026-01-01",
                                           "custcol_swe_contract_end_date": "2026-11-30",
                                           "custcol_swe_contract_item_term_months": 12})  # fmt: skip

    ready, refused = without_billed_lines(ns, [moved, dateless], id_lookup=100)

    assert [f.key for f in refused] == ["006D"] and "contract dates" in refused[0].message
    assert [o.key for o in ready] == ["006E"] and "item" not in ready[0].body
    assert "custcol_swe_contract_end_date" in ns.queries[1]


def test_a_line_sent_without_dates_matches_whatever_dates_netsuite_gave_it(fake_netsuite):
    """One order, two lines of one item: one sent with its dates, one without (NetSuite filled its own).
    Each sent line finds a billed line of its own, so the order is re-sent without lines, not refused."""
    dated = {"custcol_swe_contract_start_date": "2026-01-01", "custcol_swe_contract_end_date": "2026-12-31",
             "custcol_swe_contract_item_term_months": "12"}  # fmt: skip
    filled = {"custcol_swe_contract_start_date": "2026-03-01", "custcol_swe_contract_end_date": "2026-12-31",
              "custcol_swe_contract_item_term_months": "10"}  # fmt: skip
    ns = fake_netsuite(
        [
            {"items": [{"externalid": "006F", "id": "91"}]},
            {"items": [{"transaction": "91", "item": "5", "quantity": "-1", "rate": "10", **filled},
                       {"transaction": "91", "item": "5", "quantity": "-1", "rate": "10", **dated}]},  # fmt: skip
        ]
    )
    mixed = order("006F", ("5", 1, 10.0), ("5", 1, 10.0))
    mixed.body["item"]["items"][1].update({k: v for k, v in dated.items()})

    ready, refused = without_billed_lines(ns, [mixed], id_lookup=100)

    assert refused == [] and [o.key for o in ready] == ["006F"] and "item" not in ready[0].body

"""A partner's system reads a long list by cursor: each page's `next` sent back as `?after=` gives
the page after it, as fast deep in the list as at its start; `page`/`per_page` still work."""

from __future__ import annotations

import pytest

from tests.api.conftest import World
from tests.factories import ReferralFactory
from tests.helpers import QueryCounter

LISTS = [
    ("referrer", "/referrals"),
    ("nacro_manager", "/referrals"),
    ("referrer", "/contracts"),
    ("nacro_manager", "/referrals/AC1000AA/sessions"),
    ("referrer", "/outcomes"),
    ("contract_manager", "/invoices"),
    ("contract_manager", "/service-returns"),
    ("nacro_manager", "/grant-payments"),
]


def walk(client, path: str, **filters):
    """Every item of a list, page by page through `next`; and the pages' query counts."""
    items, counts, after = [], [], None
    while True:
        params = dict(filters, per_page=2) | ({"after": after} if after else {})
        response = client.get(path, **params)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        items.extend(body["items"])
        counts.append(body["total"])
        after = body["next"]
        if after is None:
            return items, body


@pytest.mark.parametrize(("role", "path"), LISTS)
def test_following_next_reads_every_record_once_in_the_order_of_the_numbered_pages(world: World, role, path):
    client = world[role]
    everything = client.get(path, per_page=200).get_json()
    by_cursor, last = walk(client, path)
    assert by_cursor == everything["items"]
    assert last["total"] == everything["total"] == len(everything["items"])
    assert everything["next"] is None


def test_numbered_pages_still_work_and_say_where_the_next_one_starts(world: World):
    client = world["referrer"]
    first = client.get("/referrals", per_page=1).get_json()
    second = client.get("/referrals", per_page=1, page=2).get_json()
    by_cursor = client.get("/referrals", per_page=1, after=first["next"]).get_json()
    assert by_cursor["items"] == second["items"]
    assert by_cursor["page"] == 2


def test_filters_hold_across_cursor_pages(world: World):
    for number in range(5):
        ReferralFactory(
            reference=f"CP{number:04d}AA",
            contract=world.sent.contract,
            service_code="ACC-TTG",
            referrer=world.sent.referrer,
        )
    items, _ = walk(world["referrer"], "/referrals", status="sent", service_code="ACC-TTG")
    assert len(items) == len({item["reference"] for item in items}) >= 5
    assert all(item["status"] == "sent" and item["service_code"] == "ACC-TTG" for item in items)


def test_a_deep_cursor_page_costs_the_queries_of_the_first(app, world: World):
    for number in range(8):
        ReferralFactory(
            reference=f"CQ{number:04d}AA",
            contract=world.sent.contract,
            service_code="ACC-TTG",
            referrer=world.sent.referrer,
        )
    client = world["referrer"]
    first = client.get("/referrals", per_page=2).get_json()  # also keeps the token's last use out of the counts
    with QueryCounter(app) as shallow:
        client.get("/referrals", per_page=2)
    after = first["next"]
    for _ in range(3):
        after = client.get("/referrals", per_page=2, after=after).get_json()["next"]
    with QueryCounter(app) as deep:
        assert client.get("/referrals", per_page=2, after=after).status_code == 200
    assert deep.count == shallow.count


@pytest.mark.parametrize("cursor", ["nonsense", "eyJrIjpbMSwyXSwicCI6MX0", "x" * 1001])
def test_a_cursor_that_is_not_one_we_sent_is_a_422_naming_after(world: World, cursor):
    response = world["referrer"].get("/referrals", after=cursor)
    assert response.status_code == 422
    assert "after" in response.get_json()["errors"]

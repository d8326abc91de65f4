"""The dashboard's prompt-payment part in a real browser: for the whole CRC, each contract's months
are a download; chosen one partner, they are a table on the page. Both pass axe-core."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, sign_in
from tests.helpers import STORY_DAY
from tests.invoicing.test_prompt_payment import paid

pytestmark = [pytest.mark.browser, pytest.mark.on_day(STORY_DAY)]  # the payments of autumn 2026


def test_the_contract_manager_downloads_every_row_or_chooses_a_partner_to_see_theirs(
    page: Page, live_server: str, contract_manager, nacro_contract, st_giles_contract
) -> None:
    paid(nacro_contract, date(2026, 10, 20), 12, late=False)
    paid(nacro_contract, date(2026, 11, 3), 30, late=False)
    paid(st_giles_contract, date(2026, 11, 10), 19, late=True)
    sign_in(page, live_server, contract_manager)

    page.goto(f"{live_server}/dashboard/?view=payments&period=2026-11")
    expect(page.get_by_text("3 rows, one for each contract and month")).to_be_visible()
    expect(page.get_by_role("table", name="Each contract by month paid")).to_have_count(0)
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="download every row (CSV)").click()
    assert download.value.suggested_filename == "prompt-payment-2026-11.csv"

    page.goto(f"{live_server}/dashboard/?view=payments&period=2026-11&partner={nacro_contract.partner_id}")
    table = page.get_by_role("table", name="Each contract by month paid")
    expect(table.get_by_role("row")).to_have_count(3)  # the header and Nacro's two months
    expect(table).to_contain_text("November 2026")
    assert_accessible(page)

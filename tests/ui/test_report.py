"""Open the segment report a pipeline run wrote, in headless Chromium, as a marketer would: every segment has
its card, the charts are drawn, and nothing is fetched from the network (the page works offline).

The pipeline runs on small data in a temp warehouse (tests/conftest.py's built_warehouse); the screenshot goes
to artifacts/screenshots/report.png (docs/segment-report.png in the README is a copy of one).
"""

from pathlib import Path

import pytest

from tests.conftest import query
from tests.ui.test_dagster_ui import CHROMIUM, CHROMIUM_ARGS, SHOTS

pytestmark = pytest.mark.ui


def test_the_report_shows_a_card_per_segment_with_its_charts(built_warehouse):
    from playwright.sync_api import sync_playwright

    path, result = built_warehouse
    assert result.success
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: run `make test-ui`, which installs Debian's chromium")
    profiles = query(path, "select segment_id, segment_name, level from segments.segment_profiles")
    page_file = path.parent / "reports" / "latest" / "index.html"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")

        cards = page.locator("[data-segment-id]")
        assert cards.count() == len(profiles)
        for row in profiles.itertuples():
            card = page.locator(f'[data-segment-id="{row.segment_id}"]')
            assert card.count() == 1, row.segment_id
            assert row.segment_name in card.locator("h3").inner_text()
            assert card.get_attribute("data-level") == row.level
        # micro cards sit inside their macro's group
        micro = profiles[profiles["level"] == "micro"].iloc[0]
        parent = micro["segment_id"].split(".")[0]
        assert page.locator(f'[data-macro-id="{parent}"] [data-segment-id="{micro["segment_id"]}"]').count() == 1

        # charts are drawn: the map and every card's trait bars decoded to real pixels
        for selector in ("img.map-chart", "img.trait-chart"):
            img = page.locator(selector).first
            assert img.evaluate("i => i.complete && i.naturalWidth") > 200, selector
        assert page.locator("img.trait-chart").count() >= len(profiles) - 2
        assert all(u.startswith(("file://", "data:")) for u in requests), requests  # nothing from the network

        page.screenshot(path=str(SHOTS / "report.png"))
        page.locator(f'[data-macro-id="{parent}"]').screenshot(path=str(SHOTS / "report_macro_group.png"))
        browser.close()

"""End to end: the planner page on the real waitress server, driven by headless Debian Chromium (Playwright).

Every request to another host is recorded and answered locally (tiles get a blank PNG), so the test never
touches the network and can prove the page asks for nothing but tiles from outside.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from stationmap.config import BUNDLED_DATA_DIR

pytestmark = pytest.mark.e2e

DISTRICT = "450305"  # 桂林七星区: the smallest bundled set, so the page settles quickly on 2 cores


@pytest.fixture(scope="module")
def base_url(live_server) -> Iterator[str]:
    with live_server(BUNDLED_DATA_DIR) as url:
        yield url


def _api(base_url: str, path: str) -> dict:
    with urllib.request.urlopen(base_url + path, timeout=60) as response:  # 127.0.0.1 only
        return json.loads(response.read().decode("utf-8"))


def _settled(page) -> None:
    """Wait until every API request the page started has been answered and drawn."""
    page.wait_for_selector("body[data-pending='0']", state="attached", timeout=60_000)


def test_planner_draws_layers_and_matches_the_api(browser, base_url, page_watch, artifacts):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1, locale="zh-CN")
    page = context.new_page()
    watch = page_watch(page)
    try:
        page.goto(f"{base_url}/planner?district={DISTRICT}&lang=en", wait_until="load")
        _settled(page)
        coverage = _api(base_url, f"/api/coverage?district={DISTRICT}&radius_m=1000")["coverage"]
        sites = _api(base_url, f"/api/sites?district={DISTRICT}&radius_m=1000&k=5")
        figure = page.locator("[data-figure=pct_area_covered]").inner_text()
        assert figure == f"{coverage['pct_area_covered']:.1f}%"
        assert page.locator("[data-figure=n_used]").inner_text() == f"{coverage['n_used']} / {coverage['n_stations']}"

        # every layer is on the map: outline, service area, overlap and gaps as paths; pins; numbered sites
        assert page.locator(".leaflet-overlay-pane path").count() >= 4
        assert page.locator(".leaflet-marker-pane .sm-pin").count() == coverage["n_stations"]
        ranks = page.locator(".leaflet-marker-pane .pl-site").all_inner_texts()
        assert ranks == [str(f["properties"]["rank"]) for f in sites["features"]] == ["1", "2", "3", "4", "5"]
        assert page.locator("#pl-sites tr").count() == 5
        assert page.locator("#pl-gaps tr").count() >= 1

        page.screenshot(path=str(artifacts / "planner-1280x800.png"))

        # a site's popup names its rank and gain
        page.locator(".leaflet-marker-pane .pl-site").first.click()
        popup = page.locator(".leaflet-popup-content").inner_text()
        assert "Proposed site 1" in popup and "Gain" in popup

        # toggling the service-area layer removes its paths and brings them back
        before = page.locator(".leaflet-overlay-pane path").count()
        page.locator("#pl-layers input[value=service]").uncheck()
        assert page.locator(".leaflet-overlay-pane path").count() == before - 1
        page.locator("#pl-layers input[value=service]").check()
        assert page.locator(".leaflet-overlay-pane path").count() == before

        # what-if: tap the map to add a station, see the new figure and the difference
        page.locator("#pl-whatif-toggle").click()
        box = page.locator(".folium-map").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.6)
        page.wait_for_selector("[data-figure=after-pct_area_covered]", timeout=60_000)
        _settled(page)
        after = float(page.locator("[data-figure=after-pct_area_covered]").inner_text().rstrip("%"))
        assert after >= coverage["pct_area_covered"] - 0.05

        # a time of day reloads the figures from the API
        page.select_option("#pl-at", "05:00")
        page.locator("[data-figure=at]", has_text="05:00").wait_for(timeout=60_000)
        _settled(page)
        at5 = _api(base_url, f"/api/coverage?district={DISTRICT}&radius_m=1000&at=05:00")["coverage"]
        assert page.locator("[data-figure=pct_area_covered]").inner_text() == f"{at5['pct_area_covered']:.1f}%"

        page.wait_for_load_state("networkidle")  # no request in flight when the server closes
        watch.assert_clean()
    finally:
        context.close()


def test_worker_page_links_to_planner_and_back(browser, base_url, page_watch, artifacts):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    page = context.new_page()
    watch = page_watch(page)
    try:
        page.goto(f"{base_url}/", wait_until="load")
        page.locator("#sm-planner-link").click()
        page.wait_for_url("**/planner**")
        assert page.locator("h1").inner_text() == "站点规划"
        page.locator("#pl-lang").click()
        assert page.locator("h1").inner_text() == "Station planner"
        _settled(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
        page.screenshot(path=str(artifacts / "planner-phone-390.png"), full_page=True)
        page.locator("#pl-worker-link").click()
        page.wait_for_url("**/?lang=en")
        page.wait_for_load_state("networkidle")  # no request in flight when the server closes
        watch.assert_clean()
    finally:
        context.close()

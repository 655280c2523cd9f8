"""End to end: the real waitress server on 127.0.0.1 driven by headless Debian Chromium (Playwright).

Every request to another host is recorded and answered locally (tiles get a blank PNG), so the test never
touches the network and can prove the page asks for nothing but tiles from outside.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

HOSTILE = "<img src=x onerror=alert(1)>${alert(1)}</script>C:\\temp\\x"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, fixture_path) -> Path:
    """The five fixture stations plus one with a hostile name, 250 m south-east of T-1."""
    root = tmp_path_factory.mktemp("e2e-data")
    (root / "stations").mkdir()
    doc = json.loads(fixture_path.read_text(encoding="utf-8"))
    hostile = json.loads(json.dumps(doc["features"][1]))
    hostile["id"] = hostile["properties"]["id"] = "T-X"
    hostile["properties"].update({"name": HOSTILE, "address": HOSTILE, "honours": [], "name_en": HOSTILE})
    hostile["geometry"]["coordinates"] = [109.0620, 34.2685]
    doc["features"].append(hostile)
    (root / "stations" / "e2e.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def base_url(data_dir, live_server) -> Iterator[str]:
    with live_server(data_dir) as url:
        yield url


def _new_page(browser, page_watch, *, width: int, height: int, mobile: bool):
    context = browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=1, is_mobile=mobile, has_touch=mobile,
        locale="zh-CN", geolocation={"longitude": 109.0602, "latitude": 34.2702}, permissions=["geolocation"],
    )
    page = context.new_page()
    return context, page, page_watch(page)


def test_phone_finds_nearest_and_opens_station(browser, base_url, page_watch, artifacts):
    context, page, watch = _new_page(browser, page_watch, width=360, height=640, mobile=True)
    page.goto(base_url + "/", wait_until="load")
    page.wait_for_selector(".sm-pin", state="attached", timeout=15000)
    assert page.locator(".sm-pin, .marker-cluster").count() >= 1
    assert page.locator("#sm-demo").is_visible()

    page.click("#sm-locate")
    page.wait_for_selector("#sm-list li", timeout=15000)
    items = page.locator("#sm-list .sm-item")
    assert items.count() == 6
    first = items.nth(0)
    assert first.get_attribute("data-station-id") == "T-1"
    assert "米" in first.inner_text()
    assert "分钟" in first.inner_text()

    second = items.nth(1)
    wanted = second.get_attribute("data-station-id")
    second.click()
    page.wait_for_selector("#sm-detail:not([hidden])", timeout=10000)
    # wait on selectors, not page functions: the page's CSP forbids the eval a string function needs
    page.locator(f"#sm-detail[data-station-id={json.dumps(wanted)}]").wait_for()
    detail = page.locator("#sm-detail")
    assert "12351" in detail.inner_text()
    assert detail.locator("a.sm-nav-amap").get_attribute("href").startswith("https://uri.amap.com/navigation?")

    # no horizontal scrolling on a 360 px phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.wait_for_timeout(800)  # let the map settle after focusing the station
    page.screenshot(path=str(artifacts / "phone-360x640-detail.png"))
    page.click("#sm-detail-close")
    page.screenshot(path=str(artifacts / "phone-360x640.png"), full_page=True)

    # the language switch re-labels the page and the list without a reload
    page.click("#sm-lang")
    page.locator("html[lang=en]").wait_for(state="attached")
    page.locator("#sm-list .sm-item-walk", has_text="min walk").first.wait_for()
    assert page.locator("#sm-locate").inner_text().strip() == "Find me"
    watch.assert_clean()
    context.close()


def test_hostile_name_renders_as_text(browser, base_url, page_watch, artifacts):
    context, page, watch = _new_page(browser, page_watch, width=1280, height=800, mobile=False)
    page.goto(base_url + "/?lang=en", wait_until="load")
    page.wait_for_selector(".sm-pin", state="attached", timeout=15000)
    assert page.locator("#sm-lang").inner_text() == "中文"

    page.fill("#sm-q", "onerror")
    page.click("#sm-search button[type=submit]")
    page.wait_for_selector("#sm-search-results .sm-item", timeout=10000)
    result = page.locator("#sm-search-results .sm-item").first
    assert HOSTILE in result.inner_text()
    result.click()
    page.wait_for_selector("#sm-detail:not([hidden])", timeout=10000)
    page.locator('#sm-detail[data-station-id="T-X"]').wait_for()
    assert page.locator("#sm-detail-name").text_content() == HOSTILE

    # the map marker's tooltip and the nearest list show it as text too
    page.mouse.click(640, 400)  # tap the map: sets the position there
    page.wait_for_selector("#sm-list li", timeout=10000)
    names = page.locator("#sm-list .sm-item-name").all_text_contents()
    assert HOSTILE in names
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    page.wait_for_timeout(800)
    page.screenshot(path=str(artifacts / "desktop-1280x800.png"))
    watch.assert_clean()
    context.close()

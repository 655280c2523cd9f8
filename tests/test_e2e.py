"""End to end: the real waitress server on 127.0.0.1 driven by headless Debian Chromium (Playwright).

Every request to another host is recorded and answered locally (tiles get a blank PNG), so the test never
touches the network and can prove the page asks for nothing but tiles from outside.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.parse
import urllib.request
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
    assert "直线估算" in first.inner_text()
    page.wait_for_selector("#sm-sheet:not([data-moving])", state="attached")  # measured once it has risen
    box = first.bounding_box()  # the answer shows without scrolling: the sheet rises over the map
    assert box is not None and box["y"] + box["height"] <= 640

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
    page.locator("#sm-list .sm-item-travel", has_text="min walk").first.wait_for(state="attached")
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


# --- three workers on a 360×640 phone, against the bundled demo districts -------------------------------------------

PHONE = {"width": 360, "height": 640}


@pytest.fixture(scope="module")
def demo_url(live_server) -> Iterator[str]:
    from stationmap.config import BUNDLED_DATA_DIR

    with live_server(BUNDLED_DATA_DIR) as url:
        yield url


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:  # the test server on 127.0.0.1
        return json.loads(response.read().decode("utf-8"))


def _all_stations(base: str, **params: str) -> list[dict]:
    """Every station the API lists (page by page), with the given filters."""
    found: list[dict] = []
    offset = 0
    while True:
        query = urllib.parse.urlencode({"limit": 100, "offset": offset, **params})
        body = _get(f"{base}/api/stations?{query}")
        found.extend(body["features"])
        if len(body["features"]) < 100:
            return found
        offset += 100


def _brute_force(base: str, lon: float, lat: float, *, need_key: str, mode_key: str, moment: str,
                 open_required: bool) -> str | None:
    """The station `stationmap.needs` says is best: within the mode's cap, every need met, the lowest score."""
    from pyproj import Geod

    from stationmap import needs

    need, mode = needs.NEEDS[need_key], needs.MODES[mode_key]
    open_ids = {f["properties"]["id"] for f in _all_stations(base, open_at=moment)}
    geod = Geod(ellps="WGS84")
    best: tuple[float, str] | None = None
    for feature in _all_stations(base):
        p = feature["properties"]
        s_lon, s_lat = feature["geometry"]["coordinates"]
        distance_m = geod.inv(lon, lat, s_lon, s_lat)[2]
        is_open = p["id"] in open_ids
        amenities = p.get("amenities") or []
        if distance_m > mode.cap_m or needs.missing_groups(need, amenities, p.get("toilet"), p.get("kind"),
                                                             open_required=open_required, is_open=is_open):
            continue
        score = needs.score(distance_m, mode=mode, is_open=is_open, n_plus=sum(a in amenities for a in need.plus))
        if best is None or score < best[0]:
            best = (score, p["id"])
    return best[1] if best else None


def _china_day(weekday: int) -> dt.date:
    """The next date (today included) in China with this ISO weekday (1 Monday ... 7 Sunday)."""
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    return today + dt.timedelta(days=(weekday - today.isoweekday()) % 7)


def _centre(base: str, adcode: str) -> tuple[float, float]:
    coords = [f["geometry"]["coordinates"] for f in _all_stations(base, district_code=adcode)]
    return (sum(c[0] for c in coords) / len(coords), sum(c[1] for c in coords) / len(coords))


def _first_card_in_view(page) -> str:
    card = page.locator("#sm-list .sm-item").first
    page.wait_for_selector("#sm-sheet:not([data-moving])", state="attached")  # measured once it has risen
    box = card.bounding_box()
    assert box is not None
    assert page.evaluate("window.scrollY") == 0
    assert 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"], box
    assert 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], box
    return card.get_attribute("data-station-id")


def _worker_page(browser, page_watch, base: str, lon: float, lat: float):
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True, locale="zh-CN",
                                  geolocation={"longitude": lon, "latitude": lat}, permissions=["geolocation"])
    page = context.new_page()
    watch = page_watch(page)
    page.goto(base + "/", wait_until="load")
    page.wait_for_selector(".sm-pin, .sm-cell, .marker-cluster", state="attached", timeout=15000)
    return context, page, watch


@pytest.mark.parametrize(("worker", "adcode", "mode"), [
    ("delivery_rider", "530111", "ebike"),
    ("truck_driver", "511502", "drive"),
])
def test_worker_gets_best_station_in_one_tap(browser, demo_url, page_watch, artifacts, worker, adcode, mode):
    lon, lat = _centre(demo_url, adcode)
    context, page, watch = _worker_page(browser, page_watch, demo_url, lon, lat)
    page.click("#sm-locate")
    page.wait_for_selector("#sm-list[data-need=any] li", timeout=15000)
    page.click(f".sm-need[data-need={worker}]")  # the one tap after locating
    page.wait_for_selector(f"#sm-list[data-need={worker}][data-mode={mode}] li", timeout=15000)
    assert page.locator(f".sm-mode[data-mode={mode}]").get_attribute("aria-pressed") == "true"
    wanted = _brute_force(demo_url, lon, lat, need_key=worker, mode_key=mode, moment="now", open_required=False)
    assert wanted is not None
    assert _first_card_in_view(page) == wanted
    text = page.locator("#sm-list .sm-item").first.inner_text()
    assert "直线估算" in text and "分钟" in text and "厕所" in text
    page.wait_for_timeout(400)  # the sheet's height transition (0.18 s) before the picture
    page.screenshot(path=str(artifacts / f"phone-360x640-{worker}.png"))
    watch.assert_clean()
    context.close()


def test_sanitation_worker_at_0510_on_tuesday(browser, demo_url, page_watch, artifacts):
    lon, lat = _centre(demo_url, "610111")
    context, page, watch = _worker_page(browser, page_watch, demo_url, lon, lat)
    # the moment first: the picker's day chip and a time
    page.click("#sm-when-open")
    page.click("#sm-days .sm-chip[data-weekday=day_tu]")
    page.fill("#sm-time", "05:10")
    page.dispatch_event("#sm-time", "change")
    chip = page.locator("#sm-days .sm-chip[data-weekday=day_tu]")
    assert chip.get_attribute("aria-pressed") == "true"
    box = page.locator("#sm-time").bounding_box()
    assert box is not None and box["width"] >= 88 and box["height"] >= 44
    page.click("#sm-panel-done")
    assert "05:10" in page.locator("#sm-when-label").inner_text()

    page.click("#sm-locate")
    page.wait_for_selector("#sm-list[data-need=any] li, #sm-list[data-need=any] + #sm-partial", timeout=15000)
    page.click(".sm-need[data-need=sanitation]")
    page.wait_for_selector("#sm-list[data-need=sanitation][data-mode=walk] li", timeout=15000)
    moment = f"{_china_day(2).isoformat()}T05:10:00+08:00"
    wanted = _brute_force(demo_url, lon, lat, need_key="sanitation", mode_key="walk", moment=moment,
                          open_required=True)
    assert wanted is not None
    assert _first_card_in_view(page) == wanted
    page.wait_for_timeout(400)
    page.screenshot(path=str(artifacts / "phone-360x640-sanitation.png"))
    watch.assert_clean()
    context.close()


def test_geolocation_error_is_in_the_page_language(browser, base_url, page_watch):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")
    page = context.new_page()
    watch = page_watch(page)
    page.goto(base_url + "/?lang=zh", wait_until="load")
    page.click("#sm-locate")  # no permission given: the browser refuses
    page.locator("#sm-status", has_text="您没有允许本网页使用位置").wait_for(timeout=10000)
    watch.assert_clean()
    context.close()


# --- search by need words, and centring on Amap's GCJ-02 tiles --------------------------------------------------

MAP_CENTRE = "(() => { const m = window[document.querySelector('.folium-map').id]; const c = m.getCenter();" \
             " return [c.lng, c.lat]; })()"


def test_search_by_a_need_word_on_amap_tiles_centres_in_gcj02(browser, live_server, page_watch, artifacts):
    from stationmap import geo
    from stationmap.config import BUNDLED_DATA_DIR

    with live_server(BUNDLED_DATA_DIR, tile_provider="amap") as base:
        lon, lat = _centre(base, "530111")
        context, page, watch = _worker_page(browser, page_watch, base, lon, lat)
        try:
            page.click("#sm-locate")
            page.wait_for_selector("#sm-list li", timeout=15000)
            page.fill("#sm-q", "充电")
            page.press("#sm-q", "Enter")
            page.wait_for_selector("#sm-search-results .sm-item", timeout=15000)
            found = page.locator("#sm-search-results .sm-item").evaluate_all(
                "items => items.map(i => i.dataset.stationId)")
            # brute force: every station with phone or e-bike charging, nearest first from the located point
            charging = [f for f in _all_stations(base)
                        if {"phone_charging", "ebike_charging"} & set(f["properties"].get("amenities") or [])]
            nearest = sorted(charging, key=lambda f: float(geo.geodesic_distance_m(lon, lat,
                                                                                     *f["geometry"]["coordinates"])))
            assert found[:5] == [f["id"] for f in nearest[:5]]
            page.locator("#sm-search-results .sm-item").first.click()
            wgs = nearest[0]["geometry"]["coordinates"]
            gcj = geo.convert_coords(*wgs, src="wgs84", dst="gcj02")
            deadline = time.monotonic() + 10
            while True:  # the map pans there (animated); then it stays
                centre = page.evaluate(MAP_CENTRE)
                miss_m = float(geo.geodesic_distance_m(*centre, float(gcj[0]), float(gcj[1])))
                if miss_m < 1.0 or time.monotonic() > deadline:
                    break
                page.wait_for_timeout(100)
            assert miss_m < 1.0, centre  # centred in GCJ-02, the tiles' datum (a quick tap once missed: zoom anim)
            assert float(geo.geodesic_distance_m(*centre, *wgs)) > 100  # not the WGS-84 point (a 300-600 m miss)
            page.screenshot(path=str(artifacts / "phone-360x640-search-amap.png"))
            watch.assert_clean()
        finally:
            context.close()

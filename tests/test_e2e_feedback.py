"""End to end: a worker's feedback from the station page a QR code opens, on the real server, on both backends.

The waitress server runs on a fresh register (the bundled demo) in SQLite and in PostgreSQL + PostGIS, driven by
headless Debian Chromium at 360×640. ``/?station=<id>`` opens the station's detail; "here and open" in one tap
makes the API's ``last_verified`` today with the worker as its source; a broken amenity reported with hostile text
and a phone number is kept as typed and runs nothing; "wrong location" sends the tapped point; a refused text is
explained next to its field; the eleventh post of the hour gets the translated "try again in N minutes"; offline,
nothing is sent and the page says so; the English page is in English; an unknown id gets a translated message.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from stationmap import geo, i18n
from stationmap.config import BUNDLED_DATA_DIR, Settings
from stationmap.parameters import FEEDBACK_CLIENT_PER_HOUR, FEEDBACK_TEXT_MAX_CHARS
from stationmap.web.live import CONFIRMATIONS_EVERY_S

pytestmark = pytest.mark.e2e

BAQIAO = "610111"
HOSTILE = "<img src=x onerror=alert(1)>'\"; DROP TABLE feedback;-- 热水器坏了"
TIMEOUT_MS = 30_000
CJK = re.compile(r"[\u4e00-\u9fff]")


def zh(key: str, **fields: Any) -> str:
    return i18n.text(f"web.feedback_form.{key}", "zh", **fields)


def en(key: str, **fields: Any) -> str:
    return i18n.text(f"web.feedback_form.{key}", "en", **fields)


@contextlib.contextmanager
def _serving(database_url: str, tmp_path, **options: Any) -> Iterator[tuple[str, Any, str]]:
    """The real server on a fresh register of the bundled demo: (base URL, its store, a 灞桥区 station with amenities)."""
    from stationmap.web.app import create_app
    from stationmap.web.server import running_server

    settings = Settings(data_dir=BUNDLED_DATA_DIR, host="127.0.0.1", port=0, database_url=database_url,
                        data_home=tmp_path / "home", cache_dir=tmp_path / "cache", **options)
    app = create_app(settings)
    store = app.extensions["stationmap_store"]
    station = next(r for r in store.snapshot().records
                   if r.district_code == BAQIAO and len(r.feature["properties"].get("amenities") or []) >= 2)
    try:
        with running_server(settings, app=app) as running:
            yield f"http://127.0.0.1:{running.effective_port}", store, station.id
    finally:
        store.close()


@pytest.fixture
def server(database_url: str, tmp_path) -> Iterator[tuple[str, Any, str]]:
    """The server with OpenStreetMap tiles (WGS-84)."""
    with _serving(database_url, tmp_path) as running:
        yield running


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=60) as response:  # 127.0.0.1 only
        return json.loads(response.read().decode("utf-8"))


def _phone(browser, page_watch, *, locale: str = "zh-CN"):
    context = browser.new_context(viewport={"width": 360, "height": 640}, device_scale_factor=1, is_mobile=True,
                                  has_touch=True, locale=locale)
    page = context.new_page()
    return context, page, page_watch(page)


def _open_station(page, base_url: str, station_id: str, *, lang: str = "") -> None:
    page.goto(f"{base_url}/?station={station_id}{'&lang=' + lang if lang else ''}", wait_until="load")
    page.locator(f"#sm-detail[data-station-id='{station_id}']:not([hidden])").wait_for(timeout=TIMEOUT_MS)
    page.locator("#sm-fb-confirm").wait_for(timeout=TIMEOUT_MS)


def _status(page, text: str) -> None:
    page.locator("#sm-fb-status", has_text=text).wait_for(timeout=TIMEOUT_MS)


def _expected_refusals(watch, *statuses: int) -> None:
    """Take the console's note of each expected refusal (one per status) off the page's error list."""
    for status in statuses:
        note = next((e for e in watch.errors if "Failed to load resource" in e and f"status of {status}" in e), None)
        assert note is not None, (status, watch.errors)
        watch.errors.remove(note)


def _in_view(page, selector: str) -> None:
    """The element is inside the 360×640 screen (scrolled to), not only somewhere in the page."""
    page.wait_for_timeout(400)  # the smooth scroll of the detail sheet
    box = page.locator(selector).bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 640, (selector, box)


def _tap_height(page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return min(box["height"], box["width"])


def _tap_map(page, x: int, y: int) -> list[float]:
    """Tap the map at page pixel (x, y); return the [lon, lat] Leaflet puts there, in the tiles' datum."""
    tapped = page.evaluate("""([x, y]) => {
        const map = window.stationmap.state.map, box = map.getContainer().getBoundingClientRect();
        const at = map.containerPointToLatLng([x - box.left, y - box.top]);
        return [at.lng, at.lat];
    }""", [x, y])
    page.mouse.click(x, y)
    return tapped


def test_worker_confirms_reports_and_is_rate_limited(browser, server, page_watch, artifacts, database_url):
    base_url, store, sid = server
    backend = database_url.split(":", 1)[0]
    record = store.get(sid).feature["properties"]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert record["last_verified"] < today
    context, page, watch = _phone(browser, page_watch)

    # the QR code's URL: the page opens on the station, its detail and the feedback form
    _open_station(page, base_url, sid)
    assert page.locator("#sm-detail-name").text_content() == record["name"]
    centre = page.evaluate("() => { const c = window.stationmap.state.map.getCenter(); return [c.lng, c.lat]; }")
    lon, lat = store.get(sid).feature["geometry"]["coordinates"]
    assert abs(centre[0] - lon) < 1e-4 and abs(centre[1] - lat) < 1e-4  # OSM tiles: WGS-84, centred on it
    assert page.locator("#sm-fb-confirm").inner_text().strip() == zh("confirm")
    for selector in ("#sm-fb-confirm", ".sm-fb-star", "#sm-fb-report"):
        assert _tap_height(page, selector) >= 44, selector
    page.locator("#sm-fb-confirm").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"feedback-360x640-{backend}-detail.png"))

    # "here and open" in one tap: the API's last_verified becomes today, from a worker
    page.click("#sm-fb-confirm")
    _status(page, zh("thanks_confirm", date=today))
    assert page.locator("#sm-detail .sm-verified").inner_text() == zh("verified_worker", date=today)
    deadline = time.monotonic() + CONFIRMATIONS_EVERY_S + 10  # each process reads confirmations every 2 s
    while True:
        props = _get(f"{base_url}/api/stations/{sid}")["properties"]
        if props["last_verified"] == today or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert (props["last_verified"], props["last_verified_source"]) == (today, "worker")
    near = _get(f"{base_url}/api/nearest?lon={lon}&lat={lat}&k=1")["features"][0]["properties"]
    assert (near["id"], near["last_verified"], near["last_verified_source"]) == (sid, today, "worker")
    assert store.get(sid).feature["properties"]["last_verified"] == record["last_verified"]  # the record is unchanged

    # a broken amenity, with hostile text and a phone number: kept as typed, shown nowhere as HTML
    amenity = record["amenities"][1]
    page.click("#sm-fb-report")
    page.click("#sm-fb-send")  # nothing chosen: told next to the field, nothing sent
    page.locator("[data-fb-error=kind]", has_text=zh("err_kind")).wait_for(timeout=TIMEOUT_MS)
    page.click("[data-kind=broken_facility]")
    page.click(f"[data-amenity={amenity}]")
    page.fill("#sm-fb-text", HOSTILE)
    page.fill("#sm-fb-phone", "138 0013 8000")
    for selector in ("[data-kind=other]", f"[data-amenity={amenity}]", "#sm-fb-text", "#sm-fb-phone", "#sm-fb-send"):
        assert _tap_height(page, selector) >= 44, selector
    assert page.locator(".sm-fb-private").inner_text() == zh("phone_hint")
    page.locator("#sm-fb-send").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"feedback-360x640-{backend}-form.png"))
    page.click("#sm-fb-send")
    page.locator("#sm-fb-status", has_text="谢谢！报告").wait_for(timeout=TIMEOUT_MS)
    [report] = [r for r in store.feedback_for([BAQIAO]) if r.kind == "broken_facility"]
    assert (report.station_id, report.amenity, report.text, report.phone) == (sid, amenity, HOSTILE, "13800138000")
    # the deadline is 00:00 in China after the last working day: the page names that working day
    last_day = (report.deadline - timedelta(seconds=1)).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert page.locator("#sm-fb-status").inner_text() == zh("thanks_report", id=report.id, date=last_day)
    page.screenshot(path=str(artifacts / f"feedback-360x640-{backend}-thanks.png"))

    # wrong location: the detail steps aside, the tap on the map is sent (OSM tiles: WGS-84)
    page.click("#sm-fb-report")
    page.click("[data-kind=wrong_location]")
    page.click("#sm-fb-pick")
    page.locator("#sm-fb-pickbar:not([hidden])").wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / f"feedback-360x640-{backend}-pick.png"))
    x, y = 180, 150
    tapped = _tap_map(page, x, y)
    page.locator(".sm-fb-picked").wait_for(timeout=TIMEOUT_MS)
    page.click("#sm-fb-send")
    page.locator("#sm-fb-status", has_text="谢谢！报告").wait_for(timeout=TIMEOUT_MS)
    [moved] = [r for r in store.feedback_for([BAQIAO]) if r.kind == "wrong_location"]
    assert abs(moved.lon - tapped[0]) < 1e-5 and abs(moved.lat - tapped[1]) < 1e-5

    # a text the server refuses (too long): its message, translated, next to the text field
    page.click("#sm-fb-report")
    page.click("[data-kind=other]")
    page.fill("#sm-fb-text", "长" * (FEEDBACK_TEXT_MAX_CHARS + 1))
    page.click("#sm-fb-send")
    page.locator("[data-fb-error=text]", has_text=zh("err_text_long", n=FEEDBACK_TEXT_MAX_CHARS)).wait_for(
        timeout=TIMEOUT_MS)
    _in_view(page, "[data-fb-error=text]")
    _expected_refusals(watch, 400)

    # offline: said plainly, nothing sent (and nothing queued)
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    context.set_offline(True)
    page.click("#sm-fb-confirm")
    _status(page, zh("offline"))
    context.set_offline(False)
    assert posts == []

    # the client's posts of the hour, then the eleventh: "try again in N minutes"
    sent = len(store.feedback_for(None, limit=100))  # every report so far came from this browser's address
    for _ in range(FEEDBACK_CLIENT_PER_HOUR - sent):
        answer = page.request.post(f"{base_url}/api/stations/{sid}/feedback", data=json.dumps({"kind": "confirm_open"}),
                                   headers={"Content-Type": "application/json"})
        assert answer.status == 201, answer.text()
    page.click("#sm-fb-confirm")
    _status(page, zh("too_many", n=60))
    _in_view(page, "#sm-fb-status")
    _expected_refusals(watch, 429)
    page.screenshot(path=str(artifacts / f"feedback-360x640-{backend}-429.png"))
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    watch.assert_clean()  # no dialog: the hostile text never ran
    context.close()


def test_english_page_and_unknown_station(browser, server, page_watch, artifacts, database_url):
    base_url, store, sid = server
    backend = database_url.split(":", 1)[0]
    context, page, watch = _phone(browser, page_watch, locale="en-GB")
    _open_station(page, base_url, sid, lang="en")
    assert page.locator("#sm-fb-confirm").inner_text().strip() == en("confirm")
    assert page.locator("#sm-fb-report").inner_text().strip() == en("report")
    page.click("#sm-fb-report")
    page.click("[data-kind=broken_facility]")
    section = page.locator("#sm-fb").inner_text()
    assert en("kind_closed_at_stated_hours") in section and en("phone_hint") in section
    assert not CJK.search(section), section
    recorded = store.get(sid).feature["properties"]["last_verified"]
    assert page.locator("#sm-detail .sm-verified").inner_text() == en("verified_union", date=recorded)
    page.screenshot(path=str(artifacts / f"feedback-360x640-{backend}-en.png"))

    page.goto(f"{base_url}/?station=000000-999&lang=en", wait_until="load")
    page.locator("#sm-status", has_text=en("station_unknown", id="000000-999")).wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#sm-detail").is_hidden()
    _expected_refusals(watch, 404)
    page.goto(f"{base_url}/?station=000000-999&lang=zh", wait_until="load")
    page.locator("#sm-status", has_text=zh("station_unknown", id="000000-999")).wait_for(timeout=TIMEOUT_MS)
    _expected_refusals(watch, 404)
    watch.assert_clean()
    context.close()


def test_wrong_location_on_amap_tiles_is_sent_in_gcj02(browser, database_url, tmp_path, page_watch, artifacts):
    backend = database_url.split(":", 1)[0]
    with _serving(database_url, tmp_path, tile_provider="amap") as (base_url, store, sid):
        context, page, watch = _phone(browser, page_watch)
        _open_station(page, base_url, sid, lang="zh")
        # the map is drawn in GCJ-02: the page centres on the station's GCJ-02 position
        lon, lat = store.get(sid).feature["geometry"]["coordinates"]
        gcj_lon, gcj_lat = geo.convert_coords(lon, lat, src="wgs84", dst="gcj02")
        centre = page.evaluate("() => { const c = window.stationmap.state.map.getCenter(); return [c.lng, c.lat]; }")
        assert abs(centre[0] - gcj_lon) < 1e-4 and abs(centre[1] - gcj_lat) < 1e-4
        page.click("#sm-fb-report")
        page.click("[data-kind=wrong_location]")
        page.click("#sm-fb-send")  # no position yet: said next to the button, nothing sent
        page.locator("[data-fb-error=location]", has_text=zh("err_location")).wait_for(timeout=TIMEOUT_MS)
        page.click("#sm-fb-pick")
        page.locator("#sm-fb-pickbar:not([hidden])").wait_for(timeout=TIMEOUT_MS)
        x, y = 200, 200
        tapped = _tap_map(page, x, y)
        page.locator(".sm-fb-picked").wait_for(timeout=TIMEOUT_MS)
        page.screenshot(path=str(artifacts / f"feedback-360x640-{backend}-amap-picked.png"))
        page.click("#sm-fb-send")
        page.locator("#sm-fb-status", has_text="谢谢！报告").wait_for(timeout=TIMEOUT_MS)
        [moved] = [r for r in store.feedback_for([BAQIAO]) if r.kind == "wrong_location"]
        want_lon, want_lat = geo.convert_coords(tapped[0], tapped[1], src="gcj02", dst="wgs84")
        assert abs(moved.lon - want_lon) < 1e-6 and abs(moved.lat - want_lat) < 1e-6  # WGS-84 in the register
        shift_m = 111_320 * abs(moved.lon - tapped[0]) + 111_320 * abs(moved.lat - tapped[1])
        assert shift_m > 100  # the GCJ-02 offset (hundreds of metres here) was taken off, not kept
        watch.assert_clean()
        context.close()

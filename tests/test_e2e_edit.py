"""End to end: the editing page (/edit) on the real waitress server, driven by headless Debian Chromium (Playwright).

The server runs on a fresh SQLite register filled with the bundled demo. An editor of 灞桥区 (610111) signs in
through the login page, adds a station by tapping the map, sees a refused value next to its field, fixes it, drags
the station, reverts the move, closes and reopens it; an admin reopens a closed station from the recent edits;
the editor is refused (403) on a station of 官渡区 (530111) and told that someone else changed a station (412).
Every request to another host is recorded and answered locally (tiles get a blank PNG).
"""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from stationmap import i18n
from stationmap.accounts import ScryptCost, add_user
from stationmap.config import BUNDLED_DATA_DIR, Settings

pytestmark = pytest.mark.e2e

BAQIAO, GUANDU, QIXING = "610111", "530111", "450305"
EDITOR, ADMIN = ("baqiao", "editor pass 610111"), ("boss", "admin pass 000000")
CHEAP = ScryptCost(n=16, r=1, p=1)  # tests only: real accounts use accounts.DEFAULT_COST
EVIL = "<img src=x onerror=alert(1)>"
TIMEOUT_MS = 30_000


def zh(key: str) -> str:
    return i18n.text(f"web.edit.{key}", "zh")


def en(key: str) -> str:
    return i18n.text(f"web.edit.{key}", "en")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server on a fresh SQLite register (the bundled demo), with an admin and an editor of 610111."""
    from stationmap.web.app import create_app
    from stationmap.web.server import running_server

    folder = tmp_path_factory.mktemp("edit-register")
    settings = Settings(data_dir=BUNDLED_DATA_DIR, host="127.0.0.1", port=0,
                        database_url="sqlite:///" + str(folder / "r.db"))
    app = create_app(settings)
    store = app.extensions["stationmap_store"]
    add_user(store, EDITOR[0], "editor", districts=[BAQIAO], password=EDITOR[1], cost=CHEAP)
    add_user(store, ADMIN[0], "admin", password=ADMIN[1], cost=CHEAP)
    with running_server(settings, app=app) as server:
        yield f"http://127.0.0.1:{server.effective_port}"


def _get(base_url: str, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url + path, timeout=60) as response:  # 127.0.0.1 only
        return json.loads(response.read().decode("utf-8"))


def _station(base_url: str, station_id: str) -> dict[str, Any]:
    return _get(base_url, f"/api/stations/{station_id}")


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lon, lat) points, metres."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def _settled(page) -> None:
    """Wait until every API request the page started has been answered and drawn."""
    page.wait_for_selector("body[data-pending='0']", state="attached", timeout=TIMEOUT_MS)


def _status(page, text: str) -> None:
    page.locator("#ed-status", has_text=text).wait_for(timeout=TIMEOUT_MS)
    _settled(page)


def _expected_refusals(watch, *statuses: int) -> None:
    """Take the console's note of each expected refusal (one per status) off the page's error list."""
    for status in statuses:
        note = next((e for e in watch.errors if "Failed to load resource" in e and f"status of {status}" in e), None)
        assert note is not None, (status, watch.errors)
        watch.errors.remove(note)


def _api_login(page, base_url: str, account: tuple[str, str]) -> None:
    answer = page.request.post(f"{base_url}/api/login", data=json.dumps({"name": account[0], "password": account[1]}),
                               headers={"Content-Type": "application/json", "Origin": base_url})
    assert answer.ok, answer.text()


def _open(page, station_id: str) -> None:
    page.fill("#ed-open-id", station_id)
    page.click("#ed-open-form button[type=submit]")
    page.locator("#ed-form-title", has_text=station_id).wait_for(timeout=TIMEOUT_MS)
    page.locator("#ed-history li").first.wait_for(timeout=TIMEOUT_MS)
    _settled(page)


def _centre_on(page, lonlat: tuple[float, float], zoom: int) -> None:
    page.evaluate("([lon, lat, zoom]) => window.stationeditor.state.map.setView([lat, lon], zoom, {animate: false})",
                  [lonlat[0], lonlat[1], zoom])
    _settled(page)


def _empty_map_point(page, candidates: list[tuple[float, float]]) -> tuple[float, float]:
    """Centre the map on the first candidate with nothing but tiles under the map's centre; its page pixel."""
    for lonlat in candidates:
        _centre_on(page, lonlat, 16)
        free = page.evaluate("""() => {
            const box = window.stationeditor.state.map.getContainer().getBoundingClientRect();
            const x = Math.round(box.left + box.width / 2), y = Math.round(box.top + box.height / 2);  // whole pixels, as a tap
            const hit = document.elementFromPoint(x, y);
            return hit && !hit.closest('.leaflet-marker-pane, .leaflet-control, .leaflet-popup-pane, .ed-move')
              ? [x, y] : null;
        }""")
        if free:
            return free[0], free[1]
    raise AssertionError("no free spot on the map")


def _lonlat_at(page, x: float, y: float) -> tuple[float, float]:
    """The map position (lon, lat) under page pixel (x, y), as Leaflet computes it for a tap."""
    lon, lat = page.evaluate("""([x, y]) => {
        const map = window.stationeditor.state.map, box = map.getContainer().getBoundingClientRect();
        const at = map.containerPointToLatLng([x - box.left - map.getContainer().clientLeft,
                                               y - box.top - map.getContainer().clientTop]);
        return [at.lng, at.lat];
    }""", [x, y])
    return lon, lat


def _marker_lonlat(page, station_id: str) -> tuple[float, float]:
    lon, lat = page.evaluate("""(id) => {
        let found = null;
        window.stationeditor.layers.stations.eachLayer((m) => { if (m.stationId === id) { found = m.getLatLng(); } });
        return [found.lng, found.lat];
    }""", station_id)
    return lon, lat


def test_editor_adds_fixes_moves_reverts_closes_and_reopens(browser, base_url, page_watch, artifacts,
                                                              district_points):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1, locale="zh-CN")
    page = context.new_page()
    watch = page_watch(page)
    try:
        # not signed in: the page says so and links to the login page, which comes back here
        page.goto(f"{base_url}/edit", wait_until="load")
        _settled(page)
        assert page.locator("#ed-signed-out").is_visible()
        assert page.locator("#ed-signed-out").inner_text().startswith(zh("signed_out"))
        assert page.locator("#ed-login").get_attribute("href") == "/login?next=/edit"
        assert page.locator("#ed-new").is_disabled()
        page.locator("#ed-login").click()
        page.wait_for_url("**/login?next=/edit")
        page.fill("#login-name", EDITOR[0])
        page.fill("#login-password", EDITOR[1])
        page.locator("#login-form button[type=submit]").click()
        page.wait_for_url("**/edit")
        _settled(page)
        role = zh("role_editor")
        assert page.locator("#ed-user").inner_text() == zh("signed_in").format(name=EDITOR[0], role=role)
        assert BAQIAO in page.locator("#ed-districts").inner_text()
        assert page.locator("#ed-logout").is_visible()

        # add a station by tapping an empty spot of 灞桥区: the form opens with the tapped position
        x, y = _empty_map_point(page, district_points(BAQIAO, 12))
        tapped = _lonlat_at(page, x, y)
        page.mouse.click(x, y)
        page.locator("#ed-form-title", has_text=zh("form_new")).wait_for(timeout=TIMEOUT_MS)
        assert _metres((float(page.input_value("#ed-lon")), float(page.input_value("#ed-lat"))), tapped) < 1.0
        assert page.input_value("#ed-datum") == "wgs84"  # OSM tiles: the tap is WGS-84 already
        page.fill("#ed-f-name", EVIL)
        page.fill("#ed-f-address", "西安市灞桥区测试路 1 号")
        page.fill("#ed-f-opening_hours", "Mo-Su 08:00-20:00")
        page.check("#ed-f-amenities input[value=drinking_water]")
        page.check("#ed-f-served_groups input[value=sanitation]")
        page.fill("#ed-comment", "端到端测试：新增")
        page.click("#ed-save")
        page.locator("#ed-status", has_text="已新增站点").wait_for(timeout=TIMEOUT_MS)
        _settled(page)
        station_id = page.evaluate("window.stationeditor.state.form.id")
        assert station_id.startswith(BAQIAO + "-")
        stored = _station(base_url, station_id)
        history = page.request.get(f"{base_url}/api/stations/{station_id}/history").json()
        assert [(e["action"], e["district_code"]) for e in history["edits"]] == [("add", BAQIAO)]
        in_district = _get(base_url, f"/api/stations?district_code={BAQIAO}&q={station_id}")
        assert [f["id"] for f in in_district["features"]] == [station_id]
        assert stored["properties"]["name"] == EVIL
        assert stored["properties"]["amenities"] == ["drinking_water"]
        assert _metres(tuple(stored["geometry"]["coordinates"]), tapped) < 1.0
        assert page.locator("#ed-f-name").input_value() == EVIL  # shown as text
        assert page.locator(f".leaflet-marker-pane [data-station='{station_id}']").count() == 1

        # an invalid value is refused and shown next to its field; fixing it saves
        page.fill("#ed-f-opening_hours", "Mo-Su 25:00-99:00")
        page.click("#ed-save")
        problem = page.locator("[data-field=opening_hours] .ed-field-problem")
        problem.wait_for(timeout=TIMEOUT_MS)
        assert "opening_hours" in problem.inner_text()
        assert page.locator("#ed-problems").inner_text().startswith(zh("problems_heading"))
        assert page.locator("#ed-error").is_hidden()
        page.screenshot(path=str(artifacts / "edit-1280x800.png"))
        assert _station(base_url, station_id)["properties"]["opening_hours"] == "Mo-Su 08:00-20:00"
        _expected_refusals(watch, 422)
        page.fill("#ed-f-opening_hours", "24/7")
        page.click("#ed-save")
        _status(page, "已保存")
        assert page.locator(".ed-field-problem").count() == 0
        saved = _station(base_url, station_id)
        assert saved["properties"]["opening_hours"] == "24/7" and saved["version"] == 2

        # drag the station's marker, confirm, and it is where it was dropped
        pin = page.locator(f".leaflet-marker-pane [data-station='{station_id}'] .sm-pin")
        box = pin.bounding_box()
        start = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(start[0] + 90, start[1] + 50, steps=12)
        page.mouse.up()
        page.locator("#ed-move").wait_for(timeout=TIMEOUT_MS)
        assert EVIL in page.locator("#ed-move-text").inner_text()
        dropped = _marker_lonlat(page, station_id)
        assert _metres(dropped, tapped) > 50
        page.click("#ed-move-yes")
        _status(page, "已移动站点")
        moved = _station(base_url, station_id)
        assert _metres(tuple(moved["geometry"]["coordinates"]), dropped) < 1.0
        assert moved["version"] == 3

        # revert the move from the history: the station is back at the tapped point
        move_edit = page.locator("#ed-history li").first
        assert move_edit.get_attribute("data-action") == "modify"
        move_edit.locator(".ed-revert").click()
        _status(page, "已撤销")
        back = _station(base_url, station_id)
        assert _metres(tuple(back["geometry"]["coordinates"]), tapped) < 1.0
        assert back["version"] == 4 and back["properties"]["opening_hours"] == "24/7"
        assert page.locator("#ed-history li").first.get_attribute("data-action") == "revert"

        # close with a comment, then reopen
        page.fill("#ed-comment", "端到端测试：关闭")
        page.click("#ed-close")
        _status(page, f"已关闭站点 {station_id}")
        assert page.locator("#ed-closed-note").is_visible() and page.locator("#ed-reopen").is_visible()
        assert _station(base_url, station_id)["properties"]["status"] == "closed"
        assert page.locator(f".leaflet-marker-pane [data-station='{station_id}']").count() == 0  # off the map
        page.click("#ed-reopen")
        _status(page, f"已重新开放站点 {station_id}")
        reopened = _station(base_url, station_id)
        assert reopened["properties"]["status"] == "open" and reopened["version"] == 6
        page.locator(f".leaflet-marker-pane [data-station='{station_id}']").wait_for(timeout=TIMEOUT_MS)
        assert page.locator("#ed-recent li").first.get_attribute("data-station") == station_id

        page.wait_for_load_state("networkidle")
        watch.assert_clean()
    finally:
        context.close()


def test_admin_reopens_a_closed_station_from_recent_edits_on_a_phone(browser, base_url, page_watch, artifacts):
    context = browser.new_context(viewport={"width": 360, "height": 640}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    page = context.new_page()
    watch = page_watch(page)
    station_id = f"{QIXING}-001"
    try:
        _api_login(page, base_url, ADMIN)
        page.goto(f"{base_url}/edit", wait_until="load")
        _settled(page)
        assert page.locator("#ed-user").inner_text() == zh("signed_in").format(name=ADMIN[0], role=zh("role_admin"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling on a phone
        page.screenshot(path=str(artifacts / "edit-360x640.png"))

        _open(page, station_id)
        page.fill("#ed-comment", "暂停使用")
        page.click("#ed-close")
        _status(page, f"已关闭站点 {station_id}")
        assert _station(base_url, station_id)["properties"]["status"] == "closed"
        page.click("#ed-form-x")
        assert page.locator("#ed-form").is_hidden()

        # the closed station is no longer on the map, but the recent edits open it
        entry = page.locator(f"#ed-recent li[data-station='{station_id}']").first
        entry.locator("[data-open]").click()
        page.locator("#ed-closed-note").wait_for(timeout=TIMEOUT_MS)
        _settled(page)
        page.locator("#ed-form").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "edit-360x640-form.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.click("#ed-reopen")
        _status(page, f"已重新开放站点 {station_id}")
        assert _station(base_url, station_id)["properties"]["status"] == "open"
        page.screenshot(path=str(artifacts / "edit-360x640-full.png"), full_page=True)

        # signing out leaves the page signed out
        page.click("#ed-logout")
        page.locator("#ed-signed-out").wait_for(timeout=TIMEOUT_MS)
        _settled(page)
        page.wait_for_load_state("networkidle")
        watch.assert_clean()
    finally:
        context.close()


def test_editor_is_refused_outside_their_district_and_told_of_conflicts(browser, base_url, page_watch, artifacts):
    context = browser.new_context(viewport={"width": 360, "height": 640}, device_scale_factor=1, is_mobile=True,
                                  has_touch=True, locale="en-GB")
    page = context.new_page()
    watch = page_watch(page)
    try:
        _api_login(page, base_url, EDITOR)
        page.goto(f"{base_url}/edit?lang=en", wait_until="load")
        _settled(page)
        assert page.locator("#ed-user").inner_text() == en("signed_in").format(name=EDITOR[0], role=en("role_editor"))

        # a station of 官渡区: the 403 is explained in the page's language, the server's words below it
        other = f"{GUANDU}-001"
        before = _station(base_url, other)
        _open(page, other)
        page.fill("#ed-f-phone", "0871-0000 0000")
        page.click("#ed-save")
        refused = page.locator("#ed-error [data-status='403']")
        refused.wait_for(timeout=TIMEOUT_MS)
        assert refused.inner_text() == en("forbidden")
        assert page.locator("#ed-error .ed-server").inner_text()
        page.screenshot(path=str(artifacts / "edit-360x640-forbidden.png"))
        assert _station(base_url, other)["version"] == before["version"]
        _expected_refusals(watch, 403)

        # someone else changes a station of 灞桥区 while it is open: 412, the current values, reload
        mine = f"{BAQIAO}-002"
        page.fill("#ed-open-id", mine)
        page.click("#ed-open-form button[type=submit]")
        page.locator("#ed-status", has_text=en("close_needs_save")).wait_for(timeout=TIMEOUT_MS)  # unsaved first
        page.click("#ed-cancel")  # back to the station as stored
        _settled(page)
        assert page.input_value("#ed-f-phone") == before["properties"].get("phone", "")
        _open(page, mine)
        version = _station(base_url, mine)["version"]
        csrf = page.request.get(f"{base_url}/api/me").json()["csrf_token"]
        answer = page.request.patch(f"{base_url}/api/stations/{mine}",
                                    data=json.dumps({"properties": {"phone": "029-1234 5678"}, "comment": "elsewhere"}),
                                    headers={"Content-Type": "application/json", "If-Match": f'"{version}"',
                                             "X-CSRF-Token": csrf})
        assert answer.ok, answer.text()
        page.fill("#ed-f-address", "Somewhere else")
        page.click("#ed-save")
        page.locator("#ed-conflict").wait_for(timeout=TIMEOUT_MS)
        assert f"version {version + 1}" in page.locator("#ed-conflict-text").inner_text()
        assert page.locator("[data-current=phone]").inner_text() == "029-1234 5678"
        page.click("#ed-reload")
        page.locator("#ed-form-title", has_text=f"version {version + 1}").wait_for(timeout=TIMEOUT_MS)
        _settled(page)
        assert page.input_value("#ed-f-phone") == "029-1234 5678"
        assert page.locator("#ed-conflict").is_hidden()
        _expected_refusals(watch, 412)

        page.wait_for_load_state("networkidle")
        watch.assert_clean()
    finally:
        context.close()


def test_page_is_in_one_language(browser, base_url, page_watch):
    """The Chinese page holds no English sentence of ours, nor the English page Chinese (station data aside)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    watch = page_watch(page)
    try:
        page.goto(f"{base_url}/edit", wait_until="load")
        _settled(page)
        assert page.locator("h1").inner_text() == zh("short")
        page.click("#ed-lang")
        assert page.locator("h1").inner_text() == en("short")
        assert page.locator("#ed-signed-out").inner_text().startswith(en("signed_out"))
        assert page.locator("#ed-login").get_attribute("href") == "/login?next=%2Fedit%3Flang%3Den&lang=en"
        labels = page.locator("#ed-form label .ed-label, #ed-form legend").all_inner_texts()
        assert all(not any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in labels), labels
        watch.assert_clean()
    finally:
        context.close()


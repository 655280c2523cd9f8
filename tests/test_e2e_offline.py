"""End to end, offline (issue 12): after one visit the service worker serves the page, its assets and the stations
of the area last viewed with the server gone and the browser offline; the page says the data's age."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

POINT = (109.061, 34.271)  # lon, lat: 140 m from T-1, then T-2 (420 m) and T-3 (890 m) of the fixture
ACCOUNT_PATHS = ("/api/me", "/api/edits", "/api/stations/T-1/history", "/api/login")

CACHED = """async () => {
  const out = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      const url = new URL(request.url);
      const body = url.pathname === "/api/view" ? await response.clone().json() : null;
      out.push({cache: name, path: url.pathname, url: request.url, body: body,
                fetched_at: response.headers.get("X-Stationmap-Fetched-At")});
    }
  }
  return out;
}"""


def _until(page, expression: str, *, timeout_s: float = 20.0):
    """Evaluate `expression` in the page until it is truthy (the page's CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(200)


def _haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    dlat, dlon = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    h = math.sin(dlat / 2) ** 2 + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2)) * math.sin(dlon / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, fixture_path) -> Path:
    root = tmp_path_factory.mktemp("e2e-offline-data")
    (root / "stations").mkdir()
    (root / "stations" / "fixture.geojson").write_bytes(fixture_path.read_bytes())
    return root


def test_page_works_offline_from_the_area_last_viewed(browser, data_dir, live_server, page_watch, artifacts):
    context = browser.new_context(viewport={"width": 360, "height": 640}, device_scale_factor=1, is_mobile=True,
                                  has_touch=True, locale="zh-CN", service_workers="allow",
                                  geolocation={"longitude": POINT[0], "latitude": POINT[1]},
                                  permissions=["geolocation"])
    try:
        page = context.new_page()
        watch = page_watch(page)
        with live_server(data_dir) as base_url:
            page.goto(base_url + "/", wait_until="load")
            _until(page, "navigator.serviceWorker.controller !== null")
            # a view answered through the worker: reload once under its control, then wait for the map's data
            with page.expect_response(lambda r: "/api/view?" in r.url and r.from_service_worker, timeout=20000):
                page.reload(wait_until="load")
            _until(page, "caches.keys().then(async names => { for (const n of names) { const c = await caches.open(n);"
                         " for (const k of await c.keys()) { if (new URL(k.url).pathname === '/api/view') return true; }"
                         " } return false; })")
            online = page.evaluate(f"fetch('/api/nearest?lon={POINT[0]}&lat={POINT[1]}&k=3').then(r => r.json())")
            watch.assert_clean()
            for path in ACCOUNT_PATHS:  # asked while online (401 and 405 logged): the worker never keeps them
                page.evaluate(f"fetch({path!r}).then(r => r.status)")
            page.evaluate("fetch('/api/stations/T-1', {method: 'PATCH', body: '{}'}).then(r => r.status)")
            _until(page, f"caches.keys().then(async names => {{ for (const n of names) {{ const c = await caches.open(n);"
                         f" for (const k of await c.keys()) {{ if (k.url.includes('/api/nearest?lon={POINT[0]}'))"
                         f" return true; }} }} return false; }})")
            cached = page.evaluate(CACHED)
        # the server is gone and the browser is offline
        context.set_offline(True)
        page.reload(wait_until="load")
        assert page.evaluate("navigator.onLine") is False
        assert page.evaluate("typeof L === 'object' && typeof L.markerClusterGroup === 'function'")
        for sheet in ("/static/vendor/leaflet/leaflet.css", "/static/stationmap.css"):
            assert page.evaluate(f"Array.from(document.styleSheets).some(s => s.href && s.href.endsWith({sheet!r})"
                                 " && s.cssRules.length > 0)"), sheet
        banner = page.locator("#sm-offline")
        banner.wait_for(state="visible", timeout=10000)
        fetched_at = [entry["fetched_at"] for entry in cached if entry["fetched_at"]]
        assert banner.get_attribute("data-fetched-at") == max(fetched_at)  # the newest answer's time
        assert banner.inner_text().startswith("离线：数据更新于 20")
        _until(page, "window.smoffline !== undefined")
        offline = page.evaluate(f"window.smoffline.nearestFromCache({POINT[0]}, {POINT[1]}, 3)")
        page.click("#sm-locate")  # the list answers offline, from the stations of the area last viewed
        page.wait_for_selector("#sm-list .sm-item", timeout=15000)
        listed = page.locator("#sm-list .sm-item").evaluate_all("items => items.map(i => i.dataset.stationId)")
        status = page.locator("#sm-status").inner_text()
        page.screenshot(path=str(artifacts / "offline-360x640.png"))
    finally:
        context.close()

    assert not any(path.startswith(ACCOUNT_PATHS) or "/history" in path for path in (e["path"] for e in cached))
    assert {e["path"] for e in cached if e["cache"].startswith("stationmap-data-")} <= {
        "/api/view", "/api/nearest", "/api/stations", *(f"/api/stations/T-{i}" for i in range(1, 6))}
    points = {item["id"]: item for entry in cached if entry["body"] and entry["body"]["mode"] == "points"
              for item in entry["body"]["items"]}
    assert len(points) == 5
    brute = sorted(points.values(), key=lambda s: _haversine_m(*POINT, s["lon"], s["lat"]))[:3]
    assert [f["id"] for f in offline["features"]] == [s["id"] for s in brute]
    assert [f["id"] for f in offline["features"]] == [f["id"] for f in online["features"]] == ["T-1", "T-2", "T-3"]
    for feature, station in zip(offline["features"], brute, strict=True):
        assert feature["properties"]["distance_m"] == pytest.approx(_haversine_m(*POINT, station["lon"],
                                                                                 station["lat"]), abs=0.1)
    assert offline["offline"] is True and offline["fetched_at"]
    assert listed[:3] == ["T-1", "T-2", "T-3"] and status.startswith("离线：")

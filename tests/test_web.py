"""The web app through Flask's test client: API answers, every parameter error, the error shape, the page."""

from __future__ import annotations

import json
import math
import re
import shutil
import struct
import time
from urllib.parse import urljoin

import numpy as np
import pytest
from webcheck import assert_error, strict_json  # tests/webcheck.py

from stationmap import geo
from stationmap.config import BUNDLED_DATA_DIR, Settings
from stationmap.web import create_app
from stationmap.web.errors import error_body
from stationmap.web.i18n import UI, best_lang
from stationmap.web.live import app_state

MONDAY_0530 = "2025-06-02T05:30:00+08:00"
MONDAY_NOON = "2025-06-02T12:00:00+08:00"


@pytest.fixture(scope="module")
def app(fixture_dir):
    return create_app(Settings(data_dir=fixture_dir, max_results=20))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def bundled_client():
    return create_app(Settings(data_dir=BUNDLED_DATA_DIR)).test_client()


# --- the error shape ------------------------------------------------------------------------------------

def test_error_shape_is_pinned():
    assert error_body("x", 400) == {"ok": False, "error": "x", "status": 400}


def test_unknown_station_is_404_json(client):
    assert_error(client.get("/api/stations/NOPE"), 404, "'NOPE' not found")


def test_unknown_api_path_is_404_json(client):
    assert_error(client.get("/api/nothing"), 404, "/api/openapi.json")


def test_wrong_method_is_405_json(client):
    response = client.post("/api/nearest?lon=109&lat=34")
    assert_error(response, 405, "POST")
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_body_over_limit_is_413_json(fixture_dir):
    app = create_app(Settings(data_dir=fixture_dir, max_request_bytes=100))

    @app.post("/api/_echo_for_test")
    def _echo():  # reading the body enforces the limit
        from flask import request

        return str(len(request.get_data()))

    response = app.test_client().post("/api/_echo_for_test", data=b"x" * 1000)
    assert_error(response, 413, "limit is 100 bytes")


def test_unexpected_exception_is_500_without_traceback(fixture_dir):
    app = create_app(Settings(data_dir=fixture_dir))

    @app.get("/api/_boom")
    def _boom():
        raise RuntimeError("secret internals")

    body = assert_error(app.test_client().get("/api/_boom"), 500)
    assert "secret" not in body["error"]


def test_html_404_page_is_bilingual(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


# --- /api/nearest ---------------------------------------------------------------------------------------

def test_nearest_orders_by_geodesic_distance(client):
    response = client.get("/api/nearest?lon=109.06&lat=34.27&k=5")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    body = strict_json(response)
    ids = [f["id"] for f in body["features"]]
    assert ids == ["T-1", "T-2", "T-3", "T-4", "T-5"]
    props = [f["properties"] for f in body["features"]]
    assert [p["distance_m"] for p in props] == [0.0, 500.0, 999.9, 1500.0, 3000.0]
    assert [p["walk_min"] for p in props] == [1, 7, 14, 20, 40]
    assert [p["rank"] for p in props] == [1, 2, 3, 4, 5]
    assert "geodesic" in body["distance_method"]
    assert body["walking_speed_m_per_min"] == 75.0
    assert body["metadata"]["demo"] is True


def test_nearest_open_at_and_state_words(client):
    body = strict_json(client.get(f"/api/nearest?lon=109.06&lat=34.27&open_at={MONDAY_0530}&lang=en"))
    assert [f["id"] for f in body["features"]] == ["T-1", "T-3"]
    assert body["features"][1]["properties"]["state_text"] == "Open · closes 21:00"
    assert body["features"][1]["properties"]["open_now"] is True


def test_nearest_state_at_a_time_in_chinese(client):
    body = strict_json(client.get(f"/api/nearest?lon=109.06&lat=34.27&k=5&open_at={MONDAY_NOON}"))
    assert [f["id"] for f in body["features"]] == ["T-1", "T-3", "T-4"]
    body = strict_json(client.get("/api/nearest?lon=109.065429&lat=34.27&k=1&open_at=2025-06-02T10:00"))
    assert body["features"][0]["properties"]["state_text"] == "营业中 · 11:00 关闭"


def test_nearest_filters(client):
    body = strict_json(client.get("/api/nearest?lon=109.06&lat=34.27&amenity=aed"))
    assert [f["id"] for f in body["features"]] == ["T-1"]
    body = strict_json(client.get("/api/nearest?lon=109.06&lat=34.27&amenity=饮水&amenity=休息,热饭"))
    assert body["query"]["amenity"] == ["drinking_water", "seating", "meal_heating"]
    body = strict_json(client.get("/api/nearest?lon=109.06&lat=34.27&max_distance_m=1200"))
    assert [f["id"] for f in body["features"]] == ["T-1", "T-2", "T-3"]
    body = strict_json(client.get("/api/nearest?lon=109.06&lat=34.27&min_stars=3"))
    assert [f["id"] for f in body["features"]] == ["T-1", "T-2"]
    body = strict_json(client.get("/api/nearest?lon=109.06&lat=34.27&toilet=onsite"))
    assert [f["id"] for f in body["features"]] == ["T-1", "T-3"]


def test_nearest_accepts_gcj02_input_and_gives_map_coordinates(client):
    lon, lat = geo.wgs84_to_gcj02(109.06, 34.27)
    body = strict_json(client.get(f"/api/nearest?lon={lon}&lat={lat}&datum=gcj02&k=1&map_datum=gcj02"))
    first = body["features"][0]
    assert first["id"] == "T-1"
    assert first["properties"]["distance_m"] < 0.01
    assert first["properties"]["map_lonlat"] == pytest.approx([lon, lat], abs=1e-6)
    assert body["origin"]["lon"] == pytest.approx(109.06, abs=1e-7)


def test_nearest_far_away_still_answers(client):
    body = strict_json(client.get("/api/nearest?lon=-70&lat=-45&k=2"))
    assert len(body["features"]) == 2
    assert all(math.isfinite(f["properties"]["distance_m"]) for f in body["features"])


@pytest.mark.parametrize(
    ("query", "fragments"),
    [
        ("", ["'lon' is required", "'lat' is required"]),
        ("lon=abc&lat=34", ["'lon' must be a number"]),
        ("lon=109&lat=nan", ["'lat' must be a finite number"]),
        ("lon=NaN&lat=34", ["'lon' must be a finite number"]),
        ("lon=inf&lat=34", ["'lon' must be a finite number"]),
        ("lon=109&lat=-Infinity", ["'lat' must be a finite number"]),
        ("lon=109&lat=90.5", ["'lat' must be between -90 and 90"]),
        ("lon=181&lat=34", ["'lon' must be between -180 and 180"]),
        ("lon=109&lat=34&k=0", ["'k' must be between 1 and 20"]),
        ("lon=109&lat=34&k=-3", ["'k' must be between 1 and 20"]),
        ("lon=109&lat=34&k=21", ["'k' must be between 1 and 20"]),
        ("lon=109&lat=34&k=2.5", ["'k' must be a whole number"]),
        ("lon=109&lat=34&k=ten", ["'k' must be a whole number"]),
        ("lon=109&lat=34&amenity=drinking_wter", ["'amenity'", "did you mean 'drinking_water'"]),
        ("lon=109&lat=34&amenity=spaceship", ["'amenity'", "unknown amenity 'spaceship'"]),
        ("lon=109&lat=34&open_at=25:00", ["'open_at'", "25:00"]),
        ("lon=109&lat=34&open_at=yesterday", ["'open_at'"]),
        ("lon=109&lat=34&open_now=maybe", ["'open_now'"]),
        ("lon=109&lat=34&min_stars=6", ["'min_stars' must be between 0 and 5"]),
        ("lon=109&lat=34&min_stars=x", ["'min_stars' must be a whole number"]),
        ("lon=109&lat=34&toilet=inside", ["'toilet'", "unknown toilet"]),
        ("lon=109&lat=34&max_distance_m=-1", ["'max_distance_m' must be between 0"]),
        ("lon=109&lat=34&max_distance_m=nan", ["'max_distance_m' must be a finite number"]),
        ("lon=109&lat=34&max_distance_m=1e309", ["'max_distance_m' must be a finite number"]),
        ("lon=109&lat=34&lang=fr", ["'lang' must be one of zh, en", "'fr'"]),
        ("lon=109&lat=34&datum=mars", ["'datum' must be one of wgs84, gcj02 or bd09"]),
        ("lon=109&lat=34&map_datum=utm", ["'map_datum'"]),
        ("lon=109&lon=110&lat=34", ["'lon' is given 2 times"]),
        ("lon=109&lat=34&district_code=610111", ["'district_code' is not supported"]),
        ("lon=abc&lat=95&k=0", ["'lon'", "'lat'", "'k'"]),
    ],
)
def test_nearest_parameter_errors(client, query, fragments):
    assert_error(client.get(f"/api/nearest?{query}"), 400, *fragments)


def test_nearest_matches_brute_force_on_bundled_data(bundled_client):
    from stationmap.stations import load_stations

    stations = [load_stations(p) for p in sorted((BUNDLED_DATA_DIR / "stations").glob("*.geojson"))]
    lon_all = np.concatenate([s.geometry.x.to_numpy() for s in stations])
    lat_all = np.concatenate([s.geometry.y.to_numpy() for s in stations])
    rng = np.random.default_rng(11)
    for lon, lat in zip(rng.uniform(102, 111, 25), rng.uniform(24, 35, 25), strict=True):
        body = strict_json(bundled_client.get(f"/api/nearest?lon={lon}&lat={lat}&k=5"))
        _, _, dist = geo.GEOD.inv(np.full(len(lon_all), lon), np.full(len(lat_all), lat), lon_all, lat_all)
        expected = np.sort(dist)[:5]
        got = [f["properties"]["distance_m"] for f in body["features"]]
        assert np.abs(np.array(got) - expected).max() < 1.0


# --- /api/stations -------------------------------------------------------------------------------------

def test_stations_is_geojson_with_paging_links(client):
    response = client.get("/api/stations?limit=2")
    assert response.mimetype == "application/geo+json"
    body = strict_json(response)
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == 5 and body["numberReturned"] == 2
    assert [f["id"] for f in body["features"]] == ["T-1", "T-2"]
    feature = body["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [109.06, 34.27]}
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert "offset=2" in rels["next"] and "prev" not in rels
    page2 = strict_json(client.get(rels["next"].replace("http://localhost", "")))
    assert [f["id"] for f in page2["features"]] == ["T-3", "T-4"]
    assert any(link["rel"] == "prev" and "offset=0" in link["href"] for link in page2["links"])
    last = strict_json(client.get("/api/stations?limit=2&offset=4"))
    assert [link["rel"] for link in last["links"]] == ["self", "prev"]


def test_stations_filters(client):
    def ids(query):
        return [f["id"] for f in strict_json(client.get(f"/api/stations?{query}"))["features"]]

    assert ids("bbox=109.05,34.265,109.07,34.275") == ["T-1", "T-2"]
    assert ids("amenity=aed") == ["T-1"]
    assert ids("min_stars=2") == ["T-1", "T-2", "T-3"]
    assert ids(f"open_at={MONDAY_NOON}") == ["T-1", "T-3", "T-4"]
    assert ids("district_code=610111") == ["T-1", "T-2", "T-3", "T-4", "T-5"]
    assert ids("district_code=530111") == []
    assert ids("q=纺织城") == ["T-1"]
    assert ids("q=test station a") == ["T-1"]
    assert ids("offset=99") == []


@pytest.mark.parametrize(
    ("query", "fragments"),
    [
        ("bbox=1,2,3", ["'bbox' must be four numbers"]),
        ("bbox=a,b,c,d", ["'bbox' must be four numbers"]),
        ("bbox=110,30,100,40", ["west 110 is greater than east 100"]),
        ("bbox=100,40,110,30", ["south 40 is greater than north 30"]),
        ("bbox=100,nan,110,40", ["every value must be finite"]),
        ("bbox=100,-95,110,40", ["latitudes must be between -90 and 90"]),
        ("bbox=-200,30,110,40", ["longitudes must be between -180 and 180"]),
        ("limit=0", ["'limit' must be between 1 and 20"]),
        ("limit=21", ["'limit' must be between 1 and 20"]),
        ("offset=-1", ["'offset' must be between 0 and", "'-1'"]),
        ("district_code=6101", ["'district_code' must be a 6-digit adcode"]),
        ("amenity=wifi,teleporter", ["unknown amenity 'teleporter'"]),
        ("min_stars=9", ["'min_stars'"]),
        ("open_at=2025-06-02", ["'open_at'", "give a time of day too"]),
        ("q=" + "x" * 101, ["'q' must be at most 100 characters"]),
    ],
)
def test_stations_parameter_errors(client, query, fragments):
    assert_error(client.get(f"/api/stations?{query}"), 400, *fragments)


def test_station_detail(client):
    response = client.get("/api/stations/T-2?lang=en&at=2025-06-02T12:00")
    assert response.mimetype == "application/geo+json"
    feature = strict_json(response)
    props = feature["properties"]
    assert feature["type"] == "Feature" and feature["id"] == "T-2"
    assert props["state_text"] == "Closed · opens 13:30"
    assert props["open_now"] is False
    assert props["next_change"] == "2025-06-02T13:30:00+08:00"
    assert props["hours_text"] == "Mon–Fri 08:30–11:00, 13:30–17:00"
    assert props["navigation"]["amap"].startswith("https://uri.amap.com/navigation?to=")
    assert props["navigation"]["geo"].startswith("geo:34.270000,109.065429")
    assert feature["metadata"]["demo"] is True


def test_station_detail_errors(client):
    assert_error(client.get("/api/stations/T-1?lang=de"), 400, "'lang'")
    assert_error(client.get("/api/stations/T-1?at=soon"), 400, "'at'")


# --- /api/view -------------------------------------------------------------------------------------------

def test_view_points_when_few(client):
    body = strict_json(client.get("/api/view?bbox=109,34,110,35&zoom=13"))
    assert body["mode"] == "points" and body["total"] == 5
    item = body["items"][0]
    assert set(item) == {"id", "name", "lon", "lat", "stars", "open", "honour"}
    assert item["id"] == "T-1" and item["honour"] == "national" and item["stars"] == 5
    closed = next(i for i in body["items"] if i["id"] == "T-5")
    assert closed["open"] is False  # temporarily closed


def test_view_clusters_at_national_scale(bundled_client, monkeypatch):
    from stationmap.web import queries

    monkeypatch.setattr(queries, "POINTS_LIMIT", 10)
    body = strict_json(bundled_client.get("/api/view?bbox=70,15,140,55&zoom=4"))
    assert body["mode"] == "clusters"
    assert sum(i["count"] for i in body["items"]) == body["total"] == 168
    assert len(body["items"]) <= 8


def test_view_requires_bbox_and_zoom(client):
    assert_error(client.get("/api/view"), 400, "'bbox' is required", "'zoom' is required")
    assert_error(client.get("/api/view?bbox=1,2,3,4&zoom=30"), 400, "'zoom' must be between 0 and 22")


def test_openapi_document(client):
    doc = strict_json(client.get("/api/openapi.json"))
    assert doc["openapi"].startswith("3.")
    assert {"/api/stations", "/api/stations/{id}", "/api/nearest", "/api/view"} <= set(doc["paths"])
    names = {p["name"] for p in doc["paths"]["/api/nearest"]["get"]["parameters"]}
    assert {"lon", "lat", "k", "amenity", "open_at", "max_distance_m"} <= names


def test_openapi_documents_every_api_route_and_method(app, client):
    doc = strict_json(client.get("/api/openapi.json"))

    def shape(path: str) -> str:  # /api/stations/<station_id> and /api/stations/{id} are one path
        return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)

    documented = {(shape(path), method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = {(shape(rule.rule), method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    served = {(path, method) for path, method in served if not path.startswith("/api/export.")}  # one templated path
    assert served - documented == set()
    for method in ("patch", "put", "delete"):
        headers = {p["name"] for p in doc["paths"]["/api/stations/{id}"][method]["parameters"]}
        assert "If-Match" in headers
    report = doc["paths"]["/report/{adcode}.{format}"]["get"]
    assert {"200", "404", "503"} <= set(report["responses"])  # a full report pool answers 503 + Retry-After


# --- the page ----------------------------------------------------------------------------------------------

def test_page_renders_without_cdn_and_with_config(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "工会户外劳动者服务站点地图" in html
    assert "/static/vendor/leaflet/leaflet.js" in html
    for cdn in ("jsdelivr", "cdnjs", "jquery", "bootstrapcdn"):
        assert cdn not in html
    assert "T-1" not in html  # stations come from the API, not the HTML
    assert 'id="stationmap-config"' in html
    assert "示意数据" in html  # the demo notice
    csp = response.headers["Content-Security-Policy"]
    assert "connect-src 'self'" in csp and "https://tile.openstreetmap.org" in csp


def test_page_language_from_param_and_browser(client):
    assert '<html lang="en">' in client.get("/?lang=en").get_data(as_text=True)
    html = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.8"}).get_data(as_text=True)
    assert "Outdoor worker service stations" in html
    assert best_lang(None, [("fr", 1.0)]) == "zh"
    assert best_lang("xx", [("en-US", 1.0)]) == "en"


def test_every_ui_string_has_both_languages():
    for key, (zh, en) in UI.items():
        assert zh.strip() and en.strip(), key


def test_static_assets_are_served(client):
    for path in ("/static/stationmap.js", "/static/stationmap.css", "/static/vendor/leaflet/leaflet.css",
                 "/static/vendor/leaflet.markercluster/leaflet.markercluster.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


def test_hostile_metadata_is_escaped_in_page(tmp_path, fixture_path):
    (tmp_path / "stations").mkdir()
    doc = json.loads(fixture_path.read_text(encoding="utf-8"))
    doc["metadata"]["notice_zh"] = "<script>alert(1)</script>"
    doc["features"][0]["properties"]["name"] = "</script><img src=x onerror=alert(1)>"
    (tmp_path / "stations" / "x.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    client = create_app(Settings(data_dir=tmp_path)).test_client()
    html = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    body = strict_json(client.get("/api/stations/T-1"))
    assert body["properties"]["name"] == "</script><img src=x onerror=alert(1)>"


def test_tianditu_without_key_fails_at_startup(fixture_dir):
    from stationmap.errors import BadRequestError

    with pytest.raises(BadRequestError, match="Tianditu key"):
        create_app(Settings(data_dir=fixture_dir, tile_provider="tianditu"))


def test_empty_data_dir_serves_an_empty_map(tmp_path, caplog):
    client = create_app(Settings(data_dir=tmp_path)).test_client()
    assert client.get("/").status_code == 200
    body = strict_json(client.get("/api/nearest?lon=109&lat=34"))
    assert body["features"] == []


def test_duplicate_ids_across_files_are_refused(tmp_path, fixture_path):
    from stationmap.errors import StationDataError

    (tmp_path / "stations").mkdir()
    shutil.copy(fixture_path, tmp_path / "stations" / "a.geojson")
    shutil.copy(fixture_path, tmp_path / "stations" / "b.geojson")
    with pytest.raises(StationDataError, match="more than one record"):
        create_app(Settings(data_dir=tmp_path))


def test_requests_do_no_file_io(client, monkeypatch):
    import builtins

    def _no_open(*args, **kwargs):
        raise AssertionError(f"file opened during a request: {args[:1]}")

    client.get("/api/nearest?lon=109.06&lat=34.27")  # warm caches
    monkeypatch.setattr(builtins, "open", _no_open)
    assert client.get("/api/nearest?lon=109.06&lat=34.27&amenity=aed").status_code == 200
    assert client.get("/api/stations?bbox=109,34,110,35").status_code == 200
    assert client.get("/api/stations/T-3").status_code == 200


def test_features_match_the_exporter(app):
    from stationmap.stations import stations_to_geojson

    state = app_state(app)
    expected = stations_to_geojson(state.stations, metadata={})["features"]
    assert state.features(range(len(state.stations))) == expected
    # callers get copies: adding a property does not leak into the next answer
    state.features([0])[0]["properties"]["distance_m"] = 1.0
    assert "distance_m" not in state.features([0])[0]["properties"]


def test_view_in_gcj02_for_amap_tiles(client):
    body = strict_json(client.get("/api/view?bbox=109,34,110,35&zoom=13&map_datum=gcj02"))
    first = next(i for i in body["items"] if i["id"] == "T-1")
    lon, lat = geo.wgs84_to_gcj02(109.06, 34.27)
    assert (first["lon"], first["lat"]) == pytest.approx((lon, lat), abs=1e-6)


def test_amap_page_config(fixture_dir):
    client = create_app(Settings(data_dir=fixture_dir, tile_provider="amap")).test_client()
    html = client.get("/").get_data(as_text=True)
    assert '"map_datum": "gcj02"' in html
    assert "autonavi.com" in html


def _access_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "stationmap.access"]


def test_real_server_logs_each_request_and_refuses_big_bodies(fixture_dir, caplog):
    import http.client
    import logging

    from stationmap.web.server import running_server

    settings = Settings(data_dir=fixture_dir, port=0, max_request_bytes=1000)
    with running_server(settings) as server, caplog.at_level(logging.INFO, logger="stationmap.access"):
        conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=10)
        conn.request("GET", "/api/nearest?lon=109.06&lat=34.27&k=1")
        response = conn.getresponse()
        assert response.status == 200
        response.read()
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=10)
        conn.request("POST", "/api/nearest", body=b"x" * 5000)
        big = conn.getresponse()
        assert big.status == 413
        big.read()
        conn.close()
        # The access line is written when the worker thread closes the body, just after the client has the
        # response; wait for it rather than race the worker.
        deadline = time.monotonic() + 5
        while not _access_lines(caplog) and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = _access_lines(caplog)
    assert len(lines) == 1
    assert '"GET /api/nearest?lon=109.06&lat=34.27&k=1" 200' in lines[0]


def test_station_detail_carries_the_star_rubric(bundled_client):
    body = strict_json(bundled_client.get("/api/stations/450305-011?lang=en"))
    rating = body["properties"]["rating"]
    assert rating["station_id"] == "450305-011" and rating["headline"].startswith("qualifies for")
    assert "AED" in rating["headline"]


def test_detail_without_rubric_has_no_rating(client):
    assert "rating" not in strict_json(client.get("/api/stations/T-1"))["properties"]


@pytest.mark.slow
def test_report_download(bundled_client):
    page = bundled_client.get("/")
    assert b"/report/450305.pdf" in page.data
    html_report = bundled_client.get("/report/450305.html?lang=en")
    assert html_report.status_code == 200 and html_report.mimetype == "text/html"
    assert b"Outdoor-worker station coverage report" in html_report.data
    pdf = bundled_client.get("/report/450305.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert "attachment" in pdf.headers["Content-Disposition"]


@pytest.mark.parametrize("url, status", [("/report/110101.html", 404), ("/report/450305.doc", 400),
                                         ("/report/450305.html?lang=fr", 400)])
def test_report_errors(bundled_client, url, status):
    assert bundled_client.get(url).status_code == status


# --- hardened: log lines and request limits (issue 11) ---------------------------------------------------------

def test_access_log_escapes_control_characters_in_the_path(app, caplog):
    import logging

    from werkzeug.test import Client

    from stationmap.web.server import AccessLog

    with caplog.at_level(logging.INFO, logger="stationmap.access"):
        response = Client(AccessLog(app)).get('/api/x%0d%0a127.0.0.1 "GET / HTTP/1.1" 200%1b[31m%00?q=%0a"')
        response.close()
    lines = _access_lines(caplog)
    assert len(lines) == 1
    line = lines[0]
    assert not any(ch in line for ch in "\r\n\x1b\x00")
    assert "\\x0d\\x0a" in line and "\\x1b[31m" in line and "\\x00" in line
    assert line.count('"') == 2  # only the quotes around the request itself


def _raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, dict, bytes]:
    import http.client
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def _assert_json_error(status, headers, body, expected, *fragments):
    assert status == expected, body
    assert headers["Content-Type"].startswith("application/json")
    doc = json.loads(body)
    assert set(doc) == {"ok", "error", "status"} and doc["ok"] is False and doc["status"] == expected
    for fragment in fragments:
        assert fragment in doc["error"], doc["error"]


def test_real_server_answers_oversized_bodies_and_headers_in_json(fixture_dir):
    from stationmap.files import MAX_HEADER_BYTES
    from stationmap.web.server import running_server

    settings = Settings(data_dir=fixture_dir, port=0, max_request_bytes=1000)
    with running_server(settings) as server:
        port = server.effective_port
        # a declared body over the limit: refused before it is read
        head = b"POST /api/nearest HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n"
        _assert_json_error(*_raw_request(port, head), 413, "limit is 1000 bytes")
        head = b"POST /api/nearest HTTP/1.1\r\nHost: x\r\nContent-Length: 1500\r\n\r\n"
        _assert_json_error(*_raw_request(port, head, b"x" * 1500), 413, "limit is 1000 bytes")
        # a chunked body over the limit
        chunk = b"%x\r\n%s\r\n" % (1500, b"x" * 1500)
        head = b"POST /api/nearest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        _assert_json_error(*_raw_request(port, head, chunk + b"0\r\n\r\n"), 413, "limit is 1000 bytes")
        # headers over the app's limit, and far over it (where waitress itself refuses)
        for size in (MAX_HEADER_BYTES + 100, MAX_HEADER_BYTES * 10):
            head = b"GET /api/nearest?lon=109&lat=34 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
            _assert_json_error(*_raw_request(port, head), 431, f"limit is {MAX_HEADER_BYTES} bytes")
        # a body within the limit still reaches the app
        head = b"POST /api/nearest HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
        status, _, _ = _raw_request(port, head, b"x" * 10)
        assert status == 405


def test_request_limits_middleware_reads_content_length_not_the_body(app):
    from werkzeug.test import Client

    from stationmap.web.server import RequestLimits

    class _Unreadable:
        def read(self, *args):
            raise AssertionError("the body was read")

        readline = readlines = read

    client = Client(RequestLimits(app, max_body_bytes=100))
    response = client.post("/api/nearest", environ_overrides={"CONTENT_LENGTH": "5000", "wsgi.input": _Unreadable()})
    _assert_json_error(response.status_code, dict(response.headers), response.get_data(), 413, "limit is 100 bytes")
    response = client.get("/api/nearest?lon=109.06&lat=34.27&k=1", headers={"X-Big": "a" * 20_000})
    _assert_json_error(response.status_code, dict(response.headers), response.get_data(), 431, "Request headers")


def test_access_log_shows_a_chinese_path_as_text(app, caplog):
    import logging

    from werkzeug.test import Client

    from stationmap.web.server import AccessLog

    with caplog.at_level(logging.INFO, logger="stationmap.access"):
        Client(AccessLog(app)).get("/api/stations/%E7%81%9E%E6%A1%A5%C2%85").close()
    [line] = _access_lines(caplog)
    assert '"GET /api/stations/灞桥\\x85" 404' in line


def test_service_worker_is_served_at_the_root_with_its_build(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    script = response.get_data(as_text=True)
    match = re.search(r"var BUILD = (\{.*?\});", script)
    assert match and "/*BUILD*/" not in script
    build = json.loads(match.group(1))
    assert build["version"].startswith("0.1.0-") and build["api"] == "0.1.0"
    assert {"/static/offline.js", "/static/manifest.webmanifest", "/static/icons/icon-192.png",
            "/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/images/marker-icon.png"} <= set(build["assets"])
    assert not any(url.endswith(("LICENSE", ".txt", ".py")) for url in build["assets"])
    for url in build["assets"]:
        with client.get(url) as asset:
            assert asset.status_code == 200, url
    assert client.get("/sw.js").get_data(as_text=True) == script  # the same files, the same worker


def test_service_worker_version_follows_the_static_files(fixture_dir, tmp_path):
    static = tmp_path / "static"
    shutil.copytree(Settings().static_dir, static, ignore=shutil.ignore_patterns("__pycache__"))
    client = create_app(Settings(data_dir=fixture_dir, static_dir=static)).test_client()
    before = client.get("/sw.js").get_data(as_text=True)
    (static / "stationmap.css").write_text("/* changed */\n", encoding="utf-8")
    after = client.get("/sw.js").get_data(as_text=True)
    assert before != after


def test_page_links_the_manifest_and_the_offline_script(client):
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="manifest" href="/static/manifest.webmanifest">' in page
    assert '<script src="/static/offline.js" defer></script>' in page
    with client.get("/static/manifest.webmanifest") as manifest:
        assert manifest.status_code == 200
        assert manifest.mimetype == "application/manifest+json"
        body = json.loads(manifest.get_data(as_text=True))
    assert body["name"] == "工会户外劳动者服务站点地图" and body["short_name"] == "职工驿站"
    assert body["display"] == "standalone" and body["theme_color"] == "#c8102e"
    assert f'<meta name="theme-color" content="{body["theme_color"]}">' in page
    base = "http://localhost/static/manifest.webmanifest"
    assert urljoin(base, body["start_url"]) == "http://localhost/"
    purposes = set()
    for icon in body["icons"]:
        with client.get(urljoin("/static/manifest.webmanifest", icon["src"])) as png:
            assert png.status_code == 200 and png.mimetype == "image/png", icon
            width, height = struct.unpack(">II", png.get_data()[16:24])  # the PNG IHDR chunk
        assert f"{width}x{height}" == icon["sizes"], icon
        purposes.add(icon["purpose"])
    assert purposes == {"any", "maskable"}
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in body["icons"]}


# --- the worker's needs (issue 12): need=, mode=, search words, mode links -----------------------------------

RIDER_POINT = (102.75, 25.0)  # 官渡区: e-bike charging 3.5 km away, the only battery swap 22 km away
TUESDAY_0510 = "2025-06-03T05:10:00+08:00"


def _bundled_records() -> list[dict]:
    """Every bundled station record as (properties with lon, lat), straight from the files."""
    records = []
    for path in sorted((BUNDLED_DATA_DIR / "stations").glob("*.geojson")):
        for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
            lon, lat = feature["geometry"]["coordinates"]
            records.append({**feature["properties"], "lon": lon, "lat": lat})
    return records


def _metres(lon: float, lat: float, record: dict) -> float:
    return float(geo.GEOD.inv(lon, lat, record["lon"], record["lat"])[2])


def _open_at(record: dict, moment: str) -> bool | None:
    from stationmap import hours

    state = hours.hours_state(record, moment)
    return True if state == "open" else False if state == "closed" else None


def test_rider_with_a_flat_battery_gets_the_ebike_charging_station_nearby(bundled_client):
    lon, lat = RIDER_POINT
    body = strict_json(bundled_client.get(f"/api/nearest?lon={lon}&lat={lat}&need=delivery_rider&k=20"))
    assert (body["need"], body["mode"], body["cap_m"], body["nothing_within_m"]) == ("delivery_rider", "ebike",
                                                                                       10000.0, None)
    assert body["partial"] == [] and body["straight_line"] is True and body["speed_m_per_min"] == 250.0
    first = body["features"][0]["properties"]
    assert first["id"] == "530111-016" and 3000 < first["distance_m"] < 4000
    assert "ebike_charging" in first["matched"] and first["mode"] == "ebike" and first["straight_line"] is True
    assert first["travel_min"] == math.ceil(first["distance_m"] / 250) and first["walk_min"] == math.ceil(
        first["distance_m"] / 75)
    assert first["toilet"] == "nearby" and first["last_verified"] == "2024-10-20" and "stars" in first
    # brute force over the whole register, filtered and ranked in plain Python
    moment = body["evaluated_at"]
    plus = {"phone_charging", "drinking_water", "meal_heating", "toolkit"}
    expected = []
    for record in _bundled_records():
        metres = _metres(lon, lat, record)
        amenities = set(record.get("amenities") or ())
        if metres <= 10_000 and amenities & {"battery_swap", "ebike_charging"}:
            closed = 0 if _open_at(record, moment) is True else 15
            expected.append((metres / 250 + closed - 2 * len(amenities & plus), metres, record["id"]))
    assert [f["id"] for f in body["features"]] == [i for _, _, i in sorted(expected)]
    assert [f["properties"]["score"] for f in body["features"]] == [round(s, 2) for s, _, _ in sorted(expected)]
    assert max(f["properties"]["distance_m"] for f in body["features"]) <= 10_000


def test_nothing_within_the_cap_is_said_plainly_with_partial_matches(bundled_client):
    lon, lat = RIDER_POINT  # on foot, 3 km: no charging, but stations with other things
    body = strict_json(bundled_client.get(f"/api/nearest?lon={lon}&lat={lat}&need=delivery_rider&mode=walk"))
    assert body["features"] == [] and body["nothing_within_m"] == 3000.0 and body["mode"] == "walk"
    within = sorted((_metres(lon, lat, r), r["id"]) for r in _bundled_records() if _metres(lon, lat, r) <= 3000)
    assert within and not any({"battery_swap", "ebike_charging"} & set(r.get("amenities") or ())
                              for r in _bundled_records() if _metres(lon, lat, r) <= 3000)
    assert 0 < len(body["partial"]) <= 3
    for item in body["partial"]:
        assert item["missing"] == ["charging"] and item["distance_m"] <= 3000
        assert item["travel_min"] == math.ceil(item["distance_m"] / 75)
    far = strict_json(bundled_client.get("/api/nearest?lon=88.0&lat=40.0&need=delivery_rider"))
    assert far["features"] == [] and far["nothing_within_m"] == 10000.0 and far["partial"] == []
    on_amap = strict_json(bundled_client.get(f"/api/nearest?lon={lon}&lat={lat}&need=delivery_rider&mode=walk"
                                             "&map_datum=gcj02"))
    for item in on_amap["partial"]:  # drawn and centred on GCJ-02 tiles like every other answer
        gcj = geo.convert_coords(item["lon"], item["lat"], src="wgs84", dst="gcj02")
        assert item["map_lonlat"] == [round(float(gcj[0]), 7), round(float(gcj[1]), 7)]


def test_the_driver_gets_no_answer_beyond_the_drive_cap(bundled_client):
    lon, lat = 102.2, 25.0  # 60 km west of 官渡区's stations with parking
    body = strict_json(bundled_client.get(f"/api/nearest?lon={lon}&lat={lat}&need=truck_driver"))
    parking = [_metres(lon, lat, r) for r in _bundled_records() if "parking" in (r.get("amenities") or ())]
    assert min(parking) > 50_000
    assert body["mode"] == "drive" and body["features"] == [] and body["nothing_within_m"] == 50000.0
    near = strict_json(bundled_client.get("/api/nearest?lon=102.81&lat=24.97&need=truck_driver&k=20"))
    ids = [f["id"] for f in near["features"]]
    assert set(ids) == {r["id"] for r in _bundled_records() if "parking" in (r.get("amenities") or ())
                        and _metres(102.81, 24.97, r) <= 50_000}
    assert all(f["properties"]["distance_m"] <= 50_000 for f in near["features"])


def test_the_sanitation_worker_at_0510_gets_open_stations_with_water_and_a_toilet(bundled_client):
    lon, lat = 102.79, 24.985  # 官渡区, among three 24-hour stations and many that open later
    url = f"/api/nearest?lon={lon}&lat={lat}&need=sanitation&k=20&open_at={TUESDAY_0510.replace('+', '%2B')}"
    body = strict_json(bundled_client.get(url))
    assert body["open_required_at"] == TUESDAY_0510 and body["mode"] == "walk"
    expected = {r["id"] for r in _bundled_records()
                if _metres(lon, lat, r) <= 3000 and "drinking_water" in (r.get("amenities") or ())
                and r.get("toilet") in ("onsite", "nearby") and _open_at(r, TUESDAY_0510) is True}
    closed = {r["id"] for r in _bundled_records()
              if _metres(lon, lat, r) <= 3000 and "drinking_water" in (r.get("amenities") or ())
              and r.get("toilet") in ("onsite", "nearby") and _open_at(r, TUESDAY_0510) is not True}
    assert expected and closed  # the point is chosen so that some are open and some are not
    assert {f["id"] for f in body["features"]} == expected
    assert all(f["properties"]["open_now"] is True for f in body["features"])


def test_without_need_nearest_is_unchanged_and_mode_adds_minutes(client):
    body = strict_json(client.get("/api/nearest?lon=109.06&lat=34.27&k=5&mode=drive"))
    assert [f["id"] for f in body["features"]] == ["T-1", "T-2", "T-3", "T-4", "T-5"]
    assert [f["properties"]["travel_min"] for f in body["features"]] == [1, 1, 2, 3, 6]
    assert "nothing_within_m" not in body and "partial" not in body
    assert_error(client.get("/api/nearest?lon=109.06&lat=34.27&need=pilot&mode=boat"), 400, "'need'", "'mode'")


@pytest.mark.parametrize("query", ["充电", "热饭", "厕所", "司机之家"])
def test_search_matches_needs_words_sorted_by_distance(bundled_client, query):
    from stationmap.needs import match_terms

    terms = match_terms(query)
    records = _bundled_records()

    def has(record):
        text = "\n".join(str(record.get(k, "")) for k in ("name", "name_en", "address", "id")).lower()
        return (query.lower() in text or bool(set(record.get("amenities") or ()) & set(terms.amenities))
                or record.get("toilet") in terms.toilet or record.get("kind") in terms.kinds)

    expected = {r["id"] for r in records if has(r)}
    body = strict_json(bundled_client.get(f"/api/stations?q={query}&limit=200"))
    assert {f["id"] for f in body["features"]} == expected and body["numberMatched"] == len(expected)
    lon, lat = RIDER_POINT
    near = strict_json(bundled_client.get(f"/api/stations?q={query}&lon={lon}&lat={lat}&limit=200"))
    by_distance = sorted((round(_metres(lon, lat, r), 1), r["id"]) for r in records if has(r))
    assert [f["id"] for f in near["features"]] == [i for _, i in by_distance]
    assert [f["properties"]["distance_m"] for f in near["features"]] == [d for d, _ in by_distance]
    assert all("open_now" in f["properties"] and "state_text" in f["properties"] for f in near["features"])
    assert_error(bundled_client.get(f"/api/stations?q={query}&lon={lon}"), 400, "'lat' is required")


def test_search_words_name_the_expected_terms(bundled_client):
    body = strict_json(bundled_client.get("/api/stations?q=司机之家&limit=200"))
    assert body["q_matches"] == {"amenities": [], "toilet": [], "kinds": ["driver_home"]}
    assert {f["properties"]["kind"] for f in body["features"]} == {"driver_home"}


@pytest.mark.parametrize(("mode", "amap", "baidu", "apple"), [
    ("walk", "walk", "walking", "w"), ("ebike", "ride", "riding", "d"), ("drive", "car", "driving", "d")])
def test_station_links_follow_the_travel_mode(bundled_client, mode, amap, baidu, apple):
    from urllib.parse import parse_qs, urlsplit

    feature = strict_json(bundled_client.get(f"/api/stations/530111-016?mode={mode}&lon=102.75&lat=25.0"))
    lon, lat = feature["geometry"]["coordinates"]
    links = feature["properties"]["navigation"]
    gcj_lon, gcj_lat = geo.wgs84_to_gcj02(lon, lat)
    bd_lon, bd_lat = geo.wgs84_to_bd09(lon, lat)
    q_amap = parse_qs(urlsplit(links["amap"]).query)
    assert q_amap["mode"] == [amap]
    to_lon, to_lat, _name = q_amap["to"][0].split(",", 2)
    assert (float(to_lon), float(to_lat)) == pytest.approx((gcj_lon, gcj_lat), abs=1e-6)
    q_baidu = parse_qs(urlsplit(links["baidu_route"]).query)
    assert q_baidu["mode"] == [baidu] and q_baidu["coord_type"] == ["bd09ll"]
    d_lat, d_lon = q_baidu["destination"][0].removeprefix("latlng:").split("|")[0].split(",")
    assert (float(d_lon), float(d_lat)) == pytest.approx((bd_lon, bd_lat), abs=1e-6)
    o_lat, o_lon = q_baidu["origin"][0].removeprefix("latlng:").split("|")[0].split(",")
    assert (float(o_lon), float(o_lat)) == pytest.approx(geo.wgs84_to_bd09(102.75, 25.0), abs=1e-6)
    q_apple = parse_qs(urlsplit(links["apple"]).query)
    assert urlsplit(links["apple"]).netloc == "maps.apple.com" and q_apple["dirflg"] == [apple]
    a_lat, a_lon = q_apple["daddr"][0].split(",")
    assert (float(a_lon), float(a_lat)) == pytest.approx((gcj_lon, gcj_lat), abs=1e-6)
    assert links["geo"].startswith(f"geo:{lat:.6f},{lon:.6f}") and feature["properties"]["mode"] == mode


def test_need_answers_carry_mode_links_from_the_worker(bundled_client):
    from urllib.parse import parse_qs, urlsplit

    body = strict_json(bundled_client.get("/api/nearest?lon=102.81&lat=24.97&need=truck_driver&k=1"))
    links = body["features"][0]["properties"]["navigation"]
    assert parse_qs(urlsplit(links["amap"]).query)["mode"] == ["car"]
    assert parse_qs(urlsplit(links["baidu_route"]).query)["mode"] == ["driving"]


def test_worker_detail_has_no_star_review_notes(bundled_client):
    for record in _bundled_records():
        rating = strict_json(bundled_client.get(f"/api/stations/{record['id']}?lang=en"))["properties"]["rating"]
        assert set(rating) == {"station_id", "qualified_stars", "next_level", "missing_for_next", "headline",
                               "rubric_version"}
        assert "review" not in rating["headline"] and "downgraded" not in rating["headline"]

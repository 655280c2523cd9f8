"""The planner's API (`stationmap.web.planner`) through Flask's test client, on the bundled districts.

Every figure is compared with the analysis function called directly; every parameter error is checked for the
parameter it names; the cache is checked for hits, eviction, shared work and the 503 that long jobs answer.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import numpy as np
import pytest
import shapely
from webcheck import assert_error, ok_json  # tests/webcheck.py

from stationmap import geo
from stationmap.analysis.coverage import coverage_report, service_areas, what_if
from stationmap.analysis.gaps import find_gaps
from stationmap.analysis.siting import plan_sites
from stationmap.config import BUNDLED_DATA_DIR, Settings
from stationmap.hours import TZ
from stationmap.parameters import RADIUS_M, WEB_SITES_K
from stationmap.web import create_app, planner
from stationmap.web.live import app_state
from stationmap.web.planner import LIMITS, PlannerBusyError, PlannerCache

SMALL = "450305"  # 桂林七星区, 12 stations: quick to analyse
XIAN = "610111"  # 西安灞桥区, 63 stations
MONDAY_0530 = "2025-06-02T05:30:00+08:00"
GEOJSON = "application/geo+json"


@pytest.fixture(scope="module")
def app():
    return create_app(Settings(data_dir=BUNDLED_DATA_DIR))


@pytest.fixture
def client(app):
    app.extensions["stationmap_planner"] = PlannerCache()  # a fresh cache per test
    return app.test_client()


@pytest.fixture(scope="module")
def state(app):
    return app_state(app)


def _stations(state, adcode):
    return state.stations.iloc[np.flatnonzero(state.district_codes == adcode)]


def _label(state, adcode):
    d = state.districts[adcode]
    return f"{d.city}{d.name}"


# --- figures equal the analysis functions -------------------------------------------------------------

def test_coverage_equals_coverage_report(client, state):
    body = ok_json(client.get(f"/api/coverage?district={XIAN}&radius_m=1500&at={MONDAY_0530}"))
    when = datetime.fromisoformat(MONDAY_0530)
    direct = coverage_report(_stations(state, XIAN), state.districts[XIAN].geometry, radius_m=1500, when=when,
                             region_name=_label(state, XIAN))
    assert body["coverage"] == json.loads(json.dumps(direct.to_dict()))
    assert body["query"] == {"radius_m": 1500.0, "at": "2025-06-02T05:30:00+08:00"}
    assert body["district"]["adcode"] == XIAN and body["district"]["label"] == "西安市灞桥区"
    assert 0 < body["coverage"]["pct_area_covered_twice"] < body["coverage"]["pct_area_covered"] < 100
    assert body["coverage"]["n_used"] < body["coverage"]["n_stations"] == 63  # closed at 05:30 left out


def test_coverage_defaults_and_time_of_day(client):
    body = ok_json(client.get(f"/api/coverage?district={SMALL}"))
    assert body["query"] == {"radius_m": 1000.0, "at": None}
    assert body["coverage"]["when"] is None
    early = ok_json(client.get(f"/api/coverage?district={SMALL}&at=05:00"))
    assert early["query"]["at"].endswith("T05:00:00+08:00")
    assert early["query"]["at"][:10] == datetime.now(TZ).date().isoformat()  # HH:MM is today in Shanghai
    assert early["coverage"]["pct_area_covered"] < body["coverage"]["pct_area_covered"]
    assert ok_json(client.get(f"/api/coverage?district={SMALL}&at=any"))["query"]["at"] is None


def test_gaps_equal_find_gaps(client, state):
    body = ok_json(client.get(f"/api/gaps?district={XIAN}&radius_m=3000&min_area_m2=50000"), GEOJSON)
    direct = find_gaps(_stations(state, XIAN), state.districts[XIAN].geometry, radius_m=3000, min_area_m2=50_000,
                       region_name=_label(state, XIAN))
    summary = direct.to_dict()
    summary.pop("gaps")
    assert body["type"] == "FeatureCollection"
    assert body["summary"] == json.loads(json.dumps(summary))
    assert len(body["features"]) == direct.n_gaps > 1
    assert [f["properties"] for f in body["features"]] == json.loads(json.dumps(direct.records(by="area")))
    assert [f["properties"]["rank"] for f in body["features"]] == list(range(1, direct.n_gaps + 1))
    areas = [f["properties"]["area_m2"] for f in body["features"]]
    assert areas == sorted(areas, reverse=True)
    for feature, geom in zip(body["features"], direct.gaps.geometry, strict=True):
        served = shapely.geometry.shape(feature["geometry"])
        assert served.symmetric_difference(geom).area < geom.length * 1e-7  # coordinates rounded to 1e-7 degrees
        lon, lat = feature["geometry"]["coordinates"][0][0][0] if feature["geometry"]["type"] == "MultiPolygon" \
            else feature["geometry"]["coordinates"][0][0]
        assert 108 < lon < 110 and 34 < lat < 35  # lon, lat order


def test_sites_equal_plan_sites(client, state):
    body = ok_json(client.get(f"/api/sites?district={SMALL}&radius_m=3000&k=3"), GEOJSON)
    s = body["summary"]
    direct = plan_sites(_stations(state, SMALL), state.districts[SMALL].geometry, k=3, radius_m=3000,
                        method="auto", max_ilp_pairs=LIMITS.ilp_max_pairs, time_limit_s=LIMITS.ilp_time_limit_s,
                        demand_spacing_m=s["demand_spacing_m"], candidate_spacing_m=s["candidate_spacing_m"])
    # No demand data on the web: deepest first, never labelled optimal (issue 13).
    assert s["method"] == direct.method == "deepest-first" and s["optimal"] is False
    assert s["demand_source"] == direct.demand_source == "area (no demand data)"
    assert s["covered_by_new"] == pytest.approx(direct.covered_by_new)
    ranks = [f["properties"]["rank"] for f in body["features"]]
    assert ranks == [1, 2, 3]
    for feature, site in zip(body["features"], direct.sites, strict=True):
        p = feature["properties"]
        assert feature["geometry"]["coordinates"] == pytest.approx([site.lon, site.lat], abs=1e-7)
        assert (p["gain"], p["cumulative_pct"]) == pytest.approx((site.gain, site.cumulative_pct))
    clearance = [f["properties"]["clearance_m"] for f in body["features"]]
    assert clearance == sorted(clearance, reverse=True)
    assert body["features"][-1]["properties"]["cumulative"] == pytest.approx(s["covered_by_new"])


def test_sites_large_instance_uses_the_greedy_and_reports_its_bound(client):
    body = ok_json(client.get(f"/api/sites?district={SMALL}&radius_m=100&k=2"), GEOJSON)
    s = body["summary"]
    assert s["n_pairs"] > LIMITS.ilp_max_pairs
    assert s["method"] == "deepest-first" and s["gap_pct"] >= 0 and s["upper_bound"] >= s["covered_by_new"]
    assert len(body["features"]) == 2


def test_service_areas_equal_service_areas(client, state):
    body = ok_json(client.get(f"/api/service-areas?district={XIAN}&radius_m=1000"), GEOJSON)
    direct = service_areas(_stations(state, XIAN), state.districts[XIAN].geometry, radius_m=1000)
    assert [f["properties"]["level"] for f in body["features"]] == ["covered", "overlap"]
    for feature, (_, row) in zip(body["features"], direct.iterrows(), strict=True):
        assert feature["properties"]["area_m2"] == pytest.approx(row["area_m2"])
        assert shapely.geometry.shape(feature["geometry"]).area == pytest.approx(row.geometry.area, rel=1e-6)
    report = ok_json(client.get(f"/api/coverage?district={XIAN}&radius_m=1000"))["coverage"]
    assert body["features"][0]["properties"]["area_m2"] == pytest.approx(report["covered_area_m2"], rel=1e-6)
    assert body["features"][1]["properties"]["area_m2"] == pytest.approx(report["covered_twice_area_m2"], rel=1e-6)


def test_what_if_equals_what_if(client, state):
    removed = f"{XIAN}-001,{XIAN}-002"
    body = ok_json(client.get(f"/api/what-if?district={XIAN}&radius_m=1000&add=109.10,34.30;109.2,34.35"
                          f"&remove={removed}"))
    direct = what_if(_stations(state, XIAN), state.districts[XIAN].geometry, add=[(109.10, 34.30), (109.2, 34.35)],
                     remove=removed.split(","), radius_m=1000, region_name=_label(state, XIAN))
    expected = json.loads(json.dumps(direct.to_dict()))
    assert {k: body[k] for k in expected} == expected
    assert body["delta"]["pct_area_covered"] == pytest.approx(
        body["after"]["pct_area_covered"] - body["before"]["pct_area_covered"], abs=2e-3)
    assert body["added"]["features"][0]["geometry"]["coordinates"] == [109.10, 34.30]
    assert body["removed_ids"] == [f"{XIAN}-001", f"{XIAN}-002"]
    assert body["query"]["remove"] == [f"{XIAN}-001", f"{XIAN}-002"]


def test_what_if_adding_in_a_gap_raises_coverage(client):
    body = ok_json(client.get(f"/api/what-if?district={SMALL}&add=110.37,25.22"))
    assert body["delta"]["pct_area_covered"] > 0


def test_districts_lists_bundled_outlines(client, state):
    body = ok_json(client.get("/api/districts"), GEOJSON)
    assert [f["id"] for f in body["features"]] == sorted(state.districts)
    bq = next(f for f in body["features"] if f["id"] == XIAN)
    assert bq["properties"]["n_stations"] == 63 and bq["geometry"]["type"] in ("Polygon", "MultiPolygon")


# --- parameter errors ------------------------------------------------------------------------------------

ENDPOINTS = ["coverage", "gaps", "sites", "service-areas", "what-if"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_unknown_district_is_404_json(client, endpoint):
    assert_error(client.get(f"/api/{endpoint}?district=999999"), 404, "'999999' is not served", "灞桥区 (610111)")
    assert_error(client.get(f"/api/{endpoint}?district=abc"), 404, "'abc' is not served", "610111")
    assert_error(client.get(f"/api/{endpoint}?district=天河区"), 404, "'天河区' is not served")


def test_district_by_name(client):
    by_code = client.get("/api/coverage?district=610111&radius_m=1000").get_json()
    for name in ("灞桥区", "西安市 灞桥区", "灞桥"):
        by_name = client.get(f"/api/coverage?district={name}&radius_m=1000").get_json()
        assert by_name["coverage"] == by_code["coverage"], name


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("query", "fragments"), [
    ("", ["'district' is required"]),
    ("district=610111&district=450305", ["'district' is given 2 times"]),
    ("district=610111&radius_m=50", ["'radius_m' must be between 100 and 10000 m", "'50'"]),
    ("district=610111&radius_m=10001", ["'radius_m' must be between 100 and 10000 m", "'10001'"]),
    ("district=610111&radius_m=abc", ["'radius_m' must be a number"]),
    ("district=610111&radius_m=nan", ["'radius_m' must be a finite number"]),
    ("district=610111&at=25:00", ["parameter 'at'"]),
    ("district=610111&at=yesterday", ["parameter 'at'"]),
])
def test_common_parameter_errors_name_the_parameter(client, endpoint, query, fragments):
    assert_error(client.get(f"/api/{endpoint}?{query}"), 400, *fragments)


def test_every_problem_is_reported_at_once(client):
    body = assert_error(client.get("/api/gaps?district=610111&radius_m=1&min_area_m2=-5&at=99:99"), 400)
    for name in ("radius_m", "min_area_m2", "at"):
        assert f"'{name}'" in body["error"]


@pytest.mark.parametrize(("query", "fragments"), [
    ("min_area_m2=-1", ["'min_area_m2' must be between 0 and 100000000 m²", "'-1'"]),
    ("min_area_m2=1e9", ["'min_area_m2'"]),
    ("min_area_m2=x", ["'min_area_m2' must be a number"]),
])
def test_gaps_parameter_errors(client, query, fragments):
    assert_error(client.get(f"/api/gaps?district={SMALL}&{query}"), 400, *fragments)


@pytest.mark.parametrize(("query", "fragments"), [
    ("k=0", ["'k' must be between 1 and 20"]),
    ("k=21", ["'k' must be between 1 and 20"]),
    ("k=2.5", ["'k' must be a whole number"]),
    ("k=", ["'k' must be a whole number"]),
])
def test_sites_parameter_errors(client, query, fragments):
    assert_error(client.get(f"/api/sites?district={SMALL}&{query}"), 400, *fragments)


@pytest.mark.parametrize(("query", "fragments"), [
    ("add=" + ";".join(["110.3,25.25"] * 51), ["'add' may hold at most 50 points, got 51"]),
    ("add=110.3", ["'add' must be lon,lat", "point 1 '110.3'"]),
    ("add=110.3,25.2;a,b", ["point 2 'a,b' is not lon,lat"]),
    ("add=110.3,25.2,7", ["point 1"]),
    ("add=200,25", ["point 1 '200,25' is out of range"]),
    ("add=110,inf", ["point 1 '110,inf' is not lon,lat"]),
    ("remove=" + ",".join(f"x{n}" for n in range(201)), ["'remove' may hold at most 200 ids, got 201"]),
    ("remove=NOPE", ["parameter 'remove': no station 'NOPE' in district 450305"]),
    ("remove=610111-001", ["no station '610111-001' in district 450305"]),
    ("add=x&remove=NOPE", ["'add'", "'remove'"]),
])
def test_what_if_parameter_errors(client, query, fragments):
    assert_error(client.get(f"/api/what-if?district={SMALL}&{query}"), 400, *fragments)


def test_what_if_limits_accept_the_maximum(client):
    points = ";".join(f"{110.30 + i * 0.001:.3f},25.25" for i in range(LIMITS.add_max))
    body = ok_json(client.get(f"/api/what-if?district={SMALL}&radius_m=500&add={points}"))
    assert len(body["added_ids"]) == len(body["added"]["features"]) == LIMITS.add_max


def test_only_get_is_allowed(client):
    assert_error(client.post(f"/api/coverage?district={SMALL}"), 405, "use GET")


# --- caching and long jobs -----------------------------------------------------------------------------

def test_repeated_requests_are_served_from_the_cache(app, client, monkeypatch):
    calls = []
    real = planner.coverage_report

    def counting(*args, **kwargs):
        calls.append(kwargs["radius_m"])
        return real(*args, **kwargs)

    monkeypatch.setattr(planner, "coverage_report", counting)
    first = client.get(f"/api/coverage?district={SMALL}&radius_m=1000")
    again = client.get(f"/api/coverage?district={SMALL}&radius_m=1000.0")  # same value, other spelling
    other = client.get(f"/api/coverage?district={SMALL}&radius_m=1500")
    assert first.get_data() == again.get_data() != other.get_data()
    assert calls == [1000.0, 1500.0]
    cache = app.extensions["stationmap_planner"]
    assert (cache.hits, cache.misses) == (1, 2)


def test_cache_is_bounded_and_least_recently_used_goes_first():
    cache = PlannerCache(max_entries=2)
    built = []

    def build(value):
        return lambda: built.append(value) or value

    assert cache.get("a", build("a")) == "a"
    assert cache.get("b", build("b")) == "b"
    assert cache.get("a", build("a2")) == "a"  # hit; "a" is now the most recent
    assert cache.get("c", build("c")) == "c"  # evicts "b"
    assert cache.get("b", build("b2")) == "b2"
    assert built == ["a", "b", "c", "b2"]


def test_concurrent_requests_share_one_computation():
    cache = PlannerCache()
    started = []

    def slow():
        started.append(1)
        time.sleep(0.2)
        return 42

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [42] * 4 and started == [1]


def test_errors_are_not_cached():
    cache = PlannerCache()
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise PlannerBusyError("first time fails")
        return "ok"

    with pytest.raises(PlannerBusyError):
        cache.get("k", flaky)
    assert cache.get("k", flaky) == "ok"


def test_long_job_answers_503_then_the_retry_is_instant(app, monkeypatch):
    app.extensions["stationmap_planner"] = PlannerCache(wait_s=0.05)
    client = app.test_client()
    release = threading.Event()
    real = planner.coverage_report

    def slow(*args, **kwargs):
        release.wait(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(planner, "coverage_report", slow)
    response = client.get(f"/api/coverage?district={SMALL}")
    body = assert_error(response, 503, "longer than 0.05 s", "Retry")
    assert response.headers["Retry-After"] == str(PlannerBusyError.retry_after_s)
    assert "Internal" not in body["error"]
    release.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = client.get(f"/api/coverage?district={SMALL}")
        if response.status_code == 200:
            break
        time.sleep(0.05)
    assert ok_json(response)["coverage"]["n_stations"] == 12


def test_too_many_running_jobs_are_refused(app, monkeypatch):
    app.extensions["stationmap_planner"] = PlannerCache(wait_s=0.01, max_pending=1, workers=1)
    client = app.test_client()
    release = threading.Event()
    real = planner.coverage_report
    monkeypatch.setattr(planner, "coverage_report", lambda *a, **k: (release.wait(5), real(*a, **k))[1])
    assert_error(client.get(f"/api/coverage?district={SMALL}&radius_m=500"), 503, "longer than")
    assert_error(client.get(f"/api/coverage?district={SMALL}&radius_m=600"), 503, "busy")
    release.set()


# --- documents and pages -------------------------------------------------------------------------------

def test_openapi_documents_the_planner(client):
    doc = ok_json(client.get("/api/openapi.json"))
    for path in ("/api/coverage", "/api/gaps", "/api/sites", "/api/service-areas", "/api/what-if", "/api/districts"):
        assert path in doc["paths"], path
    params = {p["name"]: p for p in doc["paths"]["/api/sites"]["get"]["parameters"]}
    assert params["district"]["required"] is True
    assert params["k"]["schema"]["maximum"] == WEB_SITES_K.maximum == LIMITS.k_max
    assert params["radius_m"]["schema"]["minimum"] == RADIUS_M.minimum == LIMITS.radius_min_m
    assert "503" in doc["paths"]["/api/what-if"]["get"]["responses"]


@pytest.mark.parametrize(("lang", "title"), [("zh", "站点规划"), ("en", "Station planner")])
def test_planner_page_renders_offline_in_both_languages(client, lang, title):
    response = client.get(f"/planner?lang={lang}&district={SMALL}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert title in html
    assert "/static/planner.js" in html and "/static/vendor/leaflet/leaflet.js" in html
    assert "window.stationplanner.attach(" in html
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "code.jquery", "bootstrapcdn"):
        assert cdn not in html
    config = json.loads(html.split('id="planner-config">', 1)[1].split("</script>", 1)[0])
    assert config["district"] == SMALL and config["radii"] == [500, 1000, 1500, 3000]
    assert config["times"] == ["", "05:00", "12:30", "22:00"]
    assert 'href="/"' in html  # back to the worker's map


def test_planner_page_defaults_to_the_largest_district(client):
    html = client.get("/planner?district=<script>alert(1)</script>").get_data(as_text=True)
    assert "alert(1)" not in html  # an unknown district is never reflected into the page
    config = json.loads(html.split('id="planner-config">', 1)[1].split("</script>", 1)[0])
    assert config["district"] == XIAN


def test_worker_page_links_to_the_planner(client):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/planner"' in html


@pytest.fixture(scope="module")
def amap_client():
    return create_app(Settings(data_dir=BUNDLED_DATA_DIR, tile_provider="amap")).test_client()


def test_planner_answers_in_the_tiles_datum_when_asked(amap_client):
    wgs = amap_client.get("/api/gaps?district=450305&radius_m=1000").get_json()
    gcj = amap_client.get("/api/gaps?district=450305&radius_m=1000&map_datum=gcj02").get_json()
    assert "map_datum" not in wgs and gcj["map_datum"] == "gcj02"
    w_lon, w_lat = shapely.get_coordinates(shapely.geometry.shape(wgs["features"][0]["geometry"]))[0]
    g_lon, g_lat = shapely.get_coordinates(shapely.geometry.shape(gcj["features"][0]["geometry"]))[0]
    # the same vertex, shifted by the GCJ-02 offset (300-600 m) and back to within a centimetre
    assert 300 < geo.geodesic_distance_m(w_lon, w_lat, g_lon, g_lat) < 700
    back_lon, back_lat = geo.gcj02_to_wgs84(g_lon, g_lat)
    assert geo.geodesic_distance_m(back_lon, back_lat, w_lon, w_lat) < 0.02
    stations = amap_client.get("/api/stations?district_code=450305&map_datum=gcj02").get_json()
    first = stations["features"][0]
    assert first["properties"]["map_lonlat"] == pytest.approx(
        list(geo.wgs84_to_gcj02(*first["geometry"]["coordinates"])), abs=1e-6)


def test_what_if_taps_in_gcj02_are_converted(amap_client):
    lon, lat = geo.wgs84_to_gcj02(110.30, 25.28)
    tapped = amap_client.get(f"/api/what-if?district=450305&radius_m=1000&add={lon:.7f},{lat:.7f}&datum=gcj02")
    direct = amap_client.get("/api/what-if?district=450305&radius_m=1000&add=110.3,25.28")
    assert tapped.status_code == 200, tapped.get_json()
    assert tapped.get_json()["query"]["add"][0] == pytest.approx([110.30, 25.28], abs=1e-6)
    assert tapped.get_json()["delta"] == pytest.approx(direct.get_json()["delta"], rel=1e-6)
    bad = amap_client.get("/api/gaps?district=450305&map_datum=mercator")
    assert bad.status_code == 400 and "map_datum" in bad.get_json()["error"]


def test_gaps_by_grid_and_bands(client):
    body = ok_json(client.get(f"/api/gaps?district={XIAN}&by=grid&cell_m=2000"), GEOJSON)
    assert body["query"]["by"] == "grid" and body["query"]["cell_m"] == 2000.0
    assert body["summary"]["cell_m"] == 2000.0 and body["summary"]["n_units"] == len(body["features"])
    total = sum(f["properties"]["uncovered_m2"] for f in body["features"])
    assert total == pytest.approx(body["summary"]["gap_area_m2"], rel=1e-3)
    bands = ok_json(client.get(f"/api/gaps?district={XIAN}&by=bands"), GEOJSON)
    assert [f["properties"]["unit"] for f in bands["features"]] == ["1–2 km", "2–5 km", "> 5 km"]
    assert_error(client.get(f"/api/gaps?district={XIAN}&by=units"), 400)


# --- service circles in minutes, siting without demand (issue 13) -----------------------------------------------

def test_coverage_in_minutes_equals_the_radius_and_the_cli(client, runner):
    from stationmap.cli import main

    timed = ok_json(client.get(f"/api/coverage?district={XIAN}&minutes=15&mode=walk"))
    plain = ok_json(client.get(f"/api/coverage?district={XIAN}&radius_m=1125"))
    assert timed["query"]["radius_m"] == 1125 and timed["coverage"] == plain["coverage"]
    assert timed["query"]["service_circle"] == "15 min on foot (1,125 m straight-line at 75 m/min)"
    ebike = ok_json(client.get(f"/api/coverage?district={XIAN}&minutes=15&mode=ebike"))
    assert ebike["coverage"]["radius_m"] == 3750  # 15 x 250 m/min
    cli = runner.invoke(main, ["--data-dir", str(BUNDLED_DATA_DIR), "coverage", "--district", XIAN, "--minutes",
                               "15", "--mode", "walk", "--format", "json"])
    assert cli.exit_code == 0, cli.output
    (row,) = json.loads(cli.stdout)
    for key in ("covered_area_m2", "covered_twice_area_m2", "pct_area_covered", "region_area_m2"):
        assert row[key] == pytest.approx(timed["coverage"][key], rel=1e-9)
    both = client.get(f"/api/coverage?district={XIAN}&minutes=15&radius_m=1125")
    assert both.status_code == 400 and "'minutes'" in both.get_json()["error"] and "'radius_m'" in both.get_json()["error"]


def test_sites_say_no_demand_data_was_used(client):
    body = ok_json(client.get(f"/api/sites?district={XIAN}&k=3"), GEOJSON)
    summary = body["summary"]
    assert summary["demand_source"] == "area (no demand data)" and summary["ties_broken_by"]
    assert summary["optimal"] is False and summary["method"] == "deepest-first"
    clearance = [f["properties"]["clearance_m"] for f in body["features"]]
    assert clearance == sorted(clearance, reverse=True)


# --- demand and candidates the server is started with (issue 13) ------------------------------------------------

def _hubs(state, path):
    """A demand CSV (WGS-84) of three hubs at the centres of the largest gaps of `SMALL` at 1 km."""
    report = find_gaps(_stations(state, SMALL), state.districts[SMALL].geometry, radius_m=1000)
    rows = [f"{lon:.6f},{lat:.6f},{w}" for lon, lat, w in zip(report.gaps["centre_lon"][:3],
                                                             report.gaps["centre_lat"][:3], (40, 25, 10))]
    path.write_text("lon,lat,weight\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_sites_use_the_demand_the_server_was_started_with(state, tmp_path):
    from stationmap.demand import load_demand

    hubs = _hubs(state, tmp_path / "hubs.csv")
    app = create_app(Settings(data_dir=BUNDLED_DATA_DIR, demand=hubs, demand_crs="wgs84"))
    client = app.test_client()
    body = ok_json(client.get(f"/api/sites?district={SMALL}&k=2&radius_m=1000"), GEOJSON)
    assert body["demand_source"] == "demand file hubs.csv" and body["candidates_source"] is None
    assert body["summary"]["demand_source"] == "demand file hubs.csv" and not body["summary"]["ties_broken_by"]
    district = state.districts[SMALL]
    demand_m, candidate_m = planner._grid_spacings(district, 1000)
    direct = plan_sites(_stations(state, SMALL), district.geometry, k=2, radius_m=1000,
                        demand=load_demand(hubs, crs="wgs84"), demand_spacing_m=demand_m,
                        candidate_spacing_m=candidate_m, max_ilp_pairs=LIMITS.ilp_max_pairs,
                        time_limit_s=LIMITS.ilp_time_limit_s)
    got = [f["geometry"]["coordinates"] for f in body["features"]]
    assert got == [[round(s.lon, 7), round(s.lat, 7)] for s in direct.sites]
    for path in ("coverage", "gaps"):
        answer = ok_json(client.get(f"/api/{path}?district={SMALL}&radius_m=1000"),
                         GEOJSON if path == "gaps" else "application/json")
        assert answer["demand_source"] == "demand file hubs.csv"
        assert answer["demand_from"] == {"kind": "file", "file": "hubs.csv"}
    plain = ok_json(client.get(f"/api/coverage?district={SMALL}&radius_m=1000"))
    assert plain["coverage"]["demand"]["total"] == pytest.approx(load_demand(hubs, crs="wgs84")["weight"].sum())
    app.extensions["stationmap_store"].close()


def test_a_bad_demand_file_stops_the_server_at_start(tmp_path, runner):
    from stationmap.cli import main
    from stationmap.errors import BadRequestError

    bad = tmp_path / "bad.csv"
    bad.write_text("name,weight\nx,1\n", encoding="utf-8")
    with pytest.raises(BadRequestError, match="bad.csv"):
        create_app(Settings(data_dir=BUNDLED_DATA_DIR, demand=bad, demand_crs="wgs84"))
    result = runner.invoke(main, ["--data-dir", str(BUNDLED_DATA_DIR), "serve", "--demand", str(bad),
                                  "--demand-crs", "wgs84"])
    assert result.exit_code == 1 and "bad.csv" in result.output, result.output
    both = runner.invoke(main, ["--data-dir", str(BUNDLED_DATA_DIR), "serve", "--demand", str(bad),
                                "--demand-osm", str(bad)])
    assert both.exit_code == 2 and "--demand and --demand-osm" in both.output, both.output


def test_demand_settings_come_from_the_environment(tmp_path):
    env = {"STATIONMAP_DEMAND": str(tmp_path / "d.csv"), "STATIONMAP_DEMAND_CRS": "gcj02",
           "STATIONMAP_CANDIDATES_OSM": str(tmp_path / "x.osm.pbf")}
    settings = Settings.from_env(environ=env)
    assert settings.demand == tmp_path / "d.csv" and settings.demand_crs == "gcj02"
    assert settings.candidates_osm == tmp_path / "x.osm.pbf" and settings.demand_osm is None

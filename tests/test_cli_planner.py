"""The planner commands: coverage, gaps, site (and --what-if), in every output format."""

from __future__ import annotations

import csv
import io
import json

import geopandas as gpd
import pytest

from stationmap.cli import main
from stationmap.config import PROJECT_ROOT
from stationmap.stations import export_stations, load_stations

DATA = PROJECT_ROOT / "data"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


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
    (["coverage", "--district", "450305", "--radius-m", "-3"], "radius_m"),
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

"""Gaps by place: grid cells, distance bands and sub-district units of a hand-made district.

The district is a 4 km x 3 km rectangle in UTM zone 49N (EPSG:32649, x 300-304 km, y 3800-3803 km) with one
station in its south-west corner and a 1,000 m radius: a quarter disc (pi/4 km²) is covered, the rest is the gap,
and the far corner is exactly 5 km from the station (3-4-5).
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from stationmap import geo
from stationmap.analysis.gap_units import prepare_units, split_gaps
from stationmap.analysis.gaps import find_gaps
from stationmap.errors import BadRequestError, DatumError

UTM = "EPSG:32649"
X0, Y0 = 300_000.0, 3_800_000.0
RECT_M2 = 4000.0 * 3000.0
QUARTER_M2 = math.pi * 1000.0**2 / 4
GAP_M2 = RECT_M2 - QUARTER_M2  # 11,214,602 m²


def _wgs(geoms):
    return gpd.GeoSeries(geoms, crs=UTM).to_crs(geo.WGS84)


@pytest.fixture(scope="module")
def district():
    return _wgs([shapely.box(X0, Y0, X0 + 4000, Y0 + 3000)]).iloc[0]


@pytest.fixture(scope="module")
def station():
    return gpd.GeoDataFrame({"id": ["S1"], "name": ["东门驿站"]}, geometry=_wgs([shapely.Point(X0, Y0)]).values,
                            crs=geo.WGS84)


@pytest.fixture(scope="module")
def report(station, district):
    return find_gaps(station, district, radius_m=1000, min_area_m2=0)


def test_report_is_the_rectangle_minus_a_quarter_disc(report):
    assert report.crs == UTM
    assert report.gap_area_m2 == pytest.approx(GAP_M2, rel=1e-3)


def test_grid_cells_split_the_gap(report, station, district):
    split = split_gaps(report, station, district, by="grid", cell_m=1000)
    cells = split.units.set_index("unit")
    assert split.crs == UTM and split.cell_m == 1000
    assert len(cells) == 12  # 4 x 3 whole cells, aligned to the kilometre grid
    assert cells["uncovered_m2"].sum() == pytest.approx(split.gap_area_m2, rel=1e-9)
    assert split.unit_gap_area_m2 == pytest.approx(report.gap_area_m2, rel=1e-3)
    assert cells["area_m2"].to_numpy() == pytest.approx(np.full(12, 1e6), rel=1e-6)
    corner = cells.loc["E300N3800"]
    assert corner["uncovered_m2"] == pytest.approx(1e6 - QUARTER_M2, rel=1e-2)
    assert split.units["rank"].tolist() == list(range(1, 13))
    assert split.units["unit"].iloc[-1] == "E300N3800"  # the one partly covered cell ranks last
    far = cells.loc["E303N3802"]
    assert far["uncovered_share"] == pytest.approx(1.0)
    assert split.units["unit"].iloc[0] == "E303N3802"  # whole cells tie on area: farthest first
    lon, lat = station.geometry.x.iloc[0], station.geometry.y.iloc[0]
    _, _, dist = Geod(ellps="WGS84").inv(lon, lat, far["rep_lon"], far["rep_lat"])
    assert far["nearest_station_m"] == pytest.approx(dist, abs=0.01)
    assert (far["nearest_station_id"], far["nearest_station_name"]) == ("S1", "东门驿站")
    rep = gpd.GeoSeries([shapely.Point(far["rep_lon"], far["rep_lat"])], crs=geo.WGS84).to_crs(UTM).iloc[0]
    assert shapely.box(X0 + 3000, Y0 + 2000, X0 + 4000, Y0 + 3000).covers(rep)
    assert split.units.crs == geo.WGS84
    assert split.uncovered_demand is None


def test_grid_ranks_by_uncovered_demand_first(report, station, district):
    points = _wgs([shapely.Point(X0 + 1500, Y0 + 500), shapely.Point(X0 + 100, Y0 + 100),
                   shapely.Point(X0 + 1600, Y0 + 600)])
    demand = gpd.GeoDataFrame({"weight": [10.0, 5.0, 2.0]}, geometry=points.values, crs=geo.WGS84)
    split = split_gaps(report, station, district, by="grid", demand=demand)
    top = split.units.iloc[0]
    assert (top["unit"], top["demand"]) == ("E301N3800", 12.0)
    assert split.uncovered_demand == 12.0  # the point inside the covered quarter disc counts nowhere


def test_bands_are_quarter_rings(report, station, district):
    split = split_gaps(report, station, district, by="bands")
    bands = split.units.set_index("unit")
    assert list(bands.index) == ["1–2 km", "2–5 km", "> 5 km"]
    assert bands.loc["1–2 km", "uncovered_m2"] == pytest.approx(math.pi * (2000**2 - 1000**2) / 4, rel=2e-3)
    assert bands.loc["2–5 km", "uncovered_m2"] == pytest.approx(RECT_M2 - math.pi * 2000**2 / 4, rel=2e-3)
    assert bands.loc["> 5 km", "uncovered_m2"] < 50  # the far corner is exactly 5 km away
    assert bands["uncovered_m2"].sum() == pytest.approx(report.gap_area_m2, rel=1e-9)
    assert bands["uncovered_share"].sum() == pytest.approx(1.0)
    assert (bands.loc["1–2 km", "min_m"], bands.loc["1–2 km", "max_m"]) == (1000.0, 2000.0)
    assert bands.loc["1–2 km", "n_pieces"] == 1
    assert 1000 <= bands.loc["1–2 km", "nearest_station_m"] <= 2000


def test_band_edges_are_checked(report, station, district):
    split = split_gaps(report, station, district, by="bands", band_edges_m=(3000.0,))
    assert split.units["unit"].tolist() == ["1–3 km", "> 3 km"]
    for edges in ((800.0,), (3000.0, 2000.0), ()):
        with pytest.raises(BadRequestError, match="band_edges_m"):
            split_gaps(report, station, district, by="bands", band_edges_m=edges)
    with pytest.raises(BadRequestError, match="cell_m"):
        split_gaps(report, station, district, by="grid", cell_m=10)
    with pytest.raises(BadRequestError, match="by must be"):
        split_gaps(report, station, district, by="hexagons")


def test_units_split_the_totals(report, station, district, tmp_path):
    halves = _wgs([shapely.box(X0, Y0, X0 + 2000, Y0 + 3000), shapely.box(X0 + 2000, Y0, X0 + 4000, Y0 + 3000)])
    path = tmp_path / "streets.geojson"
    gpd.GeoDataFrame({"名称": ["西街道", "东街道"]}, geometry=halves.values, crs=geo.WGS84).to_file(path)
    units = prepare_units(gpd.read_file(path), crs="wgs84")
    split = split_gaps(report, station, district, by="units", units=units)
    rows = split.units.set_index("unit")
    assert rows.loc["东街道", "uncovered_m2"] == pytest.approx(6e6, rel=1e-6)
    assert rows.loc["西街道", "uncovered_m2"] == pytest.approx(6e6 - QUARTER_M2, rel=1e-3)
    assert rows.loc["东街道", "uncovered_share"] == pytest.approx(1.0, rel=1e-6)
    assert split.units["unit"].tolist() == ["东街道", "西街道"]
    assert split.unit_gap_area_m2 == pytest.approx(report.gap_area_m2, rel=1e-6)


def test_units_need_a_datum_and_a_name(station):
    frame = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(108, 34, 108.1, 34.1)], crs=geo.WGS84)
    with pytest.raises(DatumError, match="never guessed"):
        prepare_units(frame, crs=None)
    with pytest.raises(BadRequestError, match="name column"):
        prepare_units(frame.rename(columns={"name": "label"}), crs="wgs84")
    shifted = prepare_units(frame, crs="gcj02").geometry.iloc[0]
    assert 0.001 < abs(shifted.bounds[0] - 108) < 0.01  # GCJ-02 moved back by a few hundred metres


def test_an_invalid_gap_of_guandu_still_splits(boundary_cache):
    """官渡's gap touches itself where service discs meet the boundary; projected as is, GEOS's overlay failed."""
    from stationmap.config import BUNDLED_DATA_DIR
    from stationmap.districts import load_district
    from stationmap.stations import load_stations

    district = load_district("530111", data_dir=BUNDLED_DATA_DIR, cache_dir=boundary_cache)
    stations = load_stations(BUNDLED_DATA_DIR / "stations" / "530111.geojson")
    gaps = find_gaps(stations, district.geometry, radius_m=1000)
    split = split_gaps(gaps, stations, district.geometry, by="grid", cell_m=2000)
    assert len(split.units) > 0
    assert split.units["uncovered_m2"].sum() == pytest.approx(gaps.gap_area_m2, rel=1e-3)

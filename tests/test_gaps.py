"""Gaps: region minus coverage, ranked by area and by demand, slivers dropped and counted."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pytest
import shapely

from stationmap.analysis.coverage import coverage_report
from stationmap.analysis.gaps import find_gaps
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.districts import load_district
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.stations import load_stations

DATA = BUNDLED_DATA_DIR
POLY = 32 * math.sin(2 * math.pi / 64) / math.pi  # 64-gon disc area / circle area


def utm_points(xy: list[tuple[float, float]], **columns: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": [f"S{i}" for i in range(len(xy))], **columns},
                            geometry=gpd.points_from_xy(*zip(*xy, strict=True)), crs=32649).to_crs(4326)


def utm_box(west: float, south: float, east: float, north: float) -> shapely.Geometry:
    box = shapely.segmentize(shapely.box(west, south, east, north), 10)
    return gpd.GeoSeries([box], crs=32649).to_crs(4326).iloc[0]


def test_one_big_gap_by_hand():
    # A 4 km x 2 km box, one station in the middle of its western half: the gap is the box minus the disc.
    stations = utm_points([(501_000, 3_791_000)])
    region = utm_box(500_000, 3_790_000, 504_000, 3_792_000)
    report = find_gaps(stations, region, radius_m=1000, min_area_m2=0)
    assert report.gap_area_m2 == pytest.approx(8e6 - math.pi * 1e6 * POLY, rel=1e-3)
    assert report.gaps["rank"].iloc[0] == 1
    biggest = report.gaps.iloc[0]
    assert biggest["nearest_station_id"] == "S0"
    # The largest circle inside the gap is centred in the empty eastern part, its edge 1 km from the box edge.
    assert biggest["inscribed_radius_m"] == pytest.approx(1000, rel=0.02)
    assert biggest["nearest_station_m"] > 2000
    assert report.distance_model == "straight-line" and report.crs == "EPSG:32649"
    assert report.gaps.crs.equals(4326)


def test_corner_slivers_are_dropped_and_counted():
    # A 1,900 m square centred on the station: the disc pokes out of each side, leaving four separate corners.
    stations = utm_points([(500_000, 3_790_000)])
    region = utm_box(499_050, 3_789_050, 500_950, 3_790_950)
    a, r = 950.0, 1000.0
    # Circle-square intersection (a < r < a*sqrt(2)) and the four corners left over.
    inside = 4 * (a * math.sqrt(r * r - a * a) + r * r * (math.pi / 4 - math.acos(a / r)))
    corner = (4 * a * a - inside) / 4
    report = find_gaps(stations, region, radius_m=1000, min_area_m2=corner * 1.05)
    assert report.n_gaps == 0
    assert report.n_slivers == 4
    assert report.sliver_area_m2 == pytest.approx(4 * corner, rel=2e-2)  # the 64-gon leaves a little more
    kept = find_gaps(stations, region, radius_m=1000, min_area_m2=corner * 0.9)
    assert (kept.n_gaps, kept.n_slivers) == (4, 0)


def test_ranking_by_demand_differs_from_area():
    # One station leaves gaps in a 4 x 2 km box; a separate 1 km² box far west holds most of the demand.
    stations = utm_points([(501_000, 3_791_000)])
    region = shapely.union_all([utm_box(500_000, 3_790_000, 504_000, 3_792_000),
                                utm_box(490_000, 3_790_000, 491_000, 3_791_000)])
    demand = gpd.GeoDataFrame({"weight": [500.0, 3.0]},
                              geometry=gpd.points_from_xy([490_500, 503_500], [3_790_500, 3_791_000]),
                              crs=32649).to_crs(4326)
    report = find_gaps(stations, region, radius_m=1000, demand=demand, min_area_m2=1000)
    small = report.gaps.loc[report.gaps["rank_by_demand"] == 1].iloc[0]
    assert small["demand"] == pytest.approx(500.0)
    assert small["area_m2"] == pytest.approx(1e6, rel=1e-3)  # the whole western box, ranked below the big gap
    assert small["rank"] > 1
    assert small["nearest_station_m"] == pytest.approx(10_516, rel=2e-3)  # hypot(10500, 500) / 0.9996 (UTM scale)
    assert report.uncovered_demand == pytest.approx(503.0)
    assert report.records(by="demand")[0]["demand"] == pytest.approx(500.0)


def test_gaps_at_dawn_are_bigger():
    stations = utm_points([(501_000, 3_791_000), (503_000, 3_791_000)], opening_hours=["24/7", "Mo-Fr 08:00-17:00"])
    region = utm_box(500_000, 3_790_000, 504_000, 3_792_000)
    day = find_gaps(stations, region, radius_m=1000, when="2025-06-02T10:00")
    dawn = find_gaps(stations, region, radius_m=1000, when="2025-06-02T05:00")
    assert dawn.gap_area_m2 - day.gap_area_m2 == pytest.approx(math.pi * 1e6 * POLY, rel=2e-3)


@pytest.mark.parametrize("code", ["450305", "610111"])
def test_bundled_gaps_and_coverage_add_up(code):
    district = load_district(code, data_dir=DATA)
    stations = load_stations(DATA / "stations" / f"{code}.geojson")
    gaps = find_gaps(stations, district.geometry, radius_m=1000, min_area_m2=0)
    report = coverage_report(stations, district.geometry, radius_m=1000)
    assert gaps.gap_area_m2 + report.covered_area_m2 == pytest.approx(report.region_area_m2, rel=1e-4)
    data = gaps.to_dict()
    json.dumps(data, allow_nan=False, ensure_ascii=False)
    assert data["n_gaps"] == len(data["gaps"]) > 0
    assert data["gaps"][0]["area_m2"] >= data["gaps"][-1]["area_m2"]


def test_gap_errors():
    stations = utm_points([(500_000, 3_790_000)])
    with pytest.raises(EmptyInputError):
        find_gaps(stations, None, radius_m=1000)
    with pytest.raises(BadRequestError, match="min_area_m2"):
        find_gaps(stations, utm_box(499_000, 3_789_000, 501_000, 3_791_000), radius_m=1000, min_area_m2=-1)

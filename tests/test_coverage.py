"""Coverage, overlap, time of day, demand and what-if: hand-checkable geometry and the bundled districts."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree

from stationmap import geo
from stationmap.analysis import coverage as cov
from stationmap.analysis.coverage import (
    coverage_pieces,
    coverage_report,
    demand_coverage,
    select_in_service,
    service_areas,
    what_if,
)
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.districts import load_district
from stationmap.errors import BadRequestError, CRSMismatchError, EmptyInputError, StationNotFoundError
from stationmap.stations import load_stations

DATA = BUNDLED_DATA_DIR
BUNDLED = ["610111", "530111", "450305", "511502"]
# The disc is a 64-gon (quad_segs=16): its area is this fraction of the true circle's.
POLY = 32 * math.sin(2 * math.pi / 64) / math.pi
MONDAY_5AM = "2025-06-02T05:00"


def lens_m2(r: float, d: float) -> float:
    """Area of the intersection of two circles of radius r whose centres are d apart."""
    return 2 * r * r * math.acos(d / (2 * r)) - d / 2 * math.sqrt(4 * r * r - d * d)


def utm_stations(xy: list[tuple[float, float]], **columns: list) -> gpd.GeoDataFrame:
    """Stations given in EPSG:32649 metres, returned in EPSG:4326 as loaded stations are."""
    frame = gpd.GeoDataFrame({"id": [f"S{i}" for i in range(len(xy))], **columns},
                             geometry=gpd.points_from_xy(*zip(*xy, strict=True)), crs=32649)
    return frame.to_crs(4326)


def utm_box(west: float, south: float, east: float, north: float) -> shapely.Geometry:
    """A WGS-84 polygon that is the given EPSG:32649 rectangle (edges densified so it stays straight)."""
    box = shapely.segmentize(shapely.box(west, south, east, north), 10)
    return gpd.GeoSeries([box], crs=32649).to_crs(4326).iloc[0]


def test_two_overlapping_discs_by_hand(stations_utm):
    stations = stations_utm.iloc[:2].to_crs(4326)  # A and B, 1,000 m apart
    report = coverage_report(stations, radius_m=1000)
    lens = lens_m2(1000, 1000)
    assert report.covered_area_m2 == pytest.approx(2 * math.pi * 1e6 - lens, rel=2e-3)
    assert report.covered_twice_area_m2 == pytest.approx(lens, rel=4e-3)  # 64-gon arcs cut the lens ~0.3%
    assert report.crs == "EPSG:32649"
    assert report.distance_model == "straight-line"
    assert report.radius_m == 1000
    assert report.pct_area_covered is None  # no region, no share


def test_discs_that_only_touch_do_not_overlap(stations_utm):
    report = coverage_report(stations_utm.to_crs(4326), radius_m=500)
    assert report.covered_area_m2 == pytest.approx(4 * math.pi * 500**2 * POLY, rel=1e-6)
    assert report.covered_twice_area_m2 == pytest.approx(0.0, abs=1e-3)


def test_share_of_a_square_region():
    stations = utm_stations([(500_000, 3_790_000)])
    region = utm_box(499_000, 3_789_000, 501_000, 3_791_000)  # the disc's bounding square
    report = coverage_report(stations, region, radius_m=1000, region_name="box")
    assert report.region_area_m2 == pytest.approx(4e6, rel=1e-4)
    assert report.pct_area_covered == pytest.approx(100 * math.pi / 4 * POLY, rel=1e-3)
    assert report.region_name == "box"


def test_three_discs_overlap_by_inclusion_exclusion():
    r, d = 1000.0, 1200.0
    stations = utm_stations([(500_000, 3_790_000), (500_000 + d, 3_790_000), (500_000 + 2 * d, 3_790_000)])
    report = coverage_report(stations, radius_m=r)
    # Outer discs are 2,400 m apart (> 2r): only neighbours overlap, so twice = 2 lenses.
    assert report.covered_twice_area_m2 == pytest.approx(2 * lens_m2(r, d), rel=5e-3)
    assert report.covered_area_m2 == pytest.approx(3 * math.pi * r * r - 2 * lens_m2(r, d), rel=3e-3)


def test_tiling_equals_naive_union_on_a_dense_cluster():
    rng = np.random.default_rng(4)
    xy = np.column_stack([500_000 + rng.normal(0, 2500, 400), 3_790_000 + rng.normal(0, 2500, 400)])
    pieces = cov._coverage_levels(xy, radius_m=700, overlap=True)
    discs = shapely.buffer(shapely.points(xy), 700, quad_segs=cov.QUAD_SEGS)
    naive = shapely.union_all(discs)
    assert pieces.once_area_m2 == pytest.approx(naive.area, rel=1e-9)
    # Twice-covered, the slow obvious way: union of every pairwise intersection.
    pairs = cKDTree(xy).query_pairs(1400, output_type="ndarray")
    naive_twice = shapely.union_all(shapely.intersection(discs[pairs[:, 0]], discs[pairs[:, 1]]))
    assert pieces.twice_area_m2 == pytest.approx(naive_twice.area, rel=1e-9)
    # Pieces are disjoint: their union has the sum of their areas.
    assert shapely.union_all(pieces.once).area == pytest.approx(pieces.once_area_m2, rel=1e-9)


def test_time_of_day_uses_open_stations_only():
    stations = utm_stations([(500_000, 3_790_000), (510_000, 3_790_000), (520_000, 3_790_000)],
                            opening_hours=["24/7", "Mo-Fr 08:00-17:00", "24/7"],
                            status=["open", "open", "temporarily_closed"])
    day = coverage_report(stations, radius_m=1000, when="2025-06-02T10:00")
    dawn = coverage_report(stations, radius_m=1000, when=MONDAY_5AM)
    every = coverage_report(stations, radius_m=1000)
    assert (every.n_used, day.n_used, dawn.n_used) == (3, 2, 1)
    assert dawn.covered_area_m2 == pytest.approx(math.pi * 1e6 * POLY, rel=1e-6)
    assert dawn.when == "2025-06-02T05:00+08:00"
    assert any("not open" in note for note in dawn.notes)


def test_closed_stations_never_count():
    stations = utm_stations([(500_000, 3_790_000), (510_000, 3_790_000)], status=["open", "closed"])
    report = coverage_report(stations, radius_m=1000)
    assert report.n_used == 1
    assert select_in_service(stations)["id"].tolist() == ["S0"]


def test_demand_points_by_distance():
    stations = utm_stations([(500_000, 3_790_000), (501_500, 3_790_000)])
    # Distances to S0: 0, 900, 1100 (and 400 from S1), 3000 from both.
    pts = [(500_000, 3_790_000), (500_900, 3_790_000), (501_100, 3_790_000), (500_000, 3_793_000)]
    demand = gpd.GeoDataFrame({"id": list("abcd"), "weight": [10.0, 20.0, 30.0, 40.0]},
                              geometry=gpd.points_from_xy(*zip(*pts, strict=True)), crs=32649).to_crs(4326)
    result = demand_coverage(stations, demand, radius_m=1000)
    assert result.model == "points"
    assert result.total == 100
    assert result.covered == 60  # a, b, c
    assert result.covered_twice == 20  # b: 900 m from S0 and 600 m from S1
    assert result.pct_covered == pytest.approx(60.0)
    top = result.largest_uncovered[0]
    assert top["id"] == "d" and top["nearest_station_id"] == "S0"
    assert top["nearest_station_m"] == pytest.approx(3000, rel=2e-3)


def test_demand_polygons_count_by_covered_area():
    stations = utm_stations([(500_000, 3_790_000)])
    cells = [shapely.box(499_900, 3_789_900, 500_100, 3_790_100),  # inside the disc
             shapely.box(505_000, 3_790_000, 505_200, 3_790_200)]  # far outside
    demand = gpd.GeoDataFrame({"weight": [100.0, 50.0]}, geometry=cells, crs=32649).to_crs(4326)
    result = demand_coverage(stations, demand, radius_m=1000)
    assert result.model == "polygons, area-weighted"
    assert result.covered == pytest.approx(100.0, rel=1e-3)
    assert result.pct_covered == pytest.approx(100 * 100 / 150, rel=1e-3)


def test_ten_thousand_demand_points_match_brute_force():
    rng = np.random.default_rng(1)
    s_lon, s_lat = 108.9 + rng.random(50) * 0.3, 34.2 + rng.random(50) * 0.3
    d_lon, d_lat = 108.9 + rng.random(10_000) * 0.3, 34.2 + rng.random(10_000) * 0.3
    stations = gpd.GeoDataFrame({"id": range(50)}, geometry=gpd.points_from_xy(s_lon, s_lat), crs=4326)
    demand = gpd.GeoDataFrame({"weight": np.ones(10_000)}, geometry=gpd.points_from_xy(d_lon, d_lat), crs=4326)
    result = demand_coverage(stations, demand, radius_m=2000)
    dist = geo.geodesic_distance_m(d_lon[:, None], d_lat[:, None], s_lon[None, :], s_lat[None, :])
    assert result.covered == int((dist.min(axis=1) <= 2000).sum())
    assert result.covered_twice == int((np.sort(dist, axis=1)[:, 1] <= 2000).sum())


def test_national_set_splits_by_utm_zone():
    # Two stations 1 km apart astride the 108 E zone edge (zones 48 and 49), and clusters 13 degrees apart.
    lon = np.array([107.9955, 108.0045, 102.0, 102.01, 115.0])
    lat = np.array([30.0, 30.0, 25.0, 25.0, 28.0])
    stations = gpd.GeoDataFrame({"id": list("abcde")}, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    national = coverage_report(stations, radius_m=1000)
    assert "EPSG:32648" in national.crs and "EPSG:32649" in national.crs
    separate = sum(coverage_report(stations.iloc[list(idx)], radius_m=1000).covered_area_m2
                   for idx in ([0, 1], [2, 3], [4]))
    twice = sum(coverage_report(stations.iloc[list(idx)], radius_m=1000).covered_twice_area_m2
                for idx in ([0, 1], [2, 3]))
    assert national.covered_area_m2 == pytest.approx(separate, rel=2e-3)
    assert national.covered_twice_area_m2 == pytest.approx(twice, rel=2e-3)


@pytest.mark.parametrize("code", BUNDLED)
def test_bundled_district_areas_match_an_independent_estimate(code):
    district = load_district(code, data_dir=DATA)
    stations = load_stations(DATA / "stations" / f"{code}.geojson")
    report = coverage_report(stations, district.geometry, radius_m=1000)
    # District area: UTM polygon area against the ellipsoidal (geodesic) area.
    geodesic = abs(geo.GEOD.geometry_area_perimeter(district.geometry)[0])
    assert report.region_area_m2 == pytest.approx(geodesic, rel=5e-3)
    # Covered areas: a 20 m point grid in the same UTM zone, each point tested by distance to the true circle.
    used = select_in_service(stations)
    metric = used.to_crs(report.crs)
    xy = np.column_stack([metric.geometry.x, metric.geometry.y])
    region_m = gpd.GeoSeries([district.geometry], crs=4326).to_crs(report.crs).iloc[0]
    step = 20.0
    west, south = xy.min(axis=0) - 1000
    east, north = xy.max(axis=0) + 1000
    gx, gy = np.meshgrid(np.arange(west, east, step) + step / 2, np.arange(south, north, step) + step / 2)
    gx, gy = gx.ravel(), gy.ravel()
    dist, _ = cKDTree(xy).query(np.column_stack([gx, gy]), k=2, distance_upper_bound=1000)
    near = dist[:, 0] <= 1000
    inside = np.zeros(len(gx), dtype=bool)
    inside[near] = shapely.contains_xy(region_m, gx[near], gy[near])
    once = float((inside & near).sum()) * step * step
    twice = float((inside & (dist[:, 1] <= 1000)).sum()) * step * step
    assert report.covered_area_m2 == pytest.approx(once, rel=5e-3)
    assert report.covered_twice_area_m2 == pytest.approx(twice, rel=5e-3)
    assert 0 < report.pct_area_covered < 100


def test_service_areas_frame_for_maps(stations_utm):
    areas = service_areas(stations_utm.iloc[:2].to_crs(4326), radius_m=1000)
    assert areas.crs.equals(geo.WGS84)
    assert areas["level"].tolist() == ["covered", "overlap"]
    assert areas["area_m2"].iloc[1] == pytest.approx(lens_m2(1000, 1000), rel=4e-3)
    assert set(areas["distance_model"]) == {"straight-line"}
    # The dissolved geometry measures the same in the UTM zone.
    assert areas.to_crs(32649).area.iloc[0] == pytest.approx(areas["area_m2"].iloc[0], rel=1e-6)


def test_what_if_add_and_remove():
    stations = utm_stations([(500_000, 3_790_000), (505_000, 3_790_000)])
    new_point = gpd.GeoSeries(gpd.points_from_xy([520_000], [3_790_000]), crs=32649).to_crs(4326).iloc[0]
    new_lon, new_lat = new_point.x, new_point.y
    result = what_if(stations, add=[(new_lon, new_lat)], remove=["S1"], radius_m=1000)
    assert result.added_ids == ("new-1",) and result.removed_ids == ("S1",)
    assert result.delta["covered_area_m2"] == pytest.approx(0.0, abs=10.0)
    grow = what_if(stations, add=[(new_lon, new_lat)], radius_m=1000)
    assert grow.delta["covered_area_m2"] == pytest.approx(math.pi * 1e6 * POLY, rel=1e-4)
    assert grow.delta["n_used"] == 1
    json.dumps(grow.to_dict(), allow_nan=False)
    with pytest.raises(StationNotFoundError, match="S9"):
        what_if(stations, remove=["S9"], radius_m=1000)


def test_report_is_json_safe_and_complete():
    district = load_district("450305", data_dir=DATA)
    stations = load_stations(DATA / "stations" / "450305.geojson")
    pts = gpd.GeoDataFrame({"weight": [5.0, 7.0]}, geometry=gpd.points_from_xy([110.33, 110.40], [25.27, 25.20]),
                           crs=4326)
    data = coverage_report(stations, district.geometry, radius_m=1500, when=MONDAY_5AM, demand=pts).to_dict()
    text = json.dumps(data, allow_nan=False, ensure_ascii=False)
    for key in ("radius_m", "distance_model", "crs", "pct_area_covered", "pct_area_covered_twice", "demand"):
        assert key in data
    assert "NaN" not in text


def test_bad_inputs_raise_domain_errors(stations_utm):
    stations = stations_utm.to_crs(4326)
    with pytest.raises(BadRequestError, match="radius_m"):
        coverage_report(stations, radius_m=-5)
    with pytest.raises(BadRequestError, match="radius_m"):
        coverage_report(stations, radius_m=float("nan"))
    with pytest.raises(EmptyInputError):
        coverage_report(stations.iloc[:0], radius_m=1000)
    with pytest.raises(CRSMismatchError):
        coverage_report(stations, gpd.GeoSeries([shapely.box(0, 0, 1, 1)], crs=32649), radius_m=1000)
    with pytest.raises(BadRequestError, match="weight"):
        demand_coverage(stations, stations.assign(pop=1.0), radius_m=1000)


def test_pieces_respect_the_clip_region():
    stations = utm_stations([(500_000, 3_790_000)])
    half = utm_box(500_000, 3_789_000, 501_000, 3_791_000)  # the disc's eastern half
    pieces = coverage_pieces(stations, half, radius_m=1000)
    assert sum(p.once_area_m2 for _, p in pieces) == pytest.approx(math.pi * 1e6 * POLY / 2, rel=1e-3)


def test_polygon_demand_counts_only_its_part_inside_the_region():
    stations = utm_stations([(500_000, 3_790_000)])
    region = utm_box(499_000, 3_789_000, 500_000, 3_791_000)  # the western half of the disc's square
    cell = shapely.box(499_900, 3_789_900, 500_100, 3_790_100)  # half inside the region, all within reach
    demand = gpd.GeoDataFrame({"weight": [100.0]}, geometry=[cell], crs=32649).to_crs(4326)
    result = demand_coverage(stations, demand, radius_m=1000, region=region)
    assert result.total == pytest.approx(50.0, rel=1e-3)
    assert result.covered == pytest.approx(50.0, rel=1e-3)
    assert result.largest_uncovered == ()

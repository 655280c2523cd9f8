"""The analysis kernel: radius checks, regions, lon/lat, weights and metric projection, on hand-checkable inputs."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from stationmap import geo
from stationmap.analysis import kernel
from stationmap.errors import BadRequestError, CRSMismatchError, EmptyInputError
from stationmap.parameters import RADIUS_M


def _points(lons: list[float], lats: list[float], **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(lons, lats), crs=geo.WGS84)


@pytest.mark.parametrize("radius_m", [RADIUS_M.minimum, 500.0, kernel.MAX_RADIUS_M])
def test_check_radius_accepts_metres_in_range(radius_m):
    assert kernel.check_radius(radius_m) == float(radius_m)
    assert isinstance(kernel.check_radius(radius_m), float)


@pytest.mark.parametrize("radius_m", [0, -1.0, 99.9, math.nan, math.inf, kernel.MAX_RADIUS_M + 1, "1000", None,
                                      True])
def test_check_radius_refuses_the_rest(radius_m):
    with pytest.raises(BadRequestError, match="radius_m'? must be"):
        kernel.check_radius(radius_m)


def test_finite_or_none_rounds_and_drops_non_finite():
    assert kernel.finite_or_none(1.23456) == 1.235
    assert kernel.finite_or_none(1.23456, 1) == 1.2
    assert kernel.finite_or_none(np.float64(2.0)) == 2.0
    assert [kernel.finite_or_none(v) for v in (None, math.nan, math.inf, -math.inf)] == [None] * 4


def test_region_geometry_unions_a_frame_into_wgs84():
    stations = _points([109.0], [34.0])
    boxes = gpd.GeoDataFrame(geometry=[shapely.box(109.0, 34.0, 109.1, 34.1), shapely.box(109.1, 34.0, 109.2, 34.1)],
                             crs=geo.WGS84)
    region = kernel.region_geometry(boxes, stations)
    assert region.area == pytest.approx(0.02)
    assert kernel.region_geometry(None, stations) is None
    bowtie = shapely.Polygon([(109.0, 34.0), (109.1, 34.1), (109.1, 34.0), (109.0, 34.1)])
    assert kernel.region_geometry(bowtie, stations).is_valid


def test_region_geometry_refuses_another_crs_and_empty_regions():
    stations = _points([109.0], [34.0])
    with pytest.raises(CRSMismatchError):
        kernel.region_geometry(gpd.GeoSeries([shapely.box(0, 0, 1, 1)], crs=32649), stations)
    with pytest.raises(EmptyInputError, match="region is empty"):
        kernel.region_geometry(shapely.Polygon(), stations)
    with pytest.raises(EmptyInputError):
        kernel.region_geometry(shapely.LineString([(109.0, 34.0), (109.1, 34.1)]), stations)


def test_region_name_prefers_the_explicit_one():
    frame = gpd.GeoDataFrame({"name": ["灞桥区"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=geo.WGS84)
    assert kernel.region_name(frame, None) == "灞桥区"
    assert kernel.region_name(frame, "Baqiao") == "Baqiao"
    assert kernel.region_name(gpd.GeoSeries([shapely.box(0, 0, 1, 1)], name="七星区"), None) == "七星区"
    assert kernel.region_name(shapely.box(0, 0, 1, 1), None) == ""


def test_region_area_is_the_ellipsoidal_area_within_utm_scale():
    box = shapely.box(109.0, 34.2, 109.1, 34.3)  # about 9.2 km x 11.1 km near Xi'an
    area_m2, crs = kernel.region_area_m2(box)
    geodesic_m2 = abs(geo.GEOD.geometry_area_perimeter(box)[0])
    assert crs.to_epsg() == 32649
    assert area_m2 == pytest.approx(geodesic_m2, rel=1e-3)  # UTM scale is within 0.04% of 1 here (squared)


def test_lonlat_takes_points_and_a_point_inside_polygons_from_any_crs():
    frame = gpd.GeoDataFrame(geometry=[shapely.Point(111.0, 0.0), shapely.box(109.0, 34.0, 109.1, 34.1)],
                             crs=geo.WGS84)
    lon, lat = kernel.lonlat(frame.to_crs(32649))
    assert lon[0] == pytest.approx(111.0) and lat[0] == pytest.approx(0.0, abs=1e-9)
    assert shapely.contains_xy(shapely.box(109.0, 34.0, 109.1, 34.1), lon[1], lat[1])
    _, _, types = kernel.lonlat_types(frame)
    assert types.tolist() == [0, 3]


def test_demand_weights_reads_numbers_and_numeric_text():
    demand = _points([109.0, 109.1, 109.2], [34.0, 34.0, 34.0], w=["3", None, "2.5"], n=[1, 2, 3])
    assert kernel.demand_weights(demand, "w").tolist() == [3.0, 0.0, 2.5]
    assert kernel.demand_weights(demand, "n").tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(("values", "fragment"), [(["x", "1", "y"], "2 non-numeric value"),
                                                  ([1.0, -1.0, 2.0], "non-negative"),
                                                  ([1.0, math.inf, 2.0], "finite")])
def test_demand_weights_refuses_bad_values(values, fragment):
    demand = _points([109.0, 109.1, 109.2], [34.0, 34.0, 34.0], w=values)
    with pytest.raises(BadRequestError, match=fragment):
        kernel.demand_weights(demand, "w")


def test_demand_weights_names_the_columns_there_are():
    with pytest.raises(BadRequestError, match=r"no weight column 'people' \(columns: w\)"):
        kernel.demand_weights(_points([109.0], [34.0], w=[1.0]), "people")


def test_dissolve_unions_pieces():
    assert kernel.dissolve(np.empty(0, dtype=object)).is_empty
    pieces = np.array([shapely.box(0, 0, 2, 1), shapely.box(1, 0, 3, 1)], dtype=object)
    assert kernel.dissolve(pieces).area == pytest.approx(3.0)


def test_one_utm_zone_for_a_district():
    lon, lat = np.array([108.9, 109.2]), np.array([34.2, 34.4])
    (zone,) = kernel.utm_zone_plan(lon, lat, radius_m=1000.0)
    assert zone.crs.to_epsg() == 32649 and zone.band is None and zone.members.tolist() == [0, 1]
    assert kernel.crs_label([zone]) == "EPSG:32649"
    assert kernel.utm_zone_plan(np.empty(0), np.empty(0), radius_m=1000.0) == []


def test_national_points_split_by_six_degree_band_with_the_discs_reach():
    # Urumqi (zone 45), Xi'an (49), Harbin (52), and a station 500 m west of the 108 E zone edge (48 and 49).
    lon = np.array([87.6, 108.94, 126.6, 107.995])
    lat = np.array([43.8, 34.34, 45.8, 34.0])
    plan = kernel.utm_zone_plan(lon, lat, radius_m=1000.0)
    by_epsg = {z.crs.to_epsg(): z.members.tolist() for z in plan}
    assert by_epsg == {32645: [0], 32648: [3], 32649: [1, 3], 32652: [2]}
    assert kernel.crs_label(plan) == "EPSG:32645+EPSG:32648+EPSG:32649+EPSG:32652"
    for zone in plan:
        west = -180.0 + 6.0 * (zone.crs.to_epsg() - 32601)
        assert zone.band.bounds[0] == west and zone.band.bounds[2] == west + 6.0


def test_project_lonlat_to_utm():
    xy = kernel.project_lonlat(np.array([111.0]), np.array([0.0]), 32649)  # zone 49's central meridian
    assert xy[0] == pytest.approx([500_000.0, 0.0], abs=1e-6)
    assert kernel.project_lonlat(np.empty(0), np.empty(0), 32649).shape == (0, 2)


def test_reproject_geometry_round_trips():
    box = shapely.box(109.0, 34.2, 109.1, 34.3)
    there = kernel.reproject_geometry(box, geo.WGS84, 32649)
    assert there.bounds[0] > 100_000
    assert shapely.hausdorff_distance(kernel.reproject_geometry(there, 32649, geo.WGS84), box) < 1e-9

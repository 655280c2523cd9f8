"""Datum conversion against Amap's own conversion service (the oracle in ../shared/data/coordconv)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from stationmap import geo
from stationmap.errors import BadRequestError, CRSMismatchError, DatumError

ORACLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "coordconv" / "gcps_gd.csv"


@pytest.fixture(scope="module")
def oracle() -> np.ndarray:
    """Columns: wgs lon, wgs lat, amap lon, amap lat (Amap's coordinate-convert service, coordsys=gps)."""
    return np.loadtxt(ORACLE, delimiter=",")[:, :4]


def test_forward_matches_amap_where_amap_shifted(oracle):
    wgs_lon, wgs_lat, amap_lon, amap_lat = oracle.T
    shifted = (wgs_lon != amap_lon) | (wgs_lat != amap_lat)
    ours = geo.in_china(wgs_lon, wgs_lat)
    both = shifted & ours
    lon, lat = geo.wgs84_to_gcj02(wgs_lon[both], wgs_lat[both])
    err_m = geo.geodesic_distance_m(lon, lat, amap_lon[both], amap_lat[both])
    print(f"\nGCJ-02 vs Amap on {both.sum()} shifted points: median {np.median(err_m):.2f} m, "
          f"p95 {np.percentile(err_m, 95):.2f} m, max {err_m.max():.2f} m; region agreement "
          f"{(shifted == ours).mean():.1%}")
    assert both.sum() > 900
    assert err_m.max() < 10.0
    assert np.median(err_m) < 2.0


def test_region_never_shifts_what_amap_left_alone(oracle):
    wgs_lon, wgs_lat, amap_lon, amap_lat = oracle.T
    unshifted = (wgs_lon == amap_lon) & (wgs_lat == amap_lat)
    ours = geo.in_china(wgs_lon, wgs_lat)
    # Amap left 2,181 points alone; the region's 5 km margin takes in 2 of them, right at the border.
    assert (unshifted & ours).sum() <= 2
    lon, lat = geo.wgs84_to_gcj02(wgs_lon[unshifted & ~ours], wgs_lat[unshifted & ~ours])
    np.testing.assert_array_equal(lon, wgs_lon[unshifted & ~ours])
    np.testing.assert_array_equal(lat, wgs_lat[unshifted & ~ours])


def test_inverse_recovers_wgs84_below_a_tenth_of_a_metre(oracle):
    wgs_lon, wgs_lat, amap_lon, amap_lat = oracle.T
    inside = geo.in_china(wgs_lon, wgs_lat)
    gcj_lon, gcj_lat = geo.wgs84_to_gcj02(wgs_lon, wgs_lat)
    back_lon, back_lat = geo.gcj02_to_wgs84(gcj_lon, gcj_lat)
    err_m = geo.geodesic_distance_m(back_lon, back_lat, wgs_lon, wgs_lat)
    print(f"\nGCJ-02 round trip on {inside.sum()} points: max {err_m[inside].max():.2e} m")
    assert err_m.max() < 0.1
    # Against Amap's own outputs: inverting Amap's GCJ-02 lands within the formula's own 10 m of the input.
    shifted = inside & ((wgs_lon != amap_lon) | (wgs_lat != amap_lat))
    inv_lon, inv_lat = geo.gcj02_to_wgs84(amap_lon[shifted], amap_lat[shifted])
    assert geo.geodesic_distance_m(inv_lon, inv_lat, wgs_lon[shifted], wgs_lat[shifted]).max() < 10.0


def test_bd09_round_trip_below_a_tenth_of_a_metre():
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(100, 120, 5000), rng.uniform(22, 40, 5000)
    keep = geo.in_china(lon, lat)
    lon, lat = lon[keep], lat[keep]
    for fwd, inv in [(geo.wgs84_to_bd09, geo.bd09_to_wgs84), (geo.gcj02_to_bd09, geo.bd09_to_gcj02)]:
        back_lon, back_lat = inv(*fwd(lon, lat))
        assert geo.geodesic_distance_m(back_lon, back_lat, lon, lat).max() < 0.1


def test_outside_china_is_left_alone():
    points = {"Helsinki": (24.94, 60.17), "Oakland": (-122.28, 37.80), "Seoul": (126.98, 37.57),
              "Ulaanbaatar": (106.92, 47.92), "Hanoi": (105.85, 21.03), "Manila": (120.98, 14.60)}
    lon = np.array([p[0] for p in points.values()])
    lat = np.array([p[1] for p in points.values()])
    assert not geo.in_china(lon, lat).any()
    for func in (geo.wgs84_to_gcj02, geo.gcj02_to_wgs84, geo.wgs84_to_bd09, geo.bd09_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_inside_china_includes_coasts_islands_and_sar():
    places = {"Xi'an": (108.94, 34.34), "Sanya": (109.51, 18.25), "Xiamen Gulangyu": (118.07, 24.45),
              "Hong Kong": (114.17, 22.30), "Macau": (113.54, 22.19), "Taipei": (121.56, 25.04),
              "Kashgar": (75.99, 39.47), "Mohe": (122.53, 52.97)}
    assert all(geo.in_china(lon, lat) for lon, lat in places.values())


def test_scalars_stay_scalars_and_nan_passes_through():
    lon, lat = geo.wgs84_to_gcj02(109.06, 34.27)
    assert isinstance(lon, float) and isinstance(lat, float)
    assert 300 < geo.geodesic_distance_m(lon, lat, 109.06, 34.27) < 700
    nan_lon, nan_lat = geo.wgs84_to_gcj02(np.array([np.nan, 109.06]), np.array([34.27, 34.27]))
    assert np.isnan(nan_lon[0]) and nan_lon[1] == pytest.approx(lon)


def test_arrays_keep_their_shape():
    lon = np.full((2, 3), 109.06)
    lat = np.full((2, 3), 34.27)
    out_lon, out_lat = geo.convert_coords(lon, lat, src="wgs84", dst="gcj02")
    assert out_lon.shape == (2, 3) and out_lat.shape == (2, 3)


@pytest.mark.parametrize("name, key", [("WGS84", "wgs84"), ("EPSG:4326", "wgs84"), ("amap", "gcj02"),
                                       ("GCJ-02", "gcj02"), ("高德", "gcj02"), ("baidu", "bd09"), ("BD09", "bd09")])
def test_parse_datum_aliases(name, key):
    assert geo.parse_datum(name) == key


@pytest.mark.parametrize("name", [None, "", "  ", "mercator"])
def test_parse_datum_never_guesses(name):
    with pytest.raises(DatumError, match="datum"):
        geo.parse_datum(name)


def test_convert_geometry_moves_every_vertex():
    square = shapely.box(109.0, 34.2, 109.1, 34.3)
    moved = geo.convert_geometry(square, src="gcj02", dst="wgs84")
    back = geo.convert_geometry(moved, src="wgs84", dst="gcj02")
    assert shapely.hausdorff_distance(square, back) < 1e-8
    assert shapely.hausdorff_distance(square, moved) > 0.002


def test_metric_projection_is_utm_and_in_metres():
    frame = gpd.GeoDataFrame(geometry=gpd.points_from_xy([109.06, 109.07], [34.27, 34.27]), crs=geo.WGS84)
    metric = geo.to_metric(frame)
    assert metric.crs.to_epsg() == 32649
    d_m = metric.geometry.iloc[0].distance(metric.geometry.iloc[1])
    assert d_m == pytest.approx(geo.geodesic_distance_m(109.06, 34.27, 109.07, 34.27), rel=1e-3)


def test_metric_projection_refuses_national_extent():
    frame = gpd.GeoDataFrame(geometry=gpd.points_from_xy([87.6, 126.6], [43.8, 45.8]), crs=geo.WGS84)
    with pytest.raises(BadRequestError, match="UTM zone"):
        geo.to_metric(frame)


def test_check_same_crs():
    a = gpd.GeoDataFrame(geometry=gpd.points_from_xy([1], [2]), crs=4326)
    b = a.to_crs(32649)
    geo.check_same_crs(a, a)
    with pytest.raises(CRSMismatchError, match="different CRS"):
        geo.check_same_crs(a, b)

"""Datum conversion against Amap's own conversion service (the oracle in ../shared/data/coordconv), metric CRS
choice, and the geodesic "within r metres" / nearest index against brute-force pyproj Geod."""

from __future__ import annotations

import functools
import json
import math
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

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
    nan_lon, _nan_lat = geo.wgs84_to_gcj02(np.array([np.nan, 109.06]), np.array([34.27, 34.27]))
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


# --------------------------------------------------------------------------------------------------------------
# metric CRS choice


@pytest.mark.parametrize("lon, lat", [(109.06, 34.27), (75.99, 39.47), (108.0, 20.0), (-122.28, 37.80),
                                      (151.2, -33.9)])
def test_utm_crs_is_the_zone_geopandas_estimates(lon, lat):
    """The cached choice equals geopandas' (PROJ's) for a zone's inside, its edge (108 E) and both hemispheres."""
    frame = gpd.GeoSeries(gpd.points_from_xy([lon - 0.05, lon + 0.05], [lat - 0.05, lat + 0.05]), crs=geo.WGS84)
    expected = frame.estimate_utm_crs()
    assert geo.utm_crs(lon, lat) == expected
    assert geo.metric_crs(frame) == expected


def test_utm_crs_is_cached_and_checked():
    assert geo.utm_crs(109.06, 34.27) is geo.utm_crs(109.06, 34.27)
    with pytest.raises(BadRequestError, match="lon/lat"):
        geo.utm_crs(math.nan, 34.0)


# --------------------------------------------------------------------------------------------------------------
# within r metres and nearest: GeodesicIndex against brute force


def _brute(lon_a, lat_a, lon_b, lat_b) -> np.ndarray:
    """All-pairs geodesic distances (m), shape (len(a), len(b)), with pyproj Geod."""
    a, b = len(lon_a), len(lon_b)
    _, _, dist = geo.GEOD.inv(np.repeat(lon_a, b), np.repeat(lat_a, b), np.tile(lon_b, a), np.tile(lat_b, a))
    return np.asarray(dist).reshape(a, b)


def _cloud(centre: tuple[float, float], spread_m: float, offsets: list[tuple[float, float]]):
    """Points at (azimuth, fraction of `spread_m`) from `centre`, on the ellipsoid."""
    az = np.array([o[0] for o in offsets])
    dist = np.array([o[1] for o in offsets]) * spread_m
    lon, lat, _ = geo.GEOD.fwd(np.full(len(az), centre[0]), np.full(len(az), centre[1]), az, dist)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


# Centres anywhere, and where planar and spherical shortcuts break: across the antimeridian and at the poles.
_CENTRES = st.one_of(
    st.tuples(st.floats(-180, 180), st.floats(-90, 90)),
    st.tuples(st.one_of(st.floats(179.0, 180.0), st.floats(-180.0, -179.0)), st.floats(-80, 80)),
    st.tuples(st.floats(-180, 180), st.one_of(st.floats(88.5, 90.0), st.floats(-90.0, -88.5))),
    st.tuples(st.floats(73.0, 135.0), st.floats(18.0, 53.0)),
)
# Radii from a metre to 50 km, spread evenly on a log scale.
_RADII = st.floats(0.0, math.log(50_000.0)).map(math.exp)
_OFFSETS = st.lists(st.tuples(st.floats(-180, 180), st.one_of(st.floats(0.0, 3.0), st.just(1.0), st.just(0.0))),
                    min_size=1, max_size=30)


@settings(database=None, deadline=None, max_examples=80)
@given(centre=_CENTRES, radius_m=_RADII, points=_OFFSETS, queries=_OFFSETS)
def test_within_matches_brute_force_geodesic(centre, radius_m, points, queries):
    """Pairs, counts and neighbours equal an all-pairs pyproj Geod scan (points up to 3 radii apart)."""
    lon, lat = _cloud(centre, radius_m, points)
    q_lon, q_lat = _cloud(centre, radius_m, queries)
    index = geo.GeodesicIndex(lon, lat)
    dist = _brute(q_lon, q_lat, lon, lat)
    expected = np.nonzero(dist <= radius_m)

    for distances in (True, False):
        pairs = index.within(q_lon, q_lat, radius_m, distances=distances)
        np.testing.assert_array_equal(pairs.left, expected[0])
        np.testing.assert_array_equal(pairs.right, expected[1])
    np.testing.assert_allclose(index.within(q_lon, q_lat, radius_m).distance_m, dist[expected], rtol=0, atol=1e-6)
    for at_most in (1, 2, 3):
        np.testing.assert_array_equal(index.count_within(q_lon, q_lat, radius_m, at_most=at_most),
                                      np.minimum((dist <= radius_m).sum(axis=1), at_most))

    own = _brute(lon, lat, lon, lat)
    i, j = np.nonzero(np.triu(own <= radius_m, k=1))
    pairs = index.pairs_within(radius_m)
    np.testing.assert_array_equal(pairs.left, i)
    np.testing.assert_array_equal(pairs.right, j)
    np.testing.assert_allclose(pairs.distance_m, own[i, j], rtol=0, atol=1e-6)

    k = min(3, len(lon))
    rows, near_m = index.nearest_many(q_lon, q_lat, k=k)
    np.testing.assert_allclose(near_m, np.sort(dist, axis=1)[:, :k], rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(dist, rows, axis=1), near_m, rtol=0, atol=1e-6)
    _one_rows, one_m = index.nearest(q_lon[0], q_lat[0], k=k, max_distance_m=radius_m)
    np.testing.assert_allclose(one_m, np.sort(dist[0][dist[0] <= radius_m])[:k], rtol=0, atol=1e-6)


@settings(database=None, deadline=None, max_examples=40)
@given(centre=_CENTRES, radius_m=_RADII, n=st.integers(2, 40), seed=st.integers(0, 2**32 - 1))
def test_nearest_with_a_filter_matches_brute_force(centre, radius_m, n, seed):
    rng = np.random.default_rng(seed)
    lon, lat = _cloud(centre, radius_m, list(zip(rng.uniform(-180, 180, n), rng.uniform(0, 20, n), strict=True)))
    keep = rng.random(n) < 0.3
    index = geo.GeodesicIndex(lon, lat)
    dist = _brute(lon[:1], lat[:1], lon, lat)[0]
    rows, got = index.nearest(float(lon[0]), float(lat[0]), k=3, where=lambda r: keep[r])
    np.testing.assert_allclose(got, np.sort(dist[keep])[:3], rtol=0, atol=1e-6)
    assert keep[rows].all()


def test_within_is_exact_at_the_radius():
    """A point exactly r away by Geod is within; one a micrometre farther is not (at 1 m, 1 km and 50 km)."""
    for radius_m in (1.0, 1000.0, 50_000.0):
        lon, lat, _ = geo.GEOD.fwd([116.39, 116.39, 179.99], [39.9, 39.9, 89.9], [37.0, 37.0, 200.0],
                                   [radius_m, radius_m + 1e-6, radius_m])
        index = geo.GeodesicIndex(lon, lat)
        q_lon, q_lat = np.array([116.39, 116.39, 179.99]), np.array([39.9, 39.9, 89.9])
        d = np.diagonal(_brute(q_lon, q_lat, lon, lat))
        within = {(int(a), int(b)) for a, b in zip(*np.nonzero(_brute(q_lon, q_lat, lon, lat) <= radius_m),
                                                   strict=True)}
        got = index.within(q_lon, q_lat, radius_m, distances=False)
        assert set(zip(got.left.tolist(), got.right.tolist(), strict=True)) == within
        assert ((0, 0) in within) == (d[0] <= radius_m) and (1, 1) not in within
        counts = index.count_within(q_lon, q_lat, radius_m, at_most=3)
        assert counts.tolist() == [sum(1 for a, _ in within if a == i) for i in range(3)]


def test_index_refuses_bad_points_and_skips_bad_queries():
    with pytest.raises(BadRequestError, match="position 1"):
        geo.GeodesicIndex([116.0, math.nan], [39.0, 39.0])
    index = geo.GeodesicIndex([116.0, 116.01], [39.0, 39.0])
    assert index.count_within([math.nan, 116.0], [39.0, 39.0], 1000.0).tolist() == [0, 2]
    rows, dist = index.nearest_many([math.nan, 116.0], [39.0, 39.0], k=3)
    assert rows[0].tolist() == [-1, -1, -1] and rows[1].tolist() == [0, 1, -1] and np.isinf(dist[1, 2])
    with pytest.raises(BadRequestError, match="radius_m"):
        index.within([116.0], [39.0], -1.0)
    empty = geo.GeodesicIndex([], [])
    assert len(empty.within([116.0], [39.0], 10.0)) == 0 and empty.count_within([116.0], [39.0], 10.0).tolist() == [0]


# --------------------------------------------------------------------------------------------------------------
# datum round trips at China's edge


@functools.cache
def _china_region() -> shapely.Geometry:
    """The region `geo.in_china` tests against (shipped data), prepared."""
    text = resources.files("stationmap").joinpath("_data/china_region.geojson").read_text(encoding="utf-8")
    region = shapely.geometry.shape(json.loads(text)["geometry"])
    shapely.prepare(region)
    return region


@functools.cache
def _china_edge() -> shapely.Geometry:
    return shapely.boundary(_china_region())


_EDGE_POINTS = st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(-180, 180), st.floats(0.0, 3000.0)),
                        min_size=1, max_size=40)
_ROUND_TRIPS = [(geo.wgs84_to_gcj02, geo.gcj02_to_wgs84), (geo.wgs84_to_bd09, geo.bd09_to_wgs84),
                (geo.gcj02_to_bd09, geo.bd09_to_gcj02)]


@settings(database=None, deadline=None, max_examples=150)
@given(spots=_EDGE_POINTS)
def test_datum_round_trip_at_the_edge_of_china(spots):
    """
    Points up to 3 km either side of the region's edge (on it, too): inside ones round-trip below a millimetre,
    outside ones are left alone by the forward conversion.

    Outside points round-trip too, except where their coordinates are also the shifted image of a point inside:
    the forward conversion maps both to the same coordinates (it is not one-to-one in a band as wide as the shift,
    up to 0.7 km for GCJ-02 and 1.5 km for BD-09, along stretches of edge the shift points out of), and the
    inverse returns the inside point. So converting back and forth again reproduces what was converted.
    """
    where = shapely.line_interpolate_point(_china_edge(), [s[0] for s in spots], normalized=True)
    lon, lat, _ = geo.GEOD.fwd(shapely.get_x(where), shapely.get_y(where), [s[1] for s in spots],
                               [s[2] for s in spots])
    lon, lat = np.asarray(lon), np.asarray(lat)
    inside = geo.in_china(lon, lat)
    for forward, inverse in _ROUND_TRIPS:
        f_lon, f_lat = forward(lon, lat)
        b_lon, b_lat = inverse(f_lon, f_lat)
        err_m = np.asarray(geo.geodesic_distance_m(b_lon, b_lat, lon, lat))
        assert (err_m[inside] < 1e-3).all()
        np.testing.assert_array_equal(f_lon[~inside], lon[~inside])
        np.testing.assert_array_equal(f_lat[~inside], lat[~inside])
        moved = np.flatnonzero(~inside & (err_m > 0))
        # Moved only onto (or within 0.1 mm of) the region, to a point whose forward image is the one given.
        assert shapely.dwithin(_china_region(), shapely.points(b_lon[moved], b_lat[moved]), 1e-8).all()
        on_inside = moved[geo.in_china(b_lon[moved], b_lat[moved])]
        again_lon, again_lat = forward(b_lon[on_inside], b_lat[on_inside])
        assert (np.asarray(geo.geodesic_distance_m(again_lon, again_lat, lon[on_inside], lat[on_inside])) < 1e-3).all()

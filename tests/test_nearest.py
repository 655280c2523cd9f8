"""Nearest stations: exact geodesic ranking, filters, walking minutes, and agreement with brute force."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stationmap import geo
from stationmap.analysis.nearest import (
    WALKING_SPEED_M_PER_MIN,
    NearestIndex,
    NearestResult,
    nearest_stations,
)
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.errors import BadRequestError, CRSMismatchError
from stationmap.hours import TZ
from stationmap.stations import load_stations

MONDAY = datetime(2025, 6, 2, tzinfo=TZ)  # a Monday that is not a public holiday


@pytest.fixture(scope="module")
def fixture_stations(fixture_path) -> gpd.GeoDataFrame:
    return load_stations(fixture_path)


@pytest.fixture(scope="module")
def index(fixture_stations) -> NearestIndex:
    return NearestIndex(fixture_stations)


@pytest.fixture(scope="module")
def bundled() -> gpd.GeoDataFrame:
    import pandas as pd

    frames = [load_stations(p) for p in sorted((BUNDLED_DATA_DIR / "stations").glob("*.geojson"))]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=geo.WGS84)


def _brute_force(stations: gpd.GeoDataFrame, lon: float, lat: float) -> np.ndarray:
    n = len(stations)
    _, _, dist = geo.GEOD.inv(np.full(n, lon), np.full(n, lat), stations.geometry.x.to_numpy(),
                              stations.geometry.y.to_numpy())
    return np.asarray(dist)


def test_nearest_from_t1_orders_by_distance(index):
    result = index.query(109.06, 34.27, k=5)
    assert isinstance(result, NearestResult)
    assert [s.station_id for s in result.stations] == ["T-1", "T-2", "T-3", "T-4", "T-5"]
    assert [round(s.distance_m, 1) for s in result.stations] == [0.0, 500.0, 999.9, 1500.0, 3000.0]
    assert "geodesic" in result.method


def test_result_types_are_frozen(index):
    result = index.query(109.06, 34.27, k=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.stations[0].distance_m = 1.0  # type: ignore[misc]


def test_walking_minutes_round_up_at_documented_speed(index):
    result = index.query(109.06, 34.27, k=5)
    assert WALKING_SPEED_M_PER_MIN == 75.0
    assert [s.walk_min for s in result.stations] == [1, 7, 14, 20, 40]


def test_max_distance_m_cuts_off(index):
    ids = [s.station_id for s in index.query(109.06, 34.27, k=5, max_distance_m=1200).stations]
    assert ids == ["T-1", "T-2", "T-3"]
    assert index.query(109.06, 34.27, k=5, max_distance_m=0).stations[0].station_id == "T-1"


def test_amenity_filter(index):
    result = index.query(109.065429, 34.27, k=5, amenities=["aed"])
    assert [s.station_id for s in result.stations] == ["T-1"]


def test_open_at_filter_uses_hours_and_status(index):
    early = index.query(109.06, 34.27, k=5, open_at=MONDAY.replace(hour=5, minute=30))
    assert [s.station_id for s in early.stations] == ["T-1", "T-3"]
    noon = index.query(109.06, 34.27, k=5, open_at=MONDAY.replace(hour=12))
    assert [s.station_id for s in noon.stations] == ["T-1", "T-3", "T-4"]


def test_min_stars_filter(index):
    assert [s.station_id for s in index.query(109.06, 34.27, k=5, min_stars=3).stations] == ["T-1", "T-2"]


def test_filter_mask_whole_set(index):
    mask = index.filter_mask(open_at=MONDAY.replace(hour=4, minute=30))
    assert mask.tolist() == [True, False, False, False, False]
    assert index.filter_mask() is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"lon": math.nan, "lat": 34.0}, "lon"),
        ({"lon": 109.0, "lat": 91.0}, "lat"),
        ({"lon": 109.0, "lat": math.inf}, "lat"),
        ({"lon": "x", "lat": 34.0}, "lon must be a number"),
        ({"lon": 109.0, "lat": 34.0, "k": 0}, "k must be"),
        ({"lon": 109.0, "lat": 34.0, "k": True}, "k must be"),
        ({"lon": 109.0, "lat": 34.0, "amenities": ["drinking_wter"]}, "did you mean 'drinking_water'"),
        ({"lon": 109.0, "lat": 34.0, "min_stars": 6}, "min_stars"),
        ({"lon": 109.0, "lat": 34.0, "max_distance_m": -1.0}, "max_distance_m"),
        ({"lon": 109.0, "lat": 34.0, "max_distance_m": math.nan}, "max_distance_m"),
        ({"lon": 109.0, "lat": 34.0, "open_at": "25:00"}, "25:00"),
    ],
)
def test_bad_input_raises_bad_request(index, kwargs, fragment):
    with pytest.raises(BadRequestError, match=fragment):
        index.query(**kwargs)


def test_requires_wgs84(fixture_stations):
    with pytest.raises(CRSMismatchError):
        NearestIndex(fixture_stations.to_crs(32649))


def test_empty_index_returns_nothing(fixture_stations):
    assert NearestIndex(fixture_stations.iloc[:0]).query(109.0, 34.0).stations == ()


def test_k_larger_than_set(index):
    assert len(index.query(100.0, 30.0, k=50).stations) == 5


def test_convenience_function(fixture_stations):
    assert nearest_stations(fixture_stations, 109.0834, 34.2891, k=1).stations[0].station_id == "T-5"


def test_matches_brute_force_on_bundled_data(bundled):
    index = NearestIndex(bundled)
    rng = np.random.default_rng(7)
    bounds = bundled.total_bounds
    for lon, lat in zip(rng.uniform(bounds[0] - 1, bounds[2] + 1, 60), rng.uniform(bounds[1] - 1, bounds[3] + 1, 60),
                        strict=True):
        result = index.query(lon, lat, k=7)
        expected = np.sort(_brute_force(bundled, lon, lat))[:7]
        got = np.array([s.distance_m for s in result.stations])
        assert np.abs(got - expected).max() < 1.0


def test_matches_brute_force_with_filters(bundled):
    index = NearestIndex(bundled)
    when = MONDAY.replace(hour=5, minute=10)
    mask = index.filter_mask(amenities=["drinking_water"], open_at=when)
    for lon, lat in [(109.06, 34.27), (102.8, 25.0), (110.3, 25.27), (104.6, 28.7), (120.0, 30.0)]:
        result = index.query(lon, lat, k=4, amenities=["drinking_water"], open_at=when)
        dist = _brute_force(bundled, lon, lat)
        dist[~mask] = np.inf
        expected = np.sort(dist)[: min(4, int(mask.sum()))]
        assert np.allclose([s.distance_m for s in result.stations], expected, atol=1.0)


def test_query_many_matches_single_queries(bundled):
    index = NearestIndex(bundled)
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(100, 112, 40), rng.uniform(23, 36, 40)
    bulk = index.query_many(lon, lat, k=3)
    assert bulk.rows.shape == (40, 3)
    for i in range(40):
        assert np.allclose(bulk.distance_m[i], np.sort(_brute_force(bundled, lon[i], lat[i]))[:3], atol=1e-6)


def test_query_many_rejects_nan(index):
    with pytest.raises(BadRequestError, match="position 1"):
        index.query_many([109.0, math.nan], [34.0, 34.0])


def _far_flung_stations(lons: list[float], lats: list[float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": [f"S{i}" for i in range(len(lons))], "name": "x"},
                            geometry=gpd.points_from_xy(lons, lats), crs=geo.WGS84)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    points=st.lists(st.tuples(st.floats(73.0, 135.0), st.floats(18.0, 53.0)), min_size=1, max_size=60),
    query=st.tuples(st.floats(73.0, 135.0), st.floats(18.0, 53.0)),
    k=st.integers(1, 8),
)
def test_never_returns_a_station_farther_than_one_left_out(points, query, k):
    stations = _far_flung_stations([p[0] for p in points], [p[1] for p in points])
    result = NearestIndex(stations).query(query[0], query[1], k=k)
    returned = {s.station_id for s in result.stations}
    assert len(returned) == min(k, len(points))
    dist = _brute_force(stations, *query)
    worst_returned = max(s.distance_m for s in result.stations)
    left_out = [d for sid, d in zip(stations["id"], dist, strict=True) if sid not in returned]
    assert all(worst_returned <= d + 1e-6 for d in left_out)
    assert [s.distance_m for s in result.stations] == sorted(s.distance_m for s in result.stations)


def test_toilet_filter(index):
    ids = [s.station_id for s in index.query(109.06, 34.27, k=5, toilet=["onsite"]).stations]
    assert ids == ["T-1", "T-3"]
    with pytest.raises(BadRequestError, match="toilet"):
        index.query(109.06, 34.27, toilet=["inside"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    points=st.lists(st.tuples(st.floats(100.0, 112.0), st.floats(20.0, 35.0), st.integers(0, 5)),
                    min_size=1, max_size=80),
    query=st.tuples(st.floats(100.0, 112.0), st.floats(20.0, 35.0)),
    k=st.integers(1, 6),
    min_stars=st.integers(0, 5),
    max_distance_m=st.one_of(st.none(), st.floats(0.0, 2_000_000.0)),
)
def test_filtered_nearest_never_skips_a_closer_match(points, query, k, min_stars, max_distance_m):
    stations = _far_flung_stations([p[0] for p in points], [p[1] for p in points])
    stations["stars"] = [p[2] for p in points]
    result = NearestIndex(stations).query(query[0], query[1], k=k, min_stars=min_stars,
                                          max_distance_m=max_distance_m)
    dist = _brute_force(stations, *query)
    limit = math.inf if max_distance_m is None else max_distance_m
    ok = (stations["stars"].to_numpy() >= min_stars) & (dist <= limit)
    expected = np.sort(dist[ok])[:k]
    assert np.allclose([s.distance_m for s in result.stations], expected)


def test_for_need_agrees_with_brute_force_on_bundled_data(bundled):
    from stationmap import hours
    from stationmap.needs import MODES, NEEDS

    rider = NEEDS["delivery_rider"]
    index = NearestIndex(bundled)
    moment = "2025-06-03T12:00:00+08:00"
    for lon, lat in ((102.75, 25.0), (102.80, 24.96), (110.30, 25.27)):
        result = index.for_need(lon, lat, rider, k=50, moment=moment)
        assert result.mode is MODES["ebike"] and result.cap_m == 10_000
        _, _, dist = geo.GEOD.inv(np.full(len(bundled), lon), np.full(len(bundled), lat),
                                  bundled.geometry.x.to_numpy(), bundled.geometry.y.to_numpy())
        expected = []
        for (_, row), metres in zip(bundled.iterrows(), dist, strict=True):
            has = set(row["amenities"])
            if metres <= 10_000 and has & {"battery_swap", "ebike_charging"}:
                closed = 0 if hours.hours_state(row, moment) == "open" else 15
                expected.append((metres / 250 + closed - 2 * len(has & set(rider.plus)), metres, row["id"]))
        assert [m.station_id for m in result.stations] == [i for _, _, i in sorted(expected)]
        assert all(not m.missing for m in result.stations)
        assert result.partial == () or not result.stations

"""The map view's prepared lookups (sorted bbox index, per-zoom cluster cells) answer as a plain computation does."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
from werkzeug.datastructures import MultiDict

from stationmap import geo
from stationmap.config import Settings
from stationmap.web import queries
from stationmap.web.state import AppState, state_from_stations

NOW = datetime.fromisoformat("2026-03-04T10:30:00+08:00")
HOURS = ["Mo-Su 08:00-20:00", "24/7", None, "Mo-Fr 09:00-17:00", "Sa,Su 10:00-16:00"]
STATUSES = [None, None, None, "closed", "temporarily_closed"]
HONOURS: list[Any] = [None, [], [{"level": "city"}], [{"level": "city"}, {"level": "national"}],
                      [{"level": "provincial"}, {"level": "other"}]]
RANK = {"national": 3, "provincial": 2, "city": 1}


def _random_state(seed: int, n: int = 400) -> AppState:
    rng = np.random.default_rng(seed)
    centres = rng.uniform([100, 20], [120, 40], size=(6, 2))
    which = rng.integers(0, len(centres), n)
    lon = centres[which, 0] + rng.normal(0, 0.3, n)
    lat = centres[which, 1] + rng.normal(0, 0.3, n)
    lon[:20], lat[:20] = lon[20:40], lat[20:40]  # shared positions: the same cell, bbox edges hit exactly
    stations = gpd.GeoDataFrame(
        {
            "id": [f"S-{i}" for i in range(n)],
            "name": [f"站 {i}" for i in range(n)],
            "stars": rng.integers(0, 6, n),
            "opening_hours": [HOURS[i] for i in rng.integers(0, len(HOURS), n)],
            "status": [STATUSES[i] for i in rng.integers(0, len(STATUSES), n)],
            "honours": [HONOURS[i] for i in rng.integers(0, len(HONOURS), n)],
        },
        geometry=gpd.points_from_xy(lon, lat), crs=geo.WGS84,
    )
    return state_from_stations(Settings(), stations)


def _plain_view(state: AppState, bbox: tuple[float, float, float, float], zoom: int, *, datum: str,
                min_stars: int) -> dict[str, Any]:
    """The view computed the straightforward way: a mask over every station, np.unique over the rows."""
    west, south, east, north = bbox
    lon_all, lat_all = state.index.lon, state.index.lat
    mask = (lon_all >= west) & (lon_all <= east) & (lat_all >= south) & (lat_all <= north)
    mask &= state.index.stars >= min_stars
    rows = np.flatnonzero(mask)
    lon, lat = lon_all[rows], lat_all[rows]
    if datum != "wgs84" and len(rows):
        lon, lat = geo.convert_coords(lon, lat, src="wgs84", dst=datum)
    if len(rows) <= queries.POINTS_LIMIT:
        open_now = state.index.filter_mask(open_at=NOW)
        assert open_now is not None
        items = []
        for r, x, y in zip(rows, lon, lat, strict=True):
            honours = state.stations["honours"].iloc[r]
            levels = [h["level"] for h in honours or [] if h.get("level") in RANK]
            items.append({"id": str(state.index.ids[r]), "name": str(state.index.names[r]),
                          "lon": round(float(x), 7), "lat": round(float(y), 7), "stars": int(state.index.stars[r]),
                          "open": bool(open_now[r]), "honour": max(levels, key=RANK.__getitem__, default=None)})
        return {"mode": "points", "total": len(rows), "items": items}
    cell = 360.0 / (256 * 2 ** zoom) * queries.CLUSTER_CELL_PX
    keys = np.floor(lon / cell).astype(np.int64) * 10_000_000 + np.floor(lat / cell).astype(np.int64)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    mean_lon = np.bincount(inverse, weights=lon) / counts
    mean_lat = np.bincount(inverse, weights=lat) / counts
    items = [{"lon": round(float(x), 6), "lat": round(float(y), 6), "count": int(c)}
             for x, y, c in zip(mean_lon, mean_lat, counts, strict=True) if math.isfinite(x) and math.isfinite(y)]
    return {"mode": "clusters", "total": len(rows), "cell_deg": cell, "items": items}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("points_limit", [10_000, 25])
def test_view_matches_plain_computation(seed, points_limit, monkeypatch):
    monkeypatch.setattr(queries, "POINTS_LIMIT", points_limit)
    state = _random_state(seed)
    rng = np.random.default_rng(100 + seed)
    lon, lat = state.index.lon, state.index.lat
    boxes = [(-180.0, -90.0, 180.0, 90.0), (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))]
    for _ in range(40):
        a, b = rng.integers(0, len(lon), 2)  # corners on stations: edges are inclusive
        boxes.append((min(lon[a], lon[b]), min(lat[a], lat[b]), max(lon[a], lon[b]), max(lat[a], lat[b])))
        w, s = rng.uniform([98, 18], [122, 42])
        d = rng.uniform(0.05, 15)
        boxes.append((w, s, w + d, s + d))
    for bbox in boxes:
        zoom = int(rng.integers(0, 23))
        datum = "gcj02" if rng.random() < 0.25 else "wgs84"
        min_stars = int(rng.integers(0, 4)) if rng.random() < 0.3 else 0
        args = MultiDict({"bbox": ",".join(repr(float(v)) for v in bbox), "zoom": str(zoom), "map_datum": datum})
        if min_stars:
            args["min_stars"] = str(min_stars)
        got = queries.view(state, args, now=NOW)
        want = _plain_view(state, bbox, zoom, datum=datum, min_stars=min_stars)
        assert {k: got[k] for k in want} == want, (bbox, zoom, datum, min_stars)


def test_rows_in_bbox_is_file_order_and_inclusive():
    state = _random_state(7)
    lon, lat = state.index.lon, state.index.lat
    for west, south, east, north in [(lon[3], lat[3], lon[3], lat[3]), (100.0, 20.0, 121.0, 41.0),
                                     (110.0, 30.0, 109.0, 31.0), (0.0, 0.0, 1.0, 1.0)]:
        want = np.flatnonzero((lon >= west) & (lon <= east) & (lat >= south) & (lat <= north))
        np.testing.assert_array_equal(state.rows_in_bbox(west, south, east, north), want)


def test_view_of_empty_register():
    stations = gpd.GeoDataFrame({"id": [], "name": []}, geometry=gpd.points_from_xy([], []), crs=geo.WGS84)
    state = state_from_stations(Settings(), stations)
    body = queries.view(state, MultiDict({"bbox": "70,15,140,55", "zoom": "4"}), now=NOW)
    assert body["mode"] == "points" and body["total"] == 0 and body["items"] == []

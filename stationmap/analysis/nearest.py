"""Nearest stations by true geodesic distance on the WGS-84 ellipsoid, anywhere in China.

How it stays exact at national scale, where no single UTM zone is right: stations go once per station set into
`stationmap.geo.GeodesicIndex`, a k-d tree over earth-centred coordinates on the WGS-84 ellipsoid. The tree
finds candidates anywhere, across zones, in chord order; their distances are measured on the ellipsoid with
pyproj ``Geod`` (``stationmap.geo.GEOD``); and since a chord is never longer than the geodesic, every station
whose chord is shorter than the k-th distance found is measured too. The answer is therefore identical to a
brute-force geodesic scan.

Filters (amenities, open at a time, minimum stars, a maximum distance) are applied to candidates, widening the
search until `k` stations pass or none are left. `NearestIndex.for_need` answers a worker's needs instead
(`stationmap.needs`): every station within the travel mode's distance cap, those meeting every need ranked by
`stationmap.needs.score`, and when none does, the nearest that meet some, with what they lack. Walking minutes use `WALKING_SPEED_M_PER_MIN` (75 m per
minute, 4.5 km/h: the design's "15 minutes' walk is about 1,100-1,200 m").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from stationmap import geo, hours
from stationmap.errors import BadRequestError, CRSMismatchError, EmptyInputError
from stationmap.needs import MODES, Need, TravelMode, missing_groups, score, travel_min
from stationmap.schema import AMENITIES, TOILET

__all__ = [
    "DISTANCE_METHOD",
    "WALKING_SPEED_M_PER_MIN",
    "BulkNearest",
    "NearestIndex",
    "NearestResult",
    "NearestStation",
    "NeedMatch",
    "NeedResult",
    "nearest_stations",
]

#: Walking speed used for walking minutes: 75 m/min = 4.5 km/h, a loaded worker's unhurried pace.
WALKING_SPEED_M_PER_MIN = 75.0
#: How distances are measured, as the API reports it.
DISTANCE_METHOD = "geodesic (WGS-84 ellipsoid, pyproj Geod); straight line, not along streets"


@dataclass(frozen=True)
class NearestStation:
    """
    One station in a nearest-stations answer.

    Attributes
    ----------
    row
        Position of the station in the frame the index was built from (``iloc``).
    station_id
        The station's ``id``.
    name
        The station's name.
    lon, lat
        WGS-84 degrees.
    distance_m
        Geodesic distance from the query point on the WGS-84 ellipsoid, in meters.
    walk_min
        Walking minutes at `WALKING_SPEED_M_PER_MIN`, rounded up to whole minutes (at least 1).
    """

    row: int
    station_id: str
    name: str
    lon: float
    lat: float
    distance_m: float
    walk_min: int


@dataclass(frozen=True)
class NearestResult:
    """
    The nearest stations to a point, nearest first.

    Attributes
    ----------
    lon, lat
        The query point, WGS-84 degrees.
    stations
        Up to `k` stations that pass the filters, by increasing geodesic distance (ties by id).
    method
        How distances were measured (`DISTANCE_METHOD`).
    walking_speed_m_per_min
        The speed behind ``walk_min``.
    """

    lon: float
    lat: float
    stations: tuple[NearestStation, ...]
    method: str = DISTANCE_METHOD
    walking_speed_m_per_min: float = WALKING_SPEED_M_PER_MIN


@dataclass(frozen=True)
class NeedMatch:
    """
    One station in a needs answer.

    Attributes
    ----------
    row
        Position of the station in the indexed frame (``iloc``).
    station_id, name
        The station's ``id`` and name.
    lon, lat
        WGS-84 degrees.
    distance_m
        Geodesic (straight-line) distance from the query point, metres.
    travel_min
        Whole minutes at the mode's speed, rounded up (`stationmap.needs.travel_min`).
    score
        `stationmap.needs.score`, minutes; lower ranks first.
    is_open
        Open at the moment asked about: True, False, or None when the hours are unknown.
    matched
        The need's wanted and plus amenity keys the station has, in the need's order.
    missing
        Keys of the need's groups the station does not meet; empty for a full match.
    """

    row: int
    station_id: str
    name: str
    lon: float
    lat: float
    distance_m: float
    travel_min: int
    score: float
    is_open: bool | None
    matched: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class NeedResult:
    """
    The stations that meet a worker's needs near a point, best first, or the nearest partial matches.

    Attributes
    ----------
    lon, lat
        The query point, WGS-84 degrees.
    need, mode
        What was asked.
    cap_m
        The distance searched, metres: the mode's cap, or a smaller ``max_distance_m``.
    moment
        When open/closed was judged.
    open_required
        Whether being open at `moment` was required (a group ``open``).
    stations
        Up to `k` stations meeting every need within `cap_m`, by score, then distance, then id.
    partial
        Empty when `stations` is not; otherwise the stations within `cap_m` that miss some needs, fewest missing
        first, then by score.
    """

    lon: float
    lat: float
    need: Need
    mode: TravelMode
    cap_m: float
    moment: datetime
    open_required: bool
    stations: tuple[NeedMatch, ...]
    partial: tuple[NeedMatch, ...]


@dataclass(frozen=True)
class BulkNearest:
    """
    The nearest `k` stations for many points at once.

    Attributes
    ----------
    rows
        ``(n_points, k)`` positions (``iloc``) of the stations, nearest first.
    distance_m
        ``(n_points, k)`` geodesic distances in meters on the WGS-84 ellipsoid.
    """

    rows: NDArray[np.intp]
    distance_m: NDArray[np.float64]


def _walk_min(distance_m: float) -> int:
    return max(1, math.ceil(distance_m / WALKING_SPEED_M_PER_MIN))


def _check_point(lon: object, lat: object) -> tuple[float, float]:
    problems = []
    values = []
    for name, value, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            problems.append(f"{name} must be a number, got {value!r}")
            values.append(math.nan)
            continue
        if not math.isfinite(number) or abs(number) > limit:
            problems.append(f"{name} must be a finite number between -{limit:g} and {limit:g}, got {value!r}")
        values.append(number)
    if problems:
        msg = "; ".join(problems)
        raise BadRequestError(msg)
    return values[0], values[1]


class NearestIndex:
    """
    A spatial index over one station set, built once and queried many times.

    Parameters
    ----------
    stations
        Station points in EPSG:4326 with at least ``id``; ``name``, ``amenities`` (list of keys), ``stars``,
        ``opening_hours`` and ``status`` are used by the filters when present.

    Raises
    ------
    CRSMismatchError
        If `stations` is not in EPSG:4326.
    EmptyInputError
        If a geometry is missing or not a point.
    """

    def __init__(self, stations: gpd.GeoDataFrame) -> None:
        if stations.crs is None or not stations.crs.equals(geo.WGS84):
            msg = f"Stations must be in EPSG:4326 for the nearest index, found {stations.crs}."
            raise CRSMismatchError(msg)
        geometry = stations.geometry
        if len(stations) and (geometry.isna().any() or not (geometry.geom_type == "Point").all()):
            msg = "Every station needs a point geometry for the nearest index."
            raise EmptyInputError(msg)
        self.stations = stations
        self.lon = geometry.x.to_numpy(dtype=float) if len(stations) else np.empty(0)
        self.lat = geometry.y.to_numpy(dtype=float) if len(stations) else np.empty(0)
        self.ids = stations["id"].astype(str).to_numpy() if len(stations) else np.empty(0, dtype=object)
        self.names = (stations["name"].astype(str).to_numpy() if "name" in stations
                      else np.full(len(stations), "", dtype=object))
        self.stars = (pd.to_numeric(stations["stars"], errors="coerce").fillna(0).to_numpy(dtype=int)
                      if "stars" in stations else np.zeros(len(stations), dtype=int))
        self.amenity_matrix = _amenity_matrix(stations)
        self.toilet = (stations["toilet"].astype(object).to_numpy() if "toilet" in stations
                       else np.full(len(stations), None, dtype=object))
        self.kinds = (stations["kind"].astype(object).to_numpy() if "kind" in stations
                      else np.full(len(stations), None, dtype=object))
        hours_col = stations["opening_hours"] if "opening_hours" in stations else pd.Series([None] * len(stations))
        self._hours_codes, self._hours_uniques = pd.factorize(hours_col.astype(object), use_na_sentinel=True)
        status = stations["status"] if "status" in stations else pd.Series([None] * len(stations))
        self._shut = status.isin(["closed", "temporarily_closed"]).to_numpy()
        self._geo = geo.GeodesicIndex(self.lon, self.lat)

    def __len__(self) -> int:
        return len(self.lon)

    # -- filters ------------------------------------------------------------------------------------------

    def filter_mask(self, *, amenities: Sequence[str] = (), open_at: datetime | str | None = None,
                    min_stars: int = 0, toilet: Sequence[str] = ()) -> NDArray[np.bool_] | None:
        """
        Return which stations pass the filters, or None if no filter is set.

        Parameters
        ----------
        amenities
            Amenity keys every returned station must have.
        open_at
            Keep stations open at this moment (anything `stationmap.hours.resolve_when` accepts).
        min_stars
            Keep stations with at least this many stars (0-5).
        toilet
            Keep stations whose ``toilet`` is one of these (``onsite``, ``nearby``, ``none``); empty keeps all.

        Raises
        ------
        BadRequestError
            If an amenity or toilet key is unknown, `min_stars` is outside 0-5, or `open_at` cannot be read.
        """
        test = self._filter(amenities=amenities, open_at=open_at, min_stars=min_stars, toilet=toilet)
        return None if test is None else test(np.arange(len(self)))

    def _filter(self, *, amenities: Sequence[str], open_at: datetime | str | None, min_stars: int,
                toilet: Sequence[str] = ()) -> Callable[[NDArray[np.intp]], NDArray[np.bool_]] | None:
        """Return a test of station rows against the filters (None if there are none), validating them."""
        columns = _amenity_columns(amenities)
        toilets = (toilet,) if isinstance(toilet, str) else tuple(toilet)
        unknown = [t for t in toilets if t not in TOILET]
        if unknown:
            msg = "; ".join(TOILET.unknown_message(t) for t in unknown)
            raise BadRequestError(msg)
        if isinstance(min_stars, bool) or not isinstance(min_stars, (int, np.integer)) or not 0 <= min_stars <= 5:
            msg = f"min_stars must be a whole number from 0 to 5, got {min_stars!r}"
            raise BadRequestError(msg)
        open_lookup = None
        if open_at is not None:
            per_unique = hours.open_mask(list(self._hours_uniques), None, open_at)
            open_lookup = np.append(per_unique, False)  # code -1 (missing hours) is never open
        if not columns and not min_stars and open_lookup is None and not toilets:
            return None

        def test(rows: NDArray[np.intp]) -> NDArray[np.bool_]:
            ok = np.ones(len(rows), dtype=bool)
            if columns:
                ok &= self.amenity_matrix[rows][:, columns].all(axis=1)
            if min_stars:
                ok &= self.stars[rows] >= min_stars
            if open_lookup is not None:
                ok &= open_lookup[self._hours_codes[rows]] & ~self._shut[rows]
            if toilets:
                ok &= np.isin(self.toilet[rows], toilets)
            return ok

        return test

    # -- queries ------------------------------------------------------------------------------------------

    def query(self, lon: float, lat: float, *, k: int = 5, amenities: Sequence[str] = (),
              open_at: datetime | str | None = None, min_stars: int = 0, toilet: Sequence[str] = (),
              max_distance_m: float | None = None) -> NearestResult:
        """
        Return the `k` stations nearest to a point that pass the filters, by geodesic distance.

        Parameters
        ----------
        lon, lat
            Query point, WGS-84 degrees.
        k
            Number of stations wanted (at least 1).
        amenities
            Amenity keys every returned station must have (e.g. ``("drinking_water", "meal_heating")``).
        open_at
            Keep stations open at this moment: a datetime, ISO 8601 string or ``"HH:MM"`` (Asia/Shanghai).
        min_stars
            Keep stations with at least this many stars.
        toilet
            Keep stations whose ``toilet`` is one of these (``onsite``, ``nearby``, ``none``).
        max_distance_m
            Keep stations at most this far, in meters.

        Returns
        -------
        result
            The stations nearest first, with geodesic meters and walking minutes.

        Raises
        ------
        BadRequestError
            If the point is not finite and in range, `k` is below 1, `max_distance_m` is negative or not
            finite, or a filter is invalid.
        """
        lon, lat = _check_point(lon, lat)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            msg = f"k must be a whole number of at least 1, got {k!r}"
            raise BadRequestError(msg)
        if max_distance_m is not None and (not math.isfinite(max_distance_m) or max_distance_m < 0):
            msg = f"max_distance_m must be a finite number of meters >= 0, got {max_distance_m!r}"
            raise BadRequestError(msg)
        test = self._filter(amenities=amenities, open_at=open_at, min_stars=min_stars, toilet=toilet)
        rows, dist = self._search(lon, lat, k=int(k), test=test, max_distance_m=max_distance_m)
        found = tuple(
            NearestStation(row=int(r), station_id=str(self.ids[r]), name=str(self.names[r]),
                           lon=float(self.lon[r]), lat=float(self.lat[r]), distance_m=float(d),
                           walk_min=_walk_min(float(d)))
            for r, d in zip(rows, dist, strict=True)
        )
        return NearestResult(lon=lon, lat=lat, stations=found)

    def for_need(self, lon: float, lat: float, need: Need, *, mode: TravelMode | None = None, k: int = 5,
                 moment: datetime | str | None = None, open_required: bool = False, amenities: Sequence[str] = (),
                 min_stars: int = 0, toilet: Sequence[str] = (), max_distance_m: float | None = None,
                 n_partial: int = 3) -> NeedResult:
        """
        Return the stations that meet a worker's needs within reach of a point, ranked by `stationmap.needs.score`.

        Parameters
        ----------
        lon, lat
            Query point, WGS-84 degrees.
        need
            What the worker needs (`stationmap.needs.NEEDS`).
        mode
            How the worker travels; default the need's `default_mode`. Its `cap_m` bounds the search.
        k
            Most stations returned (at least 1).
        moment
            When open/closed is judged (anything `stationmap.hours.resolve_when` accepts; None: now).
        open_required
            Whether a station must be open at `moment` (reported as the group ``open`` when it is not).
        amenities, min_stars, toilet
            Hard filters as in `query`: a station failing one is neither offered nor a partial match.
        max_distance_m
            Search no farther than this, metres, when smaller than the mode's cap.
        n_partial
            Most partial matches returned when no station meets every need.

        Returns
        -------
        result
            The full matches, or when there are none, the partial ones.

        Raises
        ------
        BadRequestError
            As `query`.
        """
        lon, lat = _check_point(lon, lat)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            msg = f"k must be a whole number of at least 1, got {k!r}"
            raise BadRequestError(msg)
        if max_distance_m is not None and (not math.isfinite(max_distance_m) or max_distance_m < 0):
            msg = f"max_distance_m must be a finite number of meters >= 0, got {max_distance_m!r}"
            raise BadRequestError(msg)
        mode = mode or MODES[need.default_mode]
        cap_m = mode.cap_m if max_distance_m is None else min(mode.cap_m, max_distance_m)
        when = hours.resolve_when(moment)
        test = self._filter(amenities=amenities, open_at=None, min_stars=min_stars, toilet=toilet)
        if len(self):
            pairs = self._geo.within([lon], [lat], cap_m)
            rows = np.asarray(pairs.right, dtype=np.intp)
            dist = np.asarray(pairs.distance_m, dtype=float)
        else:
            rows, dist = np.empty(0, dtype=np.intp), np.empty(0)
        if test is not None and len(rows):
            keep = test(rows)
            rows, dist = rows[keep], dist[keep]
        lookup = np.append(hours.open_mask(list(self._hours_uniques), None, when), False)
        opened = lookup[self._hours_codes[rows]] & ~self._shut[rows]
        unknown = (self._hours_codes[rows] < 0) & ~self._shut[rows]
        keys = AMENITIES.keys
        plus = set(need.plus)
        full: list[NeedMatch] = []
        part: list[NeedMatch] = []
        for r, d, is_open, no_hours in zip(rows.tolist(), dist.tolist(), opened.tolist(), unknown.tolist(),
                                           strict=True):
            has = {keys[c] for c in np.flatnonzero(self.amenity_matrix[r])}
            state: bool | None = None if no_hours else bool(is_open)
            toilet_value = self.toilet[r] if isinstance(self.toilet[r], str) else None
            kind = self.kinds[r] if isinstance(self.kinds[r], str) else None
            missing = missing_groups(need, has, toilet_value, kind, open_required=open_required, is_open=state)
            found = NeedMatch(
                row=int(r), station_id=str(self.ids[r]), name=str(self.names[r]), lon=float(self.lon[r]),
                lat=float(self.lat[r]), distance_m=float(d), travel_min=travel_min(float(d), mode),
                score=score(float(d), mode=mode, is_open=state, n_plus=len(has & plus)), is_open=state,
                matched=tuple(a for a in need.wanted if a in has), missing=missing)
            (part if missing else full).append(found)
        full.sort(key=lambda m: (m.score, m.distance_m, m.station_id))
        part.sort(key=lambda m: (len(m.missing), m.score, m.distance_m, m.station_id))
        return NeedResult(lon=lon, lat=lat, need=need, mode=mode, cap_m=float(cap_m), moment=when,
                          open_required=open_required, stations=tuple(full[:int(k)]),
                          partial=() if full else tuple(part[:n_partial]))

    def _search(self, lon: float, lat: float, *, k: int, test: Callable[[NDArray[np.intp]], NDArray[np.bool_]] | None,
                max_distance_m: float | None) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Return the `k` nearest rows passing `test` and their geodesic metres, ties broken by id."""
        return self._geo.nearest(lon, lat, k=k, where=test, max_distance_m=max_distance_m, tiebreak=self.ids)

    def query_many(self, lon: ArrayLike, lat: ArrayLike, *, k: int = 1) -> BulkNearest:
        """
        Return the `k` nearest stations for many points at once, by geodesic distance, without filters.

        Parameters
        ----------
        lon, lat
            Query points, WGS-84 degrees, 1-D arrays of equal length.
        k
            Stations per point (at most the number of stations).

        Returns
        -------
        bulk
            Rows and geodesic meters, each ``(n_points, k)``, nearest first.

        Raises
        ------
        BadRequestError
            If a point is not finite or out of range, the arrays differ in length, or `k` is out of range.
        EmptyInputError
            If the index holds no stations.
        """
        lon_a, lat_a = np.atleast_1d(np.asarray(lon, dtype=float)), np.atleast_1d(np.asarray(lat, dtype=float))
        if lon_a.shape != lat_a.shape or lon_a.ndim != 1:
            msg = f"lon and lat must be 1-D arrays of equal length, got shapes {lon_a.shape} and {lat_a.shape}"
            raise BadRequestError(msg)
        bad = ~(np.isfinite(lon_a) & np.isfinite(lat_a) & (np.abs(lon_a) <= 180) & (np.abs(lat_a) <= 90))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            msg = f"{int(bad.sum())} query points are not finite WGS-84 lon/lat, the first at position {first}"
            raise BadRequestError(msg)
        n = len(self)
        if n == 0:
            msg = "The nearest index holds no stations."
            raise EmptyInputError(msg)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
            msg = f"k must be a whole number from 1 to {n}, got {k!r}"
            raise BadRequestError(msg)
        rows, dist = self._geo.nearest_many(lon_a, lat_a, k=int(k))
        return BulkNearest(rows=rows, distance_m=dist)


def _amenity_columns(amenities: Sequence[str]) -> list[int]:
    if isinstance(amenities, str):
        amenities = (amenities,)
    unknown = [a for a in amenities if a not in AMENITIES]
    if unknown:
        msg = "; ".join(AMENITIES.unknown_message(a) for a in unknown)
        raise BadRequestError(msg)
    keys = AMENITIES.keys
    return sorted({keys.index(a) for a in amenities})


def _amenity_matrix(stations: gpd.GeoDataFrame) -> NDArray[np.bool_]:
    keys = AMENITIES.keys
    matrix = np.zeros((len(stations), len(keys)), dtype=bool)
    if "amenities" not in stations:
        return matrix
    position = {key: i for i, key in enumerate(keys)}
    for row, values in enumerate(stations["amenities"]):
        if isinstance(values, (list, tuple, np.ndarray)):
            for value in values:
                col = position.get(value)
                if col is not None:
                    matrix[row, col] = True
    return matrix


def nearest_stations(stations: gpd.GeoDataFrame, lon: float, lat: float, *, k: int = 5,
                     amenities: Sequence[str] = (), open_at: datetime | str | None = None, min_stars: int = 0,
                     toilet: Sequence[str] = (), max_distance_m: float | None = None) -> NearestResult:
    """
    Return the `k` stations nearest to a point by geodesic distance, building a one-off index.

    For repeated queries build a `NearestIndex` once and call its ``query``.

    Parameters
    ----------
    stations
        Station points in EPSG:4326.
    lon, lat
        Query point, WGS-84 degrees.
    k, amenities, open_at, min_stars, toilet, max_distance_m
        As `NearestIndex.query`.

    Returns
    -------
    result
        The stations nearest first, with geodesic meters and walking minutes.

    Raises
    ------
    BadRequestError, CRSMismatchError
        As `NearestIndex` and `NearestIndex.query`.
    """
    return NearestIndex(stations).query(lon, lat, k=k, amenities=amenities, open_at=open_at,
                                        min_stars=min_stars, toilet=toilet, max_distance_m=max_distance_m)

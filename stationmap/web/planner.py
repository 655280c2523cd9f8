"""The planner's API without Flask: coverage, gaps, proposed sites, service areas and what-if for one district.

Each public function takes the app state, a `PlannerCache` and the request arguments, and returns a JSON body
(GeoJSON for features, RFC 7946, WGS-84 lon/lat). Routes in `stationmap.web.api` are one-line adapters around
them. The analysis takes 0.1-2 s per call, so results are kept per parameter tuple in a bounded in-memory cache,
built on a small worker pool: a request waits at most ``PlannerCache.wait_s`` and then answers 503 with a clear
message while the computation finishes in the background (and lands in the cache), so no request hangs a
server thread.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from stationmap import geo, hours
from stationmap.analysis.coverage import coverage_report, service_areas, what_if
from stationmap.analysis.gap_units import split_gaps
from stationmap.analysis.gaps import find_gaps
from stationmap.analysis.siting import plan_sites
from stationmap.config import Settings
from stationmap.demand import PlanningInputs, read_planning_inputs
from stationmap.districts import District
from stationmap.errors import BadRequestError
from stationmap.needs import MODES
from stationmap.parameters import (
    ADD,
    ADD_DATUM,
    AT,
    CELL_M,
    DISTRICT,
    LAT,
    LON,
    MIN_AREA_M2,
    MINUTES,
    MODE,
    RADIUS_M,
    REMOVE,
    WEB_BY,
    WEB_SITES_K,
)
from stationmap.stations import json_safe
from stationmap.web.params import Args, parse_datum, parse_param, restore_offset_plus, single
from stationmap.web.pool import BoundedPool, PoolBusyError
from stationmap.web.state import AppState

__all__ = [
    "LIMITS",
    "PlannerBusyError",
    "PlannerCache",
    "PlannerLimits",
    "coverage",
    "districts",
    "for_map",
    "gaps",
    "load_inputs",
    "service_area_layers",
    "sites",
    "what_if_report",
]

logger = logging.getLogger(__name__)

_PRECISION = 7  # decimal places of served coordinates, about 1 cm
_ANY_TIME = {"", "any"}


@dataclass(frozen=True)
class PlannerLimits:
    """
    Bounds on the planner's computations.

    The ranges of its parameters are `stationmap.parameters` specs (`RADIUS_M`, `WEB_SITES_K`, `MIN_AREA_M2`,
    `ADD`, `REMOVE`), which the parsers below and the OpenAPI document both read; the read-only properties
    ``radius_min_m``, ``radius_max_m``, ``k_max``, ``add_max``, ``remove_max`` and ``min_area_max_m2`` repeat
    them for the pages.

    Attributes
    ----------
    ilp_max_pairs, ilp_time_limit_s
        The exact siting solver runs only up to this many (demand, candidate) pairs and this many seconds;
        larger instances use the lazy greedy with its optimality bound.
    demand_max_points, candidate_max_points
        Siting grids over the district's bounding box stay below these sizes: the spacing grows beyond a
        quarter (demand) and half (candidates) of the radius when a small radius meets a large district.
    """

    ilp_max_pairs: int = 60_000
    ilp_time_limit_s: float = 3.0
    demand_max_points: int = 100_000
    candidate_max_points: int = 20_000

    @property
    def radius_min_m(self) -> float:
        """Smallest service radius, metres (`RADIUS_M`)."""
        return RADIUS_M.minimum  # type: ignore[return-value]

    @property
    def radius_max_m(self) -> float:
        """Largest service radius, metres (`RADIUS_M`)."""
        return RADIUS_M.maximum  # type: ignore[return-value]

    @property
    def k_max(self) -> int:
        """Most sites `sites` proposes at once (`WEB_SITES_K`)."""
        return int(WEB_SITES_K.maximum)  # type: ignore[arg-type]

    @property
    def add_max(self) -> int:
        """Most hypothetical stations in one what-if (`ADD`)."""
        return ADD.max_items  # type: ignore[return-value]

    @property
    def remove_max(self) -> int:
        """Most stations removed in one what-if (`REMOVE`)."""
        return REMOVE.max_items  # type: ignore[return-value]

    @property
    def min_area_max_m2(self) -> float:
        """Largest sliver threshold for gaps, square metres (`MIN_AREA_M2`)."""
        return MIN_AREA_M2.maximum  # type: ignore[return-value]


#: The limits the web app enforces.
LIMITS = PlannerLimits()


class PlannerBusyError(PoolBusyError):
    """A planner computation is still running or the server is busy; the client should retry shortly."""

    http_status = 503
    retry_after_s = 5


@dataclass
class PlannerCache:
    """
    Planner results keyed by (endpoint, parameters), least recently used dropped beyond `max_entries`.

    Computations run on a `BoundedPool` of `workers` threads. Concurrent requests for the same key share one
    computation; a request waits at most `wait_s` seconds and then gets `PlannerBusyError` while the work goes on
    and its result is cached for the retry. More than `max_pending` computations at once, or more than
    `max_waiting` requests waiting at once, are refused.

    Attributes
    ----------
    max_entries
        Results kept.
    wait_s
        Longest a request waits for a result, seconds.
    workers
        Threads computing results.
    max_pending
        Computations running or queued before new ones are refused.
    max_waiting
        Requests waiting for a result at once before new ones are refused (below the server's threads).
    hits, misses
        Counters, for tests and logs.
    """

    max_entries: int = 256
    wait_s: float = 20.0
    workers: int = 2
    max_pending: int = 8
    max_waiting: int | None = 5  # the planner page asks 5 things at once; the server has 8 threads
    hits: int = 0
    misses: int = 0
    _done: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _pool: BoundedPool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pool = BoundedPool(name="planner", workers=self.workers, max_pending=self.max_pending,
                                 max_waiting=self.max_waiting, wait_s=self.wait_s, busy_error=PlannerBusyError,
                                 advice=", or choose a larger radius or a smaller k")

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """
        Return the cached value for `key`, computing it with `build` on the pool the first time.

        Raises
        ------
        PlannerBusyError
            If the value is not ready within `wait_s`, or too many computations or requests are waiting.
        StationMapError
            Whatever `build` raises (errors are not cached).
        """
        with self._guard:
            if key in self._done:
                self._done.move_to_end(key)
                self.hits += 1
                return self._done[key]

        def started() -> None:
            with self._guard:
                self.misses += 1

        return self._pool.run(key, lambda: self._run(key, build), on_start=started)

    def _run(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._guard:  # a request that missed just before another computation of `key` ended
            if key in self._done:
                return self._done[key]
        value = build()
        with self._guard:
            self._done[key] = value
            self._done.move_to_end(key)
            while len(self._done) > self.max_entries:
                self._done.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every cached result (running computations still finish)."""
        with self._guard:
            self._done.clear()


# --- parameters -----------------------------------------------------------------------------------------

def _district(state: AppState, args: Args) -> District:
    """Read the required ``district`` (adcode or name); 400 if missing or ambiguous, 404 if not served."""
    raw = single(args, DISTRICT.name)
    if not raw:
        msg = f"parameter 'district' is required: an adcode such as {DISTRICT.example} or a name such as 灞桥区"
        raise BadRequestError(msg)
    return state.district(raw)


def _radius(state: AppState, args: Args) -> float:
    """Read ``radius_m`` (`RADIUS_M`; default the settings' ``default_radius_m``)."""
    return float(parse_param(args, RADIUS_M, settings=state.settings))


def _radius_or_minutes(state: AppState, args: Args) -> tuple[float, dict[str, Any]]:
    """
    Read ``radius_m``, or ``minutes`` (`MINUTES`) and ``mode`` (`MODE`, default walk): the radius is minutes x the
    mode's speed (`stationmap.needs.MODES`), straight-line. Return the radius in metres and the fields that say
    which minutes gave it (empty without ``minutes``).
    """
    minutes = parse_param(args, MINUTES)
    mode = parse_param(args, MODE)
    if minutes is None:
        return _radius(state, args), {}
    if single(args, RADIUS_M.name) is not None:
        msg = "parameters 'minutes' and 'radius_m' both set the service radius; give one of them"
        raise BadRequestError(msg)
    travel = MODES[mode or "walk"]
    radius = float(minutes) * travel.speed_m_per_min
    if not RADIUS_M.accepts(radius):
        msg = (f"parameter 'minutes': {minutes} min by {travel.key} is {radius:,.0f} m, outside the service radius "
               f"range {RADIUS_M.range_text()}")
        raise BadRequestError(msg)
    words = (f"{minutes} min {_MODE_PHRASES.get(travel.key, travel.en)} ({radius:,.0f} m straight-line at "
             f"{travel.speed_m_per_min:g} m/min)")
    return radius, {"minutes": minutes, "mode": travel.key, "speed_m_per_min": travel.speed_m_per_min,
                    "service_circle": words}


_MODE_PHRASES = {"walk": "on foot", "ebike": "by e-bike", "drive": "by car"}


def _when(args: Args, now: datetime | None) -> datetime | None:
    """Read ``at``: empty or ``any`` for every station, ``HH:MM`` (today, Asia/Shanghai) or ISO 8601."""
    raw = single(args, AT.name)
    if raw is None or raw.lower() in _ANY_TIME:
        return None
    try:
        return hours.resolve_when(restore_offset_plus(raw), now=now).replace(second=0, microsecond=0)
    except BadRequestError as err:
        msg = f"parameter 'at' must be HH:MM, an ISO 8601 date-time or 'any': {err}"
        raise BadRequestError(msg) from None


def _add_points(args: Args) -> tuple[tuple[float, float], ...]:
    """Read ``add=lon,lat;lon,lat`` in the datum ``datum`` says (default WGS-84); return WGS-84 degrees."""
    datum = parse_datum(args, ADD_DATUM.name)  # checked even without points: a wrong datum is never ignored
    raw = single(args, ADD.name)
    if not raw:
        return ()
    parts = [p.strip() for p in raw.split(";") if p.strip()]
    if len(parts) > ADD.max_items:  # type: ignore[operator]
        msg = f"parameter 'add' may hold at most {ADD.max_items} points, got {len(parts)}"
        raise BadRequestError(msg)
    points, problems = [], []
    for n, part in enumerate(parts, start=1):
        pieces = part.split(",")
        try:
            lon, lat = (float(v) for v in pieces) if len(pieces) == 2 else (math.nan, math.inf)
        except ValueError:
            lon, lat = math.nan, math.inf
        if not (math.isfinite(lon) and math.isfinite(lat)):
            problems.append(f"point {n} {part!r} is not lon,lat")
        elif not (LON.accepts(lon) and LAT.accepts(lat)):
            problems.append(f"point {n} {part!r} is out of range (lon {LON.range_text()}, lat {LAT.range_text()})")
        else:
            points.append((lon, lat))
    if problems:
        msg = "parameter 'add' must be lon,lat;lon,lat in WGS-84 degrees: " + "; ".join(problems)
        raise BadRequestError(msg)
    if datum != "wgs84" and points:  # taps on GCJ-02 (Amap) tiles arrive in GCJ-02
        lons, lats = geo.convert_coords(np.array([p[0] for p in points]), np.array([p[1] for p in points]),
                                        src=datum, dst="wgs84")
        points = [(round(float(x), _PRECISION), round(float(y), _PRECISION)) for x, y in zip(lons, lats, strict=True)]
    return tuple(points)


def _remove_ids(state: AppState, args: Args, adcode: str) -> tuple[str, ...]:
    """Read ``remove=id,id``: stations of the district."""
    raw = single(args, REMOVE.name)
    if not raw:
        return ()
    ids = list(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))
    if len(ids) > REMOVE.max_items:  # type: ignore[operator]
        msg = f"parameter 'remove' may hold at most {REMOVE.max_items} ids, got {len(ids)}"
        raise BadRequestError(msg)
    unknown = [i for i in ids if i not in state.row_of or state.district_codes[state.row_of[i]] != adcode]
    if unknown:
        msg = (f"parameter 'remove': no station {', '.join(map(repr, unknown[:10]))} in district {adcode}")
        raise BadRequestError(msg)
    return tuple(ids)


def _parse(parsers: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run every parser and report every problem at once."""
    parsed, problems = {}, []
    for name, parse in parsers.items():
        try:
            parsed[name] = parse()
        except BadRequestError as err:
            problems.append(str(err))
    if problems:
        msg = "; ".join(problems)
        raise BadRequestError(msg)
    return parsed


def _stations(state: AppState, adcode: str) -> gpd.GeoDataFrame:
    return state.stations.iloc[np.flatnonzero(state.district_codes == adcode)]


def _grid_spacings(district: District, radius_m: float) -> tuple[float, float]:
    """Demand and candidate grid spacings in metres, the analysis defaults unless the grid would be too large."""
    west, south, east, north = geo.to_metric(gpd.GeoSeries([district.geometry], crs=geo.WGS84)).total_bounds
    bbox_m2 = max(east - west, 1.0) * max(north - south, 1.0)
    demand = max(radius_m / 4, math.sqrt(bbox_m2 / LIMITS.demand_max_points))
    candidates = max(radius_m / 2, math.sqrt(bbox_m2 / LIMITS.candidate_max_points))
    return math.ceil(demand), math.ceil(candidates)


def _district_info(district: District) -> dict[str, Any]:
    west, south, east, north = (round(v, 6) for v in district.geometry.bounds)
    return {"adcode": district.adcode, "name": district.name, "city": district.city,
            "label": district.label, "bbox": [west, south, east, north]}


def _geometry(geom: Any) -> dict[str, Any]:
    """GeoJSON geometry rounded to `_PRECISION` decimals (lon, lat order)."""
    rounded = shapely.transform(geom, lambda xy: np.round(xy, _PRECISION))
    return shapely.geometry.mapping(rounded)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def for_map(body: dict[str, Any], args: Args) -> dict[str, Any]:
    """
    Return `body` with every Feature geometry in the datum of the map's tiles, as ``map_datum`` asks.

    The API answers in WGS-84 (RFC 7946). A page on GCJ-02 tiles (Amap) passes ``map_datum=gcj02`` so polygons
    and points land where the tiles draw them; the body then says ``"map_datum": "gcj02"``. Cached bodies are
    not changed: converted parts are new objects.

    Raises
    ------
    BadRequestError
        If ``map_datum`` is not wgs84, gcj02 or bd09.
    """
    datum = parse_datum(args, "map_datum")
    if datum == "wgs84":
        return body

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: convert(v) for k, v in node.items() if k != "geometry"}
        if "geometry" in node:
            geom = node["geometry"]
            out["geometry"] = None if geom is None else _geometry(
                geo.convert_geometry(shapely.geometry.shape(geom), src="wgs84", dst=datum))
        return out

    return {**convert(body), "map_datum": datum}


def load_inputs(settings: Settings) -> PlanningInputs:
    """
    Read the planner's demand and candidate sites the settings name, once, when the app starts.

    OSM extracts are read whole; each answer keeps the demand (`plan_sites`, the coverage of the district) and the
    candidates (`PlanningInputs.candidates_in`) inside its district.

    Raises
    ------
    BadRequestError, DatumError, EmptyInputError, MissingExtraError
        If a file is missing, unreadable or empty, a CSV has no datum, or both sources of one input are set.
    """
    return read_planning_inputs(demand=settings.demand, weight_col=settings.demand_weight_col or None,
                                demand_crs=settings.demand_crs or None, demand_osm=settings.demand_osm,
                                candidates=settings.candidates, candidates_crs=settings.candidates_crs or None,
                                candidates_osm=settings.candidates_osm)


def _said(inputs: PlanningInputs, *, candidates: bool = False) -> dict[str, Any]:
    """The ``demand_source`` (and ``candidates_source``) of an answer, with ``demand_from`` for the page's words."""
    demand = inputs.demand_from
    said: dict[str, Any] = {"demand_source": demand.text if demand is not None else None,
                            "demand_from": {"kind": demand.kind, "file": demand.file} if demand is not None else None}
    if candidates:
        said["candidates_source"] = inputs.candidates_from.text if inputs.candidates_from is not None else None
    return said


_NO_INPUTS = PlanningInputs()


# --- endpoints ------------------------------------------------------------------------------------------

def districts(state: AppState, cache: PlannerCache) -> dict[str, Any]:
    """
    Answer ``GET /api/districts``: the districts served with their outlines and station counts.

    A district's stations are those whose ``district_code`` it is, and those without one that lie in it.

    Returns
    -------
    body
        A GeoJSON FeatureCollection, one (Multi)Polygon per district in WGS-84.
    """
    def build() -> dict[str, Any]:
        features = []
        for code, district in sorted(state.districts.items()):
            props = {**_district_info(district), "n_stations": int(np.sum(state.district_codes == code)),
                     "source": district.source}
            features.append({"type": "Feature", "id": code, "geometry": _geometry(district.geometry),
                             "properties": props})
        return {"type": "FeatureCollection", "features": features}

    return cache.get((state.revision, "districts"), build)


def coverage(state: AppState, cache: PlannerCache, args: Args, *, now: datetime | None = None,
             inputs: PlanningInputs = _NO_INPUTS) -> dict[str, Any]:
    """
    Answer ``GET /api/coverage``: the covered share of a district's area, once and twice, optionally at a time.

    Parameters
    ----------
    state
        The app state.
    cache
        Result cache.
    args
        ``district`` (6-digit adcode, required), ``radius_m`` (metres, `RADIUS_M`: 100-10,000, default the
        settings' radius) and ``at`` (``HH:MM`` today in Asia/Shanghai, ISO 8601, or ``any``); or, instead of
        ``radius_m``, ``minutes`` (`MINUTES`: 2-60) and ``mode`` (walk 75 m/min, ebike 250 m/min, drive 500 m/min;
        default walk): the radius is minutes x speed, straight-line.
    now
        The present moment, for ``at=HH:MM`` (tests pass one).
    inputs
        The demand (and candidates) the server was started with (`load_inputs`); none by default.

    Returns
    -------
    body
        ``demand_source`` (the demand file or extract, None without one), ``district``, ``query`` and ``coverage`` (`CoverageReport.to_dict`: areas in m² computed in local UTM,
        shares in percent); with ``minutes``, ``query`` adds ``minutes``, ``mode``, ``speed_m_per_min`` and
        ``service_circle`` ("15 min on foot (1,125 m straight-line at 75 m/min)").

    Raises
    ------
    BadRequestError
        For a malformed or out-of-range parameter, naming it.
    StationNotFoundError
        If the app does not serve the district (404).
    """
    district = _district(state, args)
    p = _parse({"radius": lambda: _radius_or_minutes(state, args), "at": lambda: _when(args, now)})
    p["radius_m"], circle = p.pop("radius")

    def build() -> dict[str, Any]:
        report = coverage_report(_stations(state, district.adcode), district.geometry, radius_m=p["radius_m"],
                                 when=p["at"], region_name=_district_info(district)["label"],
                                 demand=inputs.demand)
        return report.to_dict()

    body = cache.get((state.revision, "coverage", district.adcode, p["radius_m"], _iso(p["at"])), build)
    return {**_said(inputs), "district": _district_info(district),
            "query": {"radius_m": p["radius_m"], "at": _iso(p["at"])} | circle, "coverage": body}


def gaps(state: AppState, cache: PlannerCache, args: Args, *, now: datetime | None = None,
         inputs: PlanningInputs = _NO_INPUTS) -> dict[str, Any]:
    """
    Answer ``GET /api/gaps``: the district's uncovered parts as ranked polygons.

    Parameters
    ----------
    state, cache, now, inputs
        As `coverage`.
    args
        ``district``, ``radius_m``, ``at`` as `coverage`, and ``min_area_m2`` (square metres, `MIN_AREA_M2`: 0
        to 10⁸, default 10,000): smaller gaps are dropped as slivers and counted. Gaps by place: ``by``
        (`WEB_BY`: ``grid`` or ``bands``) splits them into square cells of ``cell_m`` metres (`CELL_M`, default
        1,000) in the local UTM CRS, or into distance bands from the nearest station (radius-2 km, 2-5 km, > 5 km).

    Returns
    -------
    body
        A GeoJSON FeatureCollection of gap polygons (WGS-84), largest first, with ``rank``, ``area_m2``,
        ``demand``, ``nearest_station_id``, ``nearest_station_m`` ...; the summary (`GapReport.to_dict` without
        the list) is the foreign member ``summary``. With ``by``: one feature per cell or band
        (`GapUnits.records`: ``unit``, ``uncovered_m2``, ``uncovered_share``, ``nearest_station_m`` ...) ranked
        by uncovered demand then area, and the summary is `GapUnits.to_dict` without the list.

    Raises
    ------
    BadRequestError, StationNotFoundError
        As `coverage`.
    """
    district = _district(state, args)
    p = _parse({"radius_m": lambda: _radius(state, args), "at": lambda: _when(args, now),
                "min_area_m2": lambda: parse_param(args, MIN_AREA_M2), "by": lambda: parse_param(args, WEB_BY),
                "cell_m": lambda: float(parse_param(args, CELL_M))})

    def build() -> dict[str, Any]:
        stations = _stations(state, district.adcode)
        report = find_gaps(stations, district.geometry, radius_m=p["radius_m"], when=p["at"],
                           min_area_m2=p["min_area_m2"], region_name=_district_info(district)["label"],
                           demand=inputs.demand)
        split = (split_gaps(report, stations, district.geometry, by=p["by"], cell_m=p["cell_m"],
                            demand=inputs.demand)
                 if p["by"] else None)
        summary = split.to_dict() if split is not None else report.to_dict()
        summary.pop("units" if split is not None else "gaps", None)
        records, geoms = ((split.records(), split.units.geometry) if split is not None
                          else (report.records(by="area"), report.gaps.geometry))
        features = []
        for record, geom in zip(records, geoms, strict=True):
            props = {key: json_safe(value) for key, value in record.items()}
            features.append({"type": "Feature", "id": f"{p['by'] or 'gap'}-{props['rank']}",
                             "geometry": _geometry(geom), "properties": props})
        return {"summary": summary, "features": features}

    key = (state.revision, "gaps", district.adcode, p["radius_m"], _iso(p["at"]), p["by"],
           p["cell_m"] if p["by"] == "grid" else None, p["min_area_m2"])
    body = cache.get(key, build)
    query = {"radius_m": p["radius_m"], "at": _iso(p["at"]), "min_area_m2": p["min_area_m2"]}
    if p["by"]:
        query |= {"by": p["by"]} | ({"cell_m": p["cell_m"]} if p["by"] == "grid" else {})
    return {"type": "FeatureCollection", **_said(inputs), "district": _district_info(district), "query": query,
            "summary": body["summary"], "features": body["features"]}


def sites(state: AppState, cache: PlannerCache, args: Args, *, now: datetime | None = None,
          inputs: PlanningInputs = _NO_INPUTS) -> dict[str, Any]:
    """
    Answer ``GET /api/sites``: `k` new sites that cover the most of the district not yet within reach.

    Candidates are points inside the gaps and demand is the district's area (the analysis defaults: no demand
    data), so gains are square metres and tie; the sites are therefore chosen deepest first (farthest from every
    station, earlier site and the district edge, `stationmap.analysis.siting.spread_sites`), never labelled
    optimal, and the summary says so: ``demand_source`` is ``"area (no demand data)"`` and ``ties_broken_by``
    names the rule. A server started with demand (`load_inputs`) sites by it, and with candidate sites picks
    among those of the district: the answer's ``demand_source`` and ``candidates_source`` say which.

    Parameters
    ----------
    state, cache, now, inputs
        As `coverage`.
    args
        ``district``, ``radius_m``, ``at`` as `coverage`, and ``k`` (`WEB_SITES_K`: 1-20, default 5).

    Returns
    -------
    body
        A GeoJSON FeatureCollection of points (WGS-84) numbered 1..k in choice order, each with ``rank``,
        ``gain`` (m²), ``cumulative``, ``cumulative_pct`` and ``clearance_m`` (metres to the nearest station,
        earlier site or district edge); the foreign member ``summary`` holds the method, ``demand_source``,
        ``ties_broken_by``, the bound on the area any k sites reach and the demand figures.

    Raises
    ------
    BadRequestError, StationNotFoundError
        As `coverage`.
    EmptyInputError
        If the district has no gap to put a site in (422).
    """
    district = _district(state, args)
    p = _parse({"radius_m": lambda: _radius(state, args), "at": lambda: _when(args, now),
                "k": lambda: parse_param(args, WEB_SITES_K)})

    def build() -> dict[str, Any]:
        demand_spacing_m, candidate_spacing_m = _grid_spacings(district, p["radius_m"])
        result = plan_sites(_stations(state, district.adcode), district.geometry, k=p["k"],
                            radius_m=p["radius_m"], when=p["at"], method="auto", demand=inputs.demand,
                            candidates=inputs.candidates_in(district.geometry),
                            demand_source=inputs.demand_from.text if inputs.demand_from is not None else None,
                            demand_spacing_m=demand_spacing_m, candidate_spacing_m=candidate_spacing_m,
                            max_ilp_pairs=LIMITS.ilp_max_pairs, time_limit_s=LIMITS.ilp_time_limit_s)
        summary = result.to_dict()
        summary.pop("sites", None)
        summary.update(demand_spacing_m=demand_spacing_m, candidate_spacing_m=candidate_spacing_m)
        features = [{"type": "Feature", "id": f"site-{s.rank}",
                     "geometry": {"type": "Point", "coordinates": [round(s.lon, _PRECISION),
                                                                   round(s.lat, _PRECISION)]},
                     "properties": {"rank": s.rank, "candidate_id": s.candidate_id, "name": s.name,
                                    "gain": json_safe(s.gain), "cumulative": json_safe(s.cumulative),
                                    "cumulative_pct": json_safe(s.cumulative_pct),
                                    "clearance_m": json_safe(s.clearance_m)}}
                    for s in result.sites]
        return {"summary": summary, "features": features}

    body = cache.get((state.revision, "sites", district.adcode, p["radius_m"], _iso(p["at"]), p["k"]), build)
    return {"type": "FeatureCollection", **_said(inputs, candidates=True), "district": _district_info(district),
            "query": {"radius_m": p["radius_m"], "at": _iso(p["at"]), "k": p["k"]},
            "summary": body["summary"], "features": body["features"]}


def service_area_layers(state: AppState, cache: PlannerCache, args: Args, *,
                        now: datetime | None = None) -> dict[str, Any]:
    """
    Answer ``GET /api/service-areas``: the area within reach of one station and of two or more, as polygons.

    Parameters
    ----------
    state, cache, now
        As `coverage`.
    args
        ``district``, ``radius_m`` and ``at`` as `coverage`.

    Returns
    -------
    body
        A GeoJSON FeatureCollection with two features, ``level`` = ``covered`` and ``overlap`` (WGS-84,
        clipped to the district), each with ``area_m2`` (local UTM), ``radius_m``, ``distance_model`` and ``crs``.

    Raises
    ------
    BadRequestError, StationNotFoundError
        As `coverage`.
    """
    district = _district(state, args)
    p = _parse({"radius_m": lambda: _radius(state, args), "at": lambda: _when(args, now)})

    def build() -> list[dict[str, Any]]:
        frame = service_areas(_stations(state, district.adcode), district.geometry, radius_m=p["radius_m"],
                              when=p["at"])
        columns = [c for c in frame.columns if c != frame.geometry.name]
        return [{"type": "Feature", "id": str(row["level"]),
                 "geometry": _geometry(geom) if geom is not None and not geom.is_empty else None,
                 "properties": {c: json_safe(row[c]) for c in columns}}
                for (_, row), geom in zip(frame.iterrows(), frame.geometry, strict=True)]

    key = (state.revision, "service-areas", district.adcode, p["radius_m"], _iso(p["at"]))
    features = cache.get(key, build)
    return {"type": "FeatureCollection", "district": _district_info(district),
            "query": {"radius_m": p["radius_m"], "at": _iso(p["at"])}, "features": features}


def what_if_report(state: AppState, cache: PlannerCache, args: Args, *,
                   now: datetime | None = None) -> dict[str, Any]:
    """
    Answer ``GET /api/what-if``: coverage with hypothetical stations added and existing ones removed.

    Parameters
    ----------
    state, cache, now
        As `coverage`.
    args
        ``district``, ``radius_m``, ``at`` as `coverage`; ``add`` (``lon,lat;lon,lat``, WGS-84 degrees, at
        most `ADD`.max_items = 50 points) and ``remove`` (``id,id``, stations of the district, at most 200).

    Returns
    -------
    body
        ``before``, ``after`` (coverage reports), ``delta`` (after - before: m², percentage points),
        ``added_ids``, ``removed_ids`` and ``added`` (the new stations as a GeoJSON FeatureCollection).

    Raises
    ------
    BadRequestError, StationNotFoundError
        As `coverage`; also for a malformed point or an id that is not a station of the district.
    """
    district = _district(state, args)
    p = _parse({"radius_m": lambda: _radius(state, args), "at": lambda: _when(args, now),
                "add": lambda: _add_points(args), "remove": lambda: _remove_ids(state, args, district.adcode)})

    def build() -> dict[str, Any]:
        report = what_if(_stations(state, district.adcode), district.geometry, add=list(p["add"]),
                         remove=list(p["remove"]), radius_m=p["radius_m"], when=p["at"],
                         region_name=_district_info(district)["label"])
        return report.to_dict()

    key = (state.revision, "what-if", district.adcode, p["radius_m"], _iso(p["at"]), p["add"],
           tuple(sorted(p["remove"])))
    body = cache.get(key, build)
    added_ids = body.get("added_ids") or [f"new-{n}" for n in range(1, len(p["add"]) + 1)]
    added = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": sid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
         "properties": {"id": sid}} for sid, (lon, lat) in zip(added_ids, p["add"], strict=False)]}
    return {"district": _district_info(district),
            "query": {"radius_m": p["radius_m"], "at": _iso(p["at"]), "add": [list(pt) for pt in p["add"]],
                      "remove": list(p["remove"])},
            **body, "added": added}

"""Straight-line coverage: service areas, the share of a district and of its demand covered once and twice.

A station serves the area within ``radius_m`` of it. Areas are computed in metres in a projected CRS: the local
UTM zone for a district, and one UTM zone per 6-degree band for national sets (each band computes only its own
area, so nothing is counted twice across zone edges). Demand points are tested by distance, not by
point-in-polygon: `stationmap.geo.GeodesicIndex`, a KD-tree on the WGS-84 ellipsoid that answers "within
``radius_m``" exactly by geodesic distance.

Covered-once and covered-twice areas come from an adaptive quadtree of tiles (see `coverage_pieces`): tiles deep
inside dense coverage are answered by two KD-tree counts, and only tiles near the edge of coverage are merged
exactly. The disc polygons are the same ``buffer`` polygons a naive ``union_all`` uses.

Region handling, radius checks, demand weights and the UTM zone plan are shared with gaps, network coverage and
siting through `stationmap.analysis.kernel`.

Every result states its radius, its distance model (``"straight-line"`` here, ``"network"`` in
`stationmap.analysis.network_coverage.network_coverage_report`) and the CRS its areas were computed in.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from stationmap import geo, hours
from stationmap.analysis import kernel
from stationmap.analysis.kernel import DEFAULT_RADIUS_M, Region
from stationmap.errors import BadRequestError, EmptyInputError, StationNotFoundError

__all__ = [
    "QUAD_SEGS",
    "CoverageReport",
    "DemandCoverage",
    "LevelPieces",
    "WhatIfReport",
    "coverage_pieces",
    "coverage_report",
    "coverage_reports",
    "demand_coverage",
    "select_in_service",
    "service_areas",
    "what_if",
]

#: Segments per quarter circle of a disc polygon: a 64-gon, whose area is 0.16% below the true circle's.
QUAD_SEGS = 16

_SQRT2 = float(np.sqrt(2.0))


# --------------------------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class DemandCoverage:
    """
    How much demand (people, workers, street length ...) lies within reach of a station.

    Attributes
    ----------
    model
        ``"points"`` (each point covered or not, by distance) or ``"polygons, area-weighted"`` (a polygon's weight
        counts in proportion to its covered area).
    weight_col
        Name of the weight column.
    n_features
        Demand features considered (inside the region, when one is given).
    total, covered, covered_twice
        Total demand, demand within `radius_m` of at least one / at least two stations.
    pct_covered, pct_covered_twice
        Shares in percent (0 when there is no demand).
    largest_uncovered
        Up to `top_n` records ``{"id", "lon", "lat", "weight", "uncovered", "nearest_station_id",
        "nearest_station_m"}``, largest uncovered weight first; lon/lat are WGS-84 (a polygon's representative
        point), distances geodesic metres.
    """

    model: str
    weight_col: str
    n_features: int
    total: float
    covered: float
    covered_twice: float
    pct_covered: float
    pct_covered_twice: float
    largest_uncovered: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (no NaN)."""
        out = asdict(self)
        for key in ("total", "covered", "covered_twice", "pct_covered", "pct_covered_twice"):
            out[key] = kernel.finite_or_none(out[key])
        out["largest_uncovered"] = [{k: (kernel.finite_or_none(v) if isinstance(v, float) else v)
                                     for k, v in rec.items()} for rec in self.largest_uncovered]
        return out


@dataclass(frozen=True)
class CoverageReport:
    """
    Coverage of a district (or of wherever the stations are) at one radius.

    Attributes
    ----------
    radius_m
        Service radius in metres.
    distance_model
        ``"straight-line"`` or ``"network"``.
    crs
        CRS the areas were computed in, e.g. ``EPSG:32649``, or several joined by ``+`` for national sets split
        by UTM zone. Geometries handed back are always EPSG:4326.
    when
        ISO time (Asia/Shanghai) whose open stations were used, or None for every station in service.
    n_stations
        Stations given.
    n_used
        Stations counted: in service (status not ``closed``) and, with `when`, open then.
    region_name
        Name of the region, "" without one.
    region_area_m2
        Area of the region in square metres, or None without a region.
    covered_area_m2, covered_twice_area_m2
        Area within reach of at least one / two stations, inside the region when one is given, in square metres.
    pct_area_covered, pct_area_covered_twice
        Shares of the region's area in percent, or None without a region.
    demand
        Demand coverage, when demand was given.
    street_length_m, street_length_covered_m, street_length_covered_twice_m
        Length of the walkable network in the region, and of its parts within `radius_m` of one / two stations,
        in metres (network model only).
    notes
        Plain-language caveats (closed stations left out, demand outside the region ...).
    """

    radius_m: float
    distance_model: str
    crs: str
    when: str | None
    n_stations: int
    n_used: int
    region_name: str
    region_area_m2: float | None
    covered_area_m2: float
    covered_twice_area_m2: float
    pct_area_covered: float | None
    pct_area_covered_twice: float | None
    demand: DemandCoverage | None = None
    street_length_m: float | None = None
    street_length_covered_m: float | None = None
    street_length_covered_twice_m: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (no NaN); `demand` becomes a nested dict or None."""
        out = {k: v for k, v in asdict(self).items() if k != "demand"}
        for key in ("region_area_m2", "covered_area_m2", "covered_twice_area_m2", "pct_area_covered",
                    "pct_area_covered_twice", "street_length_m", "street_length_covered_m",
                    "street_length_covered_twice_m"):
            out[key] = kernel.finite_or_none(out[key])
        out["notes"] = list(self.notes)
        out["demand"] = self.demand.to_dict() if self.demand is not None else None
        return out


@dataclass(frozen=True)
class WhatIfReport:
    """
    Coverage before and after adding or removing stations, and the difference.

    Attributes
    ----------
    before, after
        The two coverage reports (same radius, model, region and time).
    added_ids, removed_ids
        Ids of the stations added (new ones are ``new-1``, ``new-2`` ... unless given) and removed.
    delta
        ``after - before`` for every numeric figure (areas in m², shares in percentage points, demand in its unit).
    """

    before: CoverageReport
    after: CoverageReport
    added_ids: tuple[str, ...]
    removed_ids: tuple[str, ...]
    delta: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {"before": self.before.to_dict(), "after": self.after.to_dict(), "added_ids": list(self.added_ids),
                "removed_ids": list(self.removed_ids),
                "delta": {k: kernel.finite_or_none(v) for k, v in self.delta.items()}}


# --------------------------------------------------------------------------------------------------------------
# which stations count


def select_in_service(stations: gpd.GeoDataFrame, *, when: datetime | str | None = None) -> gpd.GeoDataFrame:
    """
    Return the stations that count for coverage: in service, and open at `when` if it is given.

    Parameters
    ----------
    stations
        Station points with ``status`` and ``opening_hours`` columns where known (missing columns mean in
        service and, with `when`, unknown hours, which count as closed).
    when
        A time such as ``"05:00"`` (today, Asia/Shanghai) or a datetime; None keeps every station not
        ``closed``.

    Returns
    -------
    stations
        The subset, same CRS and columns.

    Raises
    ------
    BadRequestError, OpeningHoursError
        If `when` or an opening_hours string cannot be read.
    """
    status = stations["status"] if "status" in stations.columns else pd.Series(None, index=stations.index)
    keep = ~status.isin(["closed"]).to_numpy()
    if when is not None:
        opening = (stations["opening_hours"] if "opening_hours" in stations.columns
                   else pd.Series(None, index=stations.index, dtype=object))
        keep &= hours.open_mask(opening, status, when)
    return stations[keep]


# --------------------------------------------------------------------------------------------------------------
# coverage


def coverage_pieces(stations: gpd.GeoDataFrame, region: Region | None = None, *, radius_m: float = DEFAULT_RADIUS_M,
                    overlap: bool = True, quad_segs: int = QUAD_SEGS) -> list[tuple[CRS, LevelPieces]]:
    """
    Return disjoint polygon pieces of the once- and twice-covered areas, per metric CRS.

    Parameters
    ----------
    stations
        Station points, any CRS. All rows are used (filter with `select_in_service` first).
    region
        Optional WGS-84 geometry (or frame in the stations' CRS) to clip to.
    radius_m
        Service radius in metres.
    overlap
        Whether to compute the twice-covered pieces too.
    quad_segs
        Segments per quarter circle of each disc.

    Returns
    -------
    pieces
        ``(crs, LevelPieces)`` per UTM zone used; the pieces are in that CRS and do not overlap.
    """
    radius_m = kernel.check_radius(radius_m)
    region_geom = kernel.region_geometry(region, stations)
    lon, lat = kernel.lonlat(stations)
    out = []
    for zone in kernel.utm_zone_plan(lon, lat, radius_m=radius_m):
        clip = zone.band
        if region_geom is not None:
            clip = region_geom if clip is None else shapely.intersection(region_geom, clip)
            if clip.is_empty:
                continue
        xy = kernel.project_lonlat(lon[zone.members], lat[zone.members], zone.crs)
        clip_m = kernel.reproject_geometry(clip, geo.WGS84, zone.crs) if clip is not None else None
        out.append((zone.crs, _levels_auto(xy, radius_m=radius_m, clip=clip_m, overlap=overlap,
                                            quad_segs=quad_segs)))
    return out


def _levels_auto(xy: np.ndarray, *, radius_m: float, clip: BaseGeometry | None, overlap: bool,
                 quad_segs: int) -> LevelPieces:
    """
    Pick the faster exact method: for sparse stations (few overlapping pairs) one union of the discs and one of
    their pairwise lenses; for dense sets the quadtree tiling, which skips the merging deep inside dense cores.
    """
    n = len(xy)
    tree = cKDTree(xy)
    sample = xy if n <= 400 else xy[np.random.default_rng(0).choice(n, 400, replace=False)]
    neighbours = tree.query_ball_point(sample, 2 * radius_m, return_length=True) - 1  # minus the point itself
    est_pairs = float(neighbours.mean()) * n / 2
    # Measured on the synthetic national set: a plain union of the discs wins below about 20 overlapping pairs
    # per station, but the union of pairwise lenses (the twice-covered part) loses to the tiling above about 2.
    if est_pairs > (2 if overlap else 20) * n + 100:
        return _coverage_levels(xy, radius_m=radius_m, clip=clip, overlap=overlap, quad_segs=quad_segs)
    discs = shapely.buffer(shapely.points(xy), radius_m, quad_segs=quad_segs)
    once = shapely.union_all(discs)
    twice = shapely.Polygon()
    if overlap:
        pairs = tree.query_pairs(2 * radius_m, output_type="ndarray")
        if len(pairs):
            twice = shapely.union_all(shapely.intersection(discs[pairs[:, 0]], discs[pairs[:, 1]]))
    if clip is not None:
        once, twice = shapely.intersection(once, clip), shapely.intersection(twice, clip)
    keep = [g for g in (once,) if not g.is_empty]
    keep2 = [g for g in (twice,) if not g.is_empty]
    return LevelPieces(np.array(keep, dtype=object), np.array(keep2, dtype=object), 0)


def coverage_report(stations: gpd.GeoDataFrame, region: Region | None = None, *,
                    radius_m: float = DEFAULT_RADIUS_M, when: datetime | str | None = None,
                    demand: gpd.GeoDataFrame | None = None, weight_col: str = "weight", region_name: str | None = None,
                    top_n: int = 10) -> CoverageReport:
    """
    Measure the area, and optionally the demand, within straight-line reach of the stations.

    Parameters
    ----------
    stations
        Station points, any CRS (EPSG:4326 as loaded). Rows with status ``closed`` are left out.
    region
        The district: a WGS-84 shapely geometry, or a GeoDataFrame/GeoSeries in the stations' CRS. Without it the
        report gives areas only (no shares).
    radius_m
        Service radius in metres (1,000 by default; planners also ask for 500, 1,500 and 3,000-4,000 for
        e-bikes).
    when
        Count only the stations open at this time (``"05:00"`` today in Asia/Shanghai, or a datetime).
    demand
        Points or polygons with a `weight_col` column, in the stations' CRS (see `demand_coverage`).
    weight_col
        Column of `demand` holding the weights (people, workers, metres of street).
    region_name
        Name to print; defaults to the region's ``name`` when it has one.
    top_n
        How many of the largest uncovered demand features to list.

    Returns
    -------
    report
        A `CoverageReport` whose areas are square metres in the local UTM CRS.

    Raises
    ------
    BadRequestError
        If `radius_m` is out of range or `when` cannot be read.
    EmptyInputError
        If there are no stations and no region (with a region, no stations is 0 % covered), or the region is empty.
    CRSMismatchError
        If a region or demand frame has a different CRS from the stations.
    """
    radius_m = kernel.check_radius(radius_m)
    if len(stations) == 0 and region is None:
        msg = "No stations to measure coverage from."
        raise EmptyInputError(msg)
    region_geom = kernel.region_geometry(region, stations)
    used = select_in_service(stations, when=when)
    notes = [] if len(stations) else ["No stations in this district: nothing of it is covered."]
    n_closed = int((stations["status"] == "closed").sum()) if "status" in stations.columns else 0
    if n_closed:
        notes.append(f"{n_closed} closed station(s) left out.")
    moment = hours.resolve_when(when).isoformat(timespec="minutes") if when is not None else None
    if when is not None:
        notes.append(f"{len(stations) - len(used) - n_closed} station(s) not open at {moment} left out.")
    pieces = coverage_pieces(used, region_geom, radius_m=radius_m) if len(used) else []
    covered = sum(p.once_area_m2 for _, p in pieces)
    twice = sum(p.twice_area_m2 for _, p in pieces)
    region_area = label = None
    if region_geom is not None:
        region_area, region_crs = kernel.region_area_m2(region_geom)
        label = region_crs.to_string()
    if pieces:
        label = "+".join(dict.fromkeys(c.to_string() for c, _ in pieces))
    elif label is None:
        label = kernel.crs_label(kernel.utm_zone_plan(*kernel.lonlat(stations), radius_m=radius_m))
    demand_result = None
    if demand is not None:
        demand_result = demand_coverage(used, demand, radius_m=radius_m, weight_col=weight_col, region=region_geom,
                                        top_n=top_n, pieces=pieces)
    return CoverageReport(
        radius_m=radius_m, distance_model="straight-line", crs=label, when=moment, n_stations=len(stations),
        n_used=len(used), region_name=kernel.region_name(region, region_name), region_area_m2=region_area,
        covered_area_m2=covered, covered_twice_area_m2=twice,
        pct_area_covered=100.0 * covered / region_area if region_area else None,
        pct_area_covered_twice=100.0 * twice / region_area if region_area else None,
        demand=demand_result, notes=tuple(notes))


def coverage_reports(stations: gpd.GeoDataFrame, region: Region | None = None, *, radii_m: Sequence[float],
                     progress: Callable[[int], None] | None = None, **options: Any) -> tuple[CoverageReport, ...]:
    """
    Return `coverage_report` for each radius in `radii_m` (e.g. 500, 1,000 and 1,500 m).

    Parameters
    ----------
    stations, region
        As `coverage_report`.
    radii_m
        Radii in metres.
    progress
        Called with 1 after each radius (for a progress bar).
    **options
        Passed to `coverage_report` (``when``, ``demand``, ``weight_col``, ``region_name``, ``top_n``).
    """
    reports = []
    for radius in radii_m:
        reports.append(coverage_report(stations, region, radius_m=radius, **options))
        if progress is not None:
            progress(1)
    return tuple(reports)


def service_areas(stations: gpd.GeoDataFrame, region: Region | None = None, *, radius_m: float = DEFAULT_RADIUS_M,
                  when: datetime | str | None = None) -> gpd.GeoDataFrame:
    """
    Return the covered and overlap areas as two dissolved polygons, for maps and GeoJSON.

    Parameters
    ----------
    stations, region, radius_m, when
        As `coverage_report`.

    Returns
    -------
    areas
        EPSG:4326 frame with rows ``level`` = ``covered`` (within reach of >= 1 station) and ``overlap``
        (>= 2), columns ``area_m2`` (square metres in the UTM CRS named in ``crs``), ``radius_m``,
        ``distance_model`` and ``crs``.
    """
    radius_m = kernel.check_radius(radius_m)
    used = select_in_service(stations, when=when)
    pieces = coverage_pieces(used, region, radius_m=radius_m) if len(used) else []
    rows = []
    for level, attr in (("covered", "once"), ("overlap", "twice")):
        parts = [kernel.reproject_geometry(kernel.dissolve(getattr(p, attr)), crs, geo.WGS84) for crs, p in pieces]
        area = sum(float(shapely.area(getattr(p, attr)).sum()) for _, p in pieces)
        rows.append({"level": level, "area_m2": area, "radius_m": radius_m, "distance_model": "straight-line",
                     "crs": "+".join(c.to_string() for c, _ in pieces),
                     "geometry": shapely.union_all(parts) if parts else shapely.Polygon()})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=geo.WGS84)


# --------------------------------------------------------------------------------------------------------------
# demand


def demand_coverage(stations: gpd.GeoDataFrame, demand: gpd.GeoDataFrame, *, radius_m: float = DEFAULT_RADIUS_M,
                    weight_col: str = "weight", region: Region | None = None, top_n: int = 10,
                    pieces: list[tuple[CRS, LevelPieces]] | None = None) -> DemandCoverage:
    """
    Measure the demand within `radius_m` of one and of two stations.

    Points are tested by distance (a KD-tree on the WGS-84 ellipsoid, about a second per 10 million points);
    polygons count in proportion to their covered area.

    Parameters
    ----------
    stations
        Station points to count (every row; filter with `select_in_service` first).
    demand
        Points or polygons with a numeric `weight_col`, in the stations' CRS. Missing weights count as 0.
    radius_m
        Service radius in metres.
    weight_col
        Weight column of `demand`.
    region
        Only demand inside this WGS-84 geometry (or frame) is counted.
    top_n
        How many of the largest uncovered features to list.
    pieces
        Coverage pieces already computed by `coverage_pieces` for the same stations, radius and region
        (polygon demand only; computed when missing).

    Returns
    -------
    demand
        A `DemandCoverage` (weights in the unit of `weight_col`).

    Raises
    ------
    EmptyInputError
        If `demand` is empty.
    BadRequestError
        If `weight_col` is missing, not numeric, or negative somewhere.
    CRSMismatchError
        If `demand` and `stations` differ in CRS.
    """
    radius_m = kernel.check_radius(radius_m)
    if len(demand) == 0:
        msg = "The demand layer has no features."
        raise EmptyInputError(msg)
    if len(stations):
        geo.check_same_crs(stations, demand)
    weights = kernel.demand_weights(demand, weight_col)
    region_geom = kernel.region_geometry(region, demand) if region is not None else None
    d_lon, d_lat, types = kernel.lonlat_types(demand)
    polygons = bool(((types == 3) | (types == 6)).any())
    inside = np.ones(len(demand), dtype=bool)
    if region_geom is not None:
        shapely.prepare(region_geom)
        geoms = demand.geometry.to_crs(geo.WGS84).values if not demand.crs.equals(geo.WGS84) else demand.geometry.values
        inside = shapely.intersects(region_geom, geoms) if polygons else shapely.contains_xy(region_geom, d_lon, d_lat)
    s_lon, s_lat = kernel.lonlat(stations) if len(stations) else (np.empty(0), np.empty(0))
    index = geo.GeodesicIndex(s_lon, s_lat)
    if polygons:
        inside_share, share1, share2 = _polygon_shares(demand, stations, region_geom, radius_m=radius_m,
                                                       pieces=pieces)
        model = "polygons, area-weighted"
        w = np.where(inside, weights * inside_share, 0.0)
        total = float(w.sum())
        covered, covered2 = float(w @ share1), float(w @ share2)
        uncovered = w * (1.0 - share1)
    else:
        # Boolean masks rather than 0/1 shares: ten million points make every temporary array count.
        model = "points"
        counts = index.count_within(d_lon, d_lat, radius_m, at_most=2)
        once, twice = counts >= 1, counts >= 2
        del counts
        w = np.where(inside, weights, 0.0)
        total = float(w.sum())
        covered, covered2 = float(w[once].sum()), float(w[twice].sum())
        w[once] = 0.0
        uncovered = w
    order = np.flatnonzero(uncovered > 0)  # usually a small share: selecting among them is fast
    if 0 < top_n < len(order):
        order = order[np.argpartition(uncovered[order], len(order) - top_n)[-top_n:]]
    elif top_n <= 0:
        order = order[:0]
    order = order[np.argsort(-uncovered[order], kind="stable")][:top_n]
    # The exact nearest station, for the listed features only.
    near_idx, near_m = (a[:, 0] for a in index.nearest_many(d_lon[order], d_lat[order], k=1))
    nearest_m = dict(zip(order.tolist(), near_m.tolist(), strict=True))
    nearest_idx = dict(zip(order.tolist(), near_idx.tolist(), strict=True))
    ids = demand["id"].to_numpy() if "id" in demand.columns else demand.index.to_numpy()
    station_ids = stations["id"].astype(str).to_numpy() if "id" in stations.columns and len(stations) else None
    top = tuple({"id": str(ids[i]), "lon": round(float(d_lon[i]), 6), "lat": round(float(d_lat[i]), 6),
                 "weight": float(weights[i]), "uncovered": float(uncovered[i]),
                 "nearest_station_id": (str(station_ids[nearest_idx[i]]) if station_ids is not None
                                        and math.isfinite(nearest_m[i]) else None),
                 "nearest_station_m": float(nearest_m[i]) if math.isfinite(nearest_m[i]) else None}
                for i in order.tolist() if uncovered[i] > 0)
    return DemandCoverage(model=model, weight_col=weight_col, n_features=int(inside.sum()), total=total,
                          covered=covered, covered_twice=covered2,
                          pct_covered=100.0 * covered / total if total > 0 else 0.0,
                          pct_covered_twice=100.0 * covered2 / total if total > 0 else 0.0, largest_uncovered=top)


def _polygon_shares(demand: gpd.GeoDataFrame, stations: gpd.GeoDataFrame, region: BaseGeometry | None, *,
                    radius_m: float,
                    pieces: list[tuple[CRS, LevelPieces]] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Share of each demand polygon inside the region, and the covered once / twice shares of that inside part.

    A polygon's demand is spread evenly over its area: a cell half inside the district brings half its weight.
    """
    if pieces is None:
        pieces = coverage_pieces(stations, region, radius_m=radius_m) if len(stations) else []
    crs = pieces[0][0] if pieces else kernel.region_area_m2(region)[1] if region is not None else geo.metric_crs(demand)
    polys = demand.geometry.to_crs(crs).values
    area = shapely.area(polys)
    if region is not None:
        polys = shapely.intersection(polys, kernel.reproject_geometry(region, geo.WGS84, crs))
    inside_area = shapely.area(polys)
    with np.errstate(invalid="ignore", divide="ignore"):
        inside = np.nan_to_num(inside_area / area)
    share1 = np.zeros(len(demand))
    share2 = np.zeros(len(demand))
    for zone_crs, p in pieces:
        zone_polys = polys if zone_crs == crs else gpd.GeoSeries(polys, crs=crs).to_crs(zone_crs).values
        zone_area = inside_area if zone_crs == crs else shapely.area(zone_polys)
        for share, level in ((share1, p.once), (share2, p.twice)):
            geom = kernel.dissolve(level)
            shapely.prepare(geom)
            with np.errstate(invalid="ignore", divide="ignore"):
                share += np.nan_to_num(shapely.area(shapely.intersection(zone_polys, geom)) / zone_area)
    return np.clip(inside, 0.0, 1.0), np.clip(share1, 0.0, 1.0), np.clip(share2, 0.0, 1.0)


# --------------------------------------------------------------------------------------------------------------
# what if


def what_if(stations: gpd.GeoDataFrame, region: Region | None = None, *,
            add: gpd.GeoDataFrame | Sequence[tuple[float, float]] = (), remove: Sequence[str] = (),
            radius_m: float = DEFAULT_RADIUS_M, when: datetime | str | None = None,
            demand: gpd.GeoDataFrame | None = None, weight_col: str = "weight",
            region_name: str | None = None) -> WhatIfReport:
    """
    Compare coverage with stations added and/or removed against coverage as it is.

    Parameters
    ----------
    stations
        Current station points, EPSG:4326 (or any CRS shared with `add`).
    region, radius_m, when, demand, weight_col, region_name
        As `coverage_report`.
    add
        New stations: a frame of points in the stations' CRS (with ``id`` if known), or (lon, lat) WGS-84 pairs.
        Added stations count as open at any `when`.
    remove
        Ids of existing stations to take away.

    Returns
    -------
    report
        Before, after and the difference.

    Raises
    ------
    StationNotFoundError
        If an id in `remove` is not a station.
    BadRequestError
        If a coordinate pair is not a finite lon/lat.
    """
    ids = stations["id"].astype(str) if "id" in stations.columns else pd.Series(stations.index.astype(str))
    missing = [i for i in remove if i not in set(ids)]
    if missing:
        msg = f"No station with id {', '.join(map(repr, missing))} to remove."
        raise StationNotFoundError(msg)
    new = _as_stations(add, stations)
    after = stations[~ids.isin(list(remove)).to_numpy()]
    if len(new):
        after = pd.concat([after, new], ignore_index=True)
        after = gpd.GeoDataFrame(after, geometry=stations.geometry.name, crs=stations.crs)
    def measure(frame: gpd.GeoDataFrame) -> CoverageReport:
        return coverage_report(frame, region, radius_m=radius_m, when=when, demand=demand, weight_col=weight_col,
                               region_name=region_name)

    before_report = measure(stations)
    after_report = measure(after) if len(after) else replace(
        before_report, n_stations=0, n_used=0, covered_area_m2=0.0, covered_twice_area_m2=0.0,
        pct_area_covered=0.0 if before_report.region_area_m2 else None,
        pct_area_covered_twice=0.0 if before_report.region_area_m2 else None, demand=None)
    return WhatIfReport(before=before_report, after=after_report, added_ids=tuple(new["id"].astype(str)),
                        removed_ids=tuple(remove), delta=_delta(before_report, after_report))


def _as_stations(add: gpd.GeoDataFrame | Sequence[tuple[float, float]], stations: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if isinstance(add, gpd.GeoDataFrame):
        if len(add) == 0:
            return add
        geo.check_same_crs(stations, add)
        new = add.copy()
        if "id" not in new.columns:
            new["id"] = [f"new-{i}" for i in range(1, len(new) + 1)]
    else:
        pairs = list(add)
        for pair in pairs:
            if (len(pair) != 2 or not all(isinstance(v, int | float) and math.isfinite(v) for v in pair)
                    or not (-180 <= pair[0] <= 180 and -90 <= pair[1] <= 90)):
                msg = f"A new station must be a (lon, lat) pair in WGS-84 degrees, got {pair!r}."
                raise BadRequestError(msg)
        new = gpd.GeoDataFrame({"id": [f"new-{i}" for i in range(1, len(pairs) + 1)]},
                               geometry=gpd.points_from_xy([p[0] for p in pairs], [p[1] for p in pairs]),
                               crs=geo.WGS84).to_crs(stations.crs)
    new["name"] = new["name"] if "name" in new.columns else new["id"]
    new["status"] = "open"
    new["opening_hours"] = "24/7"
    return new.rename_geometry(stations.geometry.name) if new.geometry.name != stations.geometry.name else new


def _delta(before: CoverageReport, after: CoverageReport) -> dict[str, float | None]:
    def diff(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else b - a

    out = {key: diff(getattr(before, key), getattr(after, key))
           for key in ("n_used", "covered_area_m2", "covered_twice_area_m2", "pct_area_covered",
                       "pct_area_covered_twice")}
    if before.demand is not None:
        for key in ("covered", "covered_twice", "pct_covered", "pct_covered_twice"):
            out[f"demand_{key}"] = diff(getattr(before.demand, key),
                                        getattr(after.demand, key) if after.demand is not None else 0.0)
    return out


# --------------------------------------------------------------------------------------------------------------
# the tiling engine




@dataclass(frozen=True)
class LevelPieces:
    """
    Disjoint pieces of the once- and twice-covered areas, in the metric CRS of the input coordinates.

    Attributes
    ----------
    once
        Polygons whose union is the area within `radius_m` of at least one point.
    twice
        Polygons whose union is the area within `radius_m` of at least two points.
    n_tiles
        Tiles examined (for diagnostics).
    """

    once: np.ndarray
    twice: np.ndarray
    n_tiles: int

    @property
    def once_area_m2(self) -> float:
        """Area covered at least once, in square metres."""
        return float(shapely.area(self.once).sum()) if len(self.once) else 0.0

    @property
    def twice_area_m2(self) -> float:
        """Area covered at least twice, in square metres."""
        return float(shapely.area(self.twice).sum()) if len(self.twice) else 0.0


def _coverage_levels(xy: np.ndarray, *, radius_m: float, clip: BaseGeometry | None = None, overlap: bool = True,
                    quad_segs: int = QUAD_SEGS, leaf_max: int = 4) -> LevelPieces:
    """
    Return disjoint pieces of the areas within `radius_m` of one and of two of the points `xy`.

    Parameters
    ----------
    xy
        (n, 2) array of easting, northing in metres in a projected CRS.
    radius_m
        Disc radius in metres.
    clip
        Polygon in the same CRS; only the part of the coverage inside it is returned.
    overlap
        Whether to compute the twice-covered pieces.
    quad_segs
        Segments per quarter circle of each disc polygon.
    leaf_max
        A tile reached by more discs than this is split (down to 1/16 of the radius).

    Returns
    -------
    pieces
        Once- and twice-covered polygons in the CRS of `xy`.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    empty = np.empty(0, dtype=object)
    if len(xy) == 0 or radius_m <= 0:
        return LevelPieces(empty, empty, 0)
    r = float(radius_m)
    tree = cKDTree(xy)
    # Disc polygons are built lazily: points deep inside covered cores never need one.
    discs = np.full(len(xy), None, dtype=object)
    disc_spec = (xy, r, quad_segs)
    clip_geom = None
    if clip is not None:
        clip_geom = shapely.make_valid(clip)
        shapely.prepare(clip_geom)

    # First grid: squares of side 2r over the discs' extent (and the clip's, when smaller).
    west, south = xy.min(axis=0) - r
    east, north = xy.max(axis=0) + r
    if clip_geom is not None:
        cw, cs, ce, cn = clip_geom.bounds
        west, south, east, north = max(west, cw), max(south, cs), min(east, ce), min(north, cn)
        if west >= east or south >= north:
            return LevelPieces(empty, empty, 0)
    h = r  # half side
    nx, ny = max(1, int(np.ceil((east - west) / (2 * h)))), max(1, int(np.ceil((north - south) / (2 * h))))
    gx, gy = np.meshgrid(west + h + 2 * h * np.arange(nx), south + h + 2 * h * np.arange(ny))
    centres = np.column_stack([gx.ravel(), gy.ravel()])
    # Only tiles near some point matter: a tile farther than r + h*sqrt2 from every point is empty.
    near = tree.query(centres, k=1, distance_upper_bound=r + h * _SQRT2)[0] < np.inf
    centres = centres[near]
    needs_clip = np.full(len(centres), clip_geom is not None)

    once: list[np.ndarray] = []
    twice: list[np.ndarray] = []
    n_tiles = 0
    min_h = r / 16.0
    while len(centres):
        n_tiles += len(centres)
        boxes = shapely.box(centres[:, 0] - h, centres[:, 1] - h, centres[:, 0] + h, centres[:, 1] + h)
        if clip_geom is not None and needs_clip.any():
            idx = np.flatnonzero(needs_clip)
            inside = shapely.contains_properly(clip_geom, boxes[idx])
            touching = shapely.intersects(clip_geom, boxes[idx])
            keep = np.ones(len(centres), dtype=bool)
            keep[idx[~touching]] = False
            needs_clip[idx[inside]] = False
            centres, boxes, needs_clip = centres[keep], boxes[keep], needs_clip[keep]
        reach = tree.query_ball_point(centres, r + h * _SQRT2, return_length=True)
        inner = r - h * _SQRT2
        full = tree.query_ball_point(centres, inner, return_length=True) if inner > 0 else np.zeros(len(centres), int)
        full2 = full >= 2
        full1 = (full == 1) & ((reach == 1) | (not overlap))
        done_box = full2 | full1
        split = ~done_box & (reach > leaf_max) & (h / 2 >= min_h)
        leaf = ~done_box & ~split & (reach > 0)

        once.append(_clipped(boxes[done_box], needs_clip[done_box], clip_geom))
        if overlap:
            twice.append(_clipped(boxes[full2], needs_clip[full2], clip_geom))
        if leaf.any():
            o, t = _leaves(tree, discs, disc_spec, centres[leaf], boxes[leaf], full[leaf], needs_clip[leaf], clip_geom,
                           r=r, h=h, overlap=overlap)
            once.append(o)
            twice.append(t)
        if not split.any():
            break
        parents = centres[split]
        h /= 2
        offsets = np.array([[-h, -h], [h, -h], [-h, h], [h, h]])
        centres = (parents[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
        needs_clip = np.repeat(needs_clip[split], 4)

    def _cat(parts: list[np.ndarray]) -> np.ndarray:
        arr = np.concatenate(parts) if parts else empty
        return arr[~shapely.is_empty(arr)] if len(arr) else arr

    return LevelPieces(_cat(once), _cat(twice), n_tiles)


def _clip_to_tiles(geoms: np.ndarray, centres: np.ndarray, h: float) -> np.ndarray:
    """Clip each geometry to its axis-aligned tile (GEOS's rectangle clipper, ten times faster than overlay)."""
    west, south = centres[:, 0] - h, centres[:, 1] - h
    # shapely's public clip_by_rect takes one rectangle; its ufunc broadcasts over one rectangle per geometry.
    return shapely.lib.clip_by_rect(geoms, west, south, west + 2 * h, south + 2 * h)


def _clipped(geoms: np.ndarray, needs_clip: np.ndarray, clip_geom: BaseGeometry | None) -> np.ndarray:
    """Intersect the geometries that straddle the clip polygon with it."""
    if clip_geom is None or not needs_clip.any():
        return geoms
    out = geoms.copy()
    out[needs_clip] = shapely.intersection(geoms[needs_clip], clip_geom)
    return out


def _leaves(tree: cKDTree, discs: np.ndarray, disc_spec: tuple[np.ndarray, float, int], centres: np.ndarray,
            boxes: np.ndarray, full: np.ndarray,
            needs_clip: np.ndarray, clip_geom: BaseGeometry | None, *, r: float, h: float,
            overlap: bool) -> tuple[np.ndarray, np.ndarray]:
    """Exact once/twice pieces of leaf tiles: discs clipped to the tile, unioned."""
    members = tree.query_ball_point(centres, r + h * _SQRT2)
    lengths = np.fromiter((len(m) for m in members), dtype=np.int64, count=len(members))
    owner = np.repeat(np.arange(len(members)), lengths)
    flat = np.fromiter((i for m in members for i in m), dtype=np.int64, count=int(lengths.sum()))
    missing = np.unique(flat)
    missing = missing[shapely.is_missing(discs[missing])]
    if len(missing):
        xy, r_disc, quad_segs = disc_spec
        discs[missing] = shapely.buffer(shapely.points(xy[missing]), r_disc, quad_segs=quad_segs)
    clipped = _clip_to_tiles(discs[flat], centres[owner], h)
    once = np.empty(len(members), dtype=object)
    twice = np.empty(len(members), dtype=object)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    pair_a: list[np.ndarray] = []
    pair_b: list[np.ndarray] = []
    pair_owner: list[np.ndarray] = []
    for k in range(len(members)):
        parts = clipped[starts[k]:starts[k + 1]]
        once[k] = boxes[k] if full[k] >= 1 else parts[0] if len(parts) == 1 else shapely.union_all(parts)
        if not overlap:
            continue
        if len(parts) < 2:
            twice[k] = None
        elif full[k] >= 1:
            # One disc holds the whole tile: twice-covered is wherever any other disc reaches. The full one is
            # the member nearest the tile centre.
            member = np.asarray(members[k])
            dist = np.hypot(*(tree.data[member] - centres[k]).T)
            others = parts[np.arange(len(parts)) != int(np.argmin(dist))]
            twice[k] = others[0] if len(others) == 1 else shapely.union_all(others)
        else:
            a, b = np.triu_indices(len(parts), k=1)
            pair_a.append(starts[k] + a)
            pair_b.append(starts[k] + b)
            pair_owner.append(np.full(len(a), k))
    if pair_a:
        # All pairwise intersections in one vectorised call, then one union per tile.
        a, b, owner_k = np.concatenate(pair_a), np.concatenate(pair_b), np.concatenate(pair_owner)
        lenses = shapely.intersection(clipped[a], clipped[b])
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(owner_k)) + 1, [len(owner_k)]])
        for lo, hi in itertools.pairwise(bounds):
            twice[owner_k[lo]] = lenses[lo] if hi - lo == 1 else shapely.union_all(lenses[lo:hi])
    if overlap:
        empty = shapely.is_missing(twice)
        twice[empty] = shapely.Polygon()
    once = _clipped(once, needs_clip, clip_geom)
    twice = _clipped(twice, needs_clip, clip_geom) if overlap else np.empty(0, dtype=object)
    return once, twice

"""Gaps by place: a district's uncovered area split into grid cells, distance bands or sub-district units.

`find_gaps` answers with the district minus the service discs, often one large polygon; a planner acts on
places. `split_gaps` takes its `GapReport` and splits the same uncovered polygons (nothing is recomputed) into

- ``grid``: square cells of `cell_m` metres aligned to multiples of `cell_m` in the report's local UTM CRS,
  clipped to the district;
- ``bands``: the uncovered area by straight-line distance (in that UTM CRS) to the nearest station: radius to the
  first edge, between edges, beyond the last;
- ``units``: sub-district units (街道/乡镇) of a boundary layer, clipped to the district.

Areas are square metres and distances metres, measured in the report's UTM CRS; nearest-station distances are
geodesic (WGS-84 ellipsoid) from a representative point of each unit's uncovered part. Pure functions: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from stationmap import geo
from stationmap.analysis import kernel
from stationmap.analysis.coverage import select_in_service
from stationmap.analysis.gaps import GapReport
from stationmap.errors import BadRequestError, DatumError, EmptyInputError
from stationmap.parameters import BAND_EDGES_M, CELL_M

_SNAP_DEG = 1e-7  # grid the gaps are made valid on before they are split, degrees (about 1 cm)
__all__ = ["DEFAULT_BAND_EDGES_M", "DEFAULT_CELL_M", "GAP_UNIT_KINDS", "MAX_CELLS", "GapUnits", "prepare_units",
           "split_gaps"]

#: Grid cell side when none is given, metres (`stationmap.parameters.CELL_M`).
DEFAULT_CELL_M = float(CELL_M.default)
#: Distance-band edges when none are given, metres: radius-2 km, 2-5 km, beyond 5 km.
DEFAULT_BAND_EDGES_M: tuple[float, ...] = (2000.0, 5000.0)
#: The ways of splitting: grid cells, distance bands, sub-district units.
GAP_UNIT_KINDS = ("grid", "bands", "units")
#: Most grid cells over the district's bounding box; a finer grid is refused.
MAX_CELLS = 250_000
_QUAD_SEGS = 32  # segments per quarter circle of the band discs
#: Unit parts smaller than this (m²) are reprojection noise along the district's edge, not places.
_NOISE_M2 = 1.0


@dataclass(frozen=True)
class GapUnits:
    """
    The uncovered area of a district split into places.

    Attributes
    ----------
    by
        ``"grid"``, ``"bands"`` or ``"units"``.
    crs
        Projected CRS the areas and band distances were measured in (geometries are EPSG:4326).
    region_name, radius_m
        As in the `GapReport` split.
    region_area_m2, gap_area_m2
        District area and the report's total uncovered area, square metres.
    unit_gap_area_m2
        Uncovered area inside the units listed, square metres (equals `gap_area_m2` for grid and bands; less
        for sub-district units that leave part of the district out).
    uncovered_demand
        Demand inside the units' uncovered parts, or None without demand.
    cell_m
        Grid cell side in metres (grid only, else None).
    band_edges_m
        Band edges in metres (bands only, else empty).
    units
        EPSG:4326 GeoDataFrame of the uncovered part of each unit, ranked (``rank`` 1 first) by uncovered demand,
        then uncovered area, then distance to the nearest station (bands in distance order; cells and units with
        less than 1 m² uncovered, reprojection noise along the edge, are left out), with columns ``rank``, ``unit`` (cell ``E<km>N<km>``
        of its south-west corner in the UTM CRS, band label ``1-2 km``, or the unit's name), ``area_m2`` (the
        unit inside the district; for bands the whole uncovered area, so the share is the band's part of it), ``uncovered_m2``, ``uncovered_share`` (0-1), ``demand``, ``n_pieces``,
        ``rep_lon``/``rep_lat`` (a WGS-84 point inside the uncovered part), ``nearest_station_id``,
        ``nearest_station_name`` and ``nearest_station_m`` (geodesic metres from that point); bands also
        ``min_m``/``max_m`` (``max_m`` is None for the last).
    """

    by: str
    crs: str
    region_name: str
    radius_m: float
    region_area_m2: float
    gap_area_m2: float
    unit_gap_area_m2: float
    uncovered_demand: float | None
    cell_m: float | None
    band_edges_m: tuple[float, ...]
    units: gpd.GeoDataFrame = field(compare=False, repr=False)

    def records(self) -> list[dict[str, Any]]:
        """Return the units in rank order as JSON-safe dicts without geometry."""
        out = []
        for rec in self.units.drop(columns=self.units.geometry.name).to_dict("records"):
            row = {}
            for key, value in rec.items():
                if isinstance(value, float | np.floating):
                    row[key] = kernel.finite_or_none(float(value), 7 if key.startswith("rep_") else 4
                                                     if key == "uncovered_share" else 3)
                elif isinstance(value, np.integer):
                    row[key] = int(value)
                else:
                    row[key] = value
            out.append(row)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe summary with the units in rank order (no geometry)."""
        out: dict[str, Any] = {k: getattr(self, k) for k in ("by", "crs", "region_name", "radius_m", "cell_m")}
        out["band_edges_m"] = list(self.band_edges_m)
        for key in ("region_area_m2", "gap_area_m2", "unit_gap_area_m2", "uncovered_demand"):
            out[key] = kernel.finite_or_none(getattr(self, key))
        out["n_units"] = len(self.units)
        out["units"] = self.records()
        return out


def prepare_units(frame: gpd.GeoDataFrame, *, crs: str | None, name_col: str | None = None) -> gpd.GeoDataFrame:
    """
    Return a sub-district boundary layer (街道/乡镇) as named WGS-84 polygons.

    Parameters
    ----------
    frame
        The layer as read from a file: polygons and a name column.
    crs
        Datum of its coordinates: ``wgs84``, ``gcj02`` or ``bd09``, or an EPSG code (``EPSG:32649``) for a
        projected file. Required: a datum is never guessed.
    name_col
        The name column; by default the first of ``name``, ``NAME``, ``名称``, ``街道``, ``乡镇``.

    Returns
    -------
    units
        EPSG:4326 GeoDataFrame with columns ``name`` and ``geometry`` (made valid), one row per polygon feature.

    Raises
    ------
    DatumError
        If `crs` is missing or unknown, or a projected file is given a geographic datum.
    EmptyInputError
        If the layer holds no polygon.
    BadRequestError
        If the name column is missing.
    """
    if crs is None or not str(crs).strip():
        msg = ("Say which datum the units file's coordinates are in with --units-crs "
               "(wgs84, gcj02, bd09 or an EPSG code); it is never guessed.")
        raise DatumError(msg)
    polys = frame[frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polys.empty:
        msg = "The units file holds no Polygon or MultiPolygon."
        raise EmptyInputError(msg)
    candidates = (name_col,) if name_col else ("name", "NAME", "名称", "街道", "乡镇")
    col = next((c for c in candidates if c in polys.columns), None)
    if col is None:
        cols = ", ".join(str(c) for c in polys.columns if c != polys.geometry.name)
        msg = f"The units file has no name column {' / '.join(candidates)} (columns: {cols or 'none'})."
        raise BadRequestError(msg)
    geoms = geo.geometries_to_wgs84(polys.geometry, crs, what="The units file", option="--units-crs").values
    return gpd.GeoDataFrame({"name": polys[col].astype(str).to_numpy()},
                            geometry=shapely.make_valid(np.asarray(geoms)), crs=geo.WGS84)


def split_gaps(report: GapReport, stations: gpd.GeoDataFrame, region: kernel.Region, *, by: str = "grid",
               cell_m: float = DEFAULT_CELL_M, band_edges_m: Sequence[float] = DEFAULT_BAND_EDGES_M,
               units: gpd.GeoDataFrame | None = None, demand: gpd.GeoDataFrame | None = None,
               weight_col: str = "weight") -> GapUnits:
    """
    Split a gap report's uncovered area into grid cells, distance bands or sub-district units.

    Parameters
    ----------
    report
        The `find_gaps` result for `region`; its gaps (EPSG:4326) are split as they are, in its UTM CRS.
    stations
        The stations the report was computed from, any CRS (closed ones, and with ``report.when`` those not open
        then, are left out as `find_gaps` does): the nearest station of each unit, and the band distances.
    region
        The district, as given to `find_gaps` (a WGS-84 geometry or a frame in the stations' CRS).
    by
        ``"grid"``, ``"bands"`` or ``"units"``.
    cell_m
        Grid cell side in metres (`CELL_M`), cells aligned to multiples of it in the UTM CRS.
    band_edges_m
        Increasing band edges in metres (`BAND_EDGES_M`); the first band starts at ``report.radius_m``.
    units
        Sub-district polygons in EPSG:4326 with a ``name`` column (`prepare_units`); required for ``"units"``.
    demand
        Points or polygons with `weight_col`, in the stations' CRS; polygons count in proportion to the part of
        their area inside a unit's uncovered part.
    weight_col
        Weight column of `demand`.

    Returns
    -------
    split
        A `GapUnits`; ``units`` is an EPSG:4326 GeoDataFrame, every area in m² and distance in m.

    Raises
    ------
    BadRequestError
        For an unknown `by`, an out-of-range `cell_m` or band edge, too many cells, or ``"units"`` without units.
    """
    if by not in GAP_UNIT_KINDS:
        msg = f"by must be one of {', '.join(GAP_UNIT_KINDS)}, got {by!r}."
        raise BadRequestError(msg)
    crs = CRS.from_user_input(report.crs)
    region_geom = kernel.region_geometry(region, stations)
    if region_geom is None:
        msg = "Gaps by place need a district."
        raise EmptyInputError(msg)
    region_m = kernel.reproject_geometry(region_geom, geo.WGS84, crs)
    gaps_m = np.asarray(report.gaps.geometry.to_crs(crs).values) if len(report.gaps) else np.empty(0, dtype=object)
    if len(gaps_m) and not shapely.is_valid(gaps_m).all():
        # a gap of find_gaps can be invalid once projected (a ring touching itself where service discs meet the
        # boundary: 官渡, 530111) and then fails GEOS's overlay; made valid on a 1e-7 degree grid (about 1 cm) it
        # does not, and the pieces' areas still add up to the gap area within 1e-7
        snapped = shapely.set_precision(shapely.make_valid(np.asarray(report.gaps.geometry.values)), _SNAP_DEG)
        gaps_m = np.asarray(gpd.GeoSeries(snapped, crs=geo.WGS84).to_crs(crs).values)
    gap_m = kernel.dissolve(gaps_m)
    used = select_in_service(stations, when=report.when)
    edges: tuple[float, ...] = ()
    extra: dict[str, Any] = {}
    if by == "grid":
        CELL_M.check(cell_m)
        labels, areas, parts = _grid(gap_m, region_m, float(cell_m))
    elif by == "bands":
        edges = _check_edges(band_edges_m, report.radius_m)
        labels, parts, extra = _bands(gap_m, used, crs, report.radius_m, edges)
        areas = np.full(len(parts), report.gap_area_m2)  # a band's share is its part of the whole gap
    else:
        if units is None or not len(units):
            msg = "Gaps by units need a boundary file of sub-district units (街道/乡镇)."
            raise BadRequestError(msg)
        units_m = units.to_crs(crs)
        within = shapely.intersection(np.asarray(units_m.geometry.values), region_m)
        labels = units_m["name"].astype(str).to_numpy()
        areas, parts = shapely.area(within), shapely.intersection(within, gap_m)
    frame = _frame(parts, labels, areas, used, crs, demand, weight_col, stations)
    for key, values in extra.items():
        frame[key] = values
    if by != "bands":
        # areas compared to the square metre (whole cells differ by reprojection noise); ties go farthest first
        frame = frame[frame["uncovered_m2"] >= _NOISE_M2]
        key = frame.assign(_m2=frame["uncovered_m2"].round(0))
        order = key.sort_values(["demand", "_m2", "nearest_station_m"], ascending=False, kind="stable",
                                na_position="first").index
        frame = frame.loc[order]
    frame = frame.reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    with_demand = demand is not None
    return GapUnits(by=by, crs=crs.to_string(), region_name=report.region_name, radius_m=report.radius_m,
                    region_area_m2=report.region_area_m2, gap_area_m2=report.gap_area_m2,
                    unit_gap_area_m2=float(frame["uncovered_m2"].sum()),
                    uncovered_demand=float(frame["demand"].sum()) if with_demand else None,
                    cell_m=float(cell_m) if by == "grid" else None, band_edges_m=edges, units=frame)


def _check_edges(band_edges_m: Sequence[float], radius_m: float) -> tuple[float, ...]:
    edges = tuple(float(BAND_EDGES_M.check(e)) for e in band_edges_m)
    if not edges or any(b <= a for a, b in zip((radius_m, *edges), edges, strict=False)):
        msg = (f"band_edges_m must increase and start beyond the radius ({radius_m:g} m), "
               f"got {', '.join(f'{e:g}' for e in edges) or 'none'}.")
        raise BadRequestError(msg)
    return edges


def _grid(gap_m: BaseGeometry, region_m: BaseGeometry, cell_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells of `cell_m` over the district: labels, area inside the district, uncovered part (UTM metres)."""
    xmin, ymin, xmax, ymax = region_m.bounds
    x0, y0 = math.floor(xmin / cell_m) * cell_m, math.floor(ymin / cell_m) * cell_m
    nx, ny = max(1, math.ceil((xmax - x0) / cell_m)), max(1, math.ceil((ymax - y0) / cell_m))
    if nx * ny > MAX_CELLS:
        msg = f"A {cell_m:g} m grid over this district has {nx * ny:,} cells (at most {MAX_CELLS:,}); use a coarser one."
        raise BadRequestError(msg)
    xs = x0 + cell_m * np.arange(nx)
    labels: list[str] = []
    areas: list[np.ndarray] = []
    parts: list[np.ndarray] = []
    shapely.prepare(region_m)
    for y in y0 + cell_m * np.arange(ny):
        # a row strip first: each cell then cuts a small piece, not the whole district
        strip = shapely.box(x0, y, x0 + nx * cell_m, y + cell_m)
        inside, hole = shapely.intersection(region_m, strip), shapely.intersection(gap_m, strip)
        if inside.is_empty:
            continue
        cells = shapely.box(xs, y, xs + cell_m, y + cell_m)
        cell_area = shapely.area(shapely.intersection(inside, cells))
        keep = cell_area > 0
        labels.extend(f"E{x / 1000:g}N{y / 1000:g}" for x in xs[keep])
        areas.append(cell_area[keep])
        parts.append(shapely.intersection(hole, cells[keep]) if not hole.is_empty
                     else np.full(int(keep.sum()), shapely.Polygon(), dtype=object))
    if not labels:
        return np.empty(0, dtype=object), np.empty(0), np.empty(0, dtype=object)
    return np.asarray(labels, dtype=object), np.concatenate(areas), np.concatenate(parts)


def _bands(gap_m: BaseGeometry, used: gpd.GeoDataFrame, crs: CRS, radius_m: float,
           edges: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The uncovered area split by distance to the nearest station, metres in the UTM CRS."""
    lon, lat = kernel.lonlat(used) if len(used) else (np.empty(0), np.empty(0))
    points = shapely.points(kernel.project_lonlat(lon, lat, crs)) if len(used) else np.empty(0, dtype=object)
    lows, highs = (radius_m, *edges), (*edges, None)
    parts, inner = [], shapely.Polygon()
    for high in highs:
        if high is None:
            parts.append(shapely.difference(gap_m, inner))
            break
        reach = shapely.intersection(gap_m, kernel.dissolve(shapely.buffer(points, high, quad_segs=_QUAD_SEGS)))
        parts.append(shapely.difference(reach, inner))
        inner = reach
    labels = [f"{lo / 1000:g}–{hi / 1000:g} km" if hi is not None else f"> {lo / 1000:g} km"
              for lo, hi in zip(lows, highs, strict=True)]
    return (np.asarray(labels, dtype=object), np.asarray(parts, dtype=object),
            {"min_m": list(lows), "max_m": list(highs)})


def _frame(parts: np.ndarray, labels: np.ndarray, areas: np.ndarray, used: gpd.GeoDataFrame, crs: CRS,
           demand: gpd.GeoDataFrame | None, weight_col: str, stations: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per unit: its uncovered part's area, demand and nearest station (geodesic metres)."""
    parts = np.asarray(parts, dtype=object)
    uncovered = shapely.area(parts) if len(parts) else np.empty(0)
    polys = [shapely.get_parts(p) for p in parts]
    n_pieces = np.array([int((shapely.get_type_id(p) == 3).sum()) for p in polys], dtype=int)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(areas > 0, uncovered / np.where(areas > 0, areas, 1.0), 0.0)
    unit_demand = np.zeros(len(parts))
    if demand is not None and len(demand) and len(parts):
        if len(stations):
            geo.check_same_crs(stations, demand)
        unit_demand = _demand_in(parts, demand.to_crs(crs), kernel.demand_weights(demand, weight_col))
    empty = shapely.is_empty(parts) if len(parts) else np.empty(0, dtype=bool)
    reps = np.asarray(parts, dtype=object).copy()
    reps[~empty] = shapely.point_on_surface(parts[~empty])
    rep_lon, rep_lat = np.full(len(parts), np.nan), np.full(len(parts), np.nan)
    if (~empty).any():
        rep_wgs = gpd.GeoSeries(reps[~empty], crs=crs).to_crs(geo.WGS84)
        rep_lon[~empty], rep_lat[~empty] = rep_wgs.x.to_numpy(), rep_wgs.y.to_numpy()
    s_lon, s_lat = kernel.lonlat(used) if len(used) else (np.empty(0), np.empty(0))
    ids = used["id"].astype(str).to_numpy() if "id" in used.columns else used.index.astype(str).to_numpy()
    names = used["name"].astype(str).to_numpy() if "name" in used.columns else ids
    near_id: list[str | None] = [None] * len(parts)
    near_name: list[str | None] = [None] * len(parts)
    near_m: list[float | None] = [None] * len(parts)
    todo = np.flatnonzero(~empty)
    if len(used) and len(todo):
        idx, dist = (a[:, 0] for a in geo.GeodesicIndex(s_lon, s_lat).nearest_many(rep_lon[todo], rep_lat[todo], k=1))
        for row, i, d in zip(todo, idx, dist, strict=True):
            near_id[row], near_name[row], near_m[row] = str(ids[i]), str(names[i]), float(d)
    return gpd.GeoDataFrame({
        "unit": pd.array(labels, dtype=object), "area_m2": areas, "uncovered_m2": uncovered,
        "uncovered_share": share, "demand": unit_demand, "n_pieces": n_pieces,
        "rep_lon": np.round(rep_lon, 7), "rep_lat": np.round(rep_lat, 7), "nearest_station_id": near_id,
        "nearest_station_name": near_name, "nearest_station_m": near_m,
    }, geometry=gpd.GeoSeries(parts, crs=crs).to_crs(geo.WGS84).values, crs=geo.WGS84)


def _demand_in(parts: np.ndarray, demand_m: gpd.GeoDataFrame, weights: np.ndarray) -> np.ndarray:
    """Demand inside each part: whole points, or polygons in proportion to their area inside."""
    geoms = np.asarray(demand_m.geometry.values)
    out = np.zeros(len(parts))
    part_idx, dem_idx = shapely.STRtree(geoms).query(parts, predicate="intersects")
    if len(part_idx) == 0:
        return out
    if set(demand_m.geom_type.unique()) & {"Polygon", "MultiPolygon"}:
        inside = shapely.area(shapely.intersection(parts[part_idx], geoms[dem_idx]))
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.nan_to_num(inside / shapely.area(geoms[dem_idx]))
    else:
        share = np.ones(len(dem_idx))
    np.add.at(out, part_idx, weights[dem_idx] * share)
    return out

"""Coverage gaps: the parts of a district out of reach of every station, ranked by area and by uncovered demand."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from stationmap import geo, hours
from stationmap.analysis import kernel
from stationmap.analysis.coverage import coverage_pieces, select_in_service
from stationmap.analysis.kernel import DEFAULT_RADIUS_M, Region
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.parameters import MIN_AREA_M2

__all__ = ["DEFAULT_MIN_GAP_M2", "GapReport", "find_gaps"]

#: Gaps smaller than this are slivers between service areas and the boundary (1 ha).
DEFAULT_MIN_GAP_M2 = float(MIN_AREA_M2.default)

_GAP_COLUMNS = ["rank", "rank_by_demand", "area_m2", "demand", "centre_lon", "centre_lat", "inscribed_radius_m",
                "nearest_station_id", "nearest_station_m"]


@dataclass(frozen=True)
class GapReport:
    """
    The uncovered parts of a region.

    Attributes
    ----------
    radius_m
        Service radius in metres.
    distance_model
        ``"straight-line"`` or ``"network"``.
    crs
        Projected CRS the areas were computed in (geometries are EPSG:4326).
    when
        ISO time whose open stations were used, or None.
    region_name
        Name of the region.
    region_area_m2, gap_area_m2
        Region area and total area of the gaps kept, square metres.
    min_area_m2
        Gaps smaller than this were dropped as slivers.
    n_gaps, n_slivers, sliver_area_m2
        Gaps kept; slivers dropped and their total area.
    demand_col
        Demand weight column, or None without demand.
    uncovered_demand
        Demand inside the gaps kept (None without demand).
    gaps
        EPSG:4326 polygons, largest first, with columns ``rank`` (by area), ``rank_by_demand``, ``area_m2``,
        ``demand`` (uncovered demand inside, 0 without demand), ``centre_lon``/``centre_lat`` (WGS-84 centre of
        the largest circle that fits in the gap), ``inscribed_radius_m`` (that circle's radius: how far the gap
        reaches from its edge), ``nearest_station_id`` and ``nearest_station_m`` (geodesic metres from the centre).
    """

    radius_m: float
    distance_model: str
    crs: str
    when: str | None
    region_name: str
    region_area_m2: float
    gap_area_m2: float
    min_area_m2: float
    n_gaps: int
    n_slivers: int
    sliver_area_m2: float
    demand_col: str | None
    uncovered_demand: float | None
    gaps: gpd.GeoDataFrame = field(compare=False, repr=False)

    def records(self, *, by: str = "area") -> list[dict[str, Any]]:
        """
        Return the gaps as JSON-safe dicts without geometry.

        Parameters
        ----------
        by
            ``"area"`` or ``"demand"``: the order of the list.
        """
        frame = self.gaps.sort_values("rank_by_demand" if by == "demand" else "rank")
        out = []
        for rec in frame.drop(columns=frame.geometry.name).to_dict("records"):
            out.append({k: (kernel.finite_or_none(v, 7 if k.startswith("centre_") else 3)
                            if isinstance(v, float) else v) for k, v in rec.items()})
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe summary with the gaps listed by area (no geometry)."""
        out = {k: getattr(self, k) for k in ("radius_m", "distance_model", "crs", "when", "region_name",
                                              "min_area_m2", "n_gaps", "n_slivers", "demand_col")}
        for key in ("region_area_m2", "gap_area_m2", "sliver_area_m2", "uncovered_demand"):
            out[key] = kernel.finite_or_none(getattr(self, key))
        out["gaps"] = self.records()
        return out


def find_gaps(stations: gpd.GeoDataFrame, region: Region, *, radius_m: float = DEFAULT_RADIUS_M,
              when: datetime | str | None = None, demand: gpd.GeoDataFrame | None = None, weight_col: str = "weight",
              min_area_m2: float = DEFAULT_MIN_GAP_M2, covered: BaseGeometry | None = None,
              distance_model: str = "straight-line", region_name: str | None = None) -> GapReport:
    """
    Return the region minus the area within reach of the stations, as ranked polygons.

    Parameters
    ----------
    stations
        Station points, any CRS (EPSG:4326 as loaded); closed stations are left out.
    region
        The district: a WGS-84 shapely geometry or a frame in the stations' CRS.
    radius_m
        Service radius in metres.
    when
        Use only the stations open at this time (``"05:00"``, a datetime).
    demand
        Points or polygons with `weight_col`, in the stations' CRS; the demand inside each gap is reported
        (polygons in proportion to the part of their area inside the gap).
    weight_col
        Weight column of `demand`.
    min_area_m2
        Gaps smaller than this many square metres are dropped as slivers (and counted).
    covered
        The covered area as a WGS-84 geometry, when it was computed otherwise (e.g. from the street network);
        by default it is the straight-line service area of the stations.
    distance_model
        Label of how `covered` was made, for the report.
    region_name
        Name to print.

    Returns
    -------
    report
        A `GapReport`; ``gaps`` is a GeoDataFrame in EPSG:4326.

    Raises
    ------
    EmptyInputError
        If the region is missing or empty.
    BadRequestError
        If `radius_m` or `min_area_m2` is out of range.
    """
    radius_m = kernel.check_radius(radius_m)
    if region is None:
        msg = "Gaps need a district: give its adcode or a boundary file."
        raise EmptyInputError(msg)
    if not math.isfinite(min_area_m2) or min_area_m2 < 0:
        msg = f"min_area_m2 must be a non-negative number of square metres, got {min_area_m2!r}."
        raise BadRequestError(msg)
    region_geom = kernel.region_geometry(region, stations)
    region_area, crs = kernel.region_area_m2(region_geom)
    used = select_in_service(stations, when=when)
    region_m = kernel.reproject_geometry(region_geom, geo.WGS84, crs)
    if covered is None:
        pieces = coverage_pieces(used, region_geom, radius_m=radius_m, overlap=False) if len(used) else []
        covered_m = shapely.union_all([kernel.reproject_geometry(kernel.dissolve(p.once), c, crs)
                                       for c, p in pieces]) if pieces else shapely.Polygon()
    else:
        covered_m = kernel.reproject_geometry(covered, geo.WGS84, crs)
    holes = shapely.get_parts(shapely.difference(region_m, covered_m))
    holes = holes[shapely.get_type_id(holes) == 3]  # polygons only: lines and points of a difference have no area
    areas = shapely.area(holes)
    keep = areas >= min_area_m2
    n_slivers, sliver_area = int((~keep).sum()), float(areas[~keep].sum())
    holes, areas = holes[keep], areas[keep]
    order = np.argsort(-areas, kind="stable")
    holes, areas = holes[order], areas[order]

    gap_demand = np.zeros(len(holes))
    if demand is not None and len(demand) and len(holes):
        if len(used):
            geo.check_same_crs(stations, demand)
        gap_demand = _demand_in(holes, demand.to_crs(crs), kernel.demand_weights(demand, weight_col))
    circles = shapely.maximum_inscribed_circle(holes, tolerance=max(1.0, radius_m / 200)) if len(holes) else holes
    centres = shapely.get_point(circles, 0) if len(holes) else holes
    inscribed = shapely.length(circles) if len(holes) else np.empty(0)
    centres_wgs = gpd.GeoSeries(centres, crs=crs).to_crs(geo.WGS84)
    c_lon, c_lat = (centres_wgs.x.to_numpy(), centres_wgs.y.to_numpy()) if len(holes) else (np.empty(0), np.empty(0))
    s_lon, s_lat = kernel.lonlat(used) if len(used) else (np.empty(0), np.empty(0))
    nearest_idx, nearest_m = (a[:, 0] for a in geo.GeodesicIndex(s_lon, s_lat).nearest_many(c_lon, c_lat, k=1))
    ids = used["id"].astype(str).to_numpy() if "id" in used.columns else used.index.astype(str).to_numpy()
    by_demand = np.empty(len(holes), dtype=int)
    by_demand[np.argsort(-gap_demand, kind="stable")] = np.arange(1, len(holes) + 1)
    frame = gpd.GeoDataFrame({
        "rank": np.arange(1, len(holes) + 1), "rank_by_demand": by_demand, "area_m2": areas, "demand": gap_demand,
        "centre_lon": np.round(c_lon, 6), "centre_lat": np.round(c_lat, 6), "inscribed_radius_m": inscribed,
        "nearest_station_id": [str(ids[i]) if len(used) else None for i in nearest_idx],
        "nearest_station_m": [float(d) if math.isfinite(d) else None for d in nearest_m],
    }, geometry=gpd.GeoSeries(holes, crs=crs).to_crs(geo.WGS84).values, crs=geo.WGS84)
    moment = hours.resolve_when(when).isoformat(timespec="minutes") if when is not None else None
    return GapReport(radius_m=radius_m, distance_model=distance_model, crs=crs.to_string(), when=moment,
                     region_name=kernel.region_name(region, region_name), region_area_m2=region_area,
                     gap_area_m2=float(areas.sum()), min_area_m2=float(min_area_m2), n_gaps=len(holes),
                     n_slivers=n_slivers, sliver_area_m2=sliver_area, demand_col=weight_col if demand is not None
                     else None, uncovered_demand=float(gap_demand.sum()) if demand is not None else None,
                     gaps=frame[[*_GAP_COLUMNS, "geometry"]])


def _demand_in(holes: np.ndarray, demand_m: gpd.GeoDataFrame, weights: np.ndarray) -> np.ndarray:
    """Demand inside each hole: whole points, or polygons in proportion to their area inside."""
    geoms = demand_m.geometry.values
    tree = shapely.STRtree(geoms)
    out = np.zeros(len(holes))
    polygons = bool(set(demand_m.geom_type.unique()) & {"Polygon", "MultiPolygon"})
    hole_idx, dem_idx = tree.query(holes, predicate="intersects")
    if len(hole_idx) == 0:
        return out
    if polygons:
        part = shapely.area(shapely.intersection(holes[hole_idx], geoms[dem_idx]))
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.nan_to_num(part / shapely.area(geoms[dem_idx]))
    else:
        share = np.ones(len(dem_idx))
    np.add.at(out, hole_idx, weights[dem_idx] * share)
    return out

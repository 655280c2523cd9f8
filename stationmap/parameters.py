"""Every user-facing parameter declared once: name, type, unit, range, default and description.

The faces take their limits from here and nowhere else: `stationmap.cli` builds its click options from a
`ParamSpec`, `stationmap.web.params` and `stationmap.web.planner` parse query arguments with one, and
`stationmap.web.openapi` writes the OpenAPI parameters from the same objects, so a documented range cannot drift
from the enforced one. `Settings.default_radius_m` takes its default from `RADIUS_M`.

This module imports only the error tree, so the settings, the analysis and the report may import it too without
an upward import. Where a face needs a narrower range than another for the same quantity, both specs live here,
named, and the narrower one says why in `ParamSpec.reason`.

(`SPECS` lists every spec; ``tests/test_parameters.py`` checks each.)
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal

from stationmap.errors import BadRequestError

__all__ = [
    "ADD",
    "ADD_DATUM",
    "AMENITY",
    "AT",
    "BAND_EDGES_M",
    "BBOX",
    "BEFORE_EDIT",
    "BEFORE_FEEDBACK",
    "BY",
    "CELL_M",
    "DATUM",
    "DATUMS",
    "DISTRICT",
    "DISTRICT_CODE",
    "DUPLICATE_M",
    "EDITS_LIMIT",
    "EXPORT_DATUM",
    "EXPORT_DISTRICT",
    "FEEDBACK_CLIENT_PER_HOUR",
    "FEEDBACK_DISTRICT",
    "FEEDBACK_LIMIT",
    "FEEDBACK_PHONE_MAX_DIGITS",
    "FEEDBACK_REGISTER_PER_DAY",
    "FEEDBACK_STATE",
    "FEEDBACK_STATION_PER_DAY",
    "FEEDBACK_TEXT_MAX_CHARS",
    "GRID_M",
    "HEADLINE_RADIUS_M",
    "KEEP_CLIENT_KEY_DAYS",
    "KEEP_CLOSED_REPORT_DAYS",
    "KEEP_LOGIN_FAILURE_DAYS",
    "KEEP_PHONE_DAYS",
    "LANG",
    "LANGS",
    "LAT",
    "LIMIT",
    "LON",
    "MAP_DATUM",
    "MAX_DISTANCE_M",
    "MAX_REQUEST_BYTES",
    "MINUTES",
    "MIN_AREA_M2",
    "MIN_STARS",
    "MODE",
    "NEAREST_K",
    "NEED",
    "OFFSET",
    "OPEN_AT",
    "OPEN_NOW",
    "OSM_DEDUP_M",
    "PLANNER_MAP_DATUM",
    "PORT",
    "QUERY",
    "RADIUS_M",
    "REMOVE",
    "REPORT_RADII_M",
    "REPORT_SITES",
    "SCHEDULER",
    "SCHEDULER_TIMEOUT_S",
    "SITES_K",
    "SPECS",
    "STATION_AT",
    "STREET_BUFFER_M",
    "STREET_SAMPLE_M",
    "TILE_DEG",
    "TIME_LIMIT_S",
    "TOILET",
    "TOP",
    "WEB_BY",
    "WEB_SITES_K",
    "WORKERS",
    "ZOOM",
    "ParamSpec",
    "ParamType",
]

ParamType = Literal["number", "integer", "boolean", "string", "array"]

_DIGITS = re.compile(r"[+-]?\d+")
_WHOLE = re.compile(r"[+-]?\d{1,12}")  # longer digit strings are refused before int() reads them
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _num(value: float) -> str:
    """Write a bound the way a user types it: 100, 0.5, -180 (no exponent, no thousands separator)."""
    if isinstance(value, Integral) or (math.isfinite(value) and float(value).is_integer()):
        return str(int(value))
    return repr(float(value))


def _with_unit(text: str, unit: str) -> str:
    if not unit:
        return text
    return f"{text}{unit}" if unit == "°" else f"{text} {unit}"


@dataclass(frozen=True)
class ParamSpec:
    """
    One user-facing parameter: what it is called, what it takes and what it means.

    Attributes
    ----------
    name
        The name in the web API and in Python keywords (``radius_m``); the CLI option is ``--radius-m``.
    type
        JSON Schema type: ``number``, ``integer``, ``boolean``, ``string`` or ``array`` (of strings).
    description
        One English sentence for ``--help`` and the OpenAPI document; units in words.
    description_zh
        The Chinese label, where the UI shows the parameter.
    unit
        Unit symbol: ``m``, ``m²``, ``s``, ``°``, ``bytes``; empty for counts and text.
    minimum, maximum
        Bounds, None for unbounded.
    exclusive_minimum, exclusive_maximum
        Whether the bound itself is excluded.
    default
        Value when the parameter is absent; None when there is none (or it is computed, as `default_text` says).
    default_text
        How ``--help`` describes a computed default ("radius / 2").
    choices
        Allowed values of a string (or of each item of an array).
    pattern, min_length, max_length
        Constraints on a string.
    max_items
        Most items in a list-valued string (``add=lon,lat;lon,lat``).
    required
        Whether every endpoint that takes it requires it.
    example
        A valid value, for the OpenAPI document and tests.
    maximum_setting, default_setting
        Name of a `Settings` attribute that gives the maximum (``max_results``) or the default
        (``default_radius_m``) at run time; see `for_settings`.
    reason
        Why the range is what it is, above all where one face is narrower than another.
    """

    name: str
    type: ParamType
    description: str
    description_zh: str = ""
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    default: Any = None
    default_text: str = ""
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    max_items: int | None = None
    required: bool = False
    example: Any = None
    maximum_setting: str | None = None
    default_setting: str | None = None
    reason: str = ""

    # --- describing ---------------------------------------------------------------------------------

    @property
    def numeric(self) -> bool:
        """Whether the parameter is a number or a whole number."""
        return self.type in ("number", "integer")

    @property
    def option(self) -> str:
        """The CLI option for this parameter: ``--radius-m``."""
        return "--" + self.name.replace("_", "-")

    def range_text(self) -> str:
        """
        Describe the allowed values in words, e.g. ``between 100 and 10000 m`` or ``at least 0``.

        Returns an empty string for a parameter without a range.
        """
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            if not (self.exclusive_minimum or self.exclusive_maximum):
                return _with_unit(f"between {_num(lo)} and {_num(hi)}", self.unit)
            low = f"{'greater than' if self.exclusive_minimum else 'at least'} {_num(lo)}"
            high = f"{'less than' if self.exclusive_maximum else 'at most'} {_num(hi)}"
            return _with_unit(f"{low} and {high}", self.unit)
        if lo is not None:
            return _with_unit(f"{'greater than' if self.exclusive_minimum else 'at least'} {_num(lo)}", self.unit)
        if hi is not None:
            return _with_unit(f"{'less than' if self.exclusive_maximum else 'at most'} {_num(hi)}", self.unit)
        if self.choices:
            return "one of " + ", ".join(self.choices)
        return ""

    def help_text(self) -> str:
        """The ``--help`` text: the description, the allowed range and a computed default."""
        parts = [self.description]
        if self.range_text() and not self.choices:
            parts.append(f"Allowed: {self.range_text()}.")
        if self.default_text:
            parts.append(f"Default: {self.default_text}.")
        return " ".join(parts)

    def json_schema(self) -> dict[str, Any]:
        """
        Return the JSON Schema (OpenAPI 3.1) of the parameter's value.

        Bounds become ``minimum`` / ``maximum`` or ``exclusiveMinimum`` / ``exclusiveMaximum``; the most items of a
        list-valued string become ``x-maxItems``.
        """
        schema: dict[str, Any] = {"type": self.type}
        if self.type == "array":
            schema["items"] = {"type": "string", **({"enum": list(self.choices)} if self.choices else {})}
        elif self.choices:
            schema["enum"] = list(self.choices)
        if self.minimum is not None:
            schema["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = self.minimum
        if self.maximum is not None:
            schema["exclusiveMaximum" if self.exclusive_maximum else "maximum"] = self.maximum
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        if self.min_length is not None:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.max_items is not None:
            schema["x-maxItems"] = self.max_items
        if self.default is not None:
            schema["default"] = list(self.default) if isinstance(self.default, tuple) else self.default
        if self.example is not None:
            schema["example"] = self.example
        return schema

    # --- deriving -----------------------------------------------------------------------------------

    def replace(self, **changes: Any) -> ParamSpec:
        """Return a copy with `changes` (another name, description or default for the same range)."""
        return dataclasses.replace(self, **changes)

    def for_settings(self, settings: Any) -> ParamSpec:
        """
        Return the spec with its run-time maximum and default filled in from `settings`.

        ``maximum_setting`` names the `Settings` attribute that caps the maximum (``limit`` and ``k`` stop at
        ``max_results``), ``default_setting`` the one that gives the default (``radius_m`` defaults to
        ``default_radius_m``). A default beyond the range is brought to its nearest bound (``limit`` defaults to
        100 but never to more than ``max_results``).
        """
        changes: dict[str, Any] = {"maximum_setting": None, "default_setting": None}
        if self.maximum_setting:
            changes["maximum"] = getattr(settings, self.maximum_setting)
        if self.default_setting:
            changes["default"] = getattr(settings, self.default_setting)
        spec = dataclasses.replace(self, **changes)
        if spec.numeric and isinstance(spec.default, Real):
            # any Real (int, float, ...): clamped against the float bounds, then turned back into its own type,
            # which the abstract `Real` (no constructor arguments, loose comparisons) cannot express
            default: Any = spec.default
            kind: type[Any] = type(default)
            if spec.maximum is not None and not spec.exclusive_maximum:
                default = min(default, spec.maximum)
            if spec.minimum is not None and not spec.exclusive_minimum:
                default = max(default, spec.minimum)
            spec = dataclasses.replace(spec, default=kind(default))
        if spec.numeric and isinstance(spec.example, Real) and not spec.accepts(spec.example):
            spec = dataclasses.replace(spec, example=spec.default)
        return spec

    # --- checking -----------------------------------------------------------------------------------

    def message(self, problem: str) -> str:
        """The error text for `problem`, naming the parameter: ``parameter 'radius_m' must be ...``."""
        return f"parameter {self.name!r} {problem}"

    def problem(self, raw: str) -> str | None:
        """
        Say what is wrong with the text `raw` as a value of this parameter, or None if it is fine.

        The answer names the value and the allowed range but not the parameter (``must be between 100 and
        10000 m, got '50'``), so each face can name it its own way (``--radius-m``, ``'radius_m'``).
        """
        _value, problem = self._read(raw)
        return problem

    def parse(self, raw: str) -> Any:
        """
        Read the text `raw` (a query argument or a command-line word) into a checked value.

        Raises
        ------
        BadRequestError
            If `raw` is not of the parameter's type or out of range; the message names the parameter, the
            value and the range.
        """
        value, problem = self._read(raw)
        if problem is not None:
            raise BadRequestError(self.message(problem))
        return value

    def check(self, value: Any) -> Any:
        """
        Return `value` if it is a valid value of this parameter (for callers that hold a number already).

        Raises
        ------
        BadRequestError
            If it is of the wrong type, not finite, out of range or not an allowed choice.
        """
        problem = self._problem_of(value, repr(value))
        if problem is not None:
            raise BadRequestError(self.message(problem))
        return value

    def accepts(self, value: Any) -> bool:
        """Whether `value` (already of the parameter's type) is allowed."""
        return self._problem_of(value, repr(value)) is None

    def _read(self, raw: str) -> tuple[Any, str | None]:
        text = str(raw).strip()
        shown = repr(str(raw))
        if self.type == "number":
            try:
                value: Any = float(text)
            except ValueError:
                return None, f"must be a number, got {shown}"
        elif self.type == "integer":
            if not _DIGITS.fullmatch(text):
                return None, f"must be a whole number, got {shown}"
            if not _WHOLE.fullmatch(text):  # too long to read, and beyond any range here
                return None, f"must be {self.range_text() or 'at most 12 digits long'}, got {shown}"
            value = int(text)
        elif self.type == "boolean":
            if text.lower() not in _TRUE | _FALSE:
                return None, f"must be true or false, got {shown}"
            value = text.lower() in _TRUE
        else:
            value = text
        return value, self._problem_of(value, shown)

    def _problem_of(self, value: Any, shown: str) -> str | None:
        if self.type == "number":
            if isinstance(value, bool) or not isinstance(value, Real):
                return f"must be a number, got {shown}"
            if not math.isfinite(value):
                return f"must be a finite number, got {shown}"
        elif self.type == "integer":
            if isinstance(value, bool) or not isinstance(value, Integral):
                return f"must be a whole number, got {shown}"
        elif self.type == "boolean":
            return None if isinstance(value, bool) else f"must be true or false, got {shown}"
        elif self.type == "string":
            if not isinstance(value, str):
                return f"must be text, got {shown}"
            if self.choices and value not in self.choices:
                return f"must be one of {', '.join(self.choices)}, got {shown}"
            if self.min_length is not None and len(value) < self.min_length:
                return f"must be at least {self.min_length} characters, got {shown}"
            if self.max_length is not None and len(value) > self.max_length:
                return f"must be at most {self.max_length} characters, got {len(value)}"
            if self.pattern is not None and not re.search(self.pattern, value):
                return f"must match {self.pattern}, got {shown}"
            return None
        else:
            return None
        if not self._within(value):
            return f"must be {self.range_text()}, got {shown}"
        return None

    def _within(self, value: float) -> bool:
        lo, hi = self.minimum, self.maximum
        if lo is not None and (value <= lo if self.exclusive_minimum else value < lo):
            return False
        return not (hi is not None and (value >= hi if self.exclusive_maximum else value > hi))


# --------------------------------------------------------------------------------------------------------------
# vocabularies

#: Coordinate datums a parameter may name (aliases such as ``amap`` are accepted and mapped to these).
DATUMS = ("wgs84", "gcj02", "bd09")
#: Languages of the answers and pages.
LANGS = ("zh", "en")

# --------------------------------------------------------------------------------------------------------------
# planning: coverage, gaps, siting, reports

RADIUS_M = ParamSpec(
    "radius_m", "number", "Service radius in metres: a station serves the area within this distance.",
    description_zh="服务半径（米）", unit="m", minimum=100.0, maximum=10_000.0, default=1000.0,
    default_setting="default_radius_m", example=1000.0,
    reason="The one range for the CLI, the report, the web planner and the analysis. 1,000 m is the "
           "'one-kilometre service circle' (一公里服务圈); 15 minutes' walk is 1,100-1,200 m and 15 minutes by "
           "e-bike 3-4 km. Below 100 m a circle is smaller than a street block and than the 300-600 m a wrong "
           "datum (GCJ-02 read as WGS-84) moves a station, so it measures noise; beyond 10 km it no longer "
           "describes a walking or riding circle. The web planner costs no more at 10 km than at 5 km (larger "
           "radii mean coarser siting grids), so it needs no narrower range.")
MINUTES = ParamSpec(
    "minutes", "integer", "Service circle in minutes of travel instead of metres: the radius is minutes x the "
    "mode's speed (walk 75 m/min, ebike 250 m/min; stationmap.needs.MODES), straight-line, or along the streets "
    "with an OSM extract. Not together with radius_m.", description_zh="服务圈（分钟）", unit="min", minimum=2,
    maximum=60, example=15,
    reason="The national target is stated in minutes (a 15-minute service circle). From 2 minutes, since 1 minute "
           "on foot (75 m) is under RADIUS_M's 100 m floor; up to an hour. The radius it gives must still be "
           "within RADIUS_M (60 minutes by e-bike, 15 km, is refused).")
HEADLINE_RADIUS_M = RADIUS_M.replace(
    name="headline_radius_m", description="Radius in metres for the report's gaps, time of day and siting.",
    description_zh="报告主服务半径（米）", default_setting=None)
#: The report's coverage table radii when none are given, metres (each within `RADIUS_M`).
REPORT_RADII_M = (500.0, 1000.0, 1500.0)

SITES_K = ParamSpec(
    "k", "integer", "Number of new sites to propose.", description_zh="新增站点数", minimum=1, maximum=500,
    default=5, example=5,
    reason="500 is the siting kernel's own ceiling (analysis.siting.MAX_K); a city-wide run from the command "
           "line may want hundreds.")
WEB_SITES_K = SITES_K.replace(
    maximum=20,
    reason="Narrower than SITES_K for cost: every web request shares two planner threads and waits at most "
           "20 s, and the exact solver is cut off after 3 s; 20 sites in one district (k=20 takes about 4 s on "
           "the bundled 七星区) is more than a district union opens in years. Larger runs use `stationmap site`.")
REPORT_SITES = ParamSpec(
    "sites", "integer", "New sites to recommend per district (0 for none).", description_zh="建议新址数",
    minimum=0, maximum=20, default=5, example=5,
    reason="0 leaves the section out; the report prints one table row and one map label per site, and each "
           "district of a province is sited in turn, so 20 is the same ceiling as the web planner's.")
MIN_AREA_M2 = ParamSpec(
    "min_area_m2", "number", "Gaps smaller than this many square metres are dropped as slivers (and counted).",
    description_zh="最小空白面积（平方米）", unit="m²", minimum=0.0, maximum=100_000_000.0, default=10_000.0,
    example=10_000.0,
    reason="10,000 m² is a 100 m square; 100 km² is larger than many urban districts, so any larger threshold "
           "would drop every gap.")
GRID_M = ParamSpec(
    "grid_m", "number", "Spacing in metres of the candidate sites generated inside the gaps.", unit="m",
    minimum=10.0, maximum=10_000.0, default_text="the radius / 2", example=500.0,
    reason="10 m is finer than any address; no spacing beyond the largest radius places a site usefully.")
CELL_M = ParamSpec(
    "cell_m", "number", "Side in metres of the square grid cells the gaps are split into (gaps by place).",
    description_zh="网格边长（米）", unit="m", minimum=100.0, maximum=10_000.0, default=1000.0, example=1000.0,
    reason="1 km cells are the issue's planning unit; 100 m is a street block, finer than a station's reach; "
           "beyond 10 km a cell is larger than a township.")
BAND_EDGES_M = ParamSpec(
    "band_edges_m", "number", "Edges in metres of the distance bands from the nearest station (gaps by place); "
    "the first band starts at the radius.", description_zh="距离分段（米）", unit="m", minimum=100.0,
    maximum=100_000.0, default_text="2000,5000", example=2000.0,
    reason="The issue's bands are radius-2 km, 2-5 km and beyond 5 km; 100 km is larger than any county.")
BY = ParamSpec(
    "by", "string", "Split the gaps by place: grid cells, distance bands from the nearest station, or "
    "sub-district units (街道/乡镇) of a boundary file.", description_zh="按地点拆分空白",
    choices=("grid", "bands", "units"), example="grid")
WEB_BY = BY.replace(
    description="Split the gaps by place: grid cells or distance bands from the nearest station.",
    choices=("grid", "bands"),
    reason="Units need a boundary file of streets/townships, which a GET request does not carry (CLI: --units).")
TIME_LIMIT_S = ParamSpec(
    "time_limit_s", "number", "Time limit of the exact (ILP) solver in seconds; the best solution and its bound "
    "are reported when it is hit.", unit="s", minimum=1.0, maximum=3600.0, default=30.0, example=30.0)
STREET_BUFFER_M = ParamSpec(
    "street_buffer_m", "number", "With --osm: metres either side of a covered street counted as covered area.",
    unit="m", minimum=0.0, maximum=500.0, default=50.0, example=50.0,
    reason="50 m reaches the doors of the buildings along a street; 500 m would count whole blocks away from it.")
#: Candidate sites from an OSM extract of one kind (two banks, two pharmacies) closer than this many metres are
#: one institution mapped twice (a node and its building): stationmap.osm_features keeps one.
OSM_DEDUP_M = 20.0
#: OSM street demand: a walkable segment longer than this many metres is cut into equal pieces no longer than
#: this, each a demand point at its middle carrying its metres (stationmap.osm_features). Fine enough for the
#: 100 m floor of `RADIUS_M`.
STREET_SAMPLE_M = 100.0
TOP = ParamSpec("top", "integer", "Rows in the table.", minimum=1, maximum=100_000, default=20, example=20)
DUPLICATE_M = ParamSpec(
    "duplicate_m", "number", "Stations closer than this many metres are flagged as possible duplicates.",
    unit="m", minimum=0.0, maximum=1000.0, default=10.0, example=10.0,
    reason="Two records of one station sit metres apart; stations 1 km apart are two stations.")
AT = ParamSpec(
    "at", "string", "Count only stations open at this time: HH:MM (today, Asia/Shanghai), an ISO 8601 "
    "date-time, or 'any' (default: every station in service).", description_zh="时段", example="05:00")

# --------------------------------------------------------------------------------------------------------------
# places and the worker's map

LON = ParamSpec("lon", "number", "Longitude in degrees.", unit="°", minimum=-180.0, maximum=180.0, required=True,
                example=109.06)
LAT = ParamSpec("lat", "number", "Latitude in degrees.", unit="°", minimum=-90.0, maximum=90.0, required=True,
                example=34.27)
BBOX = ParamSpec("bbox", "string", "west,south,east,north in WGS-84 degrees (RFC 7946 order); longitudes "
                 "between -180 and 180, latitudes between -90 and 90.", example="108.9,34.2,109.2,34.4")
ZOOM = ParamSpec("zoom", "integer", "Map zoom level.", minimum=0, maximum=22, required=True, example=12,
                 reason="The zoom levels of web map tiles (OSM, Amap and Tianditu stop at 18-22).")
NEAREST_K = ParamSpec("k", "integer", "Number of stations.", minimum=1, default=10, maximum_setting="max_results",
                      example=10, reason="At most Settings.max_results, the cap on every answer's size.")
LIMIT = ParamSpec("limit", "integer", "Page size.", minimum=1, default=100, maximum_setting="max_results",
                  example=20, reason="At most Settings.max_results, the cap on every answer's size.")
OFFSET = ParamSpec("offset", "integer", "Records to skip.", minimum=0, maximum=999_999_999_999, default=0,
                   example=0, reason="Whole numbers are read up to 12 digits; beyond any register's size anyway.")
MAX_DISTANCE_M = ParamSpec(
    "max_distance_m", "number", "Farthest distance in metres.", unit="m", minimum=0.0, maximum=20_100_000.0,
    example=3000.0, reason="Half the equator: farther than any two points on Earth.")
MIN_STARS = ParamSpec("min_stars", "integer", "Minimum star level.", minimum=0, maximum=5, default=0, example=3,
                      reason="Stars are rated 1-5; 0 is not yet rated.")
QUERY = ParamSpec("q", "string", "Substring of name, English name, address or id.", max_length=100,
                  example="驿站")
DISTRICT_CODE = ParamSpec("district_code", "string", "6-digit adcode.", pattern=r"^\d{6}$", example="610111")
DISTRICT = ParamSpec("district", "string", "A district served (see /api/districts): its adcode, or its Chinese "
                     "name (灞桥区, 西安市 灞桥区, 灞桥).", min_length=1, required=True, example="610111")
AMENITY = ParamSpec("amenity", "array", "Amenity keys every station must have; repeat or comma-separate. "
                    "Chinese labels and synonyms are accepted.")
TOILET = ParamSpec("toilet", "array", "Accepted toilet values; repeat or comma-separate.")
NEED = ParamSpec(
    "need", "string", "What the worker needs (stationmap.needs.NEEDS): stations meeting every need within the "
    "travel mode's distance, ranked by minutes, open state and wanted amenities; `nothing_within_m` and "
    "`partial` when none does.", description_zh="需求", choices=("sanitation", "courier", "delivery_rider",
                                                                   "truck_driver", "any"),
    example="delivery_rider", reason="The worker groups of stationmap.needs.NEEDS (tests/test_needs.py checks).")
MODE = ParamSpec(
    "mode", "string", "Travel mode for minutes, the distance cap and navigation links: walk (75 m/min, 3 km), "
    "ebike (250 m/min, 10 km), drive (500 m/min, 50 km); default the need's mode, else walk.",
    description_zh="出行方式", choices=("walk", "ebike", "drive"), example="ebike",
    reason="The modes of stationmap.needs.MODES (tests/test_needs.py checks).")
OPEN_AT = ParamSpec("open_at", "string", "Keep stations open at this moment: `now`, `HH:MM` (today, "
                    "Asia/Shanghai) or an ISO 8601 date-time.", example="05:00")
OPEN_NOW = ParamSpec("open_now", "boolean", "Shorthand for `open_at=now`.")
STATION_AT = ParamSpec("at", "string", "Moment for the open/closed state (default now).",
                       example="2025-06-02T05:30:00+08:00")
LANG = ParamSpec("lang", "string", "Language of words in the answer.", choices=LANGS, default="zh")
DATUM = ParamSpec("datum", "string", "Datum of lon/lat (default WGS-84).", choices=DATUMS, default="wgs84")
ADD_DATUM = DATUM.replace(description="Datum of `add` (default wgs84; gcj02 for taps on Amap tiles).")
MAP_DATUM = ParamSpec("map_datum", "string", "Also give `map_lonlat` in this datum, for drawing on GCJ-02 "
                      "(Amap) tiles.", choices=DATUMS, default="wgs84")
PLANNER_MAP_DATUM = MAP_DATUM.replace(
    description="Answer with geometries in this datum, for drawing on GCJ-02 (Amap) tiles; the body then says "
                "`map_datum` (default wgs84, RFC 7946).")
ADD = ParamSpec("add", "string", "New stations `lon,lat;lon,lat` in `datum`.", max_items=50,
                example="109.10,34.30", reason="One what-if is a handful of stations; 50 bounds its cost.")
EXPORT_DISTRICT = DISTRICT.replace(
    description="Export only this district's stations: a district served (see /api/districts), by adcode or "
                "Chinese name; absent, the whole register.", required=False)
EXPORT_DATUM = DATUM.replace(description="Datum of the exported coordinates: wgs84 (default, RFC 7946), gcj02 for "
                                         "Amap users or bd09 for Baidu users.")
REMOVE = ParamSpec("remove", "string", "Ids of the district's stations to remove, comma-separated.",
                   max_items=200, example="610111-001",
                   reason="More than any district's register holds today (灞桥区 has 63).")

# --------------------------------------------------------------------------------------------------------------
# the register's edits

EDITS_LIMIT = ParamSpec("limit", "integer", "Edits per page, newest first.", minimum=1, maximum=500, default=50,
                        example=50, reason="A page of the audit trail a browser shows at once.")
BEFORE_EDIT = ParamSpec("before", "integer", "Only edits older than this edit id (the `next` link gives it).",
                        minimum=1, maximum=999_999_999_999, example=1200,
                        reason="Whole numbers are read up to 12 digits; beyond any register's edit count.")

# --------------------------------------------------------------------------------------------------------------
# workers' feedback (stationmap.feedback)

#: Longest text of a report, and of an editor's note, in characters.
FEEDBACK_TEXT_MAX_CHARS = 500
#: Most digits of a phone number left for a reply (international numbers have at most 15; room for an extension).
FEEDBACK_PHONE_MAX_DIGITS = 20
#: Reports one client (address) may send per hour before 429.
FEEDBACK_CLIENT_PER_HOUR = 10
#: Reports one station may receive per day (24 h) before 429: a flood from many addresses stays bounded.
FEEDBACK_STATION_PER_DAY = 100
#: Reports the whole register takes per day (24 h) before 429, so a flood cannot fill the disk (5,000 reports of
#: at most a few kB each).
FEEDBACK_REGISTER_PER_DAY = 5000

FEEDBACK_DISTRICT = ParamSpec(
    "district", "string", "Only this district's reports (6-digit adcode); default every district the account may "
                          "see.", pattern=r"^\d{6}$", example="610111")
FEEDBACK_STATE = ParamSpec("state", "string", "Only reports in this state.",
                           choices=("new", "acknowledged", "resolved", "rejected"), example="new",
                           reason="stationmap.store.FEEDBACK_STATES (tests/test_feedback.py checks).")
FEEDBACK_LIMIT = ParamSpec("limit", "integer", "Reports per page, newest first.", minimum=1, maximum=500,
                           default=50, example=50, reason="A page of the queue a browser shows at once.")
BEFORE_FEEDBACK = ParamSpec("before", "integer", "Only reports older than this report id (the `next` link gives it).",
                            minimum=1, maximum=999_999_999_999, example=1200,
                            reason="Whole numbers are read up to 12 digits.")

# how long the register keeps what (stationmap.retention)

#: Days a report keeps the keyed hash of its sender's address: the rate limits look back one day at most.
KEEP_CLIENT_KEY_DAYS = 2
#: Days a closed (resolved or rejected) report keeps the phone number left for a reply.
KEEP_PHONE_DAYS = 30
#: Days a closed report is kept: the yearly star review looks back 12 months, so two years leaves a full review
#: period plus the one before it for comparison. Open reports are kept until they are closed.
KEEP_CLOSED_REPORT_DAYS = 730
#: Days a failed sign-in is kept: the lockout counts the last 15 minutes.
KEEP_LOGIN_FAILURE_DAYS = 1

# --------------------------------------------------------------------------------------------------------------
# national runs on Dask (stationmap.analysis.national)

SCHEDULER = ParamSpec(
    "scheduler", "string", "Where national and provincial coverage runs: 'local' (a cluster of --workers processes "
    "on this machine) or the address of a running Dask scheduler, tcp://HOST:PORT.", default="local",
    pattern=r"^(local|tcp://[A-Za-z0-9.\-]+:[0-9]{1,5})$", example="tcp://10.0.0.5:8786",
    reason="Only a plain TCP address: TLS and other transports need a certificate setup the command line cannot "
           "carry.")
WORKERS = ParamSpec(
    "workers", "integer", "Worker processes of the local cluster (one thread each).", minimum=1, maximum=256,
    default=2, example=2,
    reason="Default 2 for the 2-core machines the project runs on; 256 bounds a typo, not a machine.")
TILE_DEG = ParamSpec(
    "tile_deg", "number", "Side of a national run's tiles (one task each), in degrees.", unit="°", minimum=0.01,
    maximum=6.0, default=1.0, example=1.0,
    reason="1 degree gives about 1,000 tasks for China's land, each a 1-10 MB window of a 100 m grid; 6 degrees is "
           "one UTM band, beyond which a tile would need two zones.")
#: Seconds to wait for a scheduler at a tcp:// address before saying it does not answer.
SCHEDULER_TIMEOUT_S = 10


# --------------------------------------------------------------------------------------------------------------
# serving

PORT = ParamSpec("port", "integer", "Port to listen on (default 8000).", minimum=1, maximum=65535, example=8000)
MAX_REQUEST_BYTES = ParamSpec("max_request_bytes", "integer", "Largest request body accepted, in bytes.",
                              unit="bytes", minimum=1_000, maximum=100_000_000, example=1_000_000)

#: Every spec, for tests and documentation.
SPECS: tuple[ParamSpec, ...] = (
    RADIUS_M, MINUTES, HEADLINE_RADIUS_M, SITES_K, WEB_SITES_K, REPORT_SITES, MIN_AREA_M2, GRID_M, CELL_M, BAND_EDGES_M, BY, WEB_BY, TIME_LIMIT_S,
    STREET_BUFFER_M, TOP, DUPLICATE_M, AT, LON, LAT, BBOX, ZOOM, NEAREST_K, LIMIT, OFFSET, MAX_DISTANCE_M,
    MIN_STARS, QUERY, DISTRICT_CODE, DISTRICT, AMENITY, TOILET, NEED, MODE, OPEN_AT, OPEN_NOW, STATION_AT, LANG, DATUM,
    ADD_DATUM, MAP_DATUM, PLANNER_MAP_DATUM, ADD, REMOVE, EXPORT_DISTRICT, EXPORT_DATUM, PORT, MAX_REQUEST_BYTES,
    EDITS_LIMIT, BEFORE_EDIT, FEEDBACK_DISTRICT, FEEDBACK_STATE, FEEDBACK_LIMIT, BEFORE_FEEDBACK, SCHEDULER,
    WORKERS, TILE_DEG,
)

"""Read and validate a versioned star-rating rubric (星级评定标准) from a TOML file.

A rubric states, for each star level 1-5, what a station must record to qualify: floor area, seats, amenities,
a toilet, opening hours and "extended services" (拓展服务). Levels are cumulative: level n requires everything
of level n-1, so a level only lists what it adds, and a threshold it repeats may rise but never fall. A rubric
also names the downgrade triggers (shut at stated hours, unresolved complaints, broken facilities left
unrepaired) and by how many stars each one lowers a station.

The shipped rubric (``data/rubric/stars-v1.toml``) follows the one published rubric found (Fuzhou) for 5★ and the
downgrade triggers; its 1★-4★ thresholds are local choices, and a district supplies its own file to change them.
This module only reads and checks files; :mod:`stationmap.analysis.rating` applies a rubric to stations.

File layout (see ``data/rubric/README.md``)::

    [meta]                 version, name_zh, name_en, source, reference_week (a Monday)
    [extended_services]    amenities = [...]   the amenity keys that count as extended services
    [levels.1] ... [levels.5]
        source, local_choice, local_keys, note
        min_area_m2, min_seats, amenities, amenities_any, toilet, hours_recorded,
        min_weekday_hours, min_weekly_hours, min_open_days, hours_any, min_extended_services
    [downgrades.shut_at_stated_hours]   stars, lookback_days, max_failed_inspections
    [downgrades.complaints_ignored]     stars, max_unresolved
    [downgrades.broken_facilities]      stars, grace_days
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

from stationmap.errors import StationDataError
from stationmap.files import read_utf8
from stationmap.schema import AMENITIES, TOILET

__all__ = [
    "DOWNGRADE_TRIGGERS",
    "HOURS_KEYS",
    "LEVEL_KEYS",
    "N_LEVELS",
    "RUBRIC_FILENAME",
    "DowngradeRule",
    "HoursAlternative",
    "Rubric",
    "StarLevel",
    "default_rubric_path",
    "load_rubric",
    "parse_rubric",
]

#: Star levels a rubric must define: 1★ to 5★ (0 means "not rated / qualifies for nothing").
N_LEVELS = 5
#: File name of the shipped rubric inside ``<data_dir>/rubric/``.
RUBRIC_FILENAME = "stars-v1.toml"

#: Opening-hours thresholds, usable in a level and inside each alternative of ``hours_any``.
HOURS_KEYS = ("min_weekday_hours", "min_weekly_hours", "min_open_days")
_HOURS_LIMITS = {"min_weekday_hours": 24.0, "min_weekly_hours": 168.0, "min_open_days": 7.0}
_NUMBER_KEYS = ("min_area_m2", "min_seats", *HOURS_KEYS, "min_extended_services")
_INT_KEYS = frozenset({"min_seats", "min_open_days", "min_extended_services"})
_DOC_KEYS = ("source", "local_choice", "local_keys", "note")
_REQUIREMENT_KEYS = (*_NUMBER_KEYS, "amenities", "amenities_any", "toilet", "hours_recorded", "hours_any")
#: Every key a ``[levels.N]`` table may hold.
LEVEL_KEYS = (*_DOC_KEYS, *_REQUIREMENT_KEYS)

#: Downgrade triggers a rubric may name, with the parameters each one accepts (and their defaults).
DOWNGRADE_TRIGGERS: dict[str, dict[str, int]] = {
    "shut_at_stated_hours": {"stars": 1, "lookback_days": 365, "max_failed_inspections": 0},
    "complaints_ignored": {"stars": 1, "max_unresolved": 0},
    "broken_facilities": {"stars": 1, "grace_days": 30},
}
_TOP_KEYS = ("meta", "extended_services", "levels", "downgrades")
_META_KEYS = ("version", "name_zh", "name_en", "source", "reference_week", "note")


@dataclass(frozen=True)
class HoursAlternative:
    """
    One way of meeting an "any of" opening-hours requirement; every threshold given must hold.

    Attributes
    ----------
    min_weekday_hours
        Hours open on each of Monday-Friday of the reference week, or None.
    min_weekly_hours
        Hours open in the reference week (24/7 is 168 h), or None.
    min_open_days
        Days of the reference week with any opening, or None.
    """

    min_weekday_hours: float | None = None
    min_weekly_hours: float | None = None
    min_open_days: int | None = None


@dataclass(frozen=True)
class StarLevel:
    """
    What a station needs for one star level, with the lower levels' requirements already folded in.

    Attributes
    ----------
    stars
        The level, 1-5.
    min_area_m2
        Floor area in square metres, or None for no requirement.
    min_seats
        Seats (the station's ``capacity``), or None.
    amenities
        Amenity keys that must all be present.
    amenities_any
        Groups of amenity keys; at least one key of each group must be present.
    toilet
        Accepted ``toilet`` values (e.g. ``("onsite", "nearby")``), or None for no requirement.
    hours_recorded
        Whether ``opening_hours`` must be recorded.
    min_weekday_hours, min_weekly_hours, min_open_days
        Opening-hours thresholds over the rubric's reference week, or None.
    hours_any
        Groups of alternatives; for each group at least one :class:`HoursAlternative` must hold.
    min_extended_services
        How many of the rubric's extended services must be present (0 for none).
    source
        Where this level's requirements come from, in words.
    local_choice
        True if the level's thresholds are a local choice rather than a published rubric.
    local_keys
        Requirement keys of this level that are local choices even though the level follows a published rubric.
    declared
        Requirement keys written in this level's own table (the rest are inherited).
    note
        Free text from the file.
    """

    stars: int
    min_area_m2: float | None = None
    min_seats: int | None = None
    amenities: tuple[str, ...] = ()
    amenities_any: tuple[tuple[str, ...], ...] = ()
    toilet: tuple[str, ...] | None = None
    hours_recorded: bool = False
    min_weekday_hours: float | None = None
    min_weekly_hours: float | None = None
    min_open_days: int | None = None
    hours_any: tuple[tuple[HoursAlternative, ...], ...] = ()
    min_extended_services: int = 0
    source: str = ""
    local_choice: bool = True
    local_keys: tuple[str, ...] = ()
    declared: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class DowngradeRule:
    """
    A downgrade trigger (降星情形) and its parameters.

    Attributes
    ----------
    trigger
        ``shut_at_stated_hours``, ``complaints_ignored`` or ``broken_facilities``.
    stars
        Stars a triggered station loses (the result never goes below 0).
    lookback_days
        Inspections older than this many days before the check date are ignored (``shut_at_stated_hours``).
    max_failed_inspections
        Inspections that found the station shut at its stated hours that are tolerated.
    max_unresolved
        Unresolved complaints that are tolerated (``complaints_ignored``).
    grace_days
        Days a reported breakage may wait for repair before it counts (``broken_facilities``).
    source
        Where the trigger comes from, in words.
    local_choice
        True if the trigger itself is a local choice.
    local_keys
        Parameters that are local choices.
    """

    trigger: str
    stars: int = 1
    lookback_days: int = 365
    max_failed_inspections: int = 0
    max_unresolved: int = 0
    grace_days: int = 30
    source: str = ""
    local_choice: bool = False
    local_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rubric:
    """
    A validated star-rating rubric.

    Attributes
    ----------
    version
        The rubric's version string, e.g. ``"1.0"``; ratings cite it.
    name_zh, name_en
        Title in Chinese and English.
    source
        Provenance of the rubric as a whole, in words.
    levels
        The five :class:`StarLevel` objects, 1★ first, each with the lower levels' requirements folded in.
    extended_services
        Amenity keys counted as extended services (拓展服务).
    downgrades
        Downgrade triggers the rubric applies, in file order.
    reference_week
        Monday of the week over which weekly opening hours are computed (chosen free of public holidays).
    path
        File the rubric was read from, or a description such as ``"<string>"``.
    """

    version: str
    name_zh: str
    name_en: str
    source: str
    levels: tuple[StarLevel, ...]
    extended_services: tuple[str, ...]
    downgrades: tuple[DowngradeRule, ...]
    reference_week: dt.date
    path: str = ""

    def level(self, stars: int) -> StarLevel:
        """
        Return the requirements of one star level.

        Parameters
        ----------
        stars
            1-5.

        Raises
        ------
        StationDataError
            If `stars` is not a level of the rubric.
        """
        if not 1 <= stars <= len(self.levels):
            msg = f"Rubric {self.version!r} has levels 1-{len(self.levels)}, not {stars!r}."
            raise StationDataError(msg)
        return self.levels[stars - 1]

    def downgrade(self, trigger: str) -> DowngradeRule | None:
        """Return the rule for `trigger`, or None if the rubric does not apply it."""
        return next((rule for rule in self.downgrades if rule.trigger == trigger), None)


def default_rubric_path(data_dir: str | Path) -> Path:
    """Return the shipped rubric inside a data folder: ``<data_dir>/rubric/stars-v1.toml``."""
    return Path(data_dir) / "rubric" / RUBRIC_FILENAME


def load_rubric(path: str | Path) -> Rubric:
    """
    Read and validate a rubric TOML file.

    Parameters
    ----------
    path
        A rubric file, e.g. ``data/rubric/stars-v1.toml`` or a district's own.

    Returns
    -------
    rubric
        The validated rubric with cumulative levels.

    Raises
    ------
    StationDataError
        If the file is missing or unreadable, not UTF-8, not TOML (with line and column), or fails validation;
        the message names the file and lists every problem with its table and key.
    """
    path = Path(path)
    text = read_utf8(path, what="Rubric file")
    return parse_rubric(text, source=str(path))


def parse_rubric(text: str, *, source: str = "<string>") -> Rubric:
    """
    Parse and validate rubric TOML text.

    Parameters
    ----------
    text
        The TOML document.
    source
        File name used in messages and kept in :attr:`Rubric.path`.

    Returns
    -------
    rubric
        The validated rubric.

    Raises
    ------
    StationDataError
        If `text` is not TOML (the message gives line and column) or any table or key is invalid (every problem
        is listed, each as ``<file>: [table] key: problem``).
    """
    name = Path(source).name if source and not source.startswith("<") else source
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = f"{name}: invalid TOML: {err}."
        raise StationDataError(msg) from err
    checker = _Checker(name)
    rubric = checker.rubric(doc, path=source)
    if checker.problems:
        lines = "\n".join(f"  {name}: {p}" for p in checker.problems)
        msg = f"Invalid rubric {name} ({len(checker.problems)} problems):\n{lines}"
        raise StationDataError(msg)
    return rubric


# --- validation -------------------------------------------------------------------------------------------------

def _suggest(value: str, choices: tuple[str, ...] | list[str]) -> str:
    hit = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {hit[0]!r}?" if hit else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _show(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


class _Checker:
    """Validates one rubric document, gathering every problem before anything is raised."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[str] = []

    def error(self, where: str, key: str | None, problem: str) -> None:
        self.problems.append(f"[{where}] {key}: {problem}" if key else f"[{where}]: {problem}")

    def unknown_keys(self, where: str, table: Mapping[str, Any], allowed: tuple[str, ...], what: str) -> None:
        for key in table:
            if key not in allowed:
                expected = ", ".join(allowed)
                self.error(where, key, f"unknown {what}{_suggest(key, allowed)} (expected one of: {expected})")

    def table(self, doc: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
        value = doc.get(key)
        if value is None:
            self.error(where, None, "missing table")
            return {}
        if not isinstance(value, dict):
            self.error(where, None, f"expected a table, found {type(value).__name__} {value!r}")
            return {}
        return value

    def string(self, table: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
        value = table.get(key)
        if value is None:
            if required:
                self.error(where, key, "missing (a non-empty string is required)")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.error(where, key, f"expected a non-empty string, found {value!r}")
            return ""
        return value

    def boolean(self, table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.error(where, key, f"expected true or false, found {value!r}")
            return default
        return value

    @overload
    def number(self, table: Mapping[str, Any], key: str, where: str, *, integer: Literal[True],
               upper: float | None = None) -> int | None: ...
    @overload
    def number(self, table: Mapping[str, Any], key: str, where: str, *, integer: Literal[False],
               upper: float | None = None) -> float | None: ...
    @overload
    def number(self, table: Mapping[str, Any], key: str, where: str, *, integer: bool,
               upper: float | None = None) -> float | int | None: ...
    def number(self, table: Mapping[str, Any], key: str, where: str, *, integer: bool,
               upper: float | None = None) -> float | int | None:
        value = table.get(key)
        if value is None:
            return None
        kind = "a whole number" if integer else "a number"
        if not _is_number(value) or (integer and not float(value).is_integer()):
            self.error(where, key, f"expected {kind}, found {value!r}")
            return None
        if value < 0:
            self.error(where, key, f"must not be negative, found {value!r}")
            return None
        if upper is not None and value > upper:
            self.error(where, key, f"must be at most {upper:g}, found {value!r}")
            return None
        return int(value) if integer else float(value)

    def amenity_list(self, value: Any, where: str, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(where, key, f"expected a list of amenity keys, found {value!r}")
            return ()
        good = []
        for item in value:
            if item in AMENITIES:
                good.append(item)
            else:
                self.error(where, key, AMENITIES.unknown_message(item))
        return tuple(dict.fromkeys(good))

    def key_list(self, table: Mapping[str, Any], key: str, where: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(where, key, f"expected a list of key names, found {value!r}")
            return ()
        for item in value:
            if item not in allowed:
                self.error(where, key, f"{item!r} is not a key of this table{_suggest(item, allowed)}")
        return tuple(v for v in value if v in allowed)

    # --- tables ---------------------------------------------------------------------------------------------

    def rubric(self, doc: Mapping[str, Any], *, path: str) -> Rubric:
        self.unknown_keys("rubric", doc, _TOP_KEYS, "top-level table")
        meta = self.table(doc, "meta", "meta")
        self.unknown_keys("meta", meta, _META_KEYS, "key")
        version = self.string(meta, "version", "meta", required=True)
        week = meta.get("reference_week", dt.date(2025, 6, 9))
        if not isinstance(week, dt.date) or isinstance(week, dt.datetime):
            self.error("meta", "reference_week", f"expected a TOML date such as 2025-06-09, found {week!r}")
            week = dt.date(2025, 6, 9)
        elif week.weekday() != 0:
            self.error("meta", "reference_week", f"must be a Monday, found {week.isoformat()} ({week:%A})")
        extended_table = self.table(doc, "extended_services", "extended_services")
        self.unknown_keys("extended_services", extended_table, ("amenities", *_DOC_KEYS), "key")
        extended = self.amenity_list(extended_table.get("amenities", []), "extended_services", "amenities")
        levels = self.levels(self.table(doc, "levels", "levels"), extended)
        downgrades = self.downgrades(doc.get("downgrades", {}))
        return Rubric(version=version, name_zh=self.string(meta, "name_zh", "meta"),
                      name_en=self.string(meta, "name_en", "meta"), source=self.string(meta, "source", "meta"),
                      levels=levels, extended_services=extended, downgrades=downgrades, reference_week=week,
                      path=path)

    def levels(self, table: Mapping[str, Any], extended: tuple[str, ...]) -> tuple[StarLevel, ...]:
        expected = tuple(str(n) for n in range(1, N_LEVELS + 1))
        for key in table:
            if key not in expected:
                self.error("levels", key, f"unknown level; levels are {', '.join(expected)}")
        if table:
            for key in expected:
                if key not in table:
                    self.error(f"levels.{key}", None, f"missing level {key} (a rubric defines all of levels 1-5)")
        previous = StarLevel(stars=0)
        result = []
        for n in range(1, N_LEVELS + 1):
            own = table.get(str(n))
            if own is not None and not isinstance(own, dict):
                self.error(f"levels.{n}", None, f"expected a table, found {own!r}")
                own = None
            previous = self.level(n, own or {}, previous, extended)
            result.append(previous)
        return tuple(result)

    def level(self, n: int, own: Mapping[str, Any], previous: StarLevel,
              extended: tuple[str, ...]) -> StarLevel:
        where = f"levels.{n}"
        self.unknown_keys(where, own, LEVEL_KEYS, "requirement key")
        values: dict[str, Any] = {}
        for key in _NUMBER_KEYS:
            value = self.number(own, key, where, integer=key in _INT_KEYS, upper=_HOURS_LIMITS.get(key))
            before = getattr(previous, key)
            if value is not None and before is not None and value < before:
                self.error(where, key, f"{_show(value)} is lower than level {n - 1}'s {_show(before)}; levels are "
                           f"cumulative, so a threshold may rise from one level to the next but never fall")
            values[key] = before if value is None else value if before is None else max(value, before)
        if values["min_extended_services"] is None:
            values["min_extended_services"] = 0
        if values["min_extended_services"] > len(extended):
            self.error(where, "min_extended_services",
                       f"{values['min_extended_services']} is more than the {len(extended)} amenities listed in "
                       "[extended_services] amenities")
        amenities = self.amenity_list(own.get("amenities", []), where, "amenities")
        values["amenities"] = tuple(dict.fromkeys((*previous.amenities, *amenities)))
        values["amenities_any"] = previous.amenities_any + self.amenity_groups(own, where)
        values["toilet"] = self.toilet(own, where, previous.toilet, n)
        recorded = self.boolean(own, "hours_recorded", where, previous.hours_recorded)
        if previous.hours_recorded and not recorded:
            self.error(where, "hours_recorded", f"false, but level {n - 1} requires recorded opening hours; levels "
                       "are cumulative")
        values["hours_recorded"] = recorded or previous.hours_recorded
        values["hours_any"] = previous.hours_any + self.hours_any(own, where)
        local_choice = self.boolean(own, "local_choice", where, True)
        declared = tuple(k for k in _REQUIREMENT_KEYS if k in own)
        return StarLevel(stars=n, **values, source=self.string(own, "source", where), local_choice=local_choice,
                         local_keys=self.key_list(own, "local_keys", where, declared),
                         declared=declared, note=self.string(own, "note", where))

    def amenity_groups(self, own: Mapping[str, Any], where: str) -> tuple[tuple[str, ...], ...]:
        value = own.get("amenities_any", [])
        if not isinstance(value, list) or not all(isinstance(group, list) for group in value):
            self.error(where, "amenities_any", f"expected a list of lists of amenity keys, e.g. "
                       f"[[\"air_conditioning\", \"heating\"]], found {value!r}")
            return ()
        groups = []
        for group in value:
            if len(group) < 2:
                self.error(where, "amenities_any", f"each group offers a choice of at least two amenities, "
                           f"found {group!r} (put a single amenity in 'amenities')")
            keys = self.amenity_list(group, where, "amenities_any")
            if keys:
                groups.append(keys)
        return tuple(groups)

    def toilet(self, own: Mapping[str, Any], where: str, before: tuple[str, ...] | None,
               n: int) -> tuple[str, ...] | None:
        value = own.get("toilet")
        if value is None:
            return before
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            self.error(where, "toilet", f"expected a non-empty list of accepted toilet values, found {value!r}")
            return before
        accepted = []
        for item in value:
            if item not in TOILET:
                self.error(where, "toilet", TOILET.unknown_message(item))
            elif before is not None and item not in before:
                self.error(where, "toilet", f"{item!r} is not accepted by level {n - 1} ({', '.join(before)}); "
                           "levels are cumulative, so a level may only narrow the accepted toilet values")
            else:
                accepted.append(item)
        return tuple(accepted) if accepted else before

    def hours_any(self, own: Mapping[str, Any], where: str) -> tuple[tuple[HoursAlternative, ...], ...]:
        value = own.get("hours_any")
        if value is None:
            return ()
        if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
            self.error(where, "hours_any", "expected a list of at least two alternatives such as "
                       f"[{{min_open_days = 7}}, {{min_weekday_hours = 12}}], found {value!r}")
            return ()
        alternatives = []
        for i, alternative in enumerate(value):
            sub = f"{where}.hours_any[{i}]"
            self.unknown_keys(sub, alternative, HOURS_KEYS, "hours key")
            if not alternative:
                self.error(sub, None, f"empty alternative; give one of {', '.join(HOURS_KEYS)}")
            # one keyword per field of HOURS_KEYS, in its order (the order the problems are reported in)
            alternatives.append(HoursAlternative(
                min_weekday_hours=self.number(alternative, "min_weekday_hours", sub, integer=False,
                                              upper=_HOURS_LIMITS["min_weekday_hours"]),
                min_weekly_hours=self.number(alternative, "min_weekly_hours", sub, integer=False,
                                             upper=_HOURS_LIMITS["min_weekly_hours"]),
                min_open_days=self.number(alternative, "min_open_days", sub, integer=True,
                                          upper=_HOURS_LIMITS["min_open_days"]),
            ))
        return (tuple(alternatives),)

    def downgrades(self, table: Any) -> tuple[DowngradeRule, ...]:
        if not isinstance(table, dict):
            self.error("downgrades", None, f"expected a table, found {table!r}")
            return ()
        rules = []
        for trigger, params in table.items():
            where = f"downgrades.{trigger}"
            if trigger not in DOWNGRADE_TRIGGERS:
                known = tuple(DOWNGRADE_TRIGGERS)
                self.error("downgrades", trigger, f"unknown downgrade trigger{_suggest(trigger, known)} "
                           f"(expected one of: {', '.join(known)})")
                continue
            if not isinstance(params, dict):
                self.error(where, None, f"expected a table, found {params!r}")
                continue
            defaults = DOWNGRADE_TRIGGERS[trigger]
            self.unknown_keys(where, params, (*defaults, *_DOC_KEYS[:3]), "key")
            values: dict[str, int] = {}
            for key, default in defaults.items():
                value = self.number(params, key, where, integer=True, upper=N_LEVELS if key == "stars" else None)
                values[key] = default if value is None else value
            if values["stars"] == 0:
                self.error(where, "stars", "must be at least 1 (remove the table to switch the trigger off)")
            rules.append(DowngradeRule(trigger=trigger, **values, source=self.string(params, "source", where),
                                       local_choice=self.boolean(params, "local_choice", where, False),
                                       local_keys=self.key_list(params, "local_keys", where, tuple(defaults))))
        return tuple(rules)


"""Star rating: the level a station's recorded attributes qualify for under a rubric, and what stands in the way.

Pure functions over station records and a validated :class:`stationmap.rubric.Rubric`; nothing here reads files
or settings. The caller loads the rubric (:func:`stationmap.rubric.load_rubric`) and passes it in.

How a station is rated:

1. Its *attribute level* is the highest level whose (cumulative) requirements its record meets. Missing data
   never counts as meeting a requirement, but each such requirement is also listed in ``unknown`` so a planner
   can tell "lacks a toilet" from "nobody recorded the toilet". A facility listed in ``broken_facilities`` does
   not count as present.
2. Each downgrade trigger of the rubric is applied where the record holds data for it (``inspections``,
   ``complaints_unresolved``, ``broken_facilities``, as properties or inside ``extra``); where it does not, the
   trigger is listed in ``not_checkable`` rather than passed silently. Each triggered rule removes its ``stars``.
   Workers' reports (:func:`feedback_triggers`, from the register's feedback queue) may fire a trigger too: the
   station then moves from ``not_checkable`` to ``downgrades``, with the reports as evidence. A rule fired by
   both the record and the reports removes its stars once.
3. The *qualified level* is the attribute level minus those stars (never below 0). A station whose recorded
   ``stars`` exceed the qualified level is a review candidate (建议复核).

Opening hours are measured over the rubric's reference week with :func:`stationmap.hours.parse_hours`
(``24/7`` is 168 h a week, 24 h every day), in Asia/Shanghai time.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
from opening_hours import State

from stationmap import hours
from stationmap.errors import BadRequestError, OpeningHoursError, StationDataError
from stationmap.rubric import N_LEVELS, DowngradeRule, HoursAlternative, Rubric, StarLevel
from stationmap.schema import AMENITIES, TOILET
from stationmap.store import OPEN_FEEDBACK_STATES

if TYPE_CHECKING:
    from stationmap.store import Feedback

__all__ = [
    "RATING_COLUMNS",
    "REPORTS_CLOSED_LOOKBACK_DAYS",
    "REPORTS_CLOSED_MIN",
    "FeedbackTrigger",
    "RatingItem",
    "RatingSummary",
    "StarAssessment",
    "feedback_triggers",
    "rate_station",
    "rate_stations",
    "summarize_ratings",
]

#: Workers' reports that fire ``shut_at_stated_hours``: at least this many confirmed (``acknowledged`` or
#: ``resolved``, never ``rejected``) ``closed_at_stated_hours`` reports ...
#: Local choice: no source gives a number of worker reports (like the 1★-4★ thresholds of the rubric).
REPORTS_CLOSED_MIN = 2
#: ... made within this many days before the check. Local choice.
REPORTS_CLOSED_LOOKBACK_DAYS = 90
_CONFIRMED_STATES = ("acknowledged", "resolved")
_SHANGHAI = ZoneInfo("Asia/Shanghai")

_LANGS = ("zh", "en")
_SEPARATOR = {"zh": "；", "en": "; "}
#: Record fields a rating reads (the downgrade fields may also sit inside ``extra``).
_USED_FIELDS = ("id", "name", "district_code", "stars", "amenities", "area_m2", "capacity", "toilet", "opening_hours",
                "inspections", "complaints_unresolved", "broken_facilities", "extra")
#: Columns of the frame :func:`rate_stations` returns, in order.
RATING_COLUMNS = (
    "station_id", "name", "district_code", "recorded_stars", "attribute_stars", "qualified_stars", "next_level",
    "review_candidate", "missing_for_next", "unknown", "downgrades", "not_checkable", "headline",
)


@dataclass(frozen=True)
class RatingItem:
    """
    One finding of a rating, in Chinese and English.

    Attributes
    ----------
    code
        Stable machine key, e.g. ``amenity:aed``, ``min_area_m2``, ``unknown:area_m2``,
        ``downgrade:complaints_ignored``.
    zh
        Chinese text, e.g. ``缺少AED``.
    en
        English text, e.g. ``missing: AED``.
    """

    code: str
    zh: str
    en: str

    def text(self, lang: str = "zh") -> str:
        """Return the text in `lang` (``"zh"`` or ``"en"``)."""
        return self.zh if _check_lang(lang) == "zh" else self.en


@dataclass(frozen=True)
class FeedbackTrigger:
    """
    A downgrade trigger fired by workers' reports on one station, with the reports as evidence.

    Attributes
    ----------
    station_id
        The station reported on.
    trigger
        The rubric's trigger: ``shut_at_stated_hours``, ``broken_facilities`` or ``complaints_ignored``.
    item
        The finding as the rating lists it under ``downgrades`` (code ``downgrade:<trigger>``), naming the reports.
    reports
        The reports that fire it, oldest first.
    """

    station_id: str
    trigger: str
    item: RatingItem
    reports: tuple[Feedback, ...]

    def evidence(self, *, lang: str = "zh") -> list[str]:
        """One line per report: id, kind, amenity, date made, deadline and state (times in Asia/Shanghai)."""
        _check_lang(lang)
        lines = []
        for r in self.reports:
            amenity = f" {r.amenity}" if r.amenity else ""
            lines.append(f"#{r.id} {r.kind}{amenity} {_day(r.created_at)}，期限{_minute(r.deadline)}，{r.state}"
                         if lang == "zh" else
                         f"#{r.id} {r.kind}{amenity} {_day(r.created_at)}, due {_minute(r.deadline)}, {r.state}")
        return lines

    def to_dict(self, *, lang: str = "zh") -> dict[str, Any]:
        """Return the trigger as a JSON-safe dict: trigger, text in `lang`, and each report's evidence."""
        return {"station_id": self.station_id, "trigger": self.trigger, "text": self.item.text(lang),
                "reports": [{"id": r.id, "kind": r.kind, "amenity": r.amenity or None, "state": r.state,
                             "created_at": r.created_at.astimezone(_SHANGHAI).isoformat(),
                             "deadline": r.deadline.astimezone(_SHANGHAI).isoformat()} for r in self.reports]}


@dataclass(frozen=True)
class StarAssessment:
    """
    The rating of one station under one rubric.

    Attributes
    ----------
    station_id
        The station's ``id`` (None if the record has none).
    recorded_stars
        Stars on record (``stars``; 0 if not rated).
    attribute_stars
        Highest level the recorded attributes meet, before downgrades.
    qualified_stars
        `attribute_stars` minus the stars removed by triggered downgrades, at least 0.
    next_level
        ``attribute_stars + 1``, or None at 5★.
    missing_for_next
        What the record lacks for `next_level` (every unmet requirement of that level).
    unknown
        Requirements up to `next_level` that could not be checked because the data is missing; they were
        counted as not met.
    review_candidate
        True if `recorded_stars` is higher than `qualified_stars`.
    downgrades
        Downgrade triggers that fired, with the evidence.
    not_checkable
        Downgrade triggers the record holds no data for.
    rubric_version
        Version of the rubric applied.
    """

    station_id: str | None
    recorded_stars: int
    attribute_stars: int
    qualified_stars: int
    next_level: int | None
    missing_for_next: tuple[RatingItem, ...]
    unknown: tuple[RatingItem, ...]
    review_candidate: bool
    downgrades: tuple[RatingItem, ...]
    not_checkable: tuple[RatingItem, ...]
    rubric_version: str

    def headline(self, *, lang: str = "zh") -> str:
        """
        Summarise the rating in one line for a station's detail view.

        Parameters
        ----------
        lang
            ``"zh"`` or ``"en"``.

        Returns
        -------
        text
            E.g. ``"qualifies for 4★; for 5★: missing: AED"`` / ``"符合4星；升5星：缺少AED"``, with the downgrades
            and a review note when they apply.
        """
        sep = _SEPARATOR[_check_lang(lang)]
        parts = [f"符合{self.qualified_stars}星" if lang == "zh" else f"qualifies for {self.qualified_stars}★"]
        if self.qualified_stars == 0:
            parts = ["未达到1星" if lang == "zh" else "does not qualify for 1★"]
        if self.downgrades:
            texts = "、".join(i.zh for i in self.downgrades) if lang == "zh" else ", ".join(
                i.en for i in self.downgrades)
            parts.append(f"降星：{texts}" if lang == "zh" else f"downgraded: {texts}")
        if self.next_level is not None and self.missing_for_next:
            texts = "、".join(i.zh for i in self.missing_for_next) if lang == "zh" else ", ".join(
                i.en for i in self.missing_for_next)
            parts.append(f"升{self.next_level}星：{texts}" if lang == "zh" else f"for {self.next_level}★: {texts}")
        if self.review_candidate:
            parts.append(f"登记为{self.recorded_stars}星，建议复核" if lang == "zh"
                         else f"recorded {self.recorded_stars}★: review")
        return sep.join(parts)

    def to_dict(self, *, lang: str = "zh") -> dict[str, Any]:
        """
        Return the assessment as a JSON-safe dict, findings as text in `lang`.

        Parameters
        ----------
        lang
            ``"zh"`` or ``"en"``.
        """
        _check_lang(lang)
        return {
            "station_id": self.station_id,
            "recorded_stars": self.recorded_stars,
            "attribute_stars": self.attribute_stars,
            "qualified_stars": self.qualified_stars,
            "next_level": self.next_level,
            "review_candidate": self.review_candidate,
            "missing_for_next": [i.text(lang) for i in self.missing_for_next],
            "unknown": [i.text(lang) for i in self.unknown],
            "downgrades": [i.text(lang) for i in self.downgrades],
            "not_checkable": [i.text(lang) for i in self.not_checkable],
            "headline": self.headline(lang=lang),
            "rubric_version": self.rubric_version,
        }


@dataclass(frozen=True)
class RatingSummary:
    """
    Counts over a frame of ratings.

    Attributes
    ----------
    n_stations
        Stations rated.
    recorded_by_level
        Stations per recorded level, index 0 (not rated) to 5.
    qualified_by_level
        Stations per qualified level, index 0 to 5.
    n_review_candidates
        Stations recorded higher than they qualify for.
    n_downgraded
        Stations that lost stars to a downgrade trigger.
    n_not_checkable
        Stations with at least one downgrade trigger that could not be checked.
    n_unknown
        Stations with at least one requirement that could not be checked for lack of data.
    """

    n_stations: int
    recorded_by_level: tuple[int, ...]
    qualified_by_level: tuple[int, ...]
    n_review_candidates: int
    n_downgraded: int
    n_not_checkable: int
    n_unknown: int

    def to_frame(self) -> pd.DataFrame:
        """Return one row per level 0-5 with ``recorded`` and ``qualified`` station counts."""
        return pd.DataFrame({"recorded": self.recorded_by_level, "qualified": self.qualified_by_level},
                            index=pd.RangeIndex(0, N_LEVELS + 1, name="stars"))

    def describe(self, *, lang: str = "zh") -> str:
        """
        Summarise the counts in one line, for a command's last line or a report caption.

        Parameters
        ----------
        lang
            ``"zh"`` or ``"en"``.

        Returns
        -------
        text
            E.g. ``"12 stations; recorded/qualified: 0★ 1/0, 1★ 0/3, ...; 4 to review, 0 downgraded"``.
        """
        pairs = ", ".join(f"{n}★ {r}/{q}" for n, (r, q) in
                          enumerate(zip(self.recorded_by_level, self.qualified_by_level, strict=True)))
        if _check_lang(lang) == "zh":
            return (f"{self.n_stations}个站点；登记/符合：{pairs}；建议复核{self.n_review_candidates}个，"
                    f"降星{self.n_downgraded}个")
        return (f"{self.n_stations} stations; recorded/qualified: {pairs}; {self.n_review_candidates} to review, "
                f"{self.n_downgraded} downgraded")

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-safe dict (levels as string keys "0"-"5")."""
        return {
            "n_stations": self.n_stations,
            "recorded_by_level": {str(n): c for n, c in enumerate(self.recorded_by_level)},
            "qualified_by_level": {str(n): c for n, c in enumerate(self.qualified_by_level)},
            "n_review_candidates": self.n_review_candidates,
            "n_downgraded": self.n_downgraded,
            "n_not_checkable": self.n_not_checkable,
            "n_unknown": self.n_unknown,
        }


# --- public functions -------------------------------------------------------------------------------------------

def rate_station(station: Mapping[str, Any] | pd.Series, rubric: Rubric, *,
                 when_checked: dt.datetime | dt.date | str | None = None,
                 triggers: Sequence[FeedbackTrigger] = ()) -> StarAssessment:
    """
    Rate one station against a rubric.

    Parameters
    ----------
    station
        A station record (mapping or pandas Series) with the fields of ``schema.FIELDS``: ``amenities``,
        ``area_m2`` (square metres), ``capacity`` (seats), ``toilet``, ``opening_hours``, ``stars``; and, for the
        downgrade triggers, ``inspections`` (list of ``{date, open}``; ``date`` is ``YYYY-MM-DD`` or an ISO
        date-time in Asia/Shanghai), ``complaints_unresolved`` (int) and ``broken_facilities`` (list of amenity
        keys or text, or of ``{item, since}``), as properties or inside ``extra``.
    rubric
        A validated rubric.
    when_checked
        The date of the check: inspections older than the rule's ``lookback_days`` before it, or after it, are
        ignored, and a breakage reported less than ``grace_days`` before it does not count yet. A datetime,
        date, ISO string or None for now (Asia/Shanghai).
    triggers
        The station's triggers fired by workers' reports (:func:`feedback_triggers`); each moves its rule from
        ``not_checkable`` to ``downgrades``.

    Returns
    -------
    assessment
        Attribute and qualified levels, what is missing for the next level, unknowns and downgrades.

    Raises
    ------
    StationDataError
        If ``amenities`` is not a list, or a downgrade field is malformed (e.g. ``complaints_unresolved = -1``, an
        inspection without a date); the message names the station and the field.
    BadRequestError
        If `when_checked` cannot be read.
    """
    return _rate(station, rubric, _check_date(when_checked), triggers)


def rate_stations(stations: gpd.GeoDataFrame | pd.DataFrame, rubric: Rubric, *,
                  when_checked: dt.datetime | dt.date | str | None = None, lang: str = "zh",
                  triggers: Mapping[str, Sequence[FeedbackTrigger]] | None = None) -> pd.DataFrame:
    """
    Rate every station of a frame.

    Opening hours are parsed and measured once per distinct string, so the cost grows with the number of
    distinct hours strings, not stations.

    Parameters
    ----------
    stations
        Stations as :func:`stationmap.stations.load_stations` returns them (geometry is ignored).
    rubric
        A validated rubric.
    when_checked
        As for :func:`rate_station`; read once for all stations.
    lang
        Language of the text columns, ``"zh"`` or ``"en"``.
    triggers
        Triggers fired by workers' reports, by station id (:func:`feedback_triggers`); None when the reports
        are not available (the rating then rests on the records alone).

    Returns
    -------
    ratings
        One row per station, same index as `stations`, columns :data:`RATING_COLUMNS`; the text columns join
        their findings with ``"；"`` (zh) or ``"; "`` (en) and are ``""`` when there are none; ``headline`` is
        :meth:`StarAssessment.headline`. ``next_level`` is nullable (``Int64``; ``to_json`` writes null).
        ``attrs["rubric_version"]`` names the rubric.

    Raises
    ------
    StationDataError
        If a downgrade field of some station is malformed (the message names the station).
    BadRequestError
        If `when_checked` or `lang` cannot be read.
    """
    _check_lang(lang)
    checked = _check_date(when_checked)
    sep = _SEPARATOR[lang]
    columns = [c for c in _USED_FIELDS if c in stations.columns]
    rows = []
    for record in stations[columns].to_dict("records"):
        a = _rate(record, rubric, checked, (triggers or {}).get(str(_get(record, "id")), ()))
        rows.append((a.station_id, _get(record, "name"), _get(record, "district_code"), a.recorded_stars,
                     a.attribute_stars, a.qualified_stars, a.next_level, a.review_candidate,
                     *(sep.join(i.text(lang) for i in items)
                       for items in (a.missing_for_next, a.unknown, a.downgrades, a.not_checkable)),
                     a.headline(lang=lang)))
    frame = pd.DataFrame.from_records(rows, columns=list(RATING_COLUMNS), index=stations.index)
    for name in ("recorded_stars", "attribute_stars", "qualified_stars"):
        frame[name] = frame[name].astype("int64")
    frame["next_level"] = frame["next_level"].astype("Int64")
    frame["review_candidate"] = frame["review_candidate"].astype(bool)
    frame.attrs["rubric_version"] = rubric.version
    return frame


def feedback_triggers(reports: Iterable[Feedback], rubric: Rubric,
                      *, now: dt.datetime) -> dict[str, tuple[FeedbackTrigger, ...]]:
    """
    Evaluate the rubric's downgrade triggers on workers' reports (the register's feedback queue).

    Only the triggers the rubric defines are evaluated. A report made after `now` is ignored; one whose state
    changed after `now` counts as still ``new`` then (the queue keeps only a report's latest state).

    - ``shut_at_stated_hours``: at least :data:`REPORTS_CLOSED_MIN` confirmed (``acknowledged`` or
      ``resolved``) ``closed_at_stated_hours`` reports made in the :data:`REPORTS_CLOSED_LOOKBACK_DAYS` days up
      to `now` (local choices; a ``rejected`` or unconfirmed ``new`` report does not count).
    - ``broken_facilities``: a ``broken_facility`` report past its deadline and not resolved or rejected (the
      deadline takes the place of the rule's ``grace_days``).
    - ``complaints_ignored``: more than the rule's ``max_unresolved`` reports of any kind past their deadline
      and neither resolved nor rejected, among those no other trigger used: one report never costs two stars.

    Parameters
    ----------
    reports
        `stationmap.store.Feedback` records, of any stations.
    rubric
        A validated rubric.
    now
        The moment of the check, timezone-aware.

    Returns
    -------
    triggers
        By station id, the triggers fired (stations with none are left out), each with its reports.

    Raises
    ------
    BadRequestError
        If `now` has no timezone.
    """
    if now.tzinfo is None:
        msg = f"now must be timezone-aware, got {now.isoformat()}"
        raise BadRequestError(msg)
    by_station: dict[str, list[tuple[Feedback, str]]] = {}
    for report in reports:
        if report.created_at > now:
            continue
        by_station.setdefault(report.station_id, []).append((report, report.state_at(now)))
    result: dict[str, tuple[FeedbackTrigger, ...]] = {}
    for station_id, entries in by_station.items():
        entries.sort(key=lambda e: (e[0].created_at, e[0].id))
        fired: list[FeedbackTrigger] = []
        used: set[int] = set()  # a report is evidence for one trigger only: "ignored" counts the ones left over
        for rule in sorted(rubric.downgrades, key=lambda r: r.trigger == "complaints_ignored"):
            trigger = _report_trigger(station_id, rule, entries, now, used)
            if trigger is not None:
                fired.append(trigger)
                used.update(r.id for r in trigger.reports)
        if fired:
            result[station_id] = tuple(fired)
    return result


def summarize_ratings(ratings: pd.DataFrame) -> RatingSummary:
    """
    Count stations per recorded and qualified level, review candidates and downgrades.

    Parameters
    ----------
    ratings
        A frame returned by :func:`rate_stations`.

    Returns
    -------
    summary
        The counts.

    Raises
    ------
    BadRequestError
        If `ratings` lacks a column of :data:`RATING_COLUMNS`.
    """
    missing = [c for c in RATING_COLUMNS if c not in ratings.columns]
    if missing:
        msg = f"ratings lack the columns {', '.join(missing)}; pass the frame rate_stations returns"
        raise BadRequestError(msg)
    levels = range(N_LEVELS + 1)
    recorded = ratings["recorded_stars"].value_counts()
    qualified = ratings["qualified_stars"].value_counts()
    return RatingSummary(
        n_stations=len(ratings),
        recorded_by_level=tuple(int(recorded.get(n, 0)) for n in levels),
        qualified_by_level=tuple(int(qualified.get(n, 0)) for n in levels),
        n_review_candidates=int(ratings["review_candidate"].sum()),
        n_downgraded=int((ratings["qualified_stars"] < ratings["attribute_stars"]).sum()),
        n_not_checkable=int((ratings["not_checkable"] != "").sum()),
        n_unknown=int((ratings["unknown"] != "").sum()),
    )


# --- record access ----------------------------------------------------------------------------------------------

def _check_lang(lang: str) -> str:
    if lang not in _LANGS:
        msg = f"lang must be one of {', '.join(_LANGS)}, got {lang!r}"
        raise BadRequestError(msg)
    return lang


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def _get(station: Mapping[str, Any] | pd.Series, name: str) -> Any:
    """Return a field from the record, else from its ``extra`` dict; None when absent."""
    value = station.get(name)
    if not _missing(value):
        return value
    extra = station.get("extra")
    if isinstance(extra, Mapping):
        value = extra.get(name)
        if not _missing(value):
            return value
    return None


def _real(value: Any) -> float | None:
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value)):
        return float(value)
    return None


def _check_date(value: dt.datetime | dt.date | str | None) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    return hours.resolve_when(value).date()


def _num(value: float) -> str:
    return f"{value:g}"


# --- hours ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _WeekProfile:
    """Hours open on each day Monday-Sunday of the reference week."""

    per_day: tuple[float, ...]

    @property
    def weekly(self) -> float:
        return sum(self.per_day)

    @property
    def open_days(self) -> int:
        return sum(1 for h in self.per_day if h > 0)

    @property
    def shortest_weekday(self) -> float:
        return min(self.per_day[:5])


@functools.lru_cache(maxsize=4096)
def _week_profile(text: str, monday: dt.date) -> _WeekProfile:
    start = dt.datetime.combine(monday, dt.time(), tzinfo=hours.TZ)
    days = [start + dt.timedelta(days=i) for i in range(8)]
    per_day = [0.0] * 7
    for begin, end, state, _comment in hours.parse_hours(text).intervals(start, days[7]):
        if state != State.OPEN:
            continue
        begin, end = hours.resolve_when(begin), hours.resolve_when(end)
        for i in range(7):
            overlap = min(end, days[i + 1]) - max(begin, days[i])
            if overlap > dt.timedelta(0):
                per_day[i] += overlap.total_seconds() / 3600
    return _WeekProfile(tuple(round(h, 4) for h in per_day))


# --- requirements -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Facts:
    """What one record says, read once and reused for every level."""

    amenities: frozenset[str] | None
    broken: frozenset[str]
    area_m2: float | None
    seats: float | None
    toilet: str | None
    hours_text: str | None
    profile: _WeekProfile | None
    hours_error: str | None


def _read_facts(station: Mapping[str, Any] | pd.Series, rubric: Rubric, broken: frozenset[str]) -> _Facts:
    raw = _get(station, "amenities")
    listed = _as_list(raw)
    if raw is not None and listed is None:
        raise _malformed(_get(station, "id"), "amenities", raw, "a list of amenity keys")
    amenities = None if listed is None else frozenset(str(a) for a in listed) - broken
    text = _get(station, "opening_hours")
    profile, error = None, None
    if isinstance(text, str):
        try:
            profile = _week_profile(text.strip(), rubric.reference_week)
        except OpeningHoursError as err:
            error = str(err)
    return _Facts(amenities=amenities, broken=broken, area_m2=_real(_get(station, "area_m2")),
                  seats=_real(_get(station, "capacity")), toilet=_get(station, "toilet"),
                  hours_text=text if isinstance(text, str) else None, profile=profile, hours_error=error)


def _zh(key: str) -> str:
    return AMENITIES.label(key, "zh")


def _en(key: str) -> str:
    return AMENITIES.label(key, "en")


def _check_level(facts: _Facts, level: StarLevel, rubric: Rubric) -> tuple[list[RatingItem], list[RatingItem]]:
    """Return (unmet requirements, requirements unknown for lack of data) of one cumulative level."""
    unmet: list[RatingItem] = []
    unknown: list[RatingItem] = []
    have = facts.amenities or frozenset()
    if facts.amenities is None and (level.amenities or level.amenities_any or level.min_extended_services):
        unknown.append(RatingItem("unknown:amenities", "设施未记录", "amenities not recorded"))
    for key in level.amenities:
        if key not in have:
            broken_zh, broken_en = ("（已损坏未修复）", " (broken, not repaired)") if key in facts.broken else ("", "")
            unmet.append(RatingItem(f"amenity:{key}", f"缺少{_zh(key)}{broken_zh}", f"missing: {_en(key)}{broken_en}"))
    for group in level.amenities_any:
        if not have & set(group):
            unmet.append(RatingItem(f"amenity_any:{'|'.join(group)}", f"缺少{'或'.join(_zh(k) for k in group)}",
                                    f"missing: {' or '.join(_en(k) for k in group)}"))
    if level.min_extended_services:
        present = [k for k in rubric.extended_services if k in have]
        need = level.min_extended_services
        if len(present) < need:
            options_zh = "、".join(_zh(k) for k in rubric.extended_services)
            options_en = ", ".join(_en(k) for k in rubric.extended_services)
            unmet.append(RatingItem(
                "min_extended_services",
                f"拓展服务不足：需≥{need}项，现有{len(present)}项（可选：{options_zh}）",
                f"extended services {len(present)} < {need} (any of: {options_en})"))
    _check_minimum(unmet, unknown, "min_area_m2", "area_m2", facts.area_m2, level.min_area_m2,
                   ("面积", "㎡"), ("floor area", " m²"))
    _check_minimum(unmet, unknown, "min_seats", "capacity", facts.seats, level.min_seats,
                   ("座位", "个"), ("seats", ""))
    if level.toilet is not None:
        accepted_zh = "或".join(TOILET.label(t, "zh") for t in level.toilet)
        accepted_en = " or ".join(TOILET.label(t, "en").lower() for t in level.toilet)
        if facts.toilet is None:
            unmet.append(RatingItem("toilet", f"厕所情况未记录（需{accepted_zh}厕所）",
                                    f"toilet not recorded (need {accepted_en})"))
            unknown.append(RatingItem("unknown:toilet", "厕所情况未记录", "toilet not recorded"))
        elif facts.toilet not in level.toilet:
            found_zh = TOILET.label(facts.toilet, "zh") if facts.toilet in TOILET else facts.toilet
            found_en = TOILET.label(facts.toilet, "en").lower() if facts.toilet in TOILET else facts.toilet
            unmet.append(RatingItem("toilet", f"厕所不符：需{accepted_zh}厕所，记录为{found_zh}",
                                    f"toilet {found_en}, need {accepted_en}"))
    _check_hours(unmet, unknown, facts, level)
    return unmet, unknown


def _check_minimum(unmet: list[RatingItem], unknown: list[RatingItem], code: str, field: str, value: float | None,
                   need: float | None, zh: tuple[str, str], en: tuple[str, str]) -> None:
    if need is None:
        return
    (name_zh, unit_zh), (name_en, unit_en) = zh, en
    if value is None:
        unmet.append(RatingItem(code, f"{name_zh}未记录（需≥{_num(need)}{unit_zh}）",
                                f"{name_en} not recorded (need ≥ {_num(need)}{unit_en})"))
        unknown.append(RatingItem(f"unknown:{field}", f"{name_zh}未记录", f"{name_en} not recorded"))
    elif value < need:
        unmet.append(RatingItem(code, f"{name_zh}不足：需≥{_num(need)}{unit_zh}，记录为 {_num(value)}{unit_zh}",
                                f"{name_en} {_num(value)}{unit_en} < {_num(need)}{unit_en}"))


def _hours_words(alt: HoursAlternative) -> tuple[str, str]:
    zh, en = [], []
    if alt.min_open_days is not None:
        zh.append(f"每周开放≥{alt.min_open_days}天")
        en.append(f"open ≥ {alt.min_open_days} days a week")
    if alt.min_weekday_hours is not None:
        zh.append(f"工作日每天≥{_num(alt.min_weekday_hours)}小时")
        en.append(f"≥ {_num(alt.min_weekday_hours)} h every weekday")
    if alt.min_weekly_hours is not None:
        zh.append(f"每周≥{_num(alt.min_weekly_hours)}小时")
        en.append(f"≥ {_num(alt.min_weekly_hours)} h a week")
    return "且".join(zh), " and ".join(en)


def _meets(profile: _WeekProfile, alt: HoursAlternative) -> bool:
    return ((alt.min_open_days is None or profile.open_days >= alt.min_open_days)
            and (alt.min_weekday_hours is None or profile.shortest_weekday >= alt.min_weekday_hours)
            and (alt.min_weekly_hours is None or profile.weekly >= alt.min_weekly_hours))


def _check_hours(unmet: list[RatingItem], unknown: list[RatingItem], facts: _Facts, level: StarLevel) -> None:
    own = HoursAlternative(level.min_weekday_hours, level.min_weekly_hours, level.min_open_days)
    thresholds = own != HoursAlternative()
    if not (level.hours_recorded or thresholds or level.hours_any):
        return
    if facts.hours_text is None:
        unmet.append(RatingItem("hours_recorded", "开放时间未记录", "opening hours not recorded"))
        unknown.append(RatingItem("unknown:opening_hours", "开放时间未记录", "opening hours not recorded"))
        return
    if facts.profile is None:
        unmet.append(RatingItem("hours_recorded", "开放时间无法解析", "opening hours cannot be read"))
        unknown.append(RatingItem("unknown:opening_hours", f"开放时间无法解析：{facts.hours_error}",
                                  f"opening hours cannot be read: {facts.hours_error}"))
        return
    profile = facts.profile
    if level.min_open_days is not None and profile.open_days < level.min_open_days:
        unmet.append(RatingItem(
            "min_open_days",
            f"开放天数不足：需每周≥{level.min_open_days}天，记录为 {profile.open_days}天",
            f"open {profile.open_days} days a week < {level.min_open_days}"))
    if level.min_weekday_hours is not None and profile.shortest_weekday < level.min_weekday_hours:
        unmet.append(RatingItem(
            "min_weekday_hours",
            f"工作日开放时长不足：需每天≥{_num(level.min_weekday_hours)}小时，"
            f"最短一天 {_num(profile.shortest_weekday)}小时",
            f"weekday hours {_num(profile.shortest_weekday)} h < {_num(level.min_weekday_hours)} h (shortest weekday)"))
    if level.min_weekly_hours is not None and profile.weekly < level.min_weekly_hours:
        unmet.append(RatingItem(
            "min_weekly_hours",
            f"每周开放时长不足：需≥{_num(level.min_weekly_hours)}小时，记录为 {_num(profile.weekly)}小时",
            f"weekly hours {_num(profile.weekly)} h < {_num(level.min_weekly_hours)} h"))
    for group in level.hours_any:
        if not any(_meets(profile, alt) for alt in group):
            words = [_hours_words(alt) for alt in group]
            unmet.append(RatingItem(
                "hours_any",
                f"开放时间不足：需{'，或'.join(w[0] for w in words)}（现每周开放{profile.open_days}天，"
                f"工作日最短 {_num(profile.shortest_weekday)}小时）",
                f"hours: need {', or '.join(w[1] for w in words)} (now {profile.open_days} days a week, "
                f"shortest weekday {_num(profile.shortest_weekday)} h)"))


# --- downgrades -------------------------------------------------------------------------------------------------

def _malformed(station_id: Any, field: str, value: Any, expected: str) -> StationDataError:
    text = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    msg = f"Station {station_id!r}: {field} = {text}: expected {expected}."
    return StationDataError(msg)


def _as_list(value: Any) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    if hasattr(value, "tolist") and not isinstance(value, str):
        return list(value.tolist())
    return None


def _broken_entries(station: Mapping[str, Any] | pd.Series, station_id: Any) -> list[tuple[str, dt.date | None]] | None:
    raw = _get(station, "broken_facilities")
    if raw is None:
        return None
    entries = _as_list(raw)
    if entries is None:
        raise _malformed(station_id, "broken_facilities", raw, "a list of amenity keys or {item, since} objects")
    result: list[tuple[str, dt.date | None]] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str) and entry.strip():
            result.append((AMENITIES.resolve(entry) or entry.strip(), None))
            continue
        item = entry.get("item") if isinstance(entry, Mapping) else None
        since = entry.get("since") if isinstance(entry, Mapping) else None
        if not isinstance(item, str) or not item.strip():
            raise _malformed(station_id, f"broken_facilities[{i}]", entry,
                             "an amenity key, a description, or {item, since: 'YYYY-MM-DD'}")
        result.append((AMENITIES.resolve(item) or item.strip(), _read_day(since, station_id,
                                                                         f"broken_facilities[{i}].since")))
    return result


def _read_day(value: Any, station_id: Any, field: str) -> dt.date | None:
    if value is None:
        return None
    return _parse_day(value, station_id, field)


def _parse_day(value: Any, station_id: Any, field: str) -> dt.date:
    """Read a day that is given (not None): a date, a datetime (its local day) or an ISO date string."""
    if isinstance(value, dt.date):
        return value if not isinstance(value, dt.datetime) else hours.resolve_when(value).date()
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as err:
        raise _malformed(station_id, field, value, "an ISO date YYYY-MM-DD") from err


def _read_inspection(entry: Any, station_id: Any, i: int) -> tuple[dt.date, dt.datetime | None, bool]:
    expected = "{date: 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM', open: true or false}"
    if not isinstance(entry, Mapping) or not isinstance(entry.get("open"), bool) or entry.get("date") is None:
        raise _malformed(station_id, f"inspections[{i}]", entry, expected)
    value = entry["date"]
    if isinstance(value, dt.datetime) or (isinstance(value, str) and len(value.strip()) > 10):
        try:
            moment = hours.resolve_when(value)
        except BadRequestError as err:
            raise _malformed(station_id, f"inspections[{i}].date", value, expected) from err
        return moment.date(), moment, entry["open"]
    day = _parse_day(value, station_id, f"inspections[{i}].date")  # not None: checked above
    return day, None, entry["open"]


def _apply_downgrades(station: Mapping[str, Any] | pd.Series, rubric: Rubric, checked: dt.date, station_id: Any,
                      broken: list[tuple[str, dt.date | None]] | None,
                      hours_text: str | None) -> tuple[list[tuple[DowngradeRule, RatingItem]], list[RatingItem]]:
    fired: list[tuple[DowngradeRule, RatingItem]] = []
    not_checkable: list[RatingItem] = []
    for rule in rubric.downgrades:
        code = f"downgrade:{rule.trigger}"
        if rule.trigger == "complaints_ignored":
            raw = _get(station, "complaints_unresolved")
            if raw is None:
                not_checkable.append(RatingItem(code, "无投诉处理记录，无法核对是否漠视投诉",
                                                "no complaint records: cannot check for ignored complaints"))
                continue
            count = _real(raw)
            if count is None or count < 0 or not count.is_integer():
                raise _malformed(station_id, "complaints_unresolved", raw, "a whole number of at least 0")
            if count > rule.max_unresolved:
                fired.append((rule, RatingItem(code, f"投诉未处理：{int(count)}件",
                                               f"{int(count)} complaint{'' if count == 1 else 's'} unresolved")))
        elif rule.trigger == "broken_facilities":
            if broken is None:
                not_checkable.append(RatingItem(code, "无设施完好记录，无法核对损坏设施是否修复",
                                                "no facility condition records: cannot check for unrepaired "
                                                "broken facilities"))
                continue
            overdue = [item for item, since in broken
                       if since is None or (checked - since).days >= rule.grace_days]
            if overdue:
                zh = "、".join(_zh(i) if i in AMENITIES else i for i in overdue)
                en = ", ".join(_en(i) if i in AMENITIES else i for i in overdue)
                fired.append((rule, RatingItem(code, f"设施损坏未修复：{zh}", f"broken facilities not repaired: {en}")))
        elif rule.trigger == "shut_at_stated_hours":
            item = _check_inspections(station, rule, checked, station_id, hours_text)
            if item is None:
                continue
            if item.code.startswith("not_checkable:"):
                not_checkable.append(RatingItem(code, item.zh, item.en))
            else:
                fired.append((rule, item))
    return fired, not_checkable


def _check_inspections(station: Mapping[str, Any] | pd.Series, rule: DowngradeRule, checked: dt.date,
                       station_id: Any, hours_text: str | None) -> RatingItem | None:
    code = f"downgrade:{rule.trigger}"
    raw = _get(station, "inspections")
    entries = _as_list(raw)
    if raw is not None and entries is None:
        raise _malformed(station_id, "inspections", raw, "a list of {date, open} objects")
    since = checked - dt.timedelta(days=rule.lookback_days)
    recent = [_read_inspection(e, station_id, i) for i, e in enumerate(entries or [])]
    recent = [r for r in recent if since <= r[0] <= checked]
    if not recent:
        return RatingItem(f"not_checkable:{rule.trigger}",
                          f"{since.isoformat()}至{checked.isoformat()}无检查记录，无法核对是否按公示时间开放",
                          f"no inspection from {since.isoformat()} to {checked.isoformat()}: cannot check opening "
                          "at stated hours")
    stated = None
    if hours_text is not None:
        try:
            stated = hours.parse_hours(hours_text)
        except OpeningHoursError:
            stated = None
    # a visit with a time outside the stated hours is no evidence against the station
    failures = sorted(day for day, moment, was_open in recent
                      if not was_open and not (moment is not None and stated is not None
                                               and not stated.is_open(moment)))
    if len(failures) <= rule.max_failed_inspections:
        return None
    last = failures[-1].isoformat()
    return RatingItem(code, f"检查时未按公示时间开放：{len(failures)}次，最近 {last}",
                      f"shut at stated hours on inspection: {len(failures)} times, last {last}")


def _day(moment: dt.datetime) -> str:
    return moment.astimezone(_SHANGHAI).strftime("%Y-%m-%d")


def _minute(moment: dt.datetime) -> str:
    return moment.astimezone(_SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _report_trigger(station_id: str, rule: DowngradeRule, entries: list[tuple[Feedback, str]],
                    now: dt.datetime, used: set[int]) -> FeedbackTrigger | None:
    code = f"downgrade:{rule.trigger}"
    overdue = [r for r, state in entries if state in OPEN_FEEDBACK_STATES and now > r.deadline]
    if rule.trigger == "shut_at_stated_hours":
        since = now - dt.timedelta(days=REPORTS_CLOSED_LOOKBACK_DAYS)
        chosen = [r for r, state in entries if r.kind == "closed_at_stated_hours" and state in _CONFIRMED_STATES
                  and r.created_at >= since]
        if len(chosen) < REPORTS_CLOSED_MIN:
            return None
        zh_list = "、".join(f"#{r.id} {_day(r.created_at)}" for r in chosen)
        en_list = ", ".join(f"#{r.id} {_day(r.created_at)}" for r in chosen)
        item = RatingItem(code, f"工人报告开放时间内未开门，{REPORTS_CLOSED_LOOKBACK_DAYS}天内经核实{len(chosen)}次："
                          f"{zh_list}",
                          f"workers reported it closed at stated hours, {len(chosen)} confirmed in "
                          f"{REPORTS_CLOSED_LOOKBACK_DAYS} days: {en_list}")
    elif rule.trigger == "broken_facilities":
        chosen = [r for r in overdue if r.kind == "broken_facility"]
        if not chosen:
            return None
        zh_list = "、".join(f"#{r.id} {_zh(r.amenity) if r.amenity in AMENITIES else r.amenity}"
                            f"（{_day(r.created_at)}报，期限{_minute(r.deadline)}）" for r in chosen)
        en_list = ", ".join(f"#{r.id} {_en(r.amenity) if r.amenity in AMENITIES else r.amenity} "
                            f"(reported {_day(r.created_at)}, due {_minute(r.deadline)})" for r in chosen)
        item = RatingItem(code, f"报修超期未修复：{zh_list}", f"broken facility reports past deadline: {en_list}")
    elif rule.trigger == "complaints_ignored":
        chosen = [r for r in overdue if r.id not in used]
        if len(chosen) <= rule.max_unresolved:
            return None
        zh_list = "、".join(f"#{r.id}（{_day(r.created_at)}报，期限{_minute(r.deadline)}）" for r in chosen)
        en_list = ", ".join(f"#{r.id} (reported {_day(r.created_at)}, due {_minute(r.deadline)})" for r in chosen)
        item = RatingItem(code, f"工人报告超期未处理{len(chosen)}件：{zh_list}",
                          f"{len(chosen)} report{'' if len(chosen) == 1 else 's'} from workers past deadline, "
                          f"unresolved: {en_list}")
    else:
        return None
    return FeedbackTrigger(station_id=station_id, trigger=rule.trigger, item=item, reports=tuple(chosen))


# --- rating -----------------------------------------------------------------------------------------------------

def _dedupe(items: Iterable[RatingItem]) -> tuple[RatingItem, ...]:
    return tuple({item.code: item for item in items}.values())


def _rate(station: Mapping[str, Any] | pd.Series, rubric: Rubric, checked: dt.date,
          triggers: Sequence[FeedbackTrigger] = ()) -> StarAssessment:
    station_id = _get(station, "id")
    broken = _broken_entries(station, station_id)
    facts = _read_facts(station, rubric, frozenset(item for item, _ in broken or []))
    attribute, unknown = 0, []
    missing: tuple[RatingItem, ...] = ()
    for level in rubric.levels:
        unmet, level_unknown = _check_level(facts, level, rubric)
        unknown.extend(level_unknown)
        if unmet:
            missing = tuple(unmet)
            break
        attribute = level.stars
    fired, not_checkable = _apply_downgrades(station, rubric, checked, station_id, broken, facts.hours_text)
    rules = {rule.trigger: rule for rule in rubric.downgrades}
    for trigger in triggers:
        if trigger.trigger in rules:
            fired.append((rules[trigger.trigger], trigger.item))
            not_checkable = [i for i in not_checkable if i.code != trigger.item.code]
    removed = {rule.trigger: rule.stars for rule, _ in fired}  # a rule fired twice removes its stars once
    qualified = max(0, attribute - sum(removed.values()))
    recorded_raw = _real(_get(station, "stars"))
    recorded = int(recorded_raw) if recorded_raw is not None else 0
    return StarAssessment(
        station_id=None if station_id is None else str(station_id),
        recorded_stars=recorded,
        attribute_stars=attribute,
        qualified_stars=qualified,
        next_level=attribute + 1 if attribute < N_LEVELS else None,
        missing_for_next=missing,
        unknown=_dedupe(unknown),
        review_candidate=recorded > qualified,
        downgrades=tuple(item for _, item in fired),
        not_checkable=tuple(not_checkable),
        rubric_version=rubric.version,
    )


"""Opening-hours logic: parse OSM opening_hours, ask open-at, normalise what clerks write.

Every time is China Standard Time (``Asia/Shanghai``, UTC+8, no daylight saving). A naive datetime is read as
Shanghai wall time; an aware one is converted to it. Expressions are parsed by the Rust-backed
``opening_hours`` package (opening-hours-py) with ``timezone=TZ`` and ``country="CN"``.

Notes on the parser that shape this module:

- It accepts only naive datetimes or datetimes whose tzinfo is a ``zoneinfo.ZoneInfo``; one carrying
  ``datetime.timezone.utc`` raises ``TypeError``. Everything is therefore converted with
  ``astimezone(TZ)`` before it reaches the parser.
- Without ``timezone=`` an aware datetime is *not* converted: 21:30 UTC would be read as 21:30 on the
  expression's clock. The parser is always built with ``timezone=TZ``.
- Its ``country="CN"`` holiday calendar marks one day per festival (e.g. 2025-10-01 but not 10-02..10-08)
  and knows nothing of the State Council's bridged days and swapped working days (调休), so ``PH`` rules
  are only approximately right.
- Parsed expressions are neither picklable nor comparable, and ``str()`` of one is a canonical rewrite
  (``off`` becomes ``closed``, ``8:00`` becomes ``08:00``, ``Mo-Su 00:00-24:00`` becomes ``Mo-Su``).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from opening_hours import OpeningHours, ParserError, State

from stationmap.errors import BadRequestError, OpeningHoursError

__all__ = [
    "SEASON_MONTHS",
    "TZ",
    "HoursState",
    "describe_hours",
    "describe_state",
    "hours_state",
    "is_open",
    "next_change",
    "normalize_clerk_hours",
    "open_mask",
    "parse_hours",
    "resolve_when",
]

logger = logging.getLogger(__name__)

#: The one timezone of every station: China Standard Time.
TZ = ZoneInfo("Asia/Shanghai")

#: What :func:`hours_state` answers.
HoursState = Literal["open", "closed", "unknown"]

_CLOSED_STATUSES = frozenset({"closed", "temporarily_closed"})
_STATE_NAMES: dict[State, HoursState] = {State.OPEN: "open", State.CLOSED: "closed", State.UNKNOWN: "unknown"}
_NEXT_CHANGE_HORIZON = timedelta(days=8)
_LANGS = ("zh", "en")


# --------------------------------------------------------------------------------------------------------------
# parsing


@functools.lru_cache(maxsize=4096)
def parse_hours(text: str) -> OpeningHours:
    """
    Parse an OSM ``opening_hours`` string, evaluated in Asia/Shanghai with the CN holiday calendar.

    Results are cached by string: thousands of stations share a handful of expressions. Surrounding
    whitespace is ignored. Parser warnings (e.g. ``mo`` instead of ``Mo``) are logged once per string.

    Parameters
    ----------
    text
        An ``opening_hours`` value, e.g. ``"Mo-Fr 08:30-11:00,13:30-17:00"``.

    Returns
    -------
    hours
        The parsed expression (an ``opening_hours.OpeningHours``), shared between callers; treat it as
        read-only.

    Raises
    ------
    OpeningHoursError
        If `text` is not a string, is empty, or is not valid ``opening_hours`` syntax. The message names
        the value, the column and the parser's explanation on one line.
    """
    if not isinstance(text, str):
        msg = f"opening_hours must be a string, got {type(text).__name__} {text!r}"
        raise OpeningHoursError(msg)
    value = text.strip()
    if not value:
        msg = f"cannot parse opening_hours {text!r}: the value is empty"
        raise OpeningHoursError(msg)
    try:
        hours = OpeningHours(value, timezone=TZ, country="CN")
    except ParserError as err:
        msg = f"cannot parse opening_hours {text!r}{_condense_parser_error(str(err))}"
        raise OpeningHoursError(msg) from err
    for warning in hours.warnings:
        logger.warning("opening_hours %r: %s", text, warning)
    return hours


def _condense_parser_error(message: str) -> str:
    """Turn the parser's multi-line pest report into ``" at column N: expected ..."``."""
    where = re.search(r"-->\s*\d+:(\d+)", message)
    why = re.search(r"^\s*=\s*(.+?)\s*$", message, flags=re.MULTILINE)
    column = f" at column {where.group(1)}" if where else ""
    explanation = why.group(1) if why else " ".join(message.split())
    return f"{column}: {explanation}"


def _is_missing(value: object) -> bool:
    """Tell whether a record field is absent: None, NaN, pd.NA or a blank string."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    return value is pd.NA


def _field(station: Mapping[str, Any] | pd.Series, name: str) -> Any:
    value = station.get(name)
    return None if _is_missing(value) else value


# --------------------------------------------------------------------------------------------------------------
# when


def resolve_when(value: datetime | str | None, *, now: datetime | None = None) -> datetime:
    """
    Turn a user's "when" into an aware Asia/Shanghai datetime.

    Parameters
    ----------
    value
        A datetime (naive means Shanghai wall time, aware is converted); an ISO 8601 date-time string
        (``"2025-06-02T10:00"``, ``"2025-06-02 10:00+08:00"``, ``"2025-06-01T21:30Z"``); ``"HH:MM"`` for
        that time on today's date in Shanghai; or None for `now`.
    now
        The present moment, naive meaning Shanghai wall time; defaults to the clock. Used for None and
        ``"HH:MM"``.

    Returns
    -------
    when
        Aware datetime in Asia/Shanghai.

    Raises
    ------
    BadRequestError
        If `value` is of another type, an impossible time such as ``"25:00"``, a date without a time, or
        text that is neither ``HH:MM`` nor ISO 8601.
    """
    current = _to_shanghai(now) if now is not None else datetime.now(TZ)
    if value is None:
        return current
    if isinstance(value, datetime):
        return _to_shanghai(value)
    if not isinstance(value, str):
        msg = f"when must be a datetime or a string such as '05:00', got {type(value).__name__} {value!r}"
        raise BadRequestError(msg)
    text = value.strip()
    clock = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    if clock:
        hour, minute, second = (int(g) if g else 0 for g in clock.groups())
        if hour > 23 or minute > 59 or second > 59:
            msg = f"cannot read time {value!r}: hours run 00-23 and minutes 00-59"
            raise BadRequestError(msg)
        return current.replace(hour=hour, minute=minute, second=second, microsecond=0)
    if re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", text):
        msg = f"cannot read time {value!r}: give a time of day too, e.g. '{text}T10:00'"
        raise BadRequestError(msg)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as err:
        msg = f"cannot read time {value!r}: expected HH:MM or an ISO 8601 date-time such as '2025-06-02T10:00'"
        raise BadRequestError(msg) from err
    return _to_shanghai(parsed)


def _to_shanghai(when: datetime) -> datetime:
    """Return `when` as a plain aware datetime in TZ; naive input is Shanghai wall time."""
    if isinstance(when, pd.Timestamp):
        when = when.to_pydatetime()
    if when.tzinfo is None:
        return when.replace(tzinfo=TZ)
    # the parser rejects tzinfo that is not a ZoneInfo (e.g. datetime.timezone.utc), so always convert
    return when.astimezone(TZ)


# --------------------------------------------------------------------------------------------------------------
# open at


def hours_state(station: Mapping[str, Any] | pd.Series, when: datetime | str | None = None) -> HoursState:
    """
    Tell whether a station is open, closed, or of unknown state at a moment.

    Parameters
    ----------
    station
        Mapping or pandas Series with ``opening_hours`` and optionally ``status``.
    when
        Anything :func:`resolve_when` accepts; None means now.

    Returns
    -------
    state
        ``"closed"`` if ``status`` is ``closed`` or ``temporarily_closed``; ``"unknown"`` if
        ``opening_hours`` is missing or empty, or the expression says ``unknown`` at that time; otherwise
        ``"open"`` or ``"closed"`` according to the hours.

    Raises
    ------
    OpeningHoursError
        If ``opening_hours`` is present but cannot be parsed.
    BadRequestError
        If `when` cannot be read.
    """
    moment = resolve_when(when)
    if _field(station, "status") in _CLOSED_STATUSES:
        return "closed"
    text = _field(station, "opening_hours")
    if text is None:
        return "unknown"
    return _STATE_NAMES[parse_hours(text).state(moment)[0]]


def is_open(station: Mapping[str, Any] | pd.Series, when: datetime | str | None = None) -> bool:
    """
    Tell whether a station is open at a moment.

    Parameters
    ----------
    station
        Mapping or pandas Series with ``opening_hours`` and optionally ``status``.
    when
        Anything :func:`resolve_when` accepts; None means now.

    Returns
    -------
    open
        True only if :func:`hours_state` is ``"open"``: a closed or temporarily closed station, or one
        without hours, is never open.

    Raises
    ------
    OpeningHoursError
        If ``opening_hours`` is present but cannot be parsed.
    BadRequestError
        If `when` cannot be read.
    """
    return hours_state(station, when) == "open"


def next_change(station: Mapping[str, Any] | pd.Series, when: datetime | str | None = None) -> datetime | None:
    """
    Return when a station next opens or closes.

    Parameters
    ----------
    station
        Mapping or pandas Series with ``opening_hours`` and optionally ``status``.
    when
        Anything :func:`resolve_when` accepts; None means now.

    Returns
    -------
    change
        Aware Asia/Shanghai datetime of the next change of state, or None if the hours never change
        (``24/7``), do not change within 8 days, are missing, or the station's ``status`` is closed. A
        range ending at 24:00 changes at 00:00 the next day.

    Raises
    ------
    OpeningHoursError
        If ``opening_hours`` is present but cannot be parsed.
    BadRequestError
        If `when` cannot be read.
    """
    moment = resolve_when(when)
    text = _field(station, "opening_hours")
    if text is None or _field(station, "status") in _CLOSED_STATUSES:
        return None
    return _next_change(parse_hours(text), moment)


def _next_change(hours: OpeningHours, moment: datetime) -> datetime | None:
    change = hours.next_change(moment)
    if change is None:
        return None
    change = _to_shanghai(change)
    return change if change - moment <= _NEXT_CHANGE_HORIZON else None


def open_mask(
    hours: Sequence[str | None],
    statuses: Sequence[str | None] | None = None,
    when: datetime | str | None = None,
) -> np.ndarray:
    """
    Tell, for many stations at once, which are open at a moment.

    Each distinct hours string is parsed and evaluated once and the answers are broadcast back, so the
    cost grows with the number of distinct strings, not stations. Measured on 200,000 stations sharing
    50 distinct strings, with missing hours and closed statuses mixed in (2-core VM, Python 3.11): a
    median of 10 ms per call for pandas Series and 17 ms for Python lists with a warm parse cache, 21 ms
    with a cold one, against 590 ms for a per-station :func:`is_open` loop.

    Parameters
    ----------
    hours
        ``opening_hours`` per station (list, array or Series); None, NaN or "" means unknown.
    statuses
        ``status`` per station, same length as `hours`, or None if every station is in service.
    when
        Anything :func:`resolve_when` accepts; None means now.

    Returns
    -------
    mask
        Boolean array, True where the station is open: same answers as :func:`is_open` per station.

    Raises
    ------
    OpeningHoursError
        If a non-missing hours string cannot be parsed (the message names it).
    BadRequestError
        If `when` cannot be read, or `statuses` has a different length than `hours`.
    """
    moment = resolve_when(when)
    codes, uniques = pd.factorize(pd.Series(hours, dtype=object), use_na_sentinel=True)
    open_by_code = np.zeros(len(uniques) + 1, dtype=bool)  # the extra last slot answers code -1 (missing)
    for code, text in enumerate(uniques):
        if not _is_missing(text):
            open_by_code[code] = parse_hours(text).is_open(moment)
    mask = open_by_code[codes]
    if statuses is not None:
        if len(statuses) != len(mask):
            msg = f"statuses has {len(statuses)} values but hours has {len(mask)}"
            raise BadRequestError(msg)
        closed = pd.Series(statuses, dtype=object).isin(_CLOSED_STATUSES).to_numpy()
        mask &= ~closed
    return mask


# --------------------------------------------------------------------------------------------------------------
# words


_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_DAY_WORDS = {
    "zh": dict(zip(_DAYS, ("周一", "周二", "周三", "周四", "周五", "周六", "周日"), strict=True)) | {"PH": "法定节假日"},
    "en": dict(zip(_DAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True)) | {"PH": "public holidays"},
}
_DAY = r"(?:Mo|Tu|We|Th|Fr|Sa|Su)"
_DAY_ITEM = rf"(?:{_DAY}(?:-{_DAY})?|PH)"
_TIME = r"(?:[01]\d|2[0-4]):[0-5]\d"
_SPAN = rf"{_TIME}-{_TIME}"
_RULE = re.compile(
    rf"(?P<always>24/7)(?: (?P<always_off>closed))?"
    rf"|(?P<days>{_DAY_ITEM}(?:,{_DAY_ITEM})*)?"
    rf"(?:(?:^| )(?P<spans>{_SPAN}(?:,{_SPAN})*))?"
    rf"(?:(?:^| )(?P<off>closed))?"
)


@dataclass(frozen=True)
class _Words:
    """The phrases of one language for :func:`describe_hours` and :func:`describe_state`."""

    always: str
    never: str
    daily: str
    all_day: str
    day_range: str
    list_sep: str
    span_sep: str
    rule_sep: str
    next_day: str
    off: str


_WORDS = {
    "zh": _Words("全天24小时开放", "不开放", "每天", "全天", "至", "、", "-", "；", "次日", "{days}休息"),
    "en": _Words("Open 24 hours", "Closed", "Daily", "24 hours", "–", ", ", "–", "; ", " (next day)",
                 "Closed on {days}"),
}


def describe_hours(text: str, *, lang: str = "zh") -> str:
    """
    Put an ``opening_hours`` value into words for a station's detail page.

    Handles the common forms: ``24/7``, weekday ranges and lists, split shifts, ``PH``, ``off``, several
    rules separated by ``;``. Anything else (comments, month or week selectors, sunrise, open ends) is
    returned as the raw string.

    Parameters
    ----------
    text
        An ``opening_hours`` value, e.g. ``"Mo-Fr 08:30-11:00,13:30-17:00"``.
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    words
        E.g. ``"周一至周五 08:30-11:00、13:30-17:00"`` or ``"Mon–Fri 08:30–11:00, 13:30–17:00"``.

    Raises
    ------
    OpeningHoursError
        If `text` cannot be parsed.
    BadRequestError
        If `lang` is not ``"zh"`` or ``"en"``.
    """
    words = _words(lang)
    canonical = str(parse_hours(text))  # the parser's rewrite: "off" -> "closed", "8:00" -> "08:00"
    parts = []
    for rule in canonical.split("; "):
        match = _RULE.fullmatch(rule)
        described = _describe_rule(match, words, lang) if match and rule else None
        if described is None:
            return text.strip()
        parts.append(described)
    if lang == "en":
        # later rules read as a continuation: "Mon–Fri 08:00–17:00; closed on public holidays"
        parts[1:] = [_lower_first_word(part) for part in parts[1:]]
    return words.rule_sep.join(parts)


def _words(lang: str) -> _Words:
    if lang not in _LANGS:
        msg = f"lang must be one of {', '.join(_LANGS)}, got {lang!r}"
        raise BadRequestError(msg)
    return _WORDS[lang]


def _describe_rule(match: re.Match[str], words: _Words, lang: str) -> str | None:
    """Describe one rule, or return None if it is beyond the common forms."""
    if match["always"]:
        return words.never if match["always_off"] else words.always
    if match["off"] and match["spans"]:
        return None  # "12:00-13:00 closed" carves a break out of earlier rules
    days = _describe_days(match["days"], words, lang) if match["days"] else words.daily
    if match["off"]:
        described = words.off.format(days=days) if match["days"] else words.never
    elif not match["spans"]:
        described = words.always if days == words.daily else f"{days} {words.all_day}"
    else:
        spans = []
        for span in match["spans"].split(","):
            start, end = span.split("-")
            if end > start:
                spans.append(f"{start}{words.span_sep}{end}")
            elif lang == "en":
                spans.append(f"{start}{words.span_sep}{end}{words.next_day}")
            else:
                spans.append(f"{start}{words.span_sep}{words.next_day}{end}")
        described = f"{days} {words.list_sep.join(spans)}"
    return described[0].upper() + described[1:]


def _describe_days(selector: str, words: _Words, lang: str) -> str:
    if selector == "Mo-Su":
        return words.daily
    names = _DAY_WORDS[lang]
    items = []
    for item in selector.split(","):
        first, _, last = item.partition("-")
        items.append(f"{names[first]}{words.day_range}{names[last]}" if last else names[first])
    return words.list_sep.join(items)


def _lower_first_word(part: str) -> str:
    first = part.split(" ", 1)[0]
    return part[0].lower() + part[1:] if first in {"Open", "Closed", "Daily", "Public"} else part


_STATE_WORDS = {
    "zh": {
        "temporarily_closed": "暂停开放",
        "closed_for_good": "已停止运营",
        "no_hours": "开放时间未知",
        "unknown": "开放状态未知",
        "open": "营业中",
        "shut": "已关闭",
        "always": "营业中 · 24小时开放",
        "closes": "{open} · {at} 关闭",
        "opens": "{shut} · {at} 开放",
        "changes": "{unknown} · {at} 起变化",
        "tomorrow": "明天",
    },
    "en": {
        "temporarily_closed": "Temporarily closed",
        "closed_for_good": "Permanently closed",
        "no_hours": "Hours unknown",
        "unknown": "Status unknown",
        "open": "Open",
        "shut": "Closed",
        "always": "Open 24 hours",
        "closes": "{open} · closes {at}",
        "opens": "{shut} · opens {at}",
        "changes": "{unknown} · changes {at}",
        "tomorrow": "tomorrow",
    },
}


def describe_state(
    station: Mapping[str, Any] | pd.Series,
    when: datetime | str | None = None,
    *,
    lang: str = "zh",
) -> str:
    """
    Say in a few words whether a station is open now and when that changes, for the station list.

    Parameters
    ----------
    station
        Mapping or pandas Series with ``opening_hours`` and optionally ``status``.
    when
        Anything :func:`resolve_when` accepts; None means now.
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    text
        E.g. ``"营业中 · 11:00 关闭"`` / ``"Open · closes 11:00"``, ``"已关闭 · 明天 08:30 开放"`` /
        ``"Closed · opens tomorrow 08:30"``, ``"已关闭 · 周一 08:30 开放"`` / ``"Closed · opens Mon 08:30"``,
        ``"暂停开放"`` / ``"Temporarily closed"``. A change at midnight is written ``24:00`` of the day
        before; one 7 or 8 days ahead is written with its date.

    Raises
    ------
    OpeningHoursError
        If ``opening_hours`` is present but cannot be parsed.
    BadRequestError
        If `when` cannot be read or `lang` is not ``"zh"`` or ``"en"``.
    """
    _words(lang)
    phrases = _STATE_WORDS[lang]
    moment = resolve_when(when)
    status = _field(station, "status")
    if status == "temporarily_closed":
        return phrases["temporarily_closed"]
    if status == "closed":
        return phrases["closed_for_good"]
    if _field(station, "opening_hours") is None:
        return phrases["no_hours"]
    state = hours_state(station, moment)
    change = next_change(station, moment)
    if change is None:
        return phrases["always"] if state == "open" else phrases["shut" if state == "closed" else "unknown"]
    at = _describe_moment(change, moment, lang)
    template = {"open": "closes", "closed": "opens", "unknown": "changes"}[state]
    return phrases[template].format(at=at, **phrases)


def _describe_moment(change: datetime, moment: datetime, lang: str) -> str:
    """Write `change` relative to `moment`: "11:00", "明天 08:30", "周一 08:30", "6月9日 08:30"."""
    day, clock = change.date(), change.strftime("%H:%M")
    if clock == "00:00":  # a range "…-24:00" ends at midnight: say 24:00 of the day it belongs to
        day, clock = day - timedelta(days=1), "24:00"
    days_ahead = (day - moment.date()).days
    if days_ahead <= 0:
        return clock
    if days_ahead == 1:
        return f"{_STATE_WORDS[lang]['tomorrow']} {clock}"
    if days_ahead < 7:
        return f"{_DAY_WORDS[lang][_DAYS[day.weekday()]]} {clock}"
    return f"{_describe_date(day, lang)} {clock}"


def _describe_date(day: date, lang: str) -> str:
    return f"{day.month}月{day.day}日" if lang == "zh" else f"{day.day} {_MONTHS_EN[day.month - 1]}"


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # not locale-bound


# --------------------------------------------------------------------------------------------------------------
# clerks


_PREFIX = r"(?:周|星期|礼拜)"
_CN_DAY = r"[一二三四五六日天七]"
_CN_DAY_INDEX = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_RANGE = r"\s*(?:至|到|-)\s*"
_DAY_GROUPS = {
    "每天": "Mo-Su", "每日": "Mo-Su", "天天": "Mo-Su", "全周": "Mo-Su", "全年无休": "Mo-Su", "全年": "Mo-Su",
    "工作日": "Mo-Fr",
    "周末": "Sa,Su", "双休日": "Sa,Su",
    "法定节假日": "PH", "法定假日": "PH", "节假日": "PH", "节日": "PH",
}
_PERIOD = r"凌晨|早上|早晨|上午|早|中午|下午|傍晚|晚上|晚"
_PM_PERIODS = frozenset({"下午", "傍晚", "晚上", "晚"})
_CLOCK = r"(?<!\d)(\d{1,2})(?::(\d{1,2})|点(?:(\d{1,2})分?|(半))?|时(?:(\d{1,2})分?)?)?(?![\d:])"
_CN_NUMBER = r"\d{1,2}|[零一二两三四五六七八九十]{1,3}"
_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}

#: Months of the seasons clerks name (夏季/夏令时, 冬季/冬令时) when they do not say which months they mean.
#: Summer is May-September and winter October-April, the split most Chinese offices use for 夏令/冬令作息时间
#: (5月1日至9月30日 and 10月1日至次年4月30日); a table that gives its own months ("夏季(6-8月)") wins.
SEASON_MONTHS: Mapping[str, str] = MappingProxyType({"summer": "May-Sep", "winter": "Oct-Apr"})
_SEASON_WORDS = {"夏季": "summer", "夏天": "summer", "夏令时间": "summer", "夏令时": "summer", "夏令": "summer",
                 "冬季": "winter", "冬天": "winter", "冬令时间": "winter", "冬令时": "winter", "冬令": "winter"}
_MONTHS_OSM = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_LENGTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # a leap year: 2月29日 is a real date

_CLERK_TOKENS = [
    ("allday", re.compile(r"(?:7\s*[x×*]\s*)?24\s*(?:小时|h)(?:不间断)?|全天候?", re.IGNORECASE)),
    ("season", re.compile("(?:" + "|".join(sorted(_SEASON_WORDS, key=len, reverse=True)) + r")(?:作息)?(?:时间)?")),
    ("months", re.compile(r"(\d{1,2})\s*(?:月\s*(?:(\d{1,2})\s*[日号])?)?\s*(?:-|至|到)\s*(?:次年\s*)?"
                          r"(\d{1,2})\s*月\s*(?:(\d{1,2})\s*[日号]|份)?")),
    ("normal", re.compile(r"(?:正常|照常)(?:开放|营业|服务|上班)|不休息|不打烊|不闭馆|无休|不休")),
    ("off", re.compile(r"不开放|不营业|停止开放|暂停开放|休息|闭馆|闭站|休馆|关闭|歇业|公休|休")),
    ("group", re.compile("|".join(sorted(_DAY_GROUPS, key=len, reverse=True)))),
    ("days", re.compile(rf"{_PREFIX}({_CN_DAY})(?:{_RANGE}{_PREFIX}?({_CN_DAY}))?")),
    ("span", re.compile(rf"({_PERIOD})?\s*{_CLOCK}\s*(?:-|至|到)\s*({_PERIOD})?\s*{_CLOCK}")),
    # "早8晚6", "早八点到晚六点", "早上8点半至晚上8点": both ends name their half of the day
    ("morning_evening", re.compile(rf"(?:早上|早晨|上午|早)\s*({_CN_NUMBER})\s*(?:点|时)?\s*(半)?\s*(?:-|至|到)?\s*"
                                   rf"(晚上|傍晚|下午|晚)\s*({_CN_NUMBER})\s*(?:点|时)?\s*(半)?")),
    ("rule_sep", re.compile(r"[;\n]")),
    ("filler", re.compile(r"\s+|[,、/:和及()\[\]【】.]|对外开放|开放|营业|服务|办公|时间|作息")),
]
# after a day token, "、三、五" (or "周六日") continues the list without repeating 周
_DAY_MORE = re.compile(rf"\s*[、,/和及]?\s*{_PREFIX}?({_CN_DAY})(?:{_RANGE}{_PREFIX}?({_CN_DAY}))?")
_LABEL = re.compile(r"^(?:开放|营业|服务|办公|工作)时间\s*:?\s*")
_DOTTED_SPAN = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{2})\s*-\s*(\d{1,2})\.(\d{2})(?![\d.])")  # "8.30-17.30"
_EXCEPT_DAYS = (rf"(?:{'|'.join(sorted(_DAY_GROUPS, key=len, reverse=True))}|"
                rf"{_PREFIX}{_CN_DAY}(?:{_RANGE}{_PREFIX}?{_CN_DAY})?(?:\s*[、,和及]?\s*{_PREFIX}?{_CN_DAY})*)")
# "(节假日除外)", "除法定节假日外", "周日除外": those days are closed, as if the clerk had written "；节假日休息"
_EXCEPT = re.compile(rf"\(?\s*(?:除\s*({_EXCEPT_DAYS})\s*外|({_EXCEPT_DAYS})\s*除外)\s*\)?")


@dataclass
class _ClerkRule:
    """One rule being read: months, days, then time spans, "all day", "off" or "as normal"."""

    days: list[str]
    spans: list[str]
    all_day: bool = False
    off: bool = False
    normal: bool = False  # 正常开放: these days keep the hours the other rules give them
    months: str = ""
    months_own: bool = False  # the season was written in this rule, not carried over from an earlier one
    days_before_months: bool = False  # "周一至周五 夏季…冬季…": the days belong to each season that follows
    days_inherited: bool = False

    def has_hours(self) -> bool:
        return bool(self.spans) or self.all_day or self.off or self.normal


class _NotClerkForm(Exception):
    """The text is not in the clerk grammar at all (it may still be OSM syntax)."""


def normalize_clerk_hours(text: str) -> str:
    """
    Convert opening hours as union clerks write them in spreadsheets to OSM ``opening_hours`` syntax.

    Understood:

    - all day: "24小时" / "全天" / "全天候" / "24h" / "7×24小时" / "全天24小时" (→ ``24/7``);
    - time ranges: ``8:00-20:00``, ``8:00—20:00``, ``8:00~20:00``, ``8：00-20：00``, full-width
      ``８：３０－１７：３０`` and ``～``, ``8.30-17.30``, ``8:30至17:30``, ``8:30到17:30``, ``8点-18点``,
      ``8时至18时``, ``9时-17时30分``, ``8点半``; with 上午/下午/晚上 (下午 and 晚上 add 12 h to hours before
      12; "上午8:30-11:30 下午14:00-17:30" and "下午2:00-5:30" both work); "早8点至晚6点", "早8晚6",
      "早八点到晚六点" (an hour after 晚/下午 is in the afternoon); several ranges separated by spaces, commas
      or 、 (a split shift);
    - days: 周一至周五 / 周一到周五 / 周一~周五 / 星期一至星期五, 周一、三、五, 每天, 全年无休 (``Mo-Su``),
      工作日 (``Mo-Fr``), 周末 / 双休日 (``Sa,Su``), 节假日 / 法定节假日 (``PH``), followed by hours or by
      休息/闭馆 (``off``); "节假日休息" → ``PH off``; "(节假日除外)" / "除节假日外" → ``PH off`` as well;
    - "节假日正常开放" / "节假日不休息" / "周末照常营业": these days keep the hours the other rules give them, so
      no rule is written (in OSM a public holiday without a ``PH`` rule follows its weekday's rule). Such a
      phrase for days that no other rule gives hours to ("周一至周五 8-17，周末正常开放") is refused;
    - seasons: 夏季 / 夏天 / 夏令时 and 冬季 / 冬天 / 冬令时 become month selectors, summer ``May-Sep`` and
      winter ``Oct-Apr`` (the usual 5月1日-9月30日 / 10月1日-次年4月30日 split of Chinese work hours, see
      :data:`SEASON_MONTHS`), unless months are written: "夏季(6-8月)", "5月-9月", "5月1日至9月30日". "夏季
      7:00-19:00，冬季 8:00-18:00" → ``May-Sep 07:00-19:00; Oct-Apr 08:00-18:00``. When a season's rules
      name their days ("夏季：周一至周五 7:00-19:00，周六 8:00-12:00；冬季：…"), the rules after it belong to
      that season until the next one; otherwise later rules apply all year ("夏季 7:00-19:00，冬季
      8:00-18:00，周末休息" → ``…; Sa,Su off``), and so does a rule for public holidays alone ("节假日休息").
      Days written before the first season apply to every season ("周一至周五 夏季8:00-18:00
      冬季8:30-17:30" → ``May-Sep Mo-Fr 08:00-18:00; Oct-Apr Mo-Fr 08:30-17:30``).

    Several rules are separated by "；", ";", a new line, or simply by the next day or season expression.
    Hours without days apply every day (``Mo-Su``). Text that is not in this grammar but is valid OSM syntax
    is returned unchanged (stripped). Anything else raises: nothing is guessed, and the importer keeps such
    text as written in ``opening_hours_raw``. Every string returned parses with :func:`parse_hours`.

    Parameters
    ----------
    text
        The clerk's text, e.g. ``"周一至周五 8:30-11:00 13:30-17:00"``.

    Returns
    -------
    opening_hours
        OSM syntax that the parser accepts, e.g. ``"Mo-Fr 08:30-11:00,13:30-17:00"``.

    Raises
    ------
    OpeningHoursError
        If `text` is empty, neither a clerk form nor OSM syntax, has an impossible time (``25:00``,
        ``8:60``) or date (``2月30日``), a range that ends before it starts in the morning (``8:30-5:30``:
        write 17:30 or 下午5:30), days without hours ("工作日开放" alone says which days but not which hours),
        hours and 休息 in one rule, or 正常开放 for days no other rule gives hours to. The message names the
        input.
    """
    if not isinstance(text, str) or not text.strip():
        msg = f"cannot read opening hours {text!r}: the value is empty"
        raise OpeningHoursError(msg)
    try:
        result = _read_clerk(text)
    except _NotClerkForm as err:
        try:
            parse_hours(text)
        except OpeningHoursError:
            msg = f"cannot read opening hours {text!r}: {err} (and it is not OSM opening_hours syntax either)"
            raise OpeningHoursError(msg) from None
        return text.strip()
    try:
        parse_hours(result)
    except OpeningHoursError as err:  # pragma: no cover - the grammar only writes valid syntax
        msg = f"cannot read opening hours {text!r}: produced {result!r}, which does not parse ({err})"
        raise OpeningHoursError(msg) from err
    return result


def _prepare_clerk_text(text: str) -> str:
    """Fold full-width forms and dashes, drop a leading label, and move "(节假日除外)" to a rule of its own."""
    cleaned = unicodedata.normalize("NFKC", text).strip()  # full-width ：；，～（） and digits become ASCII
    cleaned = re.sub(r"[—–―‒‐‑−~〜﹣-]+", "-", cleaned)
    cleaned = _LABEL.sub("", cleaned)
    cleaned = _DOTTED_SPAN.sub(r"\1:\2-\3:\4", cleaned)
    closed = [m.group(1) or m.group(2) for m in _EXCEPT.finditer(cleaned)]
    if closed:
        cleaned = _EXCEPT.sub(" ", cleaned) + "".join(f";{days}休息" for days in closed)
    return cleaned


def _read_clerk(text: str) -> str:
    cleaned = _prepare_clerk_text(text)
    rules: list[_ClerkRule] = []
    current = _ClerkRule(days=[], spans=[])
    season = _Season()
    position = 0
    while position < len(cleaned):
        kind, match = _next_token(cleaned, position)
        if match is None:
            snippet = cleaned[position:].split(maxsplit=1)[0][:12]
            msg = f"unrecognised text {snippet!r} at character {position + 1}"
            raise _NotClerkForm(msg)
        position = match.end()
        if kind in ("season", "months"):
            months = _season_months(kind, match, text)
            if current.has_hours():
                rules.append(current)
                inherit = current.days_before_months
                current = _ClerkRule(days=list(current.days) if inherit else [], spans=[],
                                     days_before_months=inherit, days_inherited=inherit)
            elif current.days and not current.months:
                current.days_before_months = True
            current.months, current.months_own = months, True
            season = _Season(months)
        elif kind in ("group", "days"):
            if current.has_hours():
                rules.append(current)
                current = _ClerkRule(days=[], spans=[], months=season.carried())
            elif current.days_inherited:
                current.days, current.days_inherited, current.days_before_months = [], False, False
            elif current.months_own and not current.days:
                season.has_own_days = True  # "夏季：周一至周五 …，周六 …": the season's rules name their days
            if kind == "group":
                current.days.append(_DAY_GROUPS[match.group()])
            else:
                current.days.append(_day_item(*match.groups()))
                while more := _DAY_MORE.match(cleaned, position):
                    current.days.append(_day_item(*more.groups()))
                    position = more.end()
        elif kind == "span":
            current.spans.append(_span(match, text))
        elif kind == "morning_evening":
            current.spans.append(_morning_evening_span(match, text))
        elif kind == "allday":
            current.all_day = True
        elif kind == "off":
            current.off = True
        elif kind == "normal":
            current.normal = True
        elif kind == "rule_sep" and (current.days or current.has_hours()):
            rules.append(current)
            current = _ClerkRule(days=[], spans=[], months=season.carried())
    if current.days or current.has_hours() or current.months_own:
        rules.append(current)
    if not rules:
        msg = "no days or hours found"
        raise _NotClerkForm(msg)
    formatted = [_format_clerk_rule(rule, rules[:i], text) for i, rule in enumerate(rules)]
    result = "; ".join(f for f in formatted if f)
    if not result:
        msg = f"cannot read opening hours {text!r}: it says hours are as normal, but gives no hours"
        raise OpeningHoursError(msg)
    return "24/7" if result == "Mo-Su 00:00-24:00" else result


@dataclass
class _Season:
    """The season last named, and whether the rules after it belong to it."""

    months: str = ""
    has_own_days: bool = False

    def carried(self) -> str:
        """Months for a rule that names no season: the season's, if its rules name their own days."""
        return self.months if self.has_own_days else ""


def _next_token(text: str, position: int) -> tuple[str, re.Match[str] | None]:
    for kind, pattern in _CLERK_TOKENS:
        match = pattern.match(text, position)
        if match and match.end() > position:
            return kind, match
    return "", None


def _day_item(first: str, last: str | None) -> str:
    start = _DAYS[_CN_DAY_INDEX[first]]
    if last is None:
        return start
    end = _DAYS[_CN_DAY_INDEX[last]]
    return start if end == start else f"{start}-{end}"


def _season_months(kind: str, match: re.Match[str], text: str) -> str:
    """Return the OSM month selector of a season word or of a written month range ("5月1日至9月30日")."""
    if kind == "season":
        word = next(w for w in sorted(_SEASON_WORDS, key=len, reverse=True) if match.group().startswith(w))
        return SEASON_MONTHS[_SEASON_WORDS[word]]
    first_month, first_day, last_month, last_day = (int(g) if g else None for g in match.groups())
    for month, day in ((first_month, first_day), (last_month, last_day)):
        if not 1 <= month <= 12 or (day is not None and not 1 <= day <= _MONTH_LENGTH[month - 1]):
            msg = f"cannot read opening hours {text!r}: {match.group()!r} has an impossible date"
            raise OpeningHoursError(msg)
    last_length = _MONTH_LENGTH[last_month - 1]
    ends_whole = last_day is None or last_day == last_length or (last_month == 2 and last_day == 28)
    if first_day in (None, 1) and ends_whole:
        first, last = _MONTHS_OSM[first_month - 1], _MONTHS_OSM[last_month - 1]
        return first if first == last else f"{first}-{last}"
    return (f"{_MONTHS_OSM[first_month - 1]} {first_day or 1:02d}-"
            f"{_MONTHS_OSM[last_month - 1]} {last_day or last_length:02d}")


def _span(match: re.Match[str], text: str) -> str:
    groups = match.groups()
    start_period, start_clock = groups[0], groups[1:6]
    end_period, end_clock = groups[6], groups[7:12]
    end_period = end_period or start_period  # "下午2:00-5:30": the period covers both ends
    start = _clock_minutes(start_clock, start_period, match.group(), text)
    end = _clock_minutes(end_clock, end_period, match.group(), text)
    return _format_span(start, end, match.group(), text)


def _morning_evening_span(match: re.Match[str], text: str) -> str:
    start_hour, start_half, end_period, end_hour, end_half = match.groups()
    start = _clock_minutes((str(_cn_number(start_hour)), None, None, start_half, None), "早", match.group(), text)
    end = _clock_minutes((str(_cn_number(end_hour)), None, None, end_half, None), end_period, match.group(), text)
    return _format_span(start, end, match.group(), text)


def _cn_number(text: str) -> int:
    """Read 0-99 written in digits or in Chinese numerals (八, 十, 十二, 二十)."""
    if text.isdigit():
        return int(text)
    tens, _, units = text.partition("十")
    if "十" not in text:
        return _CN_DIGITS[text] if len(text) == 1 else 100  # "八八" is no number: 100 fails the hour check
    return (_CN_DIGITS.get(tens, 100) if tens else 1) * 10 + (_CN_DIGITS.get(units, 100) if units else 0)


def _format_span(start: int, end: int, span: str, text: str) -> str:
    if end == start:
        msg = f"cannot read opening hours {text!r}: time range {span!r} is empty"
        raise OpeningHoursError(msg)
    if end < start and start < 12 * 60:
        afternoon = end + 12 * 60
        msg = (
            f"cannot read opening hours {text!r}: time range {span!r} ends before it starts; "
            f"write an afternoon end as {afternoon // 60:02d}:{afternoon % 60:02d} or after 下午"
        )
        raise OpeningHoursError(msg)
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def _clock_minutes(clock: tuple[str | None, ...], period: str | None, span: str, text: str) -> int:
    hour_text, colon_minute, dian_minute, half, shi_minute = clock
    hour = int(hour_text)
    minute = 30 if half else int(colon_minute or dian_minute or shi_minute or 0)
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        msg = f"cannot read opening hours {text!r}: {span!r} has an impossible time (hours 0-24, minutes 0-59)"
        raise OpeningHoursError(msg)
    if period in _PM_PERIODS and hour < 12:
        hour += 12
    elif period in ("晚上", "晚") and hour == 12:
        hour = 24  # 晚上12点 is midnight
    elif period == "中午" and hour < 11:
        hour += 12  # 中午1点 is 13:00
    elif period == "凌晨" and hour == 12:
        hour = 0
    return hour * 60 + minute


def _weekdays(days: Sequence[str]) -> set[str]:
    """Expand day selectors ("Mo-Fr", "Sa,Su", "Fr-Mo", "PH") to the set of single days they name."""
    found: set[str] = set()
    for selector in days:
        for item in selector.split(","):
            first, _, last = item.partition("-")
            if first not in _DAYS:
                found.add(first)
                continue
            i, stop = _DAYS.index(first), _DAYS.index(last or first)
            found.add(_DAYS[i])
            while i != stop:
                i = (i + 1) % 7
                found.add(_DAYS[i])
    return found


def _format_clerk_rule(rule: _ClerkRule, earlier: Sequence[_ClerkRule], text: str) -> str:
    """Write one rule in OSM syntax; "" for a 正常开放 rule that other rules already cover."""
    months = rule.months
    if months and not rule.months_own and _weekdays(rule.days) == {"PH"}:
        months = ""  # "夏季…，冬季…，节假日休息": the holidays rule is not winter's alone
    days = ",".join(dict.fromkeys(rule.days)) or ("" if months else "Mo-Su")
    where = " ".join(part for part in (months, days) if part)
    if rule.off and (rule.spans or rule.all_day):
        msg = f"cannot read opening hours {text!r}: a rule for {where} has both hours and 休息"
        raise OpeningHoursError(msg)
    if rule.off and rule.normal:
        msg = f"cannot read opening hours {text!r}: a rule for {where} has both 休息 and 正常开放"
        raise OpeningHoursError(msg)
    if rule.off and not rule.days and not months:
        msg = f"cannot read opening hours {text!r}: 休息 without the days it applies to"
        raise OpeningHoursError(msg)
    if rule.off:
        return f"{where} off"
    if rule.spans and rule.all_day:
        msg = f"cannot read opening hours {text!r}: a rule for {where} has both hours and 全天"
        raise OpeningHoursError(msg)
    if rule.all_day:
        return f"{where} 00:00-24:00"
    if rule.spans:
        return f"{where} {','.join(rule.spans)}"
    if rule.normal and rule.days:
        covered = _weekdays([r.days and ",".join(r.days) or "Mo-Su" for r in earlier
                             if (r.spans or r.all_day) and r.months in ("", rule.months)])
        if _weekdays(rule.days) <= covered | {"PH"}:
            return ""  # these days keep the hours the other rules give them
        msg = (f"cannot read opening hours {text!r}: 正常开放 for {days}, but no other rule gives {days} hours")
        raise OpeningHoursError(msg)
    msg = f"cannot read opening hours {text!r}: no hours given for {where}"
    raise OpeningHoursError(msg)

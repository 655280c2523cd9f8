"""Evaluate OSM opening_hours for station records: parse, ask open-at, find the next change.

Putting hours into words is :mod:`stationmap.hours_words`; reading what clerks write is
:mod:`stationmap.clerk_hours`.

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
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from opening_hours import OpeningHours, ParserError, State  # type: ignore[attr-defined]  # ParserError: not in the stub

from stationmap.errors import BadRequestError, OpeningHoursError

__all__ = [
    "OSM_DAYS",
    "TZ",
    "HoursState",
    "day_end_utc",
    "day_start_utc",
    "hours_fields",
    "hours_state",
    "is_open",
    "next_change",
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

#: The weekdays as ``opening_hours`` writes them, Monday first (the order of ``datetime.weekday()``).
OSM_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


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


def hours_fields(station: Mapping[str, Any] | pd.Series) -> tuple[str | None, str | None]:
    """
    Return a station record's ``opening_hours`` and ``status``, each None when absent, NaN or blank.

    Parameters
    ----------
    station
        Mapping or pandas Series with ``opening_hours`` and optionally ``status``.
    """
    return _field(station, "opening_hours"), _field(station, "status")


# --------------------------------------------------------------------------------------------------------------
# when


def day_start_utc(day: date) -> datetime:
    """The start of a calendar day in China (00:00 Asia/Shanghai), as a UTC datetime (``import --effective``)."""
    return datetime(day.year, day.month, day.day, tzinfo=TZ).astimezone(UTC)


def day_end_utc(day: date) -> datetime:
    """The last moment of a calendar day in China (24:00 Asia/Shanghai less 1 µs), as UTC (``--as-of``)."""
    return day_start_utc(day + timedelta(days=1)) - timedelta(microseconds=1)


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

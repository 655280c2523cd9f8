"""Put a station's opening hours and its open/closed state into Chinese or English words for people.

The words come from the catalogues of :mod:`stationmap.i18n` (``[hours]``); the evaluation behind them is
:mod:`stationmap.hours`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from stationmap import i18n
from stationmap.hours import OSM_DAYS, hours_fields, hours_state, next_change, parse_hours, resolve_when

__all__ = ["describe_hours", "describe_state"]

_DAY = r"(?:Mo|Tu|We|Th|Fr|Sa|Su)"
_DAY_ITEM = rf"(?:{_DAY}(?:-{_DAY})?|PH)"
_TIME = r"(?:[01]\d|2[0-4]):[0-5]\d"
_SPAN = rf"{_TIME}-{_TIME}"
# one rule of the parser's canonical rewrite, in the common forms only
_RULE = re.compile(
    rf"(?P<always>24/7)(?: (?P<always_off>closed))?"
    rf"|(?P<days>{_DAY_ITEM}(?:,{_DAY_ITEM})*)?"
    rf"(?:(?:^| )(?P<spans>{_SPAN}(?:,{_SPAN})*))?"
    rf"(?:(?:^| )(?P<off>closed))?"
)


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
    words = i18n.section("hours", i18n.check_lang(lang))
    canonical = str(parse_hours(text))  # the parser's rewrite: "off" -> "closed", "8:00" -> "08:00"
    parts = []
    for rule in canonical.split("; "):
        match = _RULE.fullmatch(rule)
        described = _describe_rule(match, words) if match and rule else None
        if described is None:
            return text.strip()
        parts.append(described)
    # later rules read as a continuation: "Mon–Fri 08:00–17:00; closed on public holidays"
    parts[1:] = [_continuation(part, words) for part in parts[1:]]
    return words["rule_sep"].join(parts)


def _describe_rule(match: re.Match[str], words: Mapping[str, str]) -> str | None:
    """Describe one rule, or return None if it is beyond the common forms."""
    if match["always"]:
        return words["never"] if match["always_off"] else words["always"]
    if match["off"] and match["spans"]:
        return None  # "12:00-13:00 closed" carves a break out of earlier rules
    days = _describe_days(match["days"], words) if match["days"] else words["daily"]
    if match["off"]:
        described = words["off"].format(days=days) if match["days"] else words["never"]
    elif not match["spans"]:
        described = words["always"] if days == words["daily"] else f"{days} {words['all_day']}"
    else:
        spans = []
        for span in match["spans"].split(","):
            start, end = span.split("-")
            spans.append(words["span" if end > start else "overnight"].format(start=start, end=end))
        described = f"{days} {words['list_sep'].join(spans)}"
    return described[0].upper() + described[1:]


def _describe_days(selector: str, words: Mapping[str, str]) -> str:
    if selector == "Mo-Su":
        return words["daily"]
    items = []
    for item in selector.split(","):
        first, _, last = item.partition("-")
        items.append(words["day_range"].format(first=words[f"day.{first}"], last=words[f"day.{last}"]) if last
                     else words[f"day.{first}"])
    return words["list_sep"].join(items)


def _continuation(part: str, words: Mapping[str, str]) -> str:
    """Lower the first letter of a later rule unless it starts with a weekday's name ("Mon" stays "Mon")."""
    if any(part.startswith(words[f"day.{day}"]) for day in OSM_DAYS):
        return part
    return part[0].lower() + part[1:]


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
        Anything :func:`stationmap.hours.resolve_when` accepts; None means now.
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
    words = i18n.section("hours", i18n.check_lang(lang))
    moment = resolve_when(when)
    opening_hours, status = hours_fields(station)
    if status == "temporarily_closed":
        return words["state.temporarily_closed"]
    if status == "closed":
        return words["state.closed_for_good"]
    if opening_hours is None:
        return words["state.no_hours"]
    state = hours_state(station, moment)
    change = next_change(station, moment)
    if change is None:
        return words["state.always"] if state == "open" else words["state.shut" if state == "closed" else
                                                                    "state.unknown"]
    template = {"open": "state.closes", "closed": "state.opens", "unknown": "state.changes"}[state]
    return words[template].format(at=_describe_moment(change, moment, words), open=words["state.open"],
                                  shut=words["state.shut"], unknown=words["state.unknown"])


def _describe_moment(change: datetime, moment: datetime, words: Mapping[str, str]) -> str:
    """Write `change` relative to `moment`: "11:00", "明天 08:30", "周一 08:30", "6月9日 08:30"."""
    day, clock = change.date(), change.strftime("%H:%M")
    if clock == "00:00":  # a range "…-24:00" ends at midnight: say 24:00 of the day it belongs to
        day, clock = day - timedelta(days=1), "24:00"
    days_ahead = (day - moment.date()).days
    if days_ahead <= 0:
        return clock
    if days_ahead == 1:
        return f"{words['tomorrow']} {clock}"
    if days_ahead < 7:
        return f"{words[f'day.{OSM_DAYS[day.weekday()]}']} {clock}"
    return f"{_describe_date(day, words)} {clock}"


def _describe_date(day: date, words: Mapping[str, str]) -> str:
    return words["date"].format(day=day.day, month=words[f"month.{day.month}"])

"""Tests for stationmap.hours: parsing, open-at, next change, vectorised mask, resolving "when"."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from stationmap.errors import BadRequestError, OpeningHoursError
from stationmap.hours import (
    OSM_DAYS,
    TZ,
    day_end_utc,
    day_start_utc,
    hours_fields,
    hours_state,
    is_open,
    next_change,
    open_mask,
    parse_hours,
    resolve_when,
)

SPLIT = "Mo-Fr 08:30-11:00,13:30-17:00"
# 2025-06-02 is a Monday, 2025-06-07 a Saturday, 2025-06-08 a Sunday.
MONDAY, SATURDAY, SUNDAY = 2, 7, 8


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    """Aware Asia/Shanghai datetime in June 2025."""
    return datetime(2025, 6, day, hour, minute, tzinfo=TZ)


def station(hours: str | None, status: str | None = None) -> dict[str, str | None]:
    return {"id": "S1", "opening_hours": hours, "status": status}


# --- parse_hours ----------------------------------------------------------------------------------------------


def test_parse_hours_caches_by_string():
    assert parse_hours(SPLIT) is parse_hours(SPLIT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mo-Fr 8-", "cannot parse opening_hours 'Mo-Fr 8-' at column 7: expected "),
        ("24/24", "cannot parse opening_hours '24/24' at column 1: expected "),
        ("", "cannot parse opening_hours '': the value is empty"),
    ],
)
def test_parse_hours_error_names_value_on_one_line(text, expected):
    with pytest.raises(OpeningHoursError) as info:
        parse_hours(text)
    assert str(info.value).startswith(expected)
    assert "\n" not in str(info.value)


# --- is_open / hours_state ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "hour", "expected"),
    [
        (MONDAY, 10, True),
        (MONDAY, 12, False),
        (MONDAY, 14, True),
        (MONDAY, 18, False),
        (SATURDAY, 10, False),
        (SATURDAY, 12, False),
        (SATURDAY, 14, False),
        (SATURDAY, 18, False),
    ],
)
def test_split_shift(day, hour, expected):
    assert is_open(station(SPLIT), datetime(2025, 6, day, hour)) is expected
    assert hours_state(station(SPLIT), sh(day, hour)) == ("open" if expected else "closed")


def test_24_7_is_always_open():
    for when in (sh(MONDAY, 3), sh(SATURDAY, 12), sh(SUNDAY, 23, 59)):
        assert is_open(station("24/7"), when)


def test_weekday_only_is_closed_on_sunday():
    assert not is_open(station("Mo-Fr 08:00-17:00"), sh(SUNDAY, 10))
    assert is_open(station("Mo-Fr 08:00-17:00"), sh(MONDAY, 10))


@pytest.mark.parametrize("utc", [UTC, ZoneInfo("UTC")])
def test_aware_datetime_is_converted_to_shanghai(utc):
    early = station("Mo 05:00-06:00")
    # Sunday 21:30 UTC is Monday 05:30 in Shanghai
    assert is_open(early, datetime(2025, 6, 1, 21, 30, tzinfo=utc))
    # the same wall time without tzinfo is Sunday 21:30 in Shanghai
    assert not is_open(early, datetime(2025, 6, 1, 21, 30))
    assert is_open(early, datetime(2025, 6, 2, 5, 30))


@pytest.mark.parametrize("status", ["temporarily_closed", "closed"])
def test_closed_status_is_never_open(status):
    assert not is_open(station("24/7", status), sh(MONDAY, 10))
    assert hours_state(station("24/7", status), sh(MONDAY, 10)) == "closed"
    assert next_change(station(SPLIT, status), sh(MONDAY, 10)) is None


def test_open_status_and_series_station():
    row = pd.Series({"opening_hours": SPLIT, "status": "open"})
    assert is_open(row, sh(MONDAY, 10))


@pytest.mark.parametrize("hours", [None, "", "  ", float("nan"), pd.NA])
def test_missing_hours_are_unknown_and_not_open(hours):
    assert hours_state(station(hours), sh(MONDAY, 10)) == "unknown"
    assert not is_open(station(hours), sh(MONDAY, 10))
    assert next_change(station(hours), sh(MONDAY, 10)) is None
    assert hours_state({"id": "S1"}, sh(MONDAY, 10)) == "unknown"


def test_unknown_rule_is_unknown():
    assert hours_state(station("Mo-Fr 08:00-17:00 unknown"), sh(MONDAY, 10)) == "unknown"


def test_bad_hours_raise():
    with pytest.raises(OpeningHoursError, match="'Mo-Fr 8-'"):
        is_open(station("Mo-Fr 8-"), sh(MONDAY, 10))


def test_when_accepts_hh_mm_string():
    assert isinstance(is_open(station("24/7"), "05:00"), bool)
    with pytest.raises(BadRequestError):
        is_open(station("24/7"), "25:00")


# --- next_change ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "when", "expected"),
    [
        (SPLIT, sh(MONDAY, 10), sh(MONDAY, 11)),
        (SPLIT, sh(MONDAY, 12), sh(MONDAY, 13, 30)),
        (SPLIT, sh(MONDAY, 18), sh(3, 8, 30)),
        (SPLIT, sh(SATURDAY, 10), sh(9, 8, 30)),
        ("Mo-Su 08:00-24:00", sh(MONDAY, 20), sh(3, 0)),
        ("24/7", sh(MONDAY, 10), None),
        ("Jan 01 08:00-09:00", sh(MONDAY, 10), None),  # next change is more than 8 days away
    ],
)
def test_next_change(hours, when, expected):
    change = next_change(station(hours), when)
    assert change == expected
    if change is not None:
        assert change.tzinfo == TZ


def test_next_change_of_naive_utc_reading():
    change = next_change(station(SPLIT), datetime(2025, 6, 1, 21, 30, tzinfo=UTC))
    assert change == sh(MONDAY, 8, 30)


# --- open_mask ------------------------------------------------------------------------------------------------


def test_open_mask_matches_per_station_loop():
    rng = random.Random(7)
    choices = [SPLIT, "24/7", "Mo-Su 08:00-20:00", "Mo-Fr 08:00-18:00; Sa 09:00-12:00", "Sa,Su 10:00-16:00",
               "Mo-Fr 20:00-08:00", "Mo-Fr 08:00-17:00; PH off", None, "", float("nan")]
    hours = [rng.choice(choices) for _ in range(300)]
    statuses = [rng.choice(["open", "temporarily_closed", "closed", None]) for _ in range(300)]
    for when in (sh(MONDAY, 10), sh(MONDAY, 12), sh(MONDAY, 22), sh(SATURDAY, 11), sh(SUNDAY, 3)):
        expected = np.array([is_open(station(h, s), when) for h, s in zip(hours, statuses, strict=True)])
        mask = open_mask(hours, statuses, when)
        assert mask.dtype == bool
        np.testing.assert_array_equal(mask, expected)
        np.testing.assert_array_equal(open_mask(pd.Series(hours), pd.Series(statuses), when), expected)


def test_open_mask_without_statuses():
    mask = open_mask([SPLIT, "24/7", None], None, sh(MONDAY, 12))
    np.testing.assert_array_equal(mask, [False, True, False])


def test_open_mask_rejects_mismatched_lengths():
    with pytest.raises(BadRequestError, match="statuses has 1 values but hours has 2"):
        open_mask([SPLIT, SPLIT], ["open"], sh(MONDAY, 10))


def test_open_mask_names_bad_hours():
    with pytest.raises(OpeningHoursError, match="'Mo-Fr 8-'"):
        open_mask([SPLIT, "Mo-Fr 8-"], None, sh(MONDAY, 10))


# --- resolve_when ---------------------------------------------------------------------------------------------


NOW = datetime(2025, 6, 2, 23, 0)  # naive: Shanghai wall time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("05:00", sh(MONDAY, 5)),
        ("5:00", sh(MONDAY, 5)),
        ("2025-06-02T10:00", sh(MONDAY, 10)),
        ("2025-06-02 10:00+08:00", sh(MONDAY, 10)),
        ("2025-06-01T21:30Z", sh(MONDAY, 5, 30)),
        (datetime(2025, 6, 1, 21, 30, tzinfo=UTC), sh(MONDAY, 5, 30)),
        (datetime(2025, 6, 2, 10, 0), sh(MONDAY, 10)),
        (None, sh(MONDAY, 23)),
    ],
)
def test_resolve_when(value, expected):
    resolved = resolve_when(value, now=NOW)
    assert resolved == expected
    assert resolved.tzinfo == TZ


def test_resolve_when_hh_mm_uses_shanghai_date():
    # 20:00 UTC on 1 June is already 2 June in Shanghai
    assert resolve_when("05:00", now=datetime(2025, 6, 1, 20, 0, tzinfo=UTC)) == sh(MONDAY, 5)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("25:00", "hours run 00-23"),
        ("12:60", "hours run 00-23 and minutes 00-59"),
        ("abc", "expected HH:MM or an ISO 8601 date-time"),
        ("", "expected HH:MM"),
        ("2025-06-02", "give a time of day too"),
        (5, "got int 5"),
    ],
)
def test_resolve_when_rejects(value, reason):
    with pytest.raises(BadRequestError) as info:
        resolve_when(value, now=NOW)
    assert reason in str(info.value)


def test_osm_days_follow_datetime_weekday():
    assert [OSM_DAYS[sh(day, 12).weekday()] for day in range(MONDAY, MONDAY + 7)] == list(OSM_DAYS)


@pytest.mark.parametrize(("record", "expected"), [
    ({"opening_hours": " 24/7 ", "status": "open"}, (" 24/7 ", "open")),
    ({"opening_hours": " ", "status": float("nan")}, (None, None)),
    (pd.Series({"opening_hours": None, "status": pd.NA}), (None, None)),
    ({}, (None, None)),
])
def test_hours_fields_treat_blank_and_nan_as_absent(record, expected):
    assert hours_fields(record) == expected


def test_days_in_china_as_utc():
    assert day_start_utc(date(2024, 12, 31)) == datetime(2024, 12, 30, 16, tzinfo=UTC)
    assert day_end_utc(date(2024, 12, 31)) == datetime(2024, 12, 31, 15, 59, 59, 999999, tzinfo=UTC)

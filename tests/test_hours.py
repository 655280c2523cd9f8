"""Tests for stationmap.hours: parsing, open-at, next change, vectorised mask, words, clerk forms."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stationmap.errors import BadRequestError, OpeningHoursError
from stationmap.hours import (
    SEASON_MONTHS,
    TZ,
    describe_hours,
    describe_state,
    hours_state,
    is_open,
    next_change,
    normalize_clerk_hours,
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


@pytest.mark.parametrize("utc", [timezone.utc, ZoneInfo("UTC")])
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
    change = next_change(station(SPLIT), datetime(2025, 6, 1, 21, 30, tzinfo=timezone.utc))
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


# --- describe_hours -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ("24/7", "全天24小时开放", "Open 24 hours"),
        (SPLIT, "周一至周五 08:30-11:00、13:30-17:00", "Mon–Fri 08:30–11:00, 13:30–17:00"),
        ("Mo,We,Fr 09:00-11:00", "周一、周三、周五 09:00-11:00", "Mon, Wed, Fri 09:00–11:00"),
        ("Mo-Su 08:00-20:00", "每天 08:00-20:00", "Daily 08:00–20:00"),
        ("8:00-20:00", "每天 08:00-20:00", "Daily 08:00–20:00"),
        ("Mo-Sa", "周一至周六 全天", "Mon–Sat 24 hours"),
        ("Mo-Fr 08:00-18:00; Sa 09:00-12:00; Su,PH off",
         "周一至周五 08:00-18:00；周六 09:00-12:00；周日、法定节假日休息",
         "Mon–Fri 08:00–18:00; Sat 09:00–12:00; closed on Sun, public holidays"),
        ("24/7; PH off", "全天24小时开放；法定节假日休息", "Open 24 hours; closed on public holidays"),
        ("PH off", "法定节假日休息", "Closed on public holidays"),
        ("Mo-Fr 20:00-08:00", "周一至周五 20:00-次日08:00", "Mon–Fri 20:00–08:00 (next day)"),
    ],
)
def test_describe_hours(text, zh, en):
    assert describe_hours(text) == zh
    assert describe_hours(text, lang="en") == en


@pytest.mark.parametrize(
    "text", ['Mo-Fr 08:00-12:00 "by appointment"', "sunrise-sunset", "Mo-Fr 08:00-17:00; 12:00-13:00 off"]
)
def test_describe_hours_falls_back_to_raw(text):
    assert describe_hours(text) == text
    assert describe_hours(text, lang="en") == text


def test_describe_hours_rejects_unknown_lang():
    with pytest.raises(BadRequestError, match="'fr'"):
        describe_hours("24/7", lang="fr")


# --- describe_state -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "when", "zh", "en"),
    [
        (station(SPLIT), sh(MONDAY, 10), "营业中 · 11:00 关闭", "Open · closes 11:00"),
        (station(SPLIT), sh(MONDAY, 12), "已关闭 · 13:30 开放", "Closed · opens 13:30"),
        (station(SPLIT), sh(MONDAY, 18), "已关闭 · 明天 08:30 开放", "Closed · opens tomorrow 08:30"),
        (station(SPLIT), sh(SATURDAY, 10), "已关闭 · 周一 08:30 开放", "Closed · opens Mon 08:30"),
        (station("Mo 08:00-12:00"), sh(MONDAY, 13), "已关闭 · 6月9日 08:00 开放", "Closed · opens 9 Jun 08:00"),
        (station("Mo-Su 08:00-24:00"), sh(MONDAY, 20), "营业中 · 24:00 关闭", "Open · closes 24:00"),
        (station("24/7"), sh(MONDAY, 3), "营业中 · 24小时开放", "Open 24 hours"),
        (station(SPLIT, "temporarily_closed"), sh(MONDAY, 10), "暂停开放", "Temporarily closed"),
        (station(SPLIT, "closed"), sh(MONDAY, 10), "已停止运营", "Permanently closed"),
        (station(None), sh(MONDAY, 10), "开放时间未知", "Hours unknown"),
    ],
)
def test_describe_state(record, when, zh, en):
    assert describe_state(record, when) == zh
    assert describe_state(record, when, lang="en") == en


# --- normalize_clerk_hours ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24小时", "24/7"),
        ("全天", "24/7"),
        ("24h", "24/7"),
        ("全天24小时", "24/7"),
        ("每天24小时", "24/7"),
        ("08:00-20:00", "Mo-Su 08:00-20:00"),
        ("8:00—20:00", "Mo-Su 08:00-20:00"),
        ("8:00~20:00", "Mo-Su 08:00-20:00"),
        ("8：00-20：00", "Mo-Su 08:00-20:00"),
        ("8点-20点", "Mo-Su 08:00-20:00"),
        ("8点半-17点", "Mo-Su 08:30-17:00"),
        ("周一至周五 8:30-11:00 13:30-17:00", "Mo-Fr 08:30-11:00,13:30-17:00"),
        ("周一至周日 8:00-20:00", "Mo-Su 08:00-20:00"),
        ("每天 8:00-20:00", "Mo-Su 08:00-20:00"),
        ("工作日 8:30-17:30", "Mo-Fr 08:30-17:30"),
        ("周末 9:00-12:00", "Sa,Su 09:00-12:00"),
        ("星期一到星期六 8:00-18:00", "Mo-Sa 08:00-18:00"),
        ("周一、三、五 9:00-11:00", "Mo,We,Fr 09:00-11:00"),
        ("周一至周五 8:00-18:00；周六 9:00-12:00", "Mo-Fr 08:00-18:00; Sa 09:00-12:00"),
        ("周一至周五 8:00-18:00;周六 9:00-12:00", "Mo-Fr 08:00-18:00; Sa 09:00-12:00"),
        ("上午8:30-11:30 下午2:00-5:30", "Mo-Su 08:30-11:30,14:00-17:30"),
        ("周一至周五 8:30-17:00，周六日休息", "Mo-Fr 08:30-17:00; Sa,Su off"),
        ("周一至周五 8:00-17:00 节假日休息", "Mo-Fr 08:00-17:00; PH off"),
        ("开放时间：周一至周五 8:30-17:00", "Mo-Fr 08:30-17:00"),
        ("Mo-Fr 08:30-11:00,13:30-17:00", "Mo-Fr 08:30-11:00,13:30-17:00"),  # OSM passes through
        ("24/7", "24/7"),
        ("Mo-Fr 8:30-11:00; PH off", "Mo-Fr 8:30-11:00; PH off"),
    ],
)
def test_normalize_clerk_hours(text, expected):
    result = normalize_clerk_hours(text)
    assert result == expected
    parse_hours(result)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("abc", "unrecognised text 'abc'"),
        ("随时", "unrecognised text '随时'"),
        ("周八 8:00-17:00", "unrecognised text '周八'"),
        ("8:00-", "unrecognised text '8:00-'"),
        ("25:00-26:00", "impossible time"),
        ("8:60-9:00", "impossible time"),
        ("8:30-5:30", "ends before it starts; write an afternoon end as 17:30"),
        ("周一至周五", "no hours given for Mo-Fr"),
        ("周一 8:00-12:00 休息", "both hours and 休息"),
    ],
)
def test_normalize_clerk_hours_rejects(text, reason):
    with pytest.raises(OpeningHoursError) as info:
        normalize_clerk_hours(text)
    assert repr(text) in str(info.value)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # days as clerks write them
        ("工作日开放 8:30-17:30", "Mo-Fr 08:30-17:30"),
        ("周一到周五 8:00-17:00", "Mo-Fr 08:00-17:00"),
        ("星期一至星期五 8:00-17:00", "Mo-Fr 08:00-17:00"),
        ("周一~周五 8:00-17:00", "Mo-Fr 08:00-17:00"),
        ("周一～周五 8:00-17:00", "Mo-Fr 08:00-17:00"),
        ("双休日 9:00-12:00", "Sa,Su 09:00-12:00"),
        ("全年无休 8:00-18:00", "Mo-Su 08:00-18:00"),
        # holidays
        ("8:00-18:00 法定节假日休息", "Mo-Su 08:00-18:00; PH off"),
        ("周一至周五8:30-17:30，双休日及法定节假日休息", "Mo-Fr 08:30-17:30; Sa,Su,PH off"),
        ("周一至周五（节假日除外）8:30-17:30", "Mo-Fr 08:30-17:30; PH off"),
        ("除节假日外每天8:00-18:00", "Mo-Su 08:00-18:00; PH off"),
        ("8:00-18:00（节假日休息）", "Mo-Su 08:00-18:00; PH off"),
        ("周日除外 8:00-18:00", "Mo-Su 08:00-18:00; Su off"),
        ("8:00-18:00（周六日除外）", "Mo-Su 08:00-18:00; Sa,Su off"),
        # "as normal": in OSM a holiday with no PH rule keeps its weekday's hours, so nothing is added
        ("8:00-18:00，节假日正常开放", "Mo-Su 08:00-18:00"),
        ("周一至周五 8:00-17:00，节假日照常营业", "Mo-Fr 08:00-17:00"),
        ("8:00-20:00(节假日不休息)", "Mo-Su 08:00-20:00"),
        ("每天 8:00-18:00，周末正常开放", "Mo-Su 08:00-18:00"),
        # all day
        ("全天候", "24/7"),
        ("全天候开放", "24/7"),
        ("24小时开放", "24/7"),
        ("7×24小时", "24/7"),
        # 上午/下午, 早/晚, 点/时, full-width and dotted forms
        ("上午8:30-11:30 下午14:00-17:30", "Mo-Su 08:30-11:30,14:00-17:30"),
        ("上午8:30至11:30，下午2:30至5:30", "Mo-Su 08:30-11:30,14:30-17:30"),
        ("早8点至晚6点", "Mo-Su 08:00-18:00"),
        ("早8晚6", "Mo-Su 08:00-18:00"),
        ("早八点到晚六点", "Mo-Su 08:00-18:00"),
        ("早九晚五", "Mo-Su 09:00-17:00"),
        ("早8点半至晚8点", "Mo-Su 08:30-20:00"),
        ("8时至18时", "Mo-Su 08:00-18:00"),
        ("9时-17时30分", "Mo-Su 09:00-17:30"),
        ("８：３０－１７：３０", "Mo-Su 08:30-17:30"),
        ("８：３０～１７：３０", "Mo-Su 08:30-17:30"),
        ("8:30至17:30", "Mo-Su 08:30-17:30"),
        ("8:30到17:30", "Mo-Su 08:30-17:30"),
        ("8.30-17.30", "Mo-Su 08:30-17:30"),
        # seasons: summer May-Sep, winter Oct-Apr unless the months are written
        ("夏季 7:00-19:00，冬季 8:00-18:00", "May-Sep 07:00-19:00; Oct-Apr 08:00-18:00"),
        ("夏令时 7:00-19:00 冬令时 8:00-18:00", "May-Sep 07:00-19:00; Oct-Apr 08:00-18:00"),
        ("夏令时间：8:00-18:00；冬令时间：8:30-17:30", "May-Sep 08:00-18:00; Oct-Apr 08:30-17:30"),
        ("夏季(6-8月) 7:00-19:00", "Jun-Aug 07:00-19:00"),
        ("5月1日至9月30日 7:00-19:00，10月1日至次年4月30日 8:00-18:00", "May-Sep 07:00-19:00; Oct-Apr 08:00-18:00"),
        ("5月15日-9月15日 7:00-19:00", "May 15-Sep 15 07:00-19:00"),
        ("8:00-18:00，夏季 7:00-19:00", "Mo-Su 08:00-18:00; May-Sep 07:00-19:00"),
        ("夏季 7:00-19:00，冬季 8:00-18:00，节假日休息", "May-Sep 07:00-19:00; Oct-Apr 08:00-18:00; PH off"),
        ("夏季 7:00-19:00，冬季 8:00-18:00，周末休息", "May-Sep 07:00-19:00; Oct-Apr 08:00-18:00; Sa,Su off"),
        ("周一至周五 夏季8:00-18:00 冬季8:30-17:30",
         "May-Sep Mo-Fr 08:00-18:00; Oct-Apr Mo-Fr 08:30-17:30"),
        ("夏季：周一至周五 7:00-19:00，周六 8:00-12:00；冬季：周一至周五 8:00-18:00",
         "May-Sep Mo-Fr 07:00-19:00; May-Sep Sa 08:00-12:00; Oct-Apr Mo-Fr 08:00-18:00"),
        ("冬季闭馆", "Oct-Apr off"),
    ],
)
def test_normalize_clerk_hours_register_forms(text, expected):
    result = normalize_clerk_hours(text)
    assert result == expected
    parse_hours(result)


def test_season_months_are_the_documented_split():
    assert SEASON_MONTHS == {"summer": "May-Sep", "winter": "Oct-Apr"}
    seasonal = {"opening_hours": normalize_clerk_hours("夏季 7:00-19:00，冬季 8:00-18:00")}
    assert is_open(seasonal, datetime(2025, 6, 2, 7, 30)) is True  # June: summer hours from 07:00
    assert is_open(seasonal, datetime(2025, 1, 6, 7, 30)) is False  # January: winter hours from 08:00
    assert is_open(seasonal, datetime(2025, 10, 6, 18, 30)) is False  # October is winter: shut at 18:00


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("工作日开放", "no hours given for Mo-Fr"),  # which days, but not which hours: never guessed
        ("周一至周日", "no hours given for Mo-Su"),
        ("节假日正常开放", "gives no hours"),
        ("周一至周五 8:00-17:00，周末正常开放", "no other rule gives Sa,Su hours"),
        ("2月30日-3月1日 8:00-17:00", "impossible date"),
        ("13月-2月 8:00-17:00", "impossible date"),
        ("节假日 8:00-12:00 正常开放 休息", "both hours and 休息"),
        ("随到随开", "unrecognised text"),
        ("有人就开", "unrecognised text"),
    ],
)
def test_normalize_clerk_hours_refuses_rather_than_guesses(text, reason):
    with pytest.raises(OpeningHoursError) as info:
        normalize_clerk_hours(text)
    assert repr(text) in str(info.value)
    assert reason in str(info.value)


_FULL_WIDTH = str.maketrans("0123456789:-", "０１２３４５６７８９：－")


def _written(minutes: int) -> tuple[int, int]:
    return divmod(minutes, 60)


@st.composite
def _clock_range(draw: st.DrawFn) -> tuple[int, int]:
    """A start and a later end, in minutes since midnight; the end may be 24:00."""
    start = draw(st.integers(0, 23 * 60 + 59))
    end = draw(st.integers(start + 1, 24 * 60))
    return start, end


def _chinese_forms(start: int, end: int) -> list[str]:
    (h1, m1), (h2, m2) = _written(start), _written(end)
    dian = [f"{h}点{m}分" if m else f"{h}点" for h, m in ((h1, m1), (h2, m2))]
    shi = [f"{h}时{m}分" if m else f"{h}时" for h, m in ((h1, m1), (h2, m2))]
    return [
        f"{h1}:{m1:02d}-{h2}:{m2:02d}",
        f"{h1:02d}:{m1:02d}～{h2:02d}:{m2:02d}",
        f"{h1}:{m1:02d}—{h2}:{m2:02d}",
        f"{h1}:{m1:02d}至{h2}:{m2:02d}",
        f"{h1}:{m1:02d} 到 {h2}:{m2:02d}",
        f"{h1}:{m1:02d}-{h2}:{m2:02d}".translate(_FULL_WIDTH),
        f"{dian[0]}至{dian[1]}",
        f"{shi[0]}到{shi[1]}",
    ]


_DAY_FORMS = {"": "Mo-Su", "每天": "Mo-Su", "周一至周五": "Mo-Fr", "周一到周五": "Mo-Fr", "星期一至星期五": "Mo-Fr",
              "周一~周五": "Mo-Fr", "工作日": "Mo-Fr", "周末": "Sa,Su", "双休日": "Sa,Su"}


@settings(max_examples=150, deadline=None, database=None)
@given(span=_clock_range(), days=st.sampled_from(sorted(_DAY_FORMS)), sep=st.sampled_from(["", " ", "：", " ："]))
def test_clock_ranges_in_every_chinese_form_give_one_osm_string(span, days, sep):
    start, end = span
    (h1, m1), (h2, m2) = _written(start), _written(end)
    expected = f"{_DAY_FORMS[days]} {h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"
    expected = "24/7" if expected == "Mo-Su 00:00-24:00" else expected
    prefix = f"{days}{sep}" if days else ""
    for form in _chinese_forms(start, end):
        result = normalize_clerk_hours(prefix + form)
        assert result == expected, form
    parse_hours(expected)


_CLERK_ALPHABET = list("0123456789:：-—~～.至到点时分半上下午早晚中周星期一二三四五六日天工作节假法定休息闭馆全年无正常开放夏冬季令月号次"
                       "24小时 ,，、;；()（）\n×hX")


@settings(max_examples=400, deadline=None, database=None)
@given(text=st.one_of(st.text(max_size=40), st.text(alphabet=st.sampled_from(_CLERK_ALPHABET), max_size=40)))
def test_any_text_is_read_or_refused_with_our_error(text):
    try:
        result = normalize_clerk_hours(text)
    except OpeningHoursError:
        return  # the importer keeps such text as written in opening_hours_raw and warns
    parse_hours(result)  # whatever comes back is valid OSM syntax for the project's own evaluator


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
        (datetime(2025, 6, 1, 21, 30, tzinfo=timezone.utc), sh(MONDAY, 5, 30)),
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
    assert resolve_when("05:00", now=datetime(2025, 6, 1, 20, 0, tzinfo=timezone.utc)) == sh(MONDAY, 5)


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

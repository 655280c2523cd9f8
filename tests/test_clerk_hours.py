"""Tests for stationmap.clerk_hours: reading the Chinese hours clerks write into OSM opening_hours syntax."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stationmap.clerk_hours import SEASON_MONTHS, normalize_clerk_hours
from stationmap.errors import OpeningHoursError
from stationmap.hours import is_open, parse_hours

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

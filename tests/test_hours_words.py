"""Tests for stationmap.hours_words: opening hours and open/closed state in Chinese and English words."""

from __future__ import annotations

from datetime import datetime

import pytest

from stationmap.errors import BadRequestError
from stationmap.hours import TZ
from stationmap.hours_words import describe_hours, describe_state

SPLIT = "Mo-Fr 08:30-11:00,13:30-17:00"
# 2025-06-02 is a Monday, 2025-06-07 a Saturday, 2025-06-08 a Sunday.
MONDAY, SATURDAY, SUNDAY = 2, 7, 8


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    """Aware Asia/Shanghai datetime in June 2025."""
    return datetime(2025, 6, day, hour, minute, tzinfo=TZ)


def station(hours: str | None, status: str | None = None) -> dict[str, str | None]:
    return {"id": "S1", "opening_hours": hours, "status": status}


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

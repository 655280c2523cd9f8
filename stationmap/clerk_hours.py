"""Read opening hours as union clerks write them in Chinese ("周一至周五 8:30-17:30") and write them as OSM syntax.

The grammar covers what registers and spreadsheets hold: all-day words, time ranges in every Chinese and
full-width form, 上午/下午 periods, weekday ranges and lists, 工作日/周末/节假日, 休息 and 正常开放, and summer and
winter seasons. Whatever it returns parses with :func:`stationmap.hours.parse_hours`; whatever it cannot read
raises, so the importer can keep the text as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from stationmap.errors import OpeningHoursError
from stationmap.hours import OSM_DAYS, parse_hours

__all__ = ["SEASON_MONTHS", "normalize_clerk_hours"]

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
    start = OSM_DAYS[_CN_DAY_INDEX[first]]
    if last is None:
        return start
    end = OSM_DAYS[_CN_DAY_INDEX[last]]
    return start if end == start else f"{start}-{end}"


def _season_months(kind: str, match: re.Match[str], text: str) -> str:
    """Return the OSM month selector of a season word or of a written month range ("5月1日至9月30日")."""
    if kind == "season":
        word = next(w for w in sorted(_SEASON_WORDS, key=len, reverse=True) if match.group().startswith(w))
        return SEASON_MONTHS[_SEASON_WORDS[word]]
    first_month, last_month = int(match.group(1)), int(match.group(3))  # the month groups always take part
    first_day, last_day = (int(g) if g else None for g in (match.group(2), match.group(4)))
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
    start_period, start_hour, start_minutes = groups[0], groups[1], groups[2:6]
    end_period, end_hour, end_minutes = groups[6], groups[7], groups[8:12]
    end_period = end_period or start_period  # "下午2:00-5:30": the period covers both ends
    start = _clock_minutes(start_hour, start_minutes, start_period, match.group(), text)
    end = _clock_minutes(end_hour, end_minutes, end_period, match.group(), text)
    return _format_span(start, end, match.group(), text)


def _morning_evening_span(match: re.Match[str], text: str) -> str:
    start_hour, start_half, end_period, end_hour, end_half = match.groups()
    start = _clock_minutes(str(_cn_number(start_hour)), (None, None, start_half, None), "早", match.group(), text)
    end = _clock_minutes(str(_cn_number(end_hour)), (None, None, end_half, None), end_period, match.group(), text)
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
    if end < start < 12 * 60:
        afternoon = end + 12 * 60
        msg = (
            f"cannot read opening hours {text!r}: time range {span!r} ends before it starts; "
            f"write an afternoon end as {afternoon // 60:02d}:{afternoon % 60:02d} or after 下午"
        )
        raise OpeningHoursError(msg)
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def _clock_minutes(hour_text: str, minutes: tuple[str | None, ...], period: str | None, span: str, text: str) -> int:
    colon_minute, dian_minute, half, shi_minute = minutes
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
            if first not in OSM_DAYS:
                found.add(first)
                continue
            i, stop = OSM_DAYS.index(first), OSM_DAYS.index(last or first)
            found.add(OSM_DAYS[i])
            while i != stop:
                i = (i + 1) % 7
                found.add(OSM_DAYS[i])
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

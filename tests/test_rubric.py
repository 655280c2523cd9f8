"""Reading and validating star-rating rubric files."""

from __future__ import annotations

import datetime as dt

import pytest

from stationmap import rubric as rubric_mod
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.errors import StationDataError
from stationmap.rubric import default_rubric_path, load_rubric, parse_rubric

SHIPPED = BUNDLED_DATA_DIR / "rubric" / "stars-v1.toml"


@pytest.fixture(scope="module")
def shipped_text() -> str:
    return SHIPPED.read_text(encoding="utf-8")


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, f"test setup: {old!r} not in the shipped rubric"
    return text.replace(old, new, 1)


# --- the shipped rubric ------------------------------------------------------------------------------------------

def test_shipped_rubric_loads(settings):
    rubric = load_rubric(default_rubric_path(settings.data_dir))
    assert default_rubric_path(settings.data_dir) == SHIPPED
    assert rubric.version == "1.0"
    assert rubric.path == str(SHIPPED)
    assert [level.stars for level in rubric.levels] == [1, 2, 3, 4, 5]
    assert rubric.reference_week == dt.date(2025, 6, 9)
    assert rubric.reference_week.weekday() == 0
    assert {rule.trigger for rule in rubric.downgrades} == set(rubric_mod.DOWNGRADE_TRIGGERS)


def test_shipped_five_stars_follow_fuzhou():
    five = load_rubric(SHIPPED).level(5)
    assert five.min_area_m2 == 30
    assert five.min_seats == 20
    assert "aed" in five.amenities
    assert five.min_extended_services >= 1
    assert five.local_choice is False
    assert "Fuzhou" in five.source
    assert five.local_keys == ("min_extended_services",)


def test_shipped_lower_levels_are_marked_local_choices():
    rubric = load_rubric(SHIPPED)
    assert all(rubric.level(n).local_choice for n in range(1, 5))
    assert "local choice" in rubric.source or "local_choice" in rubric.source
    for rule in rubric.downgrades:
        assert "Fuzhou" in rule.source
        assert "stars" in rule.local_keys


def test_levels_are_cumulative():
    rubric = load_rubric(SHIPPED)
    one, three, five = rubric.level(1), rubric.level(3), rubric.level(5)
    assert set(one.amenities) <= set(three.amenities) <= set(five.amenities)
    assert five.toilet == three.toilet == ("onsite", "nearby")
    assert five.min_weekday_hours == three.min_weekday_hours == 8
    assert five.hours_recorded and one.hours_recorded
    assert rubric.level(4).amenities_any == five.amenities_any == (("air_conditioning", "heating"),)
    assert "min_area_m2" in five.declared and "toilet" not in five.declared
    areas = [level.min_area_m2 or 0 for level in rubric.levels]
    assert areas == sorted(areas) == [0, 10, 15, 20, 30]
    seats = [level.min_seats or 0 for level in rubric.levels]
    assert seats == [0, 4, 8, 12, 20]


def test_level_out_of_range_is_an_error():
    with pytest.raises(StationDataError, match="levels 1-5, not 6"):
        load_rubric(SHIPPED).level(6)


def test_repeated_threshold_may_rise_and_omitted_one_is_inherited(shipped_text):
    text = _edit(shipped_text, "min_area_m2 = 20\n", "")
    rubric = parse_rubric(text)
    assert rubric.level(4).min_area_m2 == 15
    assert rubric.level(5).min_area_m2 == 30


def test_district_file_may_override_local_choices(tmp_path, shipped_text):
    path = tmp_path / "district-610111.toml"
    path.write_text(_edit(shipped_text, "min_area_m2 = 10\nmin_seats = 4", "min_area_m2 = 6\nmin_seats = 2"),
                    encoding="utf-8")
    rubric = load_rubric(path)
    assert rubric.level(2).min_area_m2 == 6
    assert rubric.level(2).min_seats == 2


# --- invalid rubric files: each gives one clear error naming the file, the table and the key ----------------------

INVALID = {
    "bad_toml": (("[levels.2]\n", "[levels.2\n"), ["bad_toml.toml: invalid TOML", "line", "column"]),
    "missing_level": (
        ("[levels.3]\n", "[unused_3]\n"),
        ["bad.toml: [levels.3]: missing level 3", "unknown top-level table"],
    ),
    "unknown_amenity": (
        ('amenities = ["aed"]', 'amenities = ["aedd"]'),
        ["bad.toml: [levels.5] amenities: unknown amenity 'aedd'; did you mean 'aed'?"],
    ),
    "negative_area": (
        ("min_area_m2 = 10\n", "min_area_m2 = -10\n"),
        ["bad.toml: [levels.2] min_area_m2: must not be negative, found -10"],
    ),
    "non_monotonic_area": (
        ("min_area_m2 = 20\n", "min_area_m2 = 12\n"),
        ["bad.toml: [levels.4] min_area_m2: 12 is lower than level 3's 15", "cumulative"],
    ),
    "non_monotonic_seats": (
        ("min_seats = 20\n", "min_seats = 10\n"),
        ["[levels.5] min_seats: 10 is lower than level 4's 12"],
    ),
    "unknown_requirement_key": (
        ("min_seats = 8\n", "min_seat = 8\n"),
        ["bad.toml: [levels.3] min_seat: unknown requirement key; did you mean 'min_seats'?"],
    ),
    "unknown_downgrade": (
        ("[downgrades.complaints_ignored]", "[downgrades.complaint_ignored]"),
        ["[downgrades] complaint_ignored: unknown downgrade trigger; did you mean 'complaints_ignored'?"],
    ),
    "string_seats": (
        ("min_seats = 4\n", 'min_seats = "4"\n'),
        ["[levels.2] min_seats: expected a whole number, found '4'"],
    ),
    "fractional_seats": (
        ("min_seats = 4\n", "min_seats = 4.5\n"),
        ["[levels.2] min_seats: expected a whole number, found 4.5"],
    ),
    "hours_out_of_range": (
        ("min_weekday_hours = 8\n", "min_weekday_hours = 25\n"),
        ["[levels.3] min_weekday_hours: must be at most 24, found 25"],
    ),
    "too_many_extended_services": (
        ("min_extended_services = 2", "min_extended_services = 9"),
        ["[levels.5] min_extended_services: 9 is more than the 8 amenities listed in [extended_services]"],
    ),
    "reference_week_not_monday": (
        ("reference_week = 2025-06-09", "reference_week = 2025-06-10"),
        ["[meta] reference_week: must be a Monday, found 2025-06-10 (Tuesday)"],
    ),
    "toilet_widened": (
        ("[levels.4]\n", '[levels.4]\ntoilet = ["none"]\n'),
        ["[levels.4] toilet: 'none' is not accepted by level 3 (onsite, nearby)"],
    ),
    "unknown_toilet_value": (
        ('toilet = ["onsite", "nearby"]', 'toilet = ["onsite", "near"]'),
        ["[levels.3] toilet: unknown toilet 'near'; did you mean 'nearby'?"],
    ),
    "bad_hours_alternative": (
        ("{ min_open_days = 7 }", "{ min_open_day = 7 }"),
        ["[levels.4.hours_any[0]] min_open_day: unknown hours key; did you mean 'min_open_days'?"],
    ),
    "missing_version": (
        ('version = "1.0"\n', ""),
        ["[meta] version: missing"],
    ),
    "level_not_a_number": (
        ("[levels.5]\n", "[levels.five]\n"),
        ["[levels] five: unknown level; levels are 1, 2, 3, 4, 5", "[levels.5]: missing level 5"],
    ),
    "zero_star_downgrade": (
        ("stars = 1\nlookback_days", "stars = 0\nlookback_days"),
        ["[downgrades.shut_at_stated_hours] stars: must be at least 1"],
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_rubric_gives_a_clear_error(case, tmp_path, shipped_text):
    (old, new), words = INVALID[case]
    name = "bad_toml.toml" if case == "bad_toml" else "bad.toml"
    path = tmp_path / name
    path.write_text(_edit(shipped_text, old, new), encoding="utf-8")
    with pytest.raises(StationDataError) as info:
        load_rubric(path)
    message = str(info.value)
    for word in words:
        assert word in message, message
    assert str(tmp_path) not in message  # the file is named, not the temporary folder


def test_bad_toml_names_the_line_and_column(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[meta]\nversion = "1.0"\nreference_week = 2025-06-09\n[levels.1\n', encoding="utf-8")
    with pytest.raises(StationDataError, match=r"broken\.toml: invalid TOML: .*\(at line 4, column 10\)"):
        load_rubric(path)


def test_every_problem_is_reported_at_once(tmp_path, shipped_text):
    text = _edit(shipped_text, 'amenities = ["aed"]', 'amenities = ["aedd"]')
    text = _edit(text, "min_area_m2 = 10\n", "min_area_m2 = -10\n")
    text = _edit(text, "min_seats = 8\n", "min_seat = 8\n")
    path = tmp_path / "many.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StationDataError) as info:
        load_rubric(path)
    message = str(info.value)
    assert message.startswith("Invalid rubric many.toml (3 problems):")
    assert "[levels.5] amenities" in message
    assert "[levels.2] min_area_m2" in message
    assert "[levels.3] min_seat" in message


def test_missing_file_is_a_clear_error(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(StationDataError, match=r"Rubric file .*nope\.toml' does not exist"):
        load_rubric(path)


def test_non_utf8_file_is_a_clear_error(tmp_path, shipped_text):
    path = tmp_path / "gbk.toml"
    path.write_bytes(shipped_text.encode("gb18030"))
    with pytest.raises(StationDataError, match=r"gbk\.toml: not UTF-8"):
        load_rubric(path)


def test_rubric_is_frozen():
    rubric = load_rubric(SHIPPED)
    with pytest.raises(AttributeError):
        rubric.version = "2"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        rubric.levels[0].min_seats = 1  # type: ignore[misc]


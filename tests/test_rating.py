"""Star rating of stations against the rubric: every level boundary, review candidates, downgrade triggers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest

from stationmap.analysis.rating import (
    RATING_COLUMNS,
    REPORTS_CLOSED_LOOKBACK_DAYS,
    StarAssessment,
    feedback_triggers,
    rate_station,
    rate_stations,
    summarize_ratings,
)
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.errors import BadRequestError, StationDataError
from stationmap.rubric import load_rubric, parse_rubric
from stationmap.stations import load_stations
from stationmap.store import Feedback

SHIPPED = BUNDLED_DATA_DIR / "rubric" / "stars-v1.toml"
DEMO_FILES = sorted((BUNDLED_DATA_DIR / "stations").glob("*.geojson"))
CHECKED = "2025-07-01"

# Stations exactly at the thresholds of each level of the shipped rubric (levels are cumulative).
SPLIT_8H = "Mo-Fr 08:30-11:30,13:30-18:30"  # 3 h + 5 h = 8 h on each weekday, closed at the weekend
AT_LEVEL = {
    1: {"amenities": ["drinking_water", "seating"], "opening_hours": "Mo-Fr 09:00-12:00"},
    2: {"amenities": ["drinking_water", "seating", "phone_charging", "meal_heating"], "area_m2": 10, "capacity": 4,
        "opening_hours": "Mo-Fr 09:00-12:00"},
    3: {"amenities": ["drinking_water", "seating", "phone_charging", "meal_heating", "first_aid"], "area_m2": 15,
        "capacity": 8, "toilet": "nearby", "opening_hours": SPLIT_8H},
    4: {"amenities": ["drinking_water", "seating", "phone_charging", "meal_heating", "first_aid", "heating"],
        "area_m2": 20, "capacity": 12, "toilet": "nearby", "opening_hours": "Mo-Su 08:30-11:30,13:30-18:30"},
    5: {"amenities": ["drinking_water", "seating", "phone_charging", "meal_heating", "first_aid", "heating", "aed",
                      "counselling", "legal_aid"],
        "area_m2": 30, "capacity": 20, "toilet": "nearby", "opening_hours": "Mo-Su 08:30-11:30,13:30-18:30"},
}
# the amenities each level adds, with their English labels
ADDED_AMENITIES = [
    (1, "drinking_water", "Drinking water"), (1, "seating", "Seating"),
    (2, "phone_charging", "Phone charging"), (2, "meal_heating", "Meal heating"),
    (3, "first_aid", "First aid kit"), (5, "aed", "AED"),
]


@pytest.fixture(scope="module")
def rubric():
    return load_rubric(SHIPPED)


def station(level: int, **changes) -> dict:
    record = {"id": f"T-{level}", "name": f"{level}星测试站", "stars": level, **AT_LEVEL[level]}
    record["amenities"] = list(record["amenities"])
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


def rate(record, rubric, **kwargs) -> StarAssessment:
    return rate_station(record, rubric, when_checked=CHECKED, **kwargs)


def en(items) -> list[str]:
    return [item.en for item in items]


def zh(items) -> list[str]:
    return [item.zh for item in items]


# --- level boundaries -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_station_exactly_at_each_level_qualifies(level, rubric):
    result = rate(station(level), rubric)
    assert result.attribute_stars == level
    assert result.qualified_stars == level
    assert result.next_level == (level + 1 if level < 5 else None)
    assert not result.review_candidate
    assert (result.missing_for_next == ()) == (level == 5)
    # the next level's data (area and seats for 2★, toilet for 3★) is not recorded below 3★
    assert en(result.unknown) == {1: ["floor area not recorded", "seats not recorded"],
                                  2: ["toilet not recorded"]}.get(level, [])


def test_nothing_recorded_qualifies_for_nothing(rubric):
    result = rate({"id": "empty"}, rubric)
    assert result.attribute_stars == result.qualified_stars == 0
    assert result.next_level == 1
    assert "opening hours not recorded" in en(result.missing_for_next)
    assert set(en(result.unknown)) == {"amenities not recorded", "opening hours not recorded"}


# one unit below a threshold: (level, field, value, English finding)
BELOW = [
    (2, "area_m2", 9, "floor area 9 m² < 10 m²"),
    (2, "capacity", 3, "seats 3 < 4"),
    (3, "area_m2", 14, "floor area 14 m² < 15 m²"),
    (3, "capacity", 7, "seats 7 < 8"),
    (3, "opening_hours", "Mo-Fr 08:30-11:30,13:30-17:30", "weekday hours 7 h < 8 h (shortest weekday)"),
    (3, "opening_hours", "Mo-Th 08:30-11:30,13:30-18:30; Fr 08:30-11:30,13:30-17:30",
     "weekday hours 7 h < 8 h (shortest weekday)"),
    (4, "area_m2", 19, "floor area 19 m² < 20 m²"),
    (4, "capacity", 11, "seats 11 < 12"),
    (4, "opening_hours", "Mo-Sa 08:30-11:30,13:30-18:30",
     "hours: need open ≥ 7 days a week, or ≥ 12 h every weekday (now 6 days a week, shortest weekday 8 h)"),
    (5, "area_m2", 29, "floor area 29 m² < 30 m²"),
    (5, "capacity", 19, "seats 19 < 20"),
]


@pytest.mark.parametrize(("level", "field", "value", "finding"), BELOW)
def test_one_unit_below_a_threshold_drops_a_level(level, field, value, finding, rubric):
    result = rate(station(level, **{field: value}), rubric)
    assert result.attribute_stars == level - 1
    assert result.next_level == level
    assert en(result.missing_for_next) == [finding]


def test_fractional_area_just_below_does_not_qualify(rubric):
    assert rate(station(5, area_m2=29.99), rubric).attribute_stars == 4
    assert rate(station(5, area_m2=30.0), rubric).attribute_stars == 5


@pytest.mark.parametrize(("level", "key", "label"), ADDED_AMENITIES)
def test_missing_one_amenity_drops_a_level(level, key, label, rubric):
    record = station(level)
    record["amenities"].remove(key)
    result = rate(record, rubric)
    assert result.attribute_stars == level - 1
    assert en(result.missing_for_next) == [f"missing: {label}"]


@pytest.mark.parametrize("choice", ["heating", "air_conditioning"])
def test_four_stars_need_air_conditioning_or_heating(choice, rubric):
    record = station(4)
    record["amenities"] = [a for a in record["amenities"] if a != "heating"] + [choice]
    assert rate(record, rubric).attribute_stars == 4
    record["amenities"].remove(choice)
    result = rate(record, rubric)
    assert result.attribute_stars == 3
    assert en(result.missing_for_next) == ["missing: Air conditioning or Heating"]
    assert zh(result.missing_for_next) == ["缺少空调或取暖"]


def test_five_stars_without_aed_is_four_stars_missing_aed(rubric):
    record = station(5)
    record["amenities"].remove("aed")
    result = rate(record, rubric)
    assert result.attribute_stars == result.qualified_stars == 4
    assert en(result.missing_for_next) == ["missing: AED"]
    assert zh(result.missing_for_next) == ["缺少AED"]
    assert result.review_candidate  # recorded 5★
    assert result.headline(lang="en") == "qualifies for 4★; for 5★: missing: AED; recorded 5★: review"
    assert result.headline(lang="zh") == "符合4星；升5星：缺少AED；登记为5星，建议复核"


def test_small_five_star_station_says_how_small(rubric):
    result = rate(station(5, area_m2=22), rubric)
    assert zh(result.missing_for_next) == ["面积不足：需≥30㎡，记录为 22㎡"]
    assert en(result.missing_for_next) == ["floor area 22 m² < 30 m²"]


def test_five_stars_need_two_extended_services(rubric):
    record = station(5)
    record["amenities"].remove("legal_aid")
    result = rate(record, rubric)
    assert result.attribute_stars == 4
    assert en(result.missing_for_next)[0].startswith("extended services 1 < 2 (any of: Counselling, Legal aid")
    record["amenities"].append("battery_swap")  # any two of the list will do
    assert rate(record, rubric).attribute_stars == 5


def test_every_shortfall_of_the_next_level_is_listed(rubric):
    record = station(4, capacity=11, opening_hours="Mo-Fr 08:30-11:30,13:30-18:30")
    record["amenities"].remove("heating")
    result = rate(record, rubric)
    assert result.attribute_stars == 3
    assert en(result.missing_for_next) == [
        "missing: Air conditioning or Heating", "seats 11 < 12",
        "hours: need open ≥ 7 days a week, or ≥ 12 h every weekday (now 5 days a week, shortest weekday 8 h)"]
    assert result.unknown == ()


# --- toilet and hours -------------------------------------------------------------------------------------------

def test_toilet_onsite_or_nearby_needed_from_three_stars(rubric):
    assert rate(station(3, toilet="onsite"), rubric).attribute_stars == 3
    result = rate(station(3, toilet="none"), rubric)
    assert result.attribute_stars == 2
    assert en(result.missing_for_next) == ["toilet none, need on site or nearby"]
    assert result.unknown == ()


def test_missing_data_counts_as_not_met_and_is_listed_as_unknown(rubric):
    result = rate(station(3, toilet=None, area_m2=None), rubric)
    assert result.attribute_stars == 1
    assert en(result.missing_for_next) == ["floor area not recorded (need ≥ 10 m²)"]
    assert "floor area not recorded" in en(result.unknown)
    result = rate(station(3, toilet=None), rubric)
    assert result.attribute_stars == 2
    assert en(result.missing_for_next) == ["toilet not recorded (need on site or nearby)"]
    assert en(result.unknown) == ["toilet not recorded"]


def test_missing_opening_hours_drop_to_zero(rubric):
    result = rate(station(5, opening_hours=None), rubric)
    assert result.attribute_stars == 0
    assert en(result.missing_for_next) == ["opening hours not recorded"]
    assert en(result.unknown) == ["opening hours not recorded"]


def test_unreadable_opening_hours_are_unknown_not_a_crash(rubric):
    result = rate(station(2, opening_hours="whenever"), rubric)
    assert result.attribute_stars == 0
    assert en(result.missing_for_next) == ["opening hours cannot be read"]
    assert "cannot parse opening_hours 'whenever'" in en(result.unknown)[0]


@pytest.mark.parametrize(("hours", "level"), [
    ("24/7", 4),
    ("Mo-Fr 07:00-19:00", 4),  # extended weekdays: 12 h
    ("Mo-Fr 07:00-18:00", 3),  # 11 h and closed at weekends
    ("Mo-Su 08:00-12:00,13:00-17:00", 4),  # 8 h every day
    ("Mo-Fr 22:00-06:00", 2),  # overnight: 2 h on Monday, 8 h Tue-Fri, 6 h on Saturday
    ("Mo-Fr 08:00-16:00; PH off", 3),  # the reference week has no public holiday
])
def test_opening_hours_over_the_reference_week(hours, level, rubric):
    assert rate(station(4, opening_hours=hours), rubric).attribute_stars == level


def test_district_rubric_can_require_round_the_clock_opening(tmp_path, rubric):
    text = SHIPPED.read_text(encoding="utf-8").replace("min_extended_services = 2",
                                                       "min_extended_services = 2\nmin_weekly_hours = 168")
    own = parse_rubric(text, source=str(tmp_path / "district.toml"))
    assert rate(station(5, opening_hours="24/7"), own).attribute_stars == 5
    result = rate(station(5, opening_hours="Mo-Su 06:00-22:00"), own)
    assert result.attribute_stars == 4
    assert en(result.missing_for_next) == ["weekly hours 112 h < 168 h"]
    assert rate(station(5, opening_hours="Mo-Su 06:00-22:00"), rubric).attribute_stars == 5


def test_district_rubric_with_lower_local_thresholds(rubric):
    text = SHIPPED.read_text(encoding="utf-8").replace("min_area_m2 = 10\nmin_seats = 4",
                                                       "min_area_m2 = 6\nmin_seats = 2")
    own = parse_rubric(text)
    record = station(2, area_m2=8, capacity=2)
    assert rate(record, rubric).attribute_stars == 1
    assert rate(record, own).attribute_stars == 2


# --- review candidates ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("recorded", "review"), [(0, False), (2, False), (3, False), (4, True), (5, True)])
def test_review_candidate_when_recorded_above_qualified(recorded, review, rubric):
    result = rate(station(3, stars=recorded), rubric)
    assert result.recorded_stars == recorded
    assert result.review_candidate is review


def test_unrated_station_counts_as_zero_stars(rubric):
    result = rate(station(2, stars=None), rubric)
    assert result.recorded_stars == 0
    assert not result.review_candidate


# --- downgrade triggers -----------------------------------------------------------------------------------------

def test_without_downgrade_data_every_trigger_is_not_checkable(rubric):
    result = rate(station(5), rubric)
    assert result.downgrades == ()
    assert [item.code for item in result.not_checkable] == [
        "downgrade:shut_at_stated_hours", "downgrade:complaints_ignored", "downgrade:broken_facilities"]
    assert en(result.not_checkable)[0] == (
        "no inspection from 2024-07-01 to 2025-07-01: cannot check opening at stated hours")
    assert result.qualified_stars == 5


def test_complaints_with_data(rubric):
    clean = rate(station(5, complaints_unresolved=0), rubric)
    assert clean.downgrades == () and clean.qualified_stars == 5
    assert "downgrade:complaints_ignored" not in [i.code for i in clean.not_checkable]
    ignored = rate(station(5, complaints_unresolved=3), rubric)
    assert en(ignored.downgrades) == ["3 complaints unresolved"]
    assert zh(ignored.downgrades) == ["投诉未处理：3件"]
    assert ignored.attribute_stars == 5 and ignored.qualified_stars == 4
    assert ignored.review_candidate


def test_downgrade_data_may_live_in_extra(rubric):
    result = rate(station(3, extra={"complaints_unresolved": 1}), rubric)
    assert en(result.downgrades) == ["1 complaint unresolved"]
    assert result.qualified_stars == 2


def test_broken_facilities_with_data(rubric):
    assert rate(station(5, broken_facilities=[]), rubric).downgrades == ()
    result = rate(station(5, broken_facilities=["aed", "饮水机坏了"]), rubric)
    assert result.attribute_stars == 4  # a broken AED is no AED
    assert en(result.missing_for_next) == ["missing: AED (broken, not repaired)"]
    assert en(result.downgrades) == ["broken facilities not repaired: AED, 饮水机坏了"]
    assert result.qualified_stars == 3


def test_recent_breakage_is_within_its_grace_period(rubric):
    fresh = rate(station(4, broken_facilities=[{"item": "空调", "since": "2025-06-20"}]), rubric)
    assert fresh.downgrades == ()
    assert fresh.attribute_stars == 4  # heating still counts; air conditioning was never required alone
    old = rate(station(4, broken_facilities=[{"item": "heating", "since": "2025-05-01"}]), rubric)
    assert en(old.downgrades) == ["broken facilities not repaired: Heating"]
    assert old.attribute_stars == 3 and old.qualified_stars == 2


def test_shut_at_stated_hours_with_inspections(rubric):
    open_visit = [{"date": "2025-06-03T10:00", "open": True}]
    assert rate(station(3, inspections=open_visit), rubric).downgrades == ()
    shut = [{"date": "2025-06-03T10:00", "open": False}, {"date": "2025-04-01", "open": False}]
    result = rate(station(3, inspections=shut), rubric)
    assert en(result.downgrades) == ["shut at stated hours on inspection: 2 times, last 2025-06-03"]
    assert zh(result.downgrades) == ["检查时未按公示时间开放：2次，最近 2025-06-03"]
    assert result.qualified_stars == 2


def test_visit_outside_stated_hours_is_no_evidence(rubric):
    evening = [{"date": "2025-06-03T20:00", "open": False}]  # the station closes at 18:30
    result = rate(station(3, inspections=evening), rubric)
    assert result.downgrades == ()
    assert "downgrade:shut_at_stated_hours" not in [i.code for i in result.not_checkable]


def test_old_inspections_are_not_checkable(rubric):
    result = rate(station(3, inspections=[{"date": "2023-01-05", "open": False}]), rubric)
    assert result.downgrades == ()
    assert "downgrade:shut_at_stated_hours" in [i.code for i in result.not_checkable]


def test_downgrades_never_go_below_zero(rubric):
    result = rate(station(1, complaints_unresolved=4, broken_facilities=["toolkit"],
                          inspections=[{"date": "2025-06-02", "open": False}]), rubric)
    assert len(result.downgrades) == 3
    assert result.qualified_stars == 0


@pytest.mark.parametrize(("field", "value", "words"), [
    ("complaints_unresolved", -1, "complaints_unresolved = -1: expected a whole number of at least 0"),
    ("complaints_unresolved", "many", "complaints_unresolved = 'many'"),
    ("inspections", [{"open": False}], "inspections[0] = {'open': False}: expected {date:"),
    ("inspections", [{"date": "yesterday", "open": False}], "inspections[0].date = 'yesterday'"),
    ("broken_facilities", "aed", "broken_facilities = 'aed': expected a list"),
    ("broken_facilities", [{"since": "2025-01-01"}], "broken_facilities[0]"),
    ("amenities", "drinking_water,seating", "amenities = 'drinking_water,seating': expected a list"),
])
def test_malformed_record_data_is_a_clear_error(field, value, words, rubric):
    with pytest.raises(StationDataError) as info:
        rate(station(3, **{field: value}), rubric)
    assert "Station 'T-3'" in str(info.value)
    assert words in str(info.value)


# --- results ----------------------------------------------------------------------------------------------------

def test_to_dict_is_json_safe_in_both_languages(rubric):
    record = station(5, area_m2=22, complaints_unresolved=2)
    result = rate(record, rubric)
    for lang in ("zh", "en"):
        data = json.loads(json.dumps(result.to_dict(lang=lang), ensure_ascii=False))
        assert data["station_id"] == "T-5"
        assert data["attribute_stars"] == 4 and data["qualified_stars"] == 3
        assert data["review_candidate"] is True
        assert data["rubric_version"] == "1.0"
    assert result.to_dict(lang="en")["missing_for_next"] == ["floor area 22 m² < 30 m²"]
    assert result.to_dict(lang="en")["downgrades"] == ["2 complaints unresolved"]
    with pytest.raises(BadRequestError, match="lang must be one of zh, en"):
        result.to_dict(lang="fr")


def test_assessment_is_frozen(rubric):
    result = rate(station(2), rubric)
    with pytest.raises(AttributeError):
        result.qualified_stars = 5  # type: ignore[misc]


def test_series_and_mapping_give_the_same_answer(rubric):
    record = station(4, extra={"complaints_unresolved": 0})
    assert rate(pd.Series(record), rubric) == rate(record, rubric)


@pytest.fixture
def small_frame() -> gpd.GeoDataFrame:
    records = [station(5), station(5, area_m2=22), station(3, stars=4, complaints_unresolved=1), station(1)]
    for i, record in enumerate(records):
        record["id"] = f"S{i}"
        record["district_code"] = "610111"
    frame = pd.DataFrame.from_records(records)
    frame.index = [10, 11, 12, 13]
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy([109.0] * 4, [34.3] * 4), crs=4326)


def test_rate_stations_frame(small_frame, rubric):
    ratings = rate_stations(small_frame, rubric, when_checked=CHECKED, lang="en")
    assert list(ratings.columns) == list(RATING_COLUMNS)
    assert list(ratings.index) == [10, 11, 12, 13]
    assert ratings["station_id"].tolist() == ["S0", "S1", "S2", "S3"]
    assert ratings["attribute_stars"].tolist() == [5, 4, 3, 1]
    assert ratings["qualified_stars"].tolist() == [5, 4, 2, 1]
    assert ratings["review_candidate"].tolist() == [False, True, True, False]
    assert ratings["next_level"].dtype == "Int64" and pd.isna(ratings.loc[10, "next_level"])
    assert ratings.loc[11, "missing_for_next"] == "floor area 22 m² < 30 m²"
    assert ratings.loc[12, "downgrades"] == "1 complaint unresolved"
    assert ratings.attrs["rubric_version"] == "1.0"
    assert ratings.loc[11, "headline"] == "qualifies for 4★; for 5★: floor area 22 m² < 30 m²; recorded 5★: review"
    records = json.loads(ratings.to_json(orient="records", force_ascii=False))
    assert records[0]["next_level"] is None and records[1]["next_level"] == 5
    row = small_frame.loc[11]
    assert rate(row, rubric).to_dict(lang="en")["missing_for_next"] == [ratings.loc[11, "missing_for_next"]]


def test_summarize_ratings(small_frame, rubric):
    summary = summarize_ratings(rate_stations(small_frame, rubric, when_checked=CHECKED))
    assert summary.n_stations == 4
    assert summary.recorded_by_level == (0, 1, 0, 0, 1, 2)
    assert summary.qualified_by_level == (0, 1, 1, 0, 1, 1)
    assert summary.n_review_candidates == 2
    assert summary.n_downgraded == 1
    assert summary.n_not_checkable == 4
    assert summary.n_unknown == 1  # S3 (1★) has no area or seats recorded
    assert summary.describe(lang="en") == (
        "4 stations; recorded/qualified: 0★ 0/0, 1★ 1/1, 2★ 0/1, 3★ 0/0, 4★ 1/1, 5★ 2/1; 2 to review, 1 downgraded")
    assert summary.describe().startswith("4个站点；登记/符合：0★ 0/0")
    table = summary.to_frame()
    assert table.loc[5, "recorded"] == 2 and table.loc[5, "qualified"] == 1
    assert json.loads(json.dumps(summary.to_dict()))["qualified_by_level"]["4"] == 1
    with pytest.raises(BadRequestError, match="ratings lack the columns"):
        summarize_ratings(pd.DataFrame({"station_id": []}))


# --- the bundled demo data --------------------------------------------------------------------------------------

@pytest.mark.skipif(not DEMO_FILES, reason="no bundled demo station files in data/stations/")
@pytest.mark.parametrize("path", DEMO_FILES, ids=lambda p: p.stem)
def test_rating_the_bundled_demo_data(path, rubric):
    frame = load_stations(path)
    ratings = rate_stations(frame, rubric, when_checked=CHECKED)
    assert len(ratings) == len(frame)
    assert ratings["station_id"].tolist() == frame["id"].tolist()
    assert ratings["qualified_stars"].between(0, 5).all()
    by_id = frame.set_index("id")
    qualified_five = ratings.loc[ratings["qualified_stars"] == 5, "station_id"]
    assert all("aed" in by_id.loc[sid, "amenities"] for sid in qualified_five)
    recorded_five = frame.loc[frame["stars"] == 5]
    without_aed = [sid for sid, amenities in zip(recorded_five["id"], recorded_five["amenities"], strict=True)
                   if "aed" not in amenities]
    assert without_aed == [], f"{path.name}: recorded 5★ stations without an AED: {without_aed}"
    summary = summarize_ratings(ratings)
    assert sum(summary.qualified_by_level) == len(frame)
    assert summary.n_review_candidates == int((ratings["recorded_stars"] > ratings["qualified_stars"]).sum())


# --- downgrade triggers from workers' reports (issue 14) --------------------------------------------------------

NOW = datetime(2025, 7, 1, 4, 0, tzinfo=UTC)


def _report(i, kind="closed_at_stated_hours", *, state="resolved", days_ago=10, due_days_ago=5,
            changed=None, sid="s1", amenity=""):
    return Feedback(id=i, station_id=sid, district_code="610111", kind=kind, created_at=NOW - timedelta(days=days_ago),
                    deadline=NOW - timedelta(days=due_days_ago), state=state, amenity=amenity,
                    state_changed_at=changed)


def _triggers(*reports, rubric=None):
    found = feedback_triggers(reports, rubric or load_rubric(SHIPPED), now=NOW)
    return {sid: {t.trigger: [r.id for r in t.reports] for t in ts} for sid, ts in found.items()}


def test_closed_reports_fire_from_two_confirmed_within_the_lookback():
    assert _triggers(_report(1, state="resolved")) == {}  # one is not enough
    acknowledged = _report(2, state="acknowledged", due_days_ago=-1)  # not yet due: no complaint ignored
    assert _triggers(_report(1), acknowledged) == {"s1": {"shut_at_stated_hours": [1, 2]}}
    assert _triggers(_report(1), _report(2, state="rejected")) == {}
    assert _triggers(_report(1), _report(2, state="new", due_days_ago=-1)) == {}  # not confirmed yet
    # confirmed but left open past the deadline: evidence of the closures already, so not a second star off
    assert _triggers(_report(1), _report(2, state="acknowledged"))["s1"] == {"shut_at_stated_hours": [1, 2]}
    # another report left open past its deadline is a complaint ignored
    assert _triggers(_report(1), _report(2, state="acknowledged"), _report(3, "other", state="new"))["s1"] == {
        "shut_at_stated_hours": [1, 2], "complaints_ignored": [3]}
    edge = REPORTS_CLOSED_LOOKBACK_DAYS
    assert "shut_at_stated_hours" in _triggers(_report(1, state="resolved", days_ago=edge),
                                                _report(2, state="resolved"))["s1"]
    assert _triggers(_report(1, state="resolved", days_ago=edge + 1), _report(2, state="resolved")) == {}
    assert _triggers(_report(1, state="resolved"), _report(2, state="resolved", days_ago=-1)) == {}  # future


def test_broken_facility_fires_past_its_deadline_until_resolved_or_rejected():
    def broken(state, due_days_ago):
        return _report(7, "broken_facility", state=state, due_days_ago=due_days_ago, amenity="aed")

    assert _triggers(broken("new", 1))["s1"] == {"broken_facilities": [7]}  # one report never costs two stars
    assert _triggers(broken("acknowledged", 1))["s1"]["broken_facilities"] == [7]
    assert _triggers(broken("new", 0)) == {}  # exactly at the deadline: not past it
    assert _triggers(broken("resolved", 1)) == {}
    assert _triggers(broken("rejected", 1)) == {}
    # resolved after the moment of the check: still open then
    late = _report(7, "broken_facility", state="resolved", due_days_ago=1, changed=NOW + timedelta(days=1))
    assert _triggers(late)["s1"]["broken_facilities"] == [7]


def test_complaints_ignored_uses_the_rubrics_tolerance():
    overdue = _report(3, "unsafe_or_dirty", state="new")
    assert _triggers(overdue)["s1"] == {"complaints_ignored": [3]}
    text = SHIPPED.read_text(encoding="utf-8").replace("max_unresolved = 0", "max_unresolved = 1")
    tolerant = parse_rubric(text)
    assert _triggers(overdue, rubric=tolerant) == {}
    assert _triggers(overdue, _report(4, "other", state="acknowledged"), rubric=tolerant)["s1"] == {
        "complaints_ignored": [3, 4]}
    assert _triggers(_report(3, "unsafe_or_dirty", state="new", due_days_ago=-2)) == {}  # not yet due


def test_feedback_triggers_need_an_aware_moment():
    with pytest.raises(BadRequestError, match="timezone"):
        feedback_triggers([], load_rubric(SHIPPED), now=datetime(2025, 7, 1))


def test_report_triggers_move_a_rule_from_not_checkable_to_downgrades():
    station = {"id": "s1", **AT_LEVEL[5], "stars": 5}
    rubric = load_rubric(SHIPPED)
    before = rate_station(station, rubric, when_checked=CHECKED)
    assert {i.code for i in before.not_checkable} == {"downgrade:shut_at_stated_hours",
                                                      "downgrade:complaints_ignored",
                                                      "downgrade:broken_facilities"}
    found = feedback_triggers([_report(1), _report(2, state="resolved")], rubric, now=NOW)
    after = rate_station(station, rubric, when_checked=CHECKED, triggers=found["s1"])
    assert [i.code for i in after.downgrades] == ["downgrade:shut_at_stated_hours"]
    assert "downgrade:shut_at_stated_hours" not in {i.code for i in after.not_checkable}
    assert (after.attribute_stars, after.qualified_stars, after.review_candidate) == (5, 4, True)
    assert "#1 2025-06-21" in after.downgrades[0].en
    # the same rule fired by the record and by the reports removes its stars once
    both = rate_station({**station, "inspections": [{"date": "2025-06-30", "open": False}]}, rubric,
                        when_checked=CHECKED, triggers=found["s1"])
    assert len(both.downgrades) == 2 and both.qualified_stars == 4
    frame = rate_stations(pd.DataFrame([station]), rubric, when_checked=CHECKED, lang="en", triggers=found)
    assert "closed at stated hours, 2 confirmed" in frame.loc[0, "downgrades"]
    assert found["s1"][0].to_dict(lang="en")["reports"][0]["created_at"] == "2025-06-21T12:00:00+08:00"
